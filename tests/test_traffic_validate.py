"""Recorded traffic: every layout loads, OpenAI passes compat, Mistral's differences are found; the CLI."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.judge.schemas import check_error
from conformance.validate import check_interaction, iter_files, main
from conformance.wire.traffic import Interaction, TrafficError, load_interactions

ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The read-only reference folder (env CONFORMANCE_SHARED_DIR overrides)."""
    return Path(os.environ.get("CONFORMANCE_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")


RECORDINGS = shared_dir() / "recordings"
needs_recordings = pytest.mark.skipif(not RECORDINGS.is_dir(), reason=f"recordings absent: {RECORDINGS} "
                                      "(set CONFORMANCE_SHARED_DIR)")


def manifest_providers() -> dict[tuple[str, int], str]:
    """(local file, interaction index) → provider, from the recordings' MANIFEST.md table."""
    rows = {}
    for line in (RECORDINGS / "MANIFEST.md").read_text().splitlines():
        m = re.match(r"\|\s*\d+\s*\|\s*`([^`]+)`\s*\|\s*(\d+)\s*\|\s*(\w+)\s*\|", line)
        if m:
            rows[(m.group(1), int(m.group(2)))] = m.group(3)
    return rows


def recorded() -> list[tuple[str, Interaction]]:
    out = []
    for path in iter_files([RECORDINGS]):
        for inter in load_interactions(path):
            out.append((str(path.relative_to(RECORDINGS)), inter))
    return out


@needs_recordings
def test_every_manifest_interaction_loads() -> None:
    providers = manifest_providers()
    loaded = {(rel, i.index): i for rel, i in recorded()}
    assert set(providers) == set(loaded)
    assert len(loaded) == 64
    for key, inter in loaded.items():
        assert inter.skip_reason is None, key
        assert inter.response_text.strip(), key
        if inter.request_url:  # the URL host says the provider too
            assert inter.provider == providers[key], key
        if inter.kind == "json":
            json.loads(inter.response_text)  # gzip'd !!binary bodies decode to JSON


@needs_recordings
def test_openai_traffic_passes_compat_and_errors_fit_the_envelope() -> None:
    providers = manifest_providers()
    failing, errors_seen = [], 0
    for rel, inter in recorded():
        if providers[(rel, inter.index)] != "openai":
            continue
        failing += [(rel, inter.index, f) for f in check_interaction(inter) if f.level == "compat"]
        body = json.loads(inter.response_text) if inter.kind == "json" else None
        if isinstance(body, dict) and "error" in body:
            errors_seen += 1
            assert check_error(body) == [], rel  # strict too: OpenAI's errors are exactly the envelope
    assert not failing, failing
    assert errors_seen == 6


MG = "magentic/tests/chat_model/cassettes/test_mistral_chat_model/"
VC = "vercel-ai/packages/mistral/src/__fixtures__/"
SK = "semantic-kernel/dotnet/src/Connectors/Connectors.MistralAI.UnitTests/TestData/"
OI = ("openinference/python/instrumentation/openinference-instrumentation-mistralai/tests/openinference/"
      "instrumentation/mistralai/cassettes/test_instrumentor/")
# (file, interaction, rule, pointer, level): Mistral differences of quirks C and D present in the recordings
EXPECTED = [
    # C2: tool-call deltas without index (and without type)
    (MG + "test_mistral_chat_model_complete_parallel_function_call.yaml", 0, "stream.tool_call_index",
     "/chunks/1/choices/0/delta/tool_calls/1/index", "compat"),
    (MG + "test_mistral_chat_model_complete_parallel_function_call.yaml", 0, "stream.tool_call_first_fragment",
     "/chunks/1/choices/0/delta/tool_calls/1/type", "strict"),
    (VC + "mistral-tool-call.chunks.txt", 0, "required", "/chunks/1/choices/0/delta/tool_calls/0/index", "compat"),
    (SK + "chat_completions_streaming_function_call_response.txt", 0, "stream.tool_call_first_fragment",
     "/chunks/1/choices/0/delta/tool_calls/0/id", "compat"),
    (OI + "test_synchronous_streaming_chat_completions_with_tool_call_response_emits_expected_spans[False].yaml", 0,
     "stream.tool_call_index", "/chunks/1/choices/0/delta/tool_calls/0/index", "compat"),
    # C3: non-stream tool calls without type
    (VC + "mistral-tool-call.json", 0, "required", "/choices/0/message/tool_calls/0/type", "strict"),
    # C5: content arrays, non-stream and in deltas
    (VC + "mistral-reasoning.json", 0, "type", "/choices/0/message/content", "compat"),
    (VC + "mistral-reasoning.chunks.txt", 0, "type", "/chunks/0/choices/0/delta/content", "compat"),
    # C1: usage on the finishing chunk, not asked for
    (MG + "test_mistral_chat_model_complete_usage.yaml", 0, "stream.usage_placement", "/chunks/34/usage", "strict"),
    (MG + "test_mistral_chat_model_complete_usage.yaml", 0, "stream.usage_unrequested", "/chunks/34/usage", "strict"),
    (VC + "mistral-usage-raw-live.chunks.txt", 0, "stream.usage_placement", "/chunks/2/usage", "strict"),
    # C7/C8: no logprobs, no refusal
    (VC + "mistral-text.json", 0, "required", "/choices/0/logprobs", "strict"),
    (VC + "mistral-text.json", 0, "required", "/choices/0/message/refusal", "strict"),
    # C4: content key absent beside tool_calls
    (VC + "mistral-tool-call.json", 0, "required", "/choices/0/message/content", "strict"),
    # D: flat 401 envelope
    ("crewai/tests/cassettes/test_mistral_with_tools.yaml", 0, "required", "/error", "compat"),
    # B/A: Mistral's tool_choice "any" in the request
    (MG + "test_mistral_chat_model_complete_function_call.yaml", 0, "enum", "/tool_choice", "strict"),
]


@needs_recordings
@pytest.mark.parametrize("rel,index,rule,ptr,level", EXPECTED, ids=[f"{e[2]}:{e[3]}" for e in EXPECTED])
def test_mistral_difference_is_found(rel: str, index: int, rule: str, ptr: str, level: str) -> None:
    inter = load_interactions(RECORDINGS / rel)[index]
    found = {(f.rule, f.pointer, f.level) for f in check_interaction(inter)}
    assert (rule, ptr, level) in found, sorted(found)


@needs_recordings
def test_mistral_finish_reasons_outside_the_enum_are_found(tmp_path: Path) -> None:
    # C6 (model_length, error) is in no recording: mutate a recorded Mistral body
    body = json.loads(load_interactions(RECORDINGS / VC / "mistral-text.json")[0].response_text)
    for reason in ("model_length", "error"):
        body["choices"][0]["finish_reason"] = reason
        path = tmp_path / f"{reason}.json"
        path.write_text(json.dumps(body))
        found = {(f.rule, f.pointer, f.level, f.actual) for f in check_interaction(load_interactions(path)[0])}
        assert ("enum", "/choices/0/finish_reason", "compat", reason) in found


# ---- layouts and unusable input ---------------------------------------------------------------------------

COMPLETION = {"id": "x", "object": "chat.completion", "created": 1, "model": "m",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "refusal": None},
                           "logprobs": None, "finish_reason": "stop"}]}


