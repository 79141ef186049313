"""The shipped nightly workflow works as shipped (issue 19, item 8): its steps, read from the YAML, run here as a
fresh fork runs them — with `openai` and `mistral` pointed at local keyed fake servers by a targets.toml — the
replay job green, the live job's first night creating its expectations and saying how to commit them, the next
night gating drift against them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakeserver import FakeConfig, FakeServer, mistral_like

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "conformance-nightly.yml"
KEYS = {"OPENAI_API_KEY": "sk-openai-fake-0123456789", "MISTRAL_API_KEY": "mistral-fake-0123456789"}
# the workflow's commands as written; only the probe selection is narrowed (through pytest's own PYTEST_ADDOPTS)
QUICK = "--probe chat.completion --probe request.temperature --probe errors.unknown_model"


def _steps(job: str) -> list[dict[str, Any]]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"][job]["steps"]


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line) if path.exists() else {}


def _expand(text: str, outputs: dict[str, dict[str, str]], secrets: dict[str, str]) -> str:
    """GitHub expressions the workflow uses: secrets (here: from the job's environment) and step outputs."""
    def value(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if expr.startswith("secrets."):
            return secrets.get(expr.split(".", 1)[1], "")
        step, _, name = expr.removeprefix("steps.").partition(".outputs.")
        return outputs.get(step, {}).get(name, "")
    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def _wanted(condition: str | None, failed: bool, outputs: dict[str, dict[str, str]]) -> bool:
    if condition is None:
        return not failed
    for term in (t.strip() for t in condition.split("&&")):
        if term == "always()":
            continue
        m = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+) == '(.*)'", term)
        assert m, f"the test does not know how to evaluate {term!r}"
        if outputs.get(m.group(1), {}).get(m.group(2), "") != m.group(3):
            return False
    return True


def run_job(job: str, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run the job's `run` steps in order (checkout, setup and upload steps have nothing to do here) and return
    each step's exit code and output, the step summary and the job's outcome."""
    doc = yaml.safe_load(WORKFLOW.read_text())["jobs"][job]
    outputs: dict[str, dict[str, str]] = {}
    summary = cwd / "step-summary.md"
    summary.unlink(missing_ok=True)  # each run of the job has its own
    env = {**env, **{k: _expand(str(v), outputs, env) for k, v in doc.get("env", {}).items()},
           "GITHUB_STEP_SUMMARY": str(summary)}
    ran: dict[str, tuple[int, str]] = {}
    failed = False
    for i, step in enumerate(doc["steps"]):
        if "run" not in step or step["run"].startswith("pip install"):
            continue
        if not _wanted(step.get("if"), failed, outputs):
            continue
        out_file = cwd / f"output-{i}"
        out_file.unlink(missing_ok=True)
        done = subprocess.run(["bash", "-e", "-c", _expand(step["run"], outputs, env)], cwd=cwd, capture_output=True,
                              text=True, timeout=600, check=False,
                              env={**env, "GITHUB_OUTPUT": str(out_file)})
        ran[step.get("name", step["run"][:40])] = (done.returncode, done.stdout + done.stderr)
        if "id" in step:
            outputs[step["id"]] = _outputs(out_file)
        failed = failed or done.returncode != 0
    return {"steps": ran, "summary": summary.read_text() if summary.exists() else "", "failed": failed}


@pytest.fixture
def fork(tmp_path: Path) -> dict[str, str]:
    """A fresh fork's working directory: `pytest` and `python` are this interpreter, the package is this one."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, cmd in (("pytest", f'exec {sys.executable} -m pytest "$@"'), ("python", f'exec {sys.executable} "$@"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{cmd}\n")
        (bin_dir / name).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


@pytest.mark.slow  # the replay job through its shell steps (a whole embedded-default replay in a subprocess)
def test_the_replay_job_is_green_as_shipped(tmp_path: Path, fork: dict[str, str]) -> None:
    job = run_job("replay", tmp_path, {k: v for k, v in fork.items() if k not in KEYS})
    assert not job["failed"], {name: out[-2000:] for name, (code, out) in job["steps"].items() if code}
    assert "Replay bundled cassettes" in job["steps"]
    assert (tmp_path / "reports" / "compat.html").is_file() and "conformance" in job["summary"].lower()


@pytest.mark.slow  # two nights of the live job against keyed fakes, through the shell steps
def test_the_live_job_creates_its_expectations_then_gates_drift(tmp_path: Path, fork: dict[str, str]) -> None:
    env = {**fork, **KEYS, "PYTEST_ADDOPTS": QUICK}
    with FakeServer(FakeConfig(api_key=KEYS["OPENAI_API_KEY"])) as openai, \
            FakeServer(mistral_like(api_key=KEYS["MISTRAL_API_KEY"])) as mistral:
        (tmp_path / "targets.toml").write_text(
            f'[targets.openai]\nbase_url = "{openai.base_url}"\nmodel = "fake-model"\n'
            f'[targets.mistral]\nbase_url = "{mistral.base_url}"\nmodel = "fake-model"\n')
        first = run_job("live", tmp_path, env)
        expectations = tmp_path / "expectations" / "nightly.json"
        assert expectations.is_file(), first["steps"]
        assert "nightly.json was created from this run" in first["summary"]
        assert "--update-expectations" in first["summary"]  # the one command to run instead
        assert all(code != 4 for code, _ in first["steps"].values()), first["steps"]  # no usage error any more

        second = run_job("live", tmp_path, env)  # the expectations are committed: the drift gate is on
        assert not second["failed"], {name: out[-3000:] for name, (code, out) in second["steps"].items() if code}
        assert "was created from this run" not in second["summary"]
        live_out = next(out for name, (_, out) in second["steps"].items() if name.startswith("Live run"))
        assert "expectations/nightly.json" in live_out

    with FakeServer(FakeConfig(api_key=KEYS["OPENAI_API_KEY"], ignore={"temperature"})) as openai, \
            FakeServer(mistral_like(api_key=KEYS["MISTRAL_API_KEY"])) as mistral:
        (tmp_path / "targets.toml").write_text(
            f'[targets.openai]\nbase_url = "{openai.base_url}"\nmodel = "fake-model"\n'
            f'[targets.mistral]\nbase_url = "{mistral.base_url}"\nmodel = "fake-model"\n')
        drifted = run_job("live", tmp_path, env)
    assert drifted["failed"]
    live_out = next(out for name, (_, out) in drifted["steps"].items() if name.startswith("Live run"))
    assert "DRIFT openai · request.temperature" in live_out


def test_the_live_job_without_keys_fails_saying_which_secret(tmp_path: Path, fork: dict[str, str]) -> None:
    job = run_job("live", tmp_path, {k: v for k, v in fork.items() if k not in KEYS})
    code, out = job["steps"]["Check keys"]
    assert code != 0 and "::error::secret OPENAI_API_KEY is not set" in out
    assert "Live run (records fresh cassettes, fails on drift)" not in job["steps"]


def test_the_readme_names_the_workflow_and_its_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert ".github/workflows/conformance-nightly.yml" in readme
    live = next(s["run"] for s in _steps("live") if s.get("name", "").startswith("Live run"))
    command = " ".join(live.replace("${{ steps.expect.outputs.args }}", "").split())
    assert command in " ".join(readme.split()), command
    assert "expectations/nightly.json" in readme
