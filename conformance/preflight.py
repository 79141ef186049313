"""Checks of every option and path before the first request: a usage error costs nothing, a late one a paid run.

Each check raises UsageProblem with one line that names the option and the problem (the plugin turns it into
pytest's usage error: exit code 4, no traceback).
"""

from __future__ import annotations

import os
from pathlib import Path

from conformance.model.probes import Probe
from conformance.model.targets import Target
from conformance.report.drift import ExpectationsError, load_expectations
from conformance.report.migration import UsesError, load_uses
from conformance.report.results_io import ResultsError, load_results


class UsageProblem(ValueError):
    """An option or path that cannot work; the message is one line naming the option."""


def positive(option: str, value: int | None) -> None:
    """A count option (`--concurrency`, `--max-requests`, `--max-tokens`) is absent or a whole number ≥ 1."""
    if value is not None and value < 1:
        raise UsageProblem(f"{option} {value}: must be a whole number of at least 1")


def seconds(option: str, value: float | None) -> None:
    """A duration option (`--deadline`) is absent or a number of seconds above 0."""
    if value is not None and not value > 0:
        raise UsageProblem(f"{option} {value:g}: must be a number of seconds above 0")


def whole_number(option: str, value: object) -> int | None:
    """A count option's value (text from the command line, or a number) as an int ≥ 1, or None when absent."""
    if value is None:
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise UsageProblem(f"{option} {value}: must be a whole number of at least 1") from None
    positive(option, number)
    return number


def record_mode(value: str | None, modes: tuple[str, ...]) -> str:
    """`--record-mode` (ours, or pytest-recording's, which has more modes): one the suite records with."""
    if value is None:
        return "none"
    if value not in modes:
        raise UsageProblem(f"--record-mode {value}: the conformance suite records with {', '.join(modes)}")
    return value


def writable_dir(option: str, path: Path) -> None:
    """`path` is a directory we can write to, or one we can create (its nearest existing parent is writable)."""
    if path.exists() and not path.is_dir():
        raise UsageProblem(f"{option} {path}: is a file, not a directory")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageProblem(f"{option} {path}: cannot be created, {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageProblem(f"{option} {path}: {existing} is not writable")


def outside_package(option: str, path: Path, package: Path) -> None:
    """A directory a run writes into is not inside the installed package (nor links into it): the bundled
    recordings are read-only package data, and a checkout's next wheel would ship what a run left there."""
    resolved = path.resolve()
    if resolved == package or package in resolved.parents:
        raise UsageProblem(f"{option} {path}: is inside the conformance package ({resolved}), whose bundled files are "
                           "read-only; record into a directory of your own (the default is ./cassettes)")


def probes_matching(prefixes: list[str], probes: list[Probe]) -> list[Probe]:
    """The probes whose id or feature id starts with one of `prefixes` (all when none); each prefix must match."""
    if not prefixes:
        return list(probes)
    for prefix in prefixes:
        if not any(p.id.startswith(prefix) or p.feature.startswith(prefix) for p in probes):
            groups = sorted({p.feature.split(".")[0] for p in probes})
            raise UsageProblem(f"--probe {prefix}: matches no probe id or feature id "
                               f"(they start with {', '.join(groups)}; e.g. request.temperature)")
    return [p for p in probes if any(p.id.startswith(x) or p.feature.startswith(x) for x in prefixes)]


def baseline(value: str | None, targets: list[Target]) -> None:
    """`--baseline` names a target of this run, `openai` (measured, else OpenAI's documented behaviour) or a
    readable, valid results.json."""
    if value is None:
        return
    if value.endswith(".json") or Path(value).is_file():
        try:
            load_results(value)
        except ResultsError as exc:
            raise UsageProblem(f"--baseline {exc}") from None
        return
    names = [t.name for t in targets]
    if value not in names and value != "openai":  # openai without an OpenAI target: its documented behaviour
        raise UsageProblem(f"--baseline {value}: neither a results.json file nor a target of this run "
                           f"(targets: {', '.join(names)})")


def expectations(path: Path | None, update: bool) -> None:
    """`--expect FILE` is a readable expectations file (or, with --update-expectations, a file we can write)."""
    if update:
        if path is not None:
            writable_dir("--expect", path.parent)
        return
    if path is None:
        return
    if not path.is_file():
        raise UsageProblem(f"--expect {path}: no such file; create it with --update-expectations")
    try:
        load_expectations(path)
    except ExpectationsError as exc:
        raise UsageProblem(f"--expect {exc}") from None


def uses(path: Path | None) -> None:
    """`--uses FILE` is a readable, valid uses file."""
    if path is None:
        return
    try:
        load_uses(path)
    except OSError as exc:
        raise UsageProblem(f"--uses {path}: cannot read it ({exc.strerror or exc})") from None
    except UsesError as exc:
        raise UsageProblem(f"--uses {exc}") from None


def targets_file(path: Path | None) -> Path | None:
    """The targets file to read: an explicit `--targets-file` must exist; the default ./targets.toml may not."""
    if path is None:
        default = Path("targets.toml")
        return default if default.is_file() else None
    if not path.is_file():
        raise UsageProblem(f"--targets-file {path}: no such file")
    return path