def cassette(response: str, method: str = "POST", url: str = "https://api.openai.com/v1/chat/completions") -> str:
    return (f"interactions:\n- request:\n    body: '{{\"model\": \"m\", \"messages\": [{{\"role\": \"user\", "
            f"\"content\": \"hi\"}}]}}'\n    headers: {{}}\n    method: {method}\n    uri: {url}\n"
            f"  response:\n{response}\nversion: 1\n")


def test_gzip_binary_body(tmp_path: Path) -> None:
    blob = base64.b64encode(gzip.compress(json.dumps(COMPLETION).encode())).decode()
    resp = (f"    body:\n      string: !!binary |\n        {blob}\n    headers:\n      Content-Encoding:\n"
            f"      - gzip\n      Content-Type:\n      - application/json\n    status:\n      code: 200\n"
            f"      message: OK")
    (tmp_path / "c.yaml").write_text(cassette(resp))
    inter = load_interactions(tmp_path / "c.yaml")[0]
    assert json.loads(inter.response_text) == COMPLETION and inter.status == 200 and inter.kind == "json"
    assert inter.request_body["model"] == "m" and inter.provider == "openai"
    assert check_interaction(inter) == []


def test_httpx_layout_and_parsed_body(tmp_path: Path) -> None:
    resp = (f"    content: '{json.dumps(COMPLETION)}'\n    headers:\n      Content-Type:\n      - application/json\n"
            f"    status_code: 200")
    (tmp_path / "h.yaml").write_text(cassette(resp))
    assert load_interactions(tmp_path / "h.yaml")[0].status == 200
    parsed = {"interactions": [{"request": {"method": "POST", "uri": "http://127.0.0.1:8000/v1/chat/completions",
                                            "parsed_body": {"model": "m", "messages": []}},
                                "response": {"status": {"code": 200}, "parsed_body": COMPLETION}}]}
    (tmp_path / "p.yaml").write_text(json.dumps(parsed))  # JSON is YAML
    inter = load_interactions(tmp_path / "p.yaml")[0]
    assert inter.request_body == {"model": "m", "messages": []} and json.loads(inter.response_text) == COMPLETION


