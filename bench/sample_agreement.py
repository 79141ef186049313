"""Benchmark (by hand): how often two samples of the creative prompt agree at the high temperature, per reference
server. Sequential sampling (features/sampling.py) assumes a setting that samples gives another answer with
probability at least MIN_DIFFERENCE; this measures the real per-pair agreement it stands for.

Sends N samples one at a time (no other request in flight) of the high_temp control's request to each target.
usage: python bench/sample_agreement.py [N] [TARGET...]     (default 12; vllm llama litellm-vllm)
"""

from __future__ import annotations

import itertools
import json
import sys
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.features.registry import CONTROLS
from conformance.features.sampling import MIN_DIFFERENCE
from conformance.model.targets import load_targets
from conformance.run.plan import build_body


def sample(base_url: str, body: dict[str, object]) -> str:
    req = urllib.request.Request(f"{base_url}/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as answer:
        return str(json.loads(answer.read())["choices"][0]["message"]["content"])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    names = sys.argv[2:] or ["vllm", "llama", "litellm-vllm"]
    targets = load_targets()
    print(f"assumed: another answer with probability >= {MIN_DIFFERENCE} (agreement <= {1 - MIN_DIFFERENCE:.2f})")
    for name in names:
        target = targets[name]
        body = build_body(CONTROLS["high_temp"].request, target, "request.temperature")
        texts = [sample(target.base_url, body) for _ in range(n)]
        pairs = list(itertools.combinations(texts, 2))
        agree = sum(a == b for a, b in pairs) / len(pairs)
        top = Counter(texts).most_common(1)[0][1]
        print(f"{name:13} {n} samples, {len(set(texts))} distinct, most common {top}/{n}; "
              f"pairwise agreement {agree:.3f} (difference {1 - agree:.3f})")


if __name__ == "__main__":
    main()
