"""Write the golden expectations of the embedded default from the reference servers' truth tables.

usage: python3 -m truth.expectations [OUT]   (default conformance/data/expected/embedded-default.json)

The expectations are what the servers were seen doing by hand (truth/tables/<target>.json), never the suite's
own output: a suite verdict that differs from them is drift to explain, not a new golden value. Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import tomllib

from truth import ROOT, TABLES

DEFAULT_OUT = ROOT / "conformance" / "data" / "expected" / "embedded-default.json"
REFERENCES = ROOT / "conformance" / "data" / "references.toml"  # the built-in reference targets


def reference_targets() -> dict[str, dict[str, Any]]:
    with REFERENCES.open("rb") as fh:
        doc = tomllib.load(fh)
    return {name: t for name, t in doc.get("targets", {}).items() if t.get("reference")}


def expectations(tables: Path = TABLES) -> dict[str, Any]:
    """The expectations document (drift format) of every reference target, from its truth table."""
    targets: dict[str, Any] = {}
    checked: dict[str, str] = {}
    for name, target in reference_targets().items():
        truth = json.loads((tables / f"{name}.json").read_text(encoding="utf-8"))
        checked[name] = truth.get("checked", "?")
        targets[name] = {
            "base_url": target["base_url"],
            "features": {fid: {"status": "OK", "support": e["support"], "conformance": e["conformance"]}
                         for fid, e in sorted(truth["features"].items())},
            # cells whose conformance depends on timing (truth/tables/<target>.json "timing_dependent")
            # and cells the server answers two ways at random (an entry's "alternative" verdict)
            "flaky": sorted(set((truth.get("timing_dependent") or {}).get("features", []))
                            | {fid for fid, e in truth["features"].items() if e.get("alternative")}),
        }
    return {"kind": "conformance-expectations", "version": 1, "targets": targets,
            "generated_from": {"truth_tables": {n: f"truth/tables/{n}.json" for n in targets}, "checked": checked}}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m truth.expectations",
                                     description="Rebuild the embedded default's expectations from the truth tables.")
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    out = parser.parse_args(argv[1:]).out
    out.write_text(json.dumps(expectations(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
