"""Move a draft's hand-checked truth lines into the truth tables, then rebuild the golden expectations.

usage: python3 -m truth.accept truth/drafts/<feature>.json [--tables DIR] [--expected FILE]

A draft (written by `python3 -m truth.add_probe`) proposes, per reference target, the suite's verdict and the
evidence it read. A person sends its curl commands, reads the answers, corrects `support` / `conformance`, writes
`why` (what the answers showed) and replaces `checked` with what they did. This command refuses a draft any of
whose entries is still unchecked or lacks its why, and writes nothing then; otherwise it writes each entry
(without the suite's proposal, the evidence and the curls) into truth/tables/<target>.json and rebuilds
conformance/data/expected/embedded-default.json from the tables (`truth.expectations`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from conformance.model.verdicts import Conformance, Support
from truth import TABLES
from truth.expectations import DEFAULT_OUT, expectations

DRAFT_ONLY = ("suite", "evidence", "curl", "table_now")  # the proposal, its evidence, the old entry stay


def problems(doc: dict[str, Any]) -> list[str]:
    """Why the draft cannot be accepted yet (empty: it can)."""
    out = []
    for name, line in (doc.get("targets") or {}).items():
        checked = str(line.get("checked") or "")
        if not checked or checked.lower().startswith("unchecked"):
            out.append(f"{name}: not checked by hand yet (write what you checked in `checked`)")
        if not line.get("why") or line.get("why") == "?":
            out.append(f"{name}: `why` is empty (what the server's answers showed)")
        if line.get("support") not in {s.value for s in Support}:
            out.append(f"{name}: support {line.get('support')!r} is not a verdict")
        if line.get("conformance") not in {c.value for c in Conformance}:
            out.append(f"{name}: conformance {line.get('conformance')!r} is not a verdict")
    if not doc.get("feature") or not doc.get("targets"):
        out.append("not a draft of truth/add_probe (no feature or no targets)")
    return out


def accept(doc: dict[str, Any], tables: Path) -> list[Path]:
    """Write the draft's entries into the tables (the caller checked `problems` first)."""
    written = []
    for name, line in doc["targets"].items():
        path = tables / f"{name}.json"
        table = json.loads(path.read_text(encoding="utf-8"))
        table["features"][doc["feature"]] = {k: v for k, v in line.items() if k not in DRAFT_ONLY}
        path.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m truth.accept", description=__doc__.split("\n\n")[0])
    parser.add_argument("draft", type=Path)
    parser.add_argument("--tables", type=Path, default=TABLES)
    parser.add_argument("--expected", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv[1:])
    try:
        doc = json.loads(args.draft.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: {args.draft}: {exc}", file=sys.stderr)
        return 4
    missing = [n for n in (doc.get("targets") or {}) if not (args.tables / f"{n}.json").is_file()]
    wrong = problems(doc) + [f"{n}: no truth table {args.tables / (n + '.json')}" for n in missing]
    if wrong:
        print(f"{args.draft}: not accepted, nothing written:\n  " + "\n  ".join(wrong), file=sys.stderr)
        return 1
    for path in accept(doc, args.tables):
        print(f"wrote {doc['feature']} into {path}")
    args.expected.write_text(json.dumps(expectations(args.tables), indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    print(f"wrote {args.expected}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
