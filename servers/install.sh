#!/usr/bin/env bash
# Install the real servers into the version-keyed cache without starting them (CI runs this
# before the tests).  usage: servers/install.sh [vllm|litellm|llama|all]   (default: all)
# llama: builds llama-server from source (~10-15 min on 2 cores, once per version) and converts the
# committed tiny model to GGUF (again whenever the fixture's files change).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
case "${1:-all}" in
  vllm) install_vllm ;;
  litellm) install_litellm ;;
  llama) install_llama ;;
  all) install_vllm; install_litellm; install_llama ;;
  *) echo "usage: $0 [vllm|litellm|llama|all]" >&2; exit 2 ;;
esac