def test_non_chat_interactions_are_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    resp = ("    body:\n      string: '{\"object\": \"list\", \"data\": []}'\n    headers: {}\n"
            "    status:\n      code: 200")
    (tmp_path / "m.yaml").write_text(cassette(resp, "GET", "https://api.openai.com/v1/models"))
    assert load_interactions(tmp_path / "m.yaml")[0].skip_reason == "not a chat completion: GET /v1/models"
    assert main([str(tmp_path)]) == 2  # only skipped traffic: nothing was validated, which is not a pass
    out, err = capsys.readouterr()
    assert "skipped (not a chat completion: GET /v1/models)" in out and "nothing to validate" in err


@pytest.mark.parametrize("name,text,reason", [
    ("bad.yaml", "interactions: [\n  - {request: ", "malformed YAML"),
    ("other.yaml", "foo: 1\n", "not a vcrpy cassette"),
    ("notes.txt", "hello\n", "unknown layout"),
    ("bad.json", "{nope", "not valid JSON"),
    ("x.har", "{}", "unknown layout"),
])
def test_unusable_input_raises_traffic_error(tmp_path: Path, name: str, text: str, reason: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(TrafficError, match=reason) as info:
        load_interactions(tmp_path / name)
    assert info.value.path.endswith(name)


def test_main_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(COMPLETION))
    assert main([str(good)]) == 0
    strict_only = dict(COMPLETION, choices=[dict(COMPLETION["choices"][0], logprobs=None)])
    del strict_only["choices"][0]["logprobs"]
    (tmp_path / "strict.json").write_text(json.dumps(strict_only))
    assert main([str(tmp_path / "strict.json")]) == 0
    assert main([str(tmp_path / "strict.json"), "--level", "strict"]) == 1
    capsys.readouterr()
    assert main([str(tmp_path / "strict.json"), "--level", "strict", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert rows and {"file", "interaction", "part", "pointer", "rule", "level", "message", "expected",
                     "actual"} <= set(rows[0])
    assert rows[0]["pointer"] == "/choices/0/logprobs"
    (tmp_path / "broken.yaml").write_text("interactions: [")
    assert main([str(tmp_path)]) == 2  # the other files are still checked
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "malformed YAML" in err


@needs_recordings
def test_validate_subprocess_on_the_recordings() -> None:
    cmd = [sys.executable, "-c", "import sys; from conformance.validate import main; sys.exit(main(sys.argv[1:]))"]
    openai_only = RECORDINGS / "otel-python-contrib"
    done = subprocess.run(cmd + [str(openai_only)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(cmd + [str(RECORDINGS), "--json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    rows = json.loads(done.stdout)
    assert rows and all(r["level"] == "compat" for r in rows)
    assert all("mistral" in r["file"].lower() or "crewai/tests" in r["file"] for r in rows)


def test_an_empty_directory_is_nothing_to_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    assert "nothing to validate" in capsys.readouterr().err


def test_the_suites_own_cassettes_lint_clean_except_real_deviations(capsys: pytest.CaptureFixture[str]) -> None:
    """Requests the suite sends invalid on purpose are linted only with --requests; answers always."""
    cassettes = ROOT / "conformance" / "data" / "cassettes"
    main([str(cassettes), "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert {r["part"] for r in rows} <= {"response", "stream"}  # e.g. LiteLLM's streamed n=2, a real deviation
    assert main([str(cassettes), "--json", "--requests"]) == 1
    assert any(r["part"] == "request" and r["pointer"] == "/seed" for r in json.loads(capsys.readouterr().out))
