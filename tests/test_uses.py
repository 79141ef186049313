"""`conformance uses`: the features an app sends, from its recorded traffic, as the file --uses reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conformance.cli import main as cli_main
from conformance.report.migration import load_uses, migration_diff
from conformance.report.results_io import load_results
from conformance.uses import features_of_request, main, scan

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "recordings"
DATA = Path(__file__).parent / "data" / "results"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def test_a_request_body_maps_to_the_suites_feature_ids() -> None:
    found, uncovered = features_of_request({
        "model": "m", "stream": True, "stream_options": {"include_usage": True}, "seed": 1, "safe_prompt": True,
        "tools": TOOLS, "tool_choice": "required", "response_format": {"type": "json_schema", "json_schema": {
            "name": "x", "strict": True, "schema": {}}},
        "messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": [{"type": "text"}]},
                     {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1"}], "refusal": None},
                     {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                     {"role": "user", "content": "ok"}]})
    for fid in ("request.stream", "stream.usage_chunk", "request.seed", "tools.tool_choice.required",
                "stream.tool_call_deltas", "json.json_schema", "request.response_format.json_schema",
                "conversation.developer_role", "conversation.content_parts", "conversation.assistant_echo",
                "tools.followup_turn", "conversation.user_after_tool", "chat.completion"):
        assert fid in found, fid
    assert "tools.no_parameters" not in found and "conversation.system_message" not in found
    assert uncovered == {"safe_prompt"}  # sent, but no probe covers it: listed, never guessed into a feature


def _cassette(path: Path, bodies: list[dict]) -> None:
    interactions = [{"request": {"method": "POST", "uri": "https://api.example.com/v1/chat/completions",
                                 "body": json.dumps(b), "headers": {}},
                     "response": {"status": {"code": 200}, "headers": {}, "body": {"string": "{}"}}} for b in bodies]
    interactions.append({"request": {"method": "GET", "uri": "https://api.example.com/v1/models", "body": None},
                         "response": {"status": {"code": 200}, "body": {"string": "{}"}}})
    path.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}))


def test_cassettes_har_and_jsonl_are_read(tmp_path: Path) -> None:
    _cassette(tmp_path / "a.yaml", [{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}])
    har = {"log": {"entries": [{"request": {"method": "POST", "url": "https://x/v1/chat/completions",
                                            "postData": {"text": json.dumps({"model": "m", "n": 2, "messages": []})}},
                                "response": {"status": 200}},
                               {"request": {"method": "POST", "url": "https://x/v1/embeddings",
                                            "postData": {"text": json.dumps({"model": "m", "messages": [],
                                                                             "logprobs": True})}}}]}}
    (tmp_path / "b.har").write_text(json.dumps(har))
    lines = [{"url": "/v1/chat/completions", "body": {"model": "m", "messages": [], "stop": ["x"]}},
             {"model": "m", "messages": [{"role": "system", "content": "s"}], "max_completion_tokens": 5}, {}]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    usage = scan([tmp_path])
    assert usage.requests == 4 and usage.problems == []
    for fid in ("request.temperature", "request.n", "request.stop", "request.max_completion_tokens",
                "conversation.system_message"):
        assert fid in usage.counts, fid
    assert "request.logprobs" not in usage.counts  # an embeddings call is not chat traffic


def test_the_written_file_is_what_uses_reads_and_filters_the_plan(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _cassette(tmp_path / "app.yaml", [{"model": "m", "messages": [{"role": "user", "content": "hi"}], "seed": 7}])
    out = tmp_path / "uses.toml"
    assert cli_main(["uses", str(tmp_path), "-o", str(out)]) == 0
    assert "written to" in capsys.readouterr().out
    uses = load_uses(out)
    assert "request.seed" in uses["features"] and "chat.completion" in uses["features"]
    entry = migration_diff(load_results(DATA / "openai_mistral.json"), "openai", uses)["targets"]["mistral"]
    used = [i["feature"] for i in entry["items"] if i["used"]]
    assert "request.seed" in used and "request.logprobs" not in used
    assert entry["items"][0]["used"] is True  # the app's own features first


def test_bad_input_is_named_and_nothing_found_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing")]) == 4  # a usage error, in one line
    assert "no such file or directory" in capsys.readouterr().err
    (tmp_path / "broken.yaml").write_text("interactions: [")
    (tmp_path / "log.jsonl").write_text("not json\n")
    assert main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "log.jsonl: line 1 is not JSON" in err
    assert "no chat-completions request found in 2 file(s)" in err
    (tmp_path / "log.jsonl").write_text('not json\n{"model": "m", "messages": [], "top_p": 0.5}\n')
    assert main([str(tmp_path)]) == 0  # the bad line is named; the good one still counts
    captured = capsys.readouterr()
    assert '"request.top_p"' in captured.out and "# not read:" in captured.out and "line 1" in captured.err


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared recordings (../shared/recordings) are not here")
@pytest.mark.parametrize(("app", "expected"), [
    ("magentic", {"request.stream", "request.tools", "stream.tool_call_deltas", "tools.followup_turn"}),
    ("otel-python-contrib", {"request.seed", "stream.usage_chunk", "request.n", "stream.n_interleave",
                             "tools.tool_choice.auto", "request.service_tier"}),
    ("openllmetry", {"request.reasoning_effort", "request.response_format.json_schema", "request.functions",
                     "request.logprobs"}),
])
def test_real_recorded_traffic_of_three_applications(app: str, expected: set[str]) -> None:
    usage = scan([SHARED / app])
    assert usage.requests > 0 and usage.problems == []
    assert expected <= set(usage.counts), expected - set(usage.counts)
