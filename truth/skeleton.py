"""Print truth-table entries to fill in by hand for features a reference target's table lacks.

usage: python3 -m truth.skeleton TARGET [FEATURE...]   (TARGET of targets.toml; from the checkout's root)

For each feature (default: every registry feature missing from truth/tables/TARGET.json) it prints an entry
with the request of the feature's first support probe and its control, as the suite builds them for that
target (the model is left to truth/check.py unless the feature uses another one), and `support`,
`conformance` and `why` set to "?": a person sends them (truth/check.py), reads the answers and
writes the verdict. It never runs the suite and never guesses a verdict.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from conformance.features.registry import CONTROLS, PROBES
from conformance.model.targets import load_targets
from conformance.run.engine import build_body
from truth import ROOT, TABLES


def _strip(body: dict[str, Any], model: str) -> dict[str, Any]:
    body = dict(body)
    if body.get("model") == model:
        body.pop("model")
    for msg in body.get("messages") or []:  # the context-overflow prompt: truth/check.py rebuilds it
        if isinstance(msg.get("content"), str) and len(msg["content"]) > 2000:
            msg["content"] = "$overflow"
    return body


def entry(target: Any, feature: str) -> dict[str, Any]:
    probes = [p for p in PROBES if p.feature == feature]
    main = next((p for p in probes if p.role == "support"), probes[0])
    model = target.model_for(feature)
    out: dict[str, Any] = {}
    if model != target.model:
        out["model"] = model
    if main.method == "GET":
        out.update({"method": "GET", "path": main.path, "request": {}})
    elif main.client == "openai-sdk":
        out.update({"sdk": main.id.rsplit(".", 1)[-1], "request": {}})
    elif main.raw_body is not None:
        out.update({"raw_body": main.raw_body, "request": {}})
    else:
        out["request"] = _strip(build_body(dict(main.request), target, feature), target.model)
    if main.control:
        out["control"] = _strip(build_body(dict(CONTROLS[main.control].request), target, feature), target.model)
        if CONTROLS[main.control].stochastic or main.stochastic:
            out["repeat"] = target.samples
    if "$overflow" in json.dumps(out):
        out["overflow_words"] = 2 * target.context_window
    out.update({"probe": main.id, "support": "?", "conformance": "?", "why": "?"})
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    target = load_targets(ROOT / "targets.toml")[argv[1]]
    path = TABLES / f"{target.name}.json"
    have = json.loads(path.read_text())["features"] if path.exists() else {}
    features = argv[2:] or sorted({p.feature for p in PROBES} - set(have))
    print(json.dumps({f: entry(target, f) for f in features}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
