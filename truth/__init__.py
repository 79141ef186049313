"""The reference servers' truth: what each server was seen doing, checked by hand, and the tools around it.

`tables/<target>.json` holds, per feature, the verdict a person read from the server's raw answers, why, and the
request that shows it; `check` prints those answers (one command per server), `skeleton` drafts the entries a
table lacks, `add_probe` records one probe's cassettes and drafts its truth lines unchecked, `accept` moves a
hand-checked draft into the tables, `expectations` turns the tables into the embedded default's golden expectations
(conformance/data/expected/embedded-default.json). Run them from the checkout's root: `python3 -m truth.check ...`.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLES = Path(__file__).resolve().parent / "tables"
