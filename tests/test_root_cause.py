"""Root cause before blame, on plain observations (issue 21): which suspects a failed request gets, which one the
re-sends name, and the verdict classify draws from them; the control's validity; calls written as text; token
accounting of message-level parts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance.features.generic import LONG_PROMPT
from conformance.features.tools import text_tool_call
from conformance.judge.classify import classify
from conformance.judge.root_cause import root_cause, suspect_answers, suspects_for
from conformance.model.observation import Observation
from conformance.model.probes import Probe
from conformance.model.roles import VARIANT, Role
from conformance.model.verdicts import Conformance, Status, Support
from conformance.run.engine import build_body, request_of
from conformance.run.suspects import suspect_resends
from tests.test_classify import PROBES, check, completion, obs


def error(status: int, message: str, role: str = "variant", request: Any = None) -> Observation:
    return obs(status, {"error": {"message": message, "type": "server_error", "param": None, "code": None}},
               role=role, request=request)


def answer(role: str, content: str = "The tool says: Cloudy, 137 degrees", request: Any = None,
           prompt_tokens: int = 9) -> Observation:
    body = completion(content)
    body["usage"]["prompt_tokens"] = prompt_tokens
    return obs(200, body, role=role, request=request)


def body_of(probe: Probe) -> dict[str, Any]:
    from conformance.model.targets import Target

    return build_body(request_of(probe), Target(name="t", base_url="http://127.0.0.1:1/v1", model="m"), probe.feature)


NULL_500 = "1 validation error: messages[1].content: Input should be a valid string"


# --------------------------------------------------------------------------------------------------------
# Which suspects a failure gets
# --------------------------------------------------------------------------------------------------------

def test_a_5xx_on_a_capped_history_with_null_content_and_call_ids_gets_each_suspect_once() -> None:
    probe = PROBES["conversation.tool_result_count"]  # an error probe: capped, content null, 9-alnum ids
    names = [s.name for s, _ in suspects_for(probe, body_of(probe), error(500, NULL_500))]
    assert names == ["answer_cap", "assistant_null_content"]
    openai_ids = PROBES["conversation.tool_call_id.openai_style"]
    names = [s.name for s, _ in suspects_for(openai_ids, body_of(openai_ids), error(500, NULL_500))]
    assert names == ["assistant_null_content", "tool_call_id_format"]


def test_each_suspect_changes_only_its_part() -> None:
    probe = PROBES["conversation.tool_call_id.openai_style"]
    body = body_of(probe)
    changed = dict(suspects_for(probe, body, error(500, NULL_500)))
    by_name = {s.name: b for s, b in changed.items()}
    assert by_name["assistant_null_content"]["messages"][1]["content"] == ""
    assert by_name["assistant_null_content"]["messages"][1]["tool_calls"] == body["messages"][1]["tool_calls"]
    ids = by_name["tool_call_id_format"]["messages"]
    assert ids[1]["tool_calls"][0]["id"] == ids[2]["tool_call_id"] and len(ids[2]["tool_call_id"]) == 9
    assert ids[1]["content"] is None  # the other suspect untouched
    assert body["messages"][1]["content"] is None  # the original body untouched


def test_the_parameter_is_a_suspect_of_a_5xx_only_and_messages_never_are() -> None:
    strict = PROBES["tools.strict"]
    names = [s.name for s, _ in suspects_for(strict, body_of(strict), error(500, "parser crashed"))]
    assert names == ["parameter"]
    removed = dict((s.name, b) for s, b in suspects_for(strict, body_of(strict), error(500, "x")))["parameter"]
    assert "tools" not in removed and removed["messages"] == body_of(strict)["messages"]
    assert suspects_for(strict, body_of(strict), error(400, "something else")) == []  # no shape in this request


@pytest.mark.parametrize(("probe_id", "failed", "why"), [
    ("request.tools.call", error(400, "'tools' is not supported"), "a 4xx to a request with no shape to change"),
    ("errors.malformed_body", error(500, "boom"), "a raw body: nothing to change"),
    ("conversation.tool_result_count", error(400, NULL_500), "a 4xx to an error probe is its expected answer"),
    ("request.tools.call", error(503, "overloaded"), "a 503 is overload, retried by the client"),
])
def test_failures_that_get_no_suspects(probe_id: str, failed: Observation, why: str) -> None:
    probe = PROBES[probe_id]
    assert suspect_resends(probe, body_of(probe), failed) == [], why


def test_the_engine_side_names_each_resend_by_its_suspect() -> None:
    probe = PROBES["conversation.user_after_tool"]
    sends = suspect_resends(probe, body_of(probe), error(500, NULL_500))
    assert [role for role, _ in sends] == [Role.parse("suspect:assistant_null_content@variant")]
    assert sends[0][1]["messages"][1]["content"] == ""


# --------------------------------------------------------------------------------------------------------
# What the re-sends name
# --------------------------------------------------------------------------------------------------------

def _resent(name: str, observation: Observation, origin: str = "variant") -> Observation:
    observation.role = Role.parse(f"suspect:{name}@{origin}")
    return observation


def test_the_first_suspect_that_works_is_the_cause() -> None:
    failed = error(500, NULL_500)
    resent = suspect_answers([_resent("answer_cap", error(500, NULL_500)),
                              _resent("assistant_null_content", answer("variant"))])[VARIANT]
    cause = root_cause(failed, resent)
    assert cause is not None and cause.suspect is not None and cause.suspect.name == "assistant_null_content"
    assert 'with content "" it works' in cause.note()


def test_a_client_error_after_a_5xx_counts_as_working() -> None:
    """Null content → "" turns a 500 into the 400 an error probe expects: that answer is judged."""
    cause = root_cause(error(500, NULL_500), suspect_answers([_resent("assistant_null_content",
                                                                      error(400, "unpaired tool call"))])[VARIANT])
    assert cause is not None and not cause.defect


def test_the_request_failing_without_its_parameter_is_a_server_defect() -> None:
    cause = root_cause(error(500, "parser crashed"),
                       suspect_answers([_resent("parameter", error(500, "parser"))])[VARIANT])
    assert cause is not None and cause.defect and "whatever the parameter" in cause.note()


def test_nothing_named_when_only_the_parameter_removed_works() -> None:
    """The parameter is the cause: classify's reproducible-5xx rule decides (REJECTED)."""
    resent = suspect_answers([_resent("parameter", answer("variant"))])[VARIANT]
    assert root_cause(error(500, "bad tools"), resent) is None


