"""Adversarial fakes of issue 21 over real sockets, one per mechanism, each with the verdict it must get.

- calls returned as text in content (no tool_calls): request.tools at most PARTIAL, with a finding naming the text.
- `name` dropped by the chat template: the same prompt_tokens with and without it on real usage → IGNORED.
- a default repeat penalty: frequency/presence penalty judged by the shorter answer → SUPPORTED.
- no `[DONE]` at all: stream.done_sentinel IGNORED (FAILED by the stream rule), not PARTIAL.
- a 500 the SDK gets every time: sdk.openai.parse REJECTED + FAILED like the HTTP probe's cell.
- null assistant content refused with a 500: every touched cell judged as on the honest fake, the cause named.
- a parser that crashes on tool calls cut by the suite's answer cap: judged without the cap (IGNORED).
- a crash on the model's own output, with or without the parameter: a server defect, never REJECTED.
- a 500 on the first try only: judged on the answer, with a server-defect finding, never ERROR.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakeserver import FakeConfig
from tests.test_adversarial_fakes import features_of


def test_calls_returned_as_text_are_at_most_partial_with_a_finding_naming_the_text(tmp_path: Path) -> None:
    """The tools reach the prompt (prompt_tokens rise), but the client gets no tool_calls: PARTIAL, FAILED."""
    probes = ["request.tools.call", "request.tools.prompt_tokens", "tools.tool_choice.auto"]
    got = features_of(FakeConfig(tool_calls_as_text=True), tmp_path, probes)
    tools = got["request.tools"]
    assert (tools["status"], tools["support"], tools["conformance"]) == ("OK", "PARTIAL", "FAILED"), tools["notes"]
    text = [f for f in tools["evidence"][0]["findings"] if f["rule"] == "tools.call_as_text"]
    assert text and "<tool_call>" in text[0]["message"] and "get_weather" in text[0]["actual"], tools["evidence"][0]
    auto = got["tools.tool_choice.auto"]  # the same answer: PARTIAL, the finding charged to request.tools
    assert (auto["support"], auto["conformance"]) == ("PARTIAL", "OK"), auto["notes"]
    assert any("also seen (see request.tools)" in n for n in auto["notes"]), auto["notes"]


def test_calls_returned_as_tool_calls_stay_supported(tmp_path: Path) -> None:
    """The same probes against the honest fake: the difference is where the call comes back, nothing else."""
    got = features_of(FakeConfig(), tmp_path, ["request.tools.call", "request.tools.prompt_tokens"])
    assert (got["request.tools"]["support"], got["request.tools"]["conformance"]) == ("SUPPORTED", "OK")


def test_a_dropped_name_is_ignored_by_token_accounting(tmp_path: Path) -> None:
    """A template that does not render `name`: the same prompt_tokens with and without it, on a target whose usage
    moves with prompt length: the name was dropped (IGNORED), not UNVERIFIABLE."""
    cell = features_of(FakeConfig(drop_message_fields={"name"}), tmp_path,
                       ["conversation.user_name"])["conversation.user_name"]
    assert (cell["status"], cell["support"]) == ("OK", "IGNORED"), cell["notes"]
    assert any("was dropped before the prompt" in n for n in cell["notes"]), cell["notes"]


def test_a_rendered_name_is_supported(tmp_path: Path) -> None:
    cell = features_of(FakeConfig(), tmp_path, ["conversation.user_name"])["conversation.user_name"]
    assert (cell["status"], cell["support"]) == ("OK", "SUPPORTED"), cell["notes"]


def test_token_accounting_decides_nothing_on_synthetic_usage(tmp_path: Path) -> None:
    """The oblivious fake's usage is constant: a dropped name stays UNVERIFIABLE and says why."""
    cell = features_of(FakeConfig(oblivious=True), tmp_path, ["conversation.user_name"])["conversation.user_name"]
    assert (cell["status"], cell["support"]) == ("OK", "UNVERIFIABLE"), cell["notes"]
    assert any("usage is synthetic" in n for n in cell["notes"]), cell["notes"]


def test_a_penalty_is_judged_by_any_change_of_the_answer(tmp_path: Path) -> None:
    """A server whose default repeat penalty already removes repetition from the control: the penalty still shows
    as a shorter answer (SUPPORTED); ignored, the same answer with nothing to lower (UNVERIFIABLE)."""
    probes = ["request.frequency_penalty.effect", "request.presence_penalty.effect"]
    got = features_of(FakeConfig(default_repeat_penalty=True), tmp_path / "honoured", probes)
    for feature in ("request.frequency_penalty", "request.presence_penalty"):
        cell = got[feature]
        assert (cell["status"], cell["support"]) == ("OK", "SUPPORTED"), cell["notes"]
        assert any("the answer changed" in n for n in cell["notes"]), cell["notes"]
    ignored = features_of(FakeConfig(default_repeat_penalty=True, ignore={"frequency_penalty"}), tmp_path / "ignored",
                          probes[:1])["request.frequency_penalty"]
    assert (ignored["status"], ignored["support"]) == ("OK", "UNVERIFIABLE"), ignored["notes"]


