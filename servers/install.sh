#!/usr/bin/env bash
# Install the real servers into the version-keyed cache without starting them (CI runs this
# before the tests).  usage: servers/install.sh [vllm|litellm|all]   (default: all)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
case "${1:-all}" in
  vllm) install_vllm ;;
  litellm) install_litellm ;;
  all) install_vllm; install_litellm ;;
  *) echo "usage: $0 [vllm|litellm|all]" >&2; exit 2 ;;
esac