def test_unsent_resends_are_no_evidence() -> None:
    unsent = Observation(role="suspect:answer_cap@variant", method="POST", path="/chat/completions",
                         request_body={}, skipped_reason="no recording of this request")
    assert suspect_answers([unsent]) == {}


# --------------------------------------------------------------------------------------------------------
# The verdicts classify draws
# --------------------------------------------------------------------------------------------------------

CONTROL = [obs(200, completion("Hello there ."), role="control")]


def test_a_shape_refused_is_named_and_the_probe_judged_on_the_working_answer() -> None:
    probe = PROBES["conversation.tool_call_id.openai_style"]
    variant = [error(500, NULL_500), error(500, NULL_500, role="repeat"),
               _resent("assistant_null_content", answer("variant"))]
    v = classify(probe, variant, CONTROL)
    check(v, Status.OK, Support.SUPPORTED, Conformance.OK, "refused because of assistant content null",
          "the answer uses the history")
    assert v.measurements["root_cause"]["owner"] == "conversation.assistant_null_content"
    assert not v.findings  # named here, owned by the part's feature


def test_the_owners_own_part_refused_is_its_rejection() -> None:
    """The tool-call id format refused: conversation.tool_call_id is REJECTED, with the finding, FAILED (a 5xx)."""
    probe = PROBES["conversation.tool_call_id.openai_style"]
    variant = [error(500, "invalid tool call id"), error(500, "invalid tool call id", role="repeat"),
               _resent("assistant_null_content", error(500, "invalid tool call id")),
               _resent("tool_call_id_format", answer("variant"))]
    v = classify(probe, variant, CONTROL)
    check(v, Status.OK, Support.REJECTED, Conformance.FAILED, "refused because of the tool-call id format")
    assert [f.rule for f in v.findings] == ["conversation.tool_call_id"]


def test_the_cap_removed_is_judged_without_a_finding() -> None:
    probe = PROBES["tools.tool_choice.unknown_name"]
    variant = [error(500, "Failed to parse the tool call"), error(500, "Failed to parse the tool call", role="repeat"),
               _resent("answer_cap", answer("variant"))]
    v = classify(probe, variant, CONTROL)
    check(v, Status.OK, Support.IGNORED, Conformance.NON_STRICT, "refused because of the suite's answer cap",
          "accepted silently")
    assert not v.findings


def test_a_server_defect_needs_a_valid_control() -> None:
    probe = PROBES["tools.strict"]
    variant = [error(500, "parser crashed"), error(500, "parser crashed", role="repeat"),
               _resent("parameter", error(500, "parser crashed"))]
    check(classify(probe, variant, CONTROL), Status.OK, Support.UNVERIFIABLE, Conformance.FAILED, "server defect")
    broken = [obs(200, '{"id": "x", "choices": [{"message": {"content": "unterminated', role="control")]
    assert classify(probe, variant, broken).status is Status.ERROR


def test_a_reproduced_5xx_beside_a_control_that_is_not_json_stays_error() -> None:
    """The "successful" control was a 200 whose body is not JSON, the 5xx an HTML gateway page: no rejection."""
    probe = PROBES["request.seed.invalid"]
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    variant = [obs(502, page, headers={"content-type": "text/html"}),
               obs(502, page, role="repeat", headers={"content-type": "text/html"})]
    broken = [obs(200, '{"id": "x", "choices": [{"message": {"content": "unterminated', role="control")]
    assert classify(probe, variant, broken).status is Status.ERROR
    assert classify(probe, variant, CONTROL).support is Support.REJECTED  # the same with a valid control


