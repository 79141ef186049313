"""Targets: endpoints under test, declared as data (presets + targets.toml + command line)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SCHEMA_DIR = PACKAGE_DIR / "schemas"  # shipped in the package; ./schemas links here
PRESETS_FILE = PACKAGE_DIR / "data" / "presets.toml"
REFERENCES_FILE = PACKAGE_DIR / "data" / "references.toml"  # the embedded default's targets
BUILT_IN_FILES = (PRESETS_FILE, REFERENCES_FILE)


class TargetError(ValueError):
    """A target cannot be used; the message names the file, the target and the field."""


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 60.0
    total: float = 180.0  # whole request, including a whole stream


@dataclass(frozen=True)
class Target:
    name: str
    base_url: str
    model: str
    api_key_env: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    reference: bool = False
    engine: str | None = None
    version: str | None = None
    concurrency: int = 4
    max_requests: int | None = None
    max_tokens: int | None = None
    high_temperature: float = 1.0
    samples: int = 3
    context_window: int = 4096  # tokens the model holds (errors.context_overflow sends twice as many words)
    retries: int = 3
    timeouts: Timeouts = field(default_factory=Timeouts)
    notes: str = ""
    source: str = "presets"  # where it was declared (a file or the command line)

    def model_for(self, feature: str) -> str:
        """The model for a feature id: the longest matching `models` prefix, else the default model."""
        best = ""
        for prefix in self.models:
            if (feature == prefix or feature.startswith(prefix + ".")) and len(prefix) > len(best):
                best = prefix
        return self.models[best] if best else self.model

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def missing_key_reason(self) -> str | None:
        """Why a live run cannot use this target, or None when it can."""
        if self.api_key_env and not os.environ.get(self.api_key_env):
            return f"target {self.name!r}: environment variable {self.api_key_env} is not set (it holds the API key)"
        return None

    @property
    def bundled(self) -> bool:
        """A built-in reference target, as shipped: its recordings are the package's bundled cassettes."""
        return self.reference and self.source == str(REFERENCES_FILE)

    def describe(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "model": self.model, "engine": self.engine, "version": self.version}


def _schema() -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / "targets.schema.json").read_text())


def _check(data: dict[str, Any], source: str) -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    err = errors[0]
    path = [str(p) for p in err.absolute_path]
    target = path[1] if len(path) > 1 and path[0] == "targets" else None
    fld = ".".join(path[2:]) or None
    if err.validator == "required" and target:
        fld = err.message.split("'")[1] if "'" in err.message else fld
    where = f"{source}: target {target!r}" if target else source
    if fld:
        where += f", field {fld!r}"
    raise TargetError(f"{where}: {err.message}")


def _build(name: str, raw: dict[str, Any], source: str) -> Target:
    raw = dict(raw)
    timeouts = Timeouts(**raw.pop("timeouts", {}))
    return Target(name=name, timeouts=timeouts, source=source, **raw)


def read_targets_file(path: Path, built_in: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """The target tables of one TOML file, each merged over the built-in table of the same name (a table may
    override only some fields of a preset), validated against schemas/targets.schema.json."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise TargetError(f"{path}: targets file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{path}: not valid TOML: {exc}") from None
    tables = data.get("targets")
    if isinstance(tables, dict):
        built_in = built_in or {}
        data = {**data, "targets": {name: {**built_in.get(name, {}), **t} if isinstance(t, dict) else t
                                    for name, t in tables.items()}}
    _check(data, str(path))
    return data["targets"]


def load_targets(path: Path | None = None) -> dict[str, Target]:
    """The built-in targets (presets, references) overlaid with the tables of `path` (field by field per target)."""
    tables = {name: (dict(t), str(f)) for f in BUILT_IN_FILES for name, t in read_targets_file(f).items()}
    if path is not None and path.exists():
        built_in = {name: t for name, (t, _) in tables.items()}
        tables.update({name: (t, str(path)) for name, t in read_targets_file(path, built_in).items()})
    return {name: _build(name, t, src) for name, (t, src) in tables.items()}


def adhoc_target(
    name: str, base_url: str, model: str | None, api_key_env: str | None, known: dict[str, Target]
) -> Target:
    """The target of --base-url/--model/--api-key-env, validated like a file entry."""
    raw: dict[str, Any] = {"base_url": base_url.rstrip("/"), "model": model or ""}
    if api_key_env:
        raw["api_key_env"] = api_key_env
    if not model and name in known:
        raw["model"] = known[name].model
    _check({"targets": {name: raw}}, "command line (--base-url/--model/--api-key-env)")
    return _build(name, raw, "command line")


def select_targets(
    known: dict[str, Target], names: list[str], adhoc: Target | None
) -> tuple[list[Target], list[str]]:
    """The targets a run uses (the named ones, `all` = every known one, the ad-hoc one, or the references),
    and a problem line per unknown name. Raises TargetError when no target is left to run."""
    chosen: list[Target] = []
    problems: list[str] = []
    for name in names:
        if name == "all":
            chosen.extend(t for t in known.values() if t not in chosen)
            continue
        if name not in known:
            problems.append(f"--target {name}: unknown target; known targets are {', '.join(sorted(known))} "
                            "(declare it in targets.toml or use --base-url)")
            continue
        if known[name] not in chosen:
            chosen.append(known[name])
    if adhoc is not None:
        chosen = [t for t in chosen if t.name != adhoc.name] + [adhoc]
    if not names and adhoc is None:
        chosen = [t for t in known.values() if t.reference]
    if not chosen:
        raise TargetError("; ".join(problems) or "no target to run: give --target NAME or --base-url URL")
    return chosen, problems