def test_an_absent_done_sentinel_is_ignored_not_partial(tmp_path: Path) -> None:
    """Zero `data: [DONE]`: the sentinel is not sent (IGNORED), and the stream rule's finding (OpenAI ends every
    stream with it) fails the cell that owns it."""
    cell = features_of(FakeConfig(done_sentinel=False), tmp_path, ["stream.done_sentinel"])["stream.done_sentinel"]
    assert (cell["status"], cell["support"], cell["conformance"]) == ("OK", "IGNORED", "FAILED"), cell["notes"]
    assert any("no [DONE]" in n for n in cell["notes"]), cell["notes"]


def test_a_reproduced_5xx_is_a_rejection_in_the_sdk_cell_too(tmp_path: Path) -> None:
    """The SDK's parse() gets a 500 naming response_format, every time: REJECTED + FAILED like the HTTP probe's
    cell, never ERROR "does not reproduce"."""
    pytest.importorskip("openai")
    got = features_of(FakeConfig(server_error={"response_format"}), tmp_path,
                      ["sdk.openai.parse", "request.response_format.json_schema"])
    for feature in ("sdk.openai.parse", "request.response_format.json_schema"):
        cell = got[feature]
        assert (cell["status"], cell["support"], cell["conformance"]) == ("OK", "REJECTED", "FAILED"), cell["notes"]
    roles = [ex["role"] for ex in got["sdk.openai.parse"]["evidence"][0]["exchanges"]]
    assert "repeat" in roles and "control" in roles, roles


def test_null_content_refused_is_one_finding_and_the_other_features_are_still_decided(tmp_path: Path) -> None:
    """A 500 naming messages[1].content for `content: null`: each probe is re-sent with content "" and judged on
    that answer; the refusal is named (conversation.assistant_null_content), never charged to tool_call_id or
    user_after_tool as a rejection."""
    probes = ["conversation.tool_call_id.openai_style", "conversation.user_after_tool",
              "conversation.tool_result_count", "tools.followup_turn"]
    got = features_of(FakeConfig(refuse_null_content=True), tmp_path / "refusing", probes)
    honest = features_of(FakeConfig(), tmp_path / "honest", probes)
    for feature in ("conversation.tool_call_id", "conversation.user_after_tool", "conversation.tool_result_count",
                    "tools.followup_turn"):
        cell = got[feature]
        assert [cell[k] for k in ("status", "support", "conformance")] == [
            honest[feature][k] for k in ("status", "support", "conformance")], (cell["notes"], honest[feature]["notes"])
        assert any("refused because of assistant content null" in n and 'with content "" it works' in n
                   for n in cell["notes"]), cell["notes"]
        cause = cell["evidence"][0]["measurements"]["root_cause"]
        assert cause["owner"] == "conversation.assistant_null_content", cause
    assert got["conversation.tool_call_id"]["support"] == "SUPPORTED"  # the history with "" reaches the model
    assert got["tools.followup_turn"]["support"] == "SUPPORTED"  # the second turn with "" quotes the result


def test_the_suites_answer_cap_is_never_the_cause(tmp_path: Path) -> None:
    """The parser crashes on a tool call cut by the suite's own max_tokens 16; without the cap the unknown name is
    accepted silently: IGNORED (NON_STRICT), not SUPPORTED "refused with 500"."""
    config = FakeConfig(crash_on_cut_calls=True, unknown_tool_choice="call_first")
    cell = features_of(config, tmp_path, ["tools.tool_choice.unknown_name"])["tools.tool_choice.unknown_name"]
    assert (cell["status"], cell["support"], cell["conformance"]) == ("OK", "IGNORED", "NON_STRICT"), cell["notes"]
    assert any("refused because of the suite's answer cap" in n for n in cell["notes"]), cell["notes"]


def test_a_crash_without_the_parameter_is_a_server_defect_not_a_rejection(tmp_path: Path) -> None:
    """The weather prompt makes the model write what the server's parser crashes on, with or without strict
    tools: never REJECTED for tools.strict; a server-defect finding (FAILED), support UNVERIFIABLE."""
    config = FakeConfig(crash_on_prompt="weather in Paris")
    cell = features_of(config, tmp_path, ["tools.strict"])["tools.strict"]
    assert (cell["status"], cell["support"], cell["conformance"]) == ("OK", "UNVERIFIABLE", "FAILED"), cell["notes"]
    assert any("whatever the parameter" in n for n in cell["notes"]), cell["notes"]
    assert [f["rule"] for f in cell["evidence"][0]["findings"]] == ["server.defect"]


def test_a_5xx_that_varies_between_tries_is_judged_on_the_answer(tmp_path: Path) -> None:
    """An out-of-range temperature accepted silently, with a 500 on the first try only (the parser crashing on
    some outputs): IGNORED, as the answer shows, with a server-defect finding; never ERROR."""
    config = FakeConfig(ignore={"temperature"}, flaky_crash={"temperature"})
    cell = features_of(config, tmp_path, ["request.temperature.invalid"])["request.temperature"]
    assert (cell["status"], cell["support"], cell["conformance"]) == ("OK", "IGNORED", "FAILED"), cell["notes"]
    assert any("on one try and HTTP 200" in n for n in cell["notes"]), cell["notes"]