def test_a_2xx_control_without_choices_is_no_control() -> None:
    v = classify(PROBES["request.max_tokens.effect"], [obs(200, completion("a b c", finish="length"))],
                 [obs(200, {"object": "chat.completion", "id": "x"}, role="control")])
    assert v.status is Status.ERROR and "without choices" in v.notes[0], v


# --------------------------------------------------------------------------------------------------------
# Calls written as text; token accounting of a message-level part
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "found"), [
    ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>', True),
    ('{"name": "get_weather", "parameters": {"city": "Paris"}}', True),
    ('[TOOL_CALLS][{"name": "get_weather", "arguments": {}}]', True),
    ("Hello! I am a tiny test model.", False),
    ('{"name": "Paris", "country": "France"}', False),  # a JSON answer is not a call
])
def test_a_call_written_as_text_is_recognised(text: str, found: bool) -> None:
    assert (text_tool_call(text) is not None) is found


def test_a_call_as_text_where_the_control_writes_none_is_partial_with_the_finding() -> None:
    call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    v = classify(PROBES["request.tools.call"], [obs(200, completion(call))], CONTROL)
    check(v, Status.OK, Support.PARTIAL, Conformance.FAILED, "came back as text in content")
    assert [f.rule for f in v.findings] == ["tools.call_as_text"] and "get_weather" in v.findings[0].actual


def _user_name(with_name: int, without: int, long: int) -> Any:
    probe = PROBES["conversation.user_name"]
    variant = [answer("variant", "You did not tell me.", prompt_tokens=with_name),
               answer("alt-1", "Hello", request={"messages": [{"role": "user", "content": LONG_PROMPT}]},
                      prompt_tokens=long)]
    return classify(probe, variant, [answer("control", "You did not tell me.", prompt_tokens=without)])


def test_a_part_that_adds_no_prompt_tokens_on_real_usage_was_dropped() -> None:
    check(_user_name(31, 31, 400), Status.OK, Support.IGNORED, Conformance.OK, "was dropped before the prompt")


def test_a_part_that_adds_prompt_tokens_reached_the_prompt_but_shows_no_effect() -> None:
    check(_user_name(35, 31, 400), Status.OK, Support.UNVERIFIABLE, Conformance.OK,
          "reaches the prompt (prompt_tokens 31 → 35)")


def test_token_accounting_on_synthetic_usage_decides_nothing() -> None:
    check(_user_name(31, 31, 31), Status.OK, Support.UNVERIFIABLE, Conformance.OK, "usage is synthetic")


def test_the_probes_that_judge_a_part_by_tokens_send_the_shared_usage_check() -> None:
    judged = [p for p in PROBES.values() if p.args.get("without")]
    assert {p.feature for p in judged} >= {"conversation.user_name", "conversation.content_parts"}
    for p in judged:
        assert p.alternates and json.dumps(p.alternates[0]).count("item number") == 60, p.id


def test_a_second_turn_refused_for_its_shape_is_judged_on_the_working_second_turn() -> None:
    """tools.followup_turn: the suite's own second turn carries content null; refused, "" answers the result."""
    probe = PROBES["tools.followup_turn"]
    call = completion(None, finish="tool_calls")
    call["choices"][0]["message"]["tool_calls"] = [{"id": "call_1", "type": "function", "function": {
        "name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    variant = [obs(200, call), error(500, NULL_500, role="turn-2"),
               _resent("assistant_null_content", answer("variant"), origin="turn-2")]
    check(classify(probe, variant, []), Status.OK, Support.SUPPORTED, Conformance.OK,
          "refused because of assistant content null", "uses the tool result")


def test_a_shape_the_probe_is_about_is_its_own_rejection() -> None:
    """tools.followup_turn sends call_… ids on purpose (its params name tool_call_id): a 400 on them, 9-alphanumeric
    ids working, is its own REJECTED (the hint says what to change), not a pass judged on the working ids."""
    probe = PROBES["tools.followup_turn"]
    call = completion(None, finish="tool_calls")
    call["choices"][0]["message"]["tool_calls"] = [{"id": "x1", "type": "function", "function": {
        "name": "get_weather", "arguments": "{}"}}]
    refused = obs(400, {"error": {"message": "Tool call id was call_X but must be a-z, A-Z, 0-9, with a length of 9.",
                                  "type": "invalid_request_error", "param": None, "code": None}}, role="turn-2")
    variant = [obs(200, call), refused, _resent("tool_call_id_format", answer("variant"), origin="turn-2")]
    v = classify(probe, variant, [])
    check(v, Status.OK, Support.REJECTED, Conformance.OK, "refused because of the tool-call id format")
    assert not v.notes[0].endswith("judged on that answer")
