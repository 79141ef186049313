"""Record a new probe on the reference servers and draft its truth lines for a person to check.

usage: python3 -m truth.add_probe PREFIX... [--target NAME]... [--targets-file FILE] [--bundle DIR] [--drafts DIR]
  (from the checkout's root, the reference servers running: `servers/record_embedded.sh --probe PREFIX` starts
  them, runs this, and stops what it started)

PREFIX selects probes as `--probe` does (a probe id, or a feature id, or the start of one). For each reference
target (default: every one of conformance/data/references.toml) it records ONLY those probes' cassettes, and any
shared or control cassette they need that the bundle lacks, into the bundled cassettes
(conformance/data/cassettes/<target>/); every other cassette stays byte-identical. A run never writes into the
package, so the recording goes to a staging copy of the bundle (`--record-mode=once`: a cassette that is there is
replayed, a missing one recorded), and only the selected probes' own files and the new files are copied back.

Then it drafts the truth lines (truth/drafts/<feature>.json, marked "unchecked"): per target, the suite's verdict,
the evidence (each request, its status, the server's message or an excerpt of the answer) and one curl command per
request. The suite's verdict is a proposal, never truth: a person sends the curls, reads the answers, corrects
`support` / `conformance` / `why`, writes what they did in `checked`, and runs
`python3 -m truth.accept truth/drafts/<feature>.json`, which moves the checked entries into truth/tables and
rebuilds the golden expectations.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.features.registry import PROBES
from conformance.model.probes import Probe
from conformance.model.targets import Target, load_targets
from conformance.preflight import UsageProblem, probes_matching
from conformance.run.plan import plan_probe, shared_requests
from conformance.wire.recording import CassetteBook
from truth import ROOT, TABLES
from truth.check import curl
from truth.expectations import reference_targets
from truth.skeleton import entry as skeleton_entry

BUNDLE = ROOT / "conformance" / "data" / "cassettes"
DRAFTS = ROOT / "truth" / "drafts"
UNCHECKED = "unchecked: the suite's verdict, not truth; send the curls, read the answers, correct, then write here " \
            "what you checked (date, by whom, what the answers showed)"
EXCERPT = 240


@dataclass
class Selection:
    """The cassette files (names inside the target's folder) the probes need on one target: `own` are recorded
    again; `shared` (controls, requests several probes send alike) are recorded only when the bundle lacks them."""

    own: set[str] = field(default_factory=set)
    shared: set[str] = field(default_factory=set)

    def to_record(self, have: set[str]) -> set[str]:
        return self.own | (self.shared - have)


def _file(name: str) -> str:
    return CassetteBook(Path("."), "none").path_for("t", name).name


def select(probes: list[Probe], target: Target, table: dict[str, str] | None = None) -> Selection:
    """Which cassette files these probes send to on this target (the engine's naming: run/engine.Engine._ask).
    `table`: the target's `shared_requests`, when the caller has it."""
    table = shared_requests(target) if table is None else table
    out = Selection()
    for probe in probes:
        plan = plan_probe(probe, target)
        out.own.add(_file(probe.id))
        for req in (c for c in (plan.control, plan.witness) if c is not None):  # the witness: beside a 5xx
            out.shared.add(_file(table.get(req.key, req.cassette)))
        own_control = plan.control.key if plan.control else None
        for shape in (plan.shape, plan.uncapped):
            for req in shape.requests() if shape is not None else ():
                if req.shareable and req.key != own_control and req.key in table:
                    out.shared.add(_file(table[req.key]))
    out.shared -= out.own
    return out


def moved(probes: list[Probe], target: Target) -> list[str]:
    """Cassettes the probes move for other probes: a request others send that becomes shared, or a shared request
    whose cassette is renamed (it is named after its first sender in the registry). Those probes replay from the
    new cassette, recorded now, so their truth needs a look."""
    others = [p for p in PROBES if p not in probes]
    before, after = shared_requests(target, others), shared_requests(target, PROBES)
    sent_by_others = set()
    for probe in others:
        plan = plan_probe(probe, target)
        sent_by_others |= {plan.control.key} if plan.control else set()
        if plan.shape is not None and plan.shape.variant.shareable:
            sent_by_others |= {r.key for r in plan.shape.requests()}
    return sorted(f"{_file(name)} (was {_file(before[key]) if key in before else 'each probe its own cassette'})"
                  for key, name in after.items() if key in sent_by_others and before.get(key) != name)


@dataclass
class Recorded:
    """What one recording did to the bundle: the files written per target, and the files the run wrote that were
    not copied back: another probe's cassette it changed, or a file outside the probes' selection (an owner's probe
    the run replayed, missing from the bundle) — reported, never written."""

    written: dict[str, list[str]] = field(default_factory=dict)
    refused: dict[str, list[str]] = field(default_factory=dict)
    not_recorded: dict[str, list[str]] = field(default_factory=dict)  # own files the run did not write again
    results: dict[str, Any] = field(default_factory=dict)
    returncode: int = 0


def record(probes: list[Probe], targets: list[Target], bundle: Path, targets_file: Path | None = None,
           python: str = sys.executable) -> Recorded:
    """Record the probes' cassettes on the targets (live) into `bundle/<target>/`, touching nothing else."""
    out = Recorded()
    with tempfile.TemporaryDirectory(prefix="add-probe-") as tmp:
        stage = Path(tmp) / "cassettes"
        selections = {t.name: select(probes, t) for t in targets}
        for t in targets:
            folder = stage / t.name
            if (bundle / t.name).is_dir():
                shutil.copytree(bundle / t.name, folder)
            folder.mkdir(parents=True, exist_ok=True)
            for name in selections[t.name].own:  # recorded again, from scratch
                (folder / name).unlink(missing_ok=True)
        cmd = [python, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider", "--record-mode=once",
               "--cassette-dir", str(stage), "--report-dir", str(Path(tmp) / "report")]
        cmd += [w for t in targets for w in ("--target", t.name)]
        cmd += [w for p in probes for w in ("--probe", p.id)]
        if targets_file is not None:
            cmd += ["--targets-file", str(targets_file)]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
        out.returncode = proc.returncode
        results = Path(tmp) / "report" / "results.json"
        if not results.is_file():
            raise RuntimeError(f"the recording run wrote no results (exit {proc.returncode}):\n"
                               f"{(proc.stdout + proc.stderr)[-3000:]}")
        out.results = json.loads(results.read_text(encoding="utf-8"))
        for t in targets:
            own, allowed = selections[t.name].own, selections[t.name].own | selections[t.name].shared
            # kept as they were: a failed send writes nothing, and a good recording is not dropped for that
            out.not_recorded[t.name] = sorted(n for n in own if (bundle / t.name / n).exists()
                                              and not (stage / t.name / n).exists())
            for path in sorted((stage / t.name).glob("*.yaml")):
                bundled = bundle / t.name / path.name
                if bundled.exists() and filecmp.cmp(path, bundled, shallow=False):
                    continue
                if path.name not in (own if bundled.exists() else allowed):
                    out.refused.setdefault(t.name, []).append(path.name)
                    continue
                bundled.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, bundled)
                out.written.setdefault(t.name, []).append(path.name)
    return out


def _excerpt(response: dict[str, Any]) -> str:
    """The server's message, or the start of its answer."""
    if response.get("error"):
        return f"no answer: {response['error']}"[:EXCERPT]
    body = response.get("body")
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message"))[:EXCERPT]
    if isinstance(body, dict) and body.get("choices"):
        msg = (body["choices"][0] or {}).get("message") or {}
        return json.dumps({k: v for k, v in msg.items() if v not in (None, [], "")}, ensure_ascii=False)[:EXCERPT]
    if isinstance(response.get("sse"), list):
        return _stream_excerpt(response["sse"])
    return json.dumps(body, ensure_ascii=False)[:EXCERPT]


def _stream_excerpt(events: list[Any]) -> str:
    """A stream on one line: its chunks, their top-level fields, the text they reassemble to."""
    chunks = [e.get("data") for e in events if isinstance(e, dict) and isinstance(e.get("data"), dict)]
    text = "".join(str(((ch.get("delta") or {}).get("content")) or "")
                   for c in chunks for ch in c.get("choices") or [] if isinstance(ch, dict))
    done = sum(1 for e in events if isinstance(e, dict) and e.get("data") == "[DONE]")
    return (f"stream of {len(chunks)} chunks (+{done} [DONE]), fields {sorted({k for c in chunks for k in c})}, "
            f"text {json.dumps(text, ensure_ascii=False)}")[:EXCERPT]


def draft(feature: str, results: dict[str, Any], targets: list[Target], tables: Path = TABLES) -> dict[str, Any]:
    """The draft truth lines of one feature: per target, the entry as truth/skeleton drafts it, with the suite's
    verdict as a proposal (marked unchecked), the evidence it read and one curl per request; and, when the
    target's truth table already has the feature, that entry's verdict and why, to compare with."""
    out: dict[str, Any] = {"feature": feature, "status": "unchecked", "targets": {}}
    for target in targets:
        table = tables / f"{target.name}.json"
        known = json.loads(table.read_text(encoding="utf-8"))["features"].get(feature) if table.exists() else None
        cell = (results.get("features", {}).get(feature) or {}).get(target.name)
        line = skeleton_entry(target, feature)
        line.pop("why", None)
        evidence, curls = [], []
        for ev in (cell or {}).get("evidence") or []:
            for ex in ev.get("exchanges") or []:
                req, resp = ex.get("request") or {}, ex.get("response") or {}
                evidence.append({"probe": ev.get("probe"), "role": ex.get("role"), "request": req.get("body"),
                                 "status": resp.get("status"), "answer": _excerpt(resp)})
                cmd = curl(target.base_url, req.get("body"), method=req.get("method", "POST"),
                           path=req.get("path", "/chat/completions"))
                if cmd not in curls:
                    curls.append(cmd)
        verdict = {k: (cell or {}).get(k) for k in ("status", "support", "conformance", "notes")}
        line.update({"support": verdict["support"] or "?", "conformance": verdict["conformance"] or "?",
                     "why": "?", "checked": UNCHECKED, "suite": verdict, "evidence": evidence, "curl": curls})
        if known:
            line["table_now"] = {k: known.get(k) for k in ("support", "conformance", "why")}
        out["targets"][target.name] = line
    return out


def write_drafts(features: list[str], results: dict[str, Any], targets: list[Target], folder: Path,
                 tables: Path = TABLES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for feature in features:
        path = folder / f"{feature}.json"
        path.write_text(json.dumps(draft(feature, results, targets, tables), indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written


def _targets(names: list[str], targets_file: Path | None) -> list[Target]:
    known = load_targets(targets_file or ROOT / "targets.toml")
    names = names or list(reference_targets())
    missing = [n for n in names if n not in known]
    if missing:
        raise UsageProblem(f"--target {', '.join(missing)}: no such target (known: {', '.join(sorted(known))})")
    return [known[n] for n in names]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m truth.add_probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("prefix", nargs="+", help="a probe id or feature id, or the start of one")
    parser.add_argument("--target", action="append", default=[], help="a reference target (default: all)")
    parser.add_argument("--targets-file", type=Path, default=None, help="targets file (default: targets.toml)")
    parser.add_argument("--bundle", type=Path, default=BUNDLE, help="the cassette folder written (default: bundled)")
    parser.add_argument("--drafts", type=Path, default=DRAFTS, help="where the draft truth lines go")
    parser.add_argument("--dry-run", action="store_true", help="only print which cassettes would be written")
    args = parser.parse_args(argv[1:])
    try:
        probes = probes_matching(args.prefix, PROBES)
        targets = _targets(args.target, args.targets_file)
    except UsageProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
    if args.dry_run:
        for t in targets:
            have = {p.name for p in (args.bundle / t.name).glob("*.yaml")}
            print(f"{t.name}: would write {', '.join(sorted(select(probes, t).to_record(have)))}")
        return 0
    print(f"recording {len(probes)} probes on {', '.join(t.name for t in targets)}: "
          f"{', '.join(p.id for p in probes)}")
    for t in targets:
        for line in moved(probes, t):
            print(f"{t.name}: other probes now replay from {line}: check their truth too", file=sys.stderr)
    done = record(probes, targets, args.bundle, args.targets_file)
    for t in targets:
        files = done.written.get(t.name, [])
        print(f"{t.name}: wrote {len(files)} cassettes{': ' if files else ''}{', '.join(files)}")
    for name, files in sorted(done.not_recorded.items()):
        if files:
            print(f"{name}: kept as they were, the run sent nothing to them (a failed send, or the probe's requests "
                  f"now go to shared cassettes: then delete them): {', '.join(files)}")
    for name, files in sorted(done.refused.items()):
        print(f"{name}: NOT copied, the run wrote cassettes outside these probes' own and missing shared ones: "
              f"{', '.join(files)}", file=sys.stderr)
    features = sorted({p.feature for p in probes})
    for path in write_drafts(features, done.results, targets, args.drafts):
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        doc = json.loads(path.read_text(encoding="utf-8"))
        print(f"\ndraft truth (UNCHECKED) in {shown}:")
        for name, line in doc["targets"].items():
            now = line.get("table_now")
            was = f" (its truth table says {now['support']}/{now['conformance']})" if now else ""
            said = f"{line['suite']['status']}: {line['support']}/{line['conformance']}"
            print(f"  {name}: the suite says {said}{was}; check by hand:")
            if line["suite"]["status"] != "OK":  # nothing recorded to judge: the notes say why
                print(f"    (not judged: {'; '.join(line['suite']['notes'] or [])[:300]})")
            for cmd in line["curl"]:
                print(f"    {cmd}")
    print("\nthen: correct each draft, fill `why` and `checked`, run python3 -m truth.accept DRAFT, and replay:\n"
          "  python3 -m pytest tests/test_truth_tables.py tests/test_embedded_default.py -m 'not live'")
    return 1 if done.refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
