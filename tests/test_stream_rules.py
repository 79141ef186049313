"""Stream rules (beyond per-chunk schemas) and stream reassembly."""

from __future__ import annotations

import json
from typing import Any

from conformance.judge.schemas import check_response
from conformance.judge.stream_rules import check_stream, reassemble
from conformance.model.sse import parse_sse


def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": choices, **extra}


def choice(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish}


def sse(*payloads: Any, done: bool = True) -> str:
    lines = [f"data: {json.dumps(p) if not isinstance(p, str) else p}\n\n" for p in payloads]
    return "".join(lines) + ("data: [DONE]\n\n" if done else "")


GOOD = [chunk([choice({"role": "assistant", "content": ""})]), chunk([choice({"content": "Hi"})]),
        chunk([choice({}, "stop")])]


def rules(findings: list) -> set[tuple[str, str, str]]:
    return {(f.rule, f.pointer, f.level) for f in findings}


def test_good_stream_has_no_findings() -> None:
    assert check_stream(parse_sse(sse(*GOOD)), {"model": "m", "messages": []}, "text/event-stream") == []


def test_content_type_and_missing_done() -> None:
    found = rules(check_stream(parse_sse(sse(*GOOD, done=False)), None, "application/json"))
    assert ("stream.content_type", "", "compat") in found
    assert ("stream.done_sentinel", "", "compat") in found


def test_done_twice_and_not_last() -> None:
    assert ("stream.done_sentinel", "/events/4", "strict") in rules(
        check_stream(parse_sse(sse(*GOOD) + "data: [DONE]\n\n")))
    assert ("stream.done_sentinel", "/events/0", "compat") in rules(
        check_stream(parse_sse("data: [DONE]\n\n" + sse(*GOOD))))


def test_role_first_finish_once_and_stable_fields() -> None:
    stream = [chunk([choice({"content": "a"})]), chunk([choice({}, "stop")], id="c2"), chunk([choice({}, "stop")])]
    found = rules(check_stream(parse_sse(sse(*stream))))
    assert ("stream.role_first", "/chunks/0/choices/0/delta/role", "strict") in found
    assert ("stream.finish_reason_once", "/chunks/2/choices/0/finish_reason", "compat") in found
    assert ("stream.stable_fields", "/chunks/1/id", "strict") in found
    no_finish = [chunk([choice({"role": "assistant", "content": "a"})])]
    assert ("stream.finish_reason_once", "", "compat") in rules(check_stream(parse_sse(sse(*no_finish))))


def test_parse_error_error_event_and_unterminated() -> None:
    raw = sse(GOOD[0], "{not json", {"error": {"message": "upstream overloaded"}}, done=False) + "data: [DONE]"
    found = check_stream(parse_sse(raw))
    assert ("stream.parse", "/events/1", "compat") in rules(found)
    err = [f for f in found if f.rule == "stream.error_event"]
    assert err and err[0].pointer == "/events/2" and "upstream overloaded" in err[0].message
    assert ("stream.parse", "", "strict") in rules(found)


def test_usage_mistral_style_is_strict_placement() -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    stream = GOOD[:2] + [chunk([choice({}, "stop")], usage=usage)]
    found = check_stream(parse_sse(sse(*stream)), {"model": "m", "messages": []})
    placement = [f for f in found if f.rule == "stream.usage_placement"]
    assert [(f.pointer, f.level) for f in placement] == [("/chunks/2/usage", "strict")]
    assert "choices[0]" in placement[0].message and "choices: []" in placement[0].message
    assert ("stream.usage_unrequested", "/chunks/2/usage", "strict") in rules(found)
    # without a recorded request nobody can say whether usage was asked for
    assert not [f for f in check_stream(parse_sse(sse(*stream))) if f.rule == "stream.usage_unrequested"]


def test_usage_requested() -> None:
    req = {"model": "m", "messages": [], "stream_options": {"include_usage": True}}
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert check_stream(parse_sse(sse(*GOOD, chunk([], usage=usage))), req) == []
    assert ("stream.usage_placement", "", "compat") in rules(check_stream(parse_sse(sse(*GOOD)), req))
    late = sse(GOOD[0], chunk([], usage=usage), *GOOD[1:])
    assert ("stream.usage_placement", "/chunks/1/usage", "strict") in rules(check_stream(parse_sse(late), req))


def test_tool_call_rules() -> None:
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\""}}
    stream = [chunk([choice({"role": "assistant", "tool_calls": [first]})]),
              chunk([choice({"tool_calls": [{"index": 0, "id": "call_1", "function": {"arguments": ": 1"}}]})]),
              chunk([choice({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]})]),
              chunk([choice({}, "tool_calls")])]
    found = rules(check_stream(parse_sse(sse(*stream))))
    assert ("stream.tool_call_first_fragment", "/chunks/1/choices/0/delta/tool_calls/0/id", "strict") in found
    assert ("stream.tool_call_arguments_json", "/chunks/0/choices/0/delta/tool_calls/0/function/arguments",
            "compat") in found
    assert ("stream.tool_call_first_fragment", "/chunks/2/choices/0/delta/tool_calls/0/id", "compat") in found
    assert ("stream.tool_call_first_fragment", "/chunks/2/choices/0/delta/tool_calls/0/function/name",
            "compat") in found
    assert ("stream.tool_call_first_fragment", "/chunks/2/choices/0/delta/tool_calls/0/type", "strict") in found


def test_mistral_tool_calls_without_index() -> None:
    calls = [{"id": "aaaaaaaa1", "function": {"name": "plus", "arguments": "{\"a\": 1}"}},
             {"id": "bbbbbbbb2", "function": {"name": "minus", "arguments": "{\"a\": 2}"}}]
    stream = parse_sse(sse(chunk([choice({"role": "assistant", "content": ""})]),
                           chunk([choice({"tool_calls": calls}, "tool_calls")])))
    found = rules(check_stream(stream))
    for k in (0, 1):
        assert ("stream.tool_call_index", f"/chunks/1/choices/0/delta/tool_calls/{k}/index", "compat") in found
        assert ("required", f"/chunks/1/choices/0/delta/tool_calls/{k}/index", "compat") in found
        assert ("stream.tool_call_first_fragment", f"/chunks/1/choices/0/delta/tool_calls/{k}/type",
                "strict") in found
    assert not [f for f in check_stream(stream) if f.rule == "stream.tool_call_arguments_json"]
    msg = reassemble(stream)["choices"][0]["message"]
    assert [c["function"]["name"] for c in msg["tool_calls"]] == ["plus", "minus"]
    assert [c["id"] for c in msg["tool_calls"]] == ["aaaaaaaa1", "bbbbbbbb2"]


def test_reassemble_interleaved_choices_content_arrays_and_tool_fragments() -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    stream = parse_sse(sse(
        chunk([choice({"role": "assistant", "content": "B"}, index=1)]),
        chunk([choice({"role": "assistant", "content": [{"type": "thinking", "thinking": []},
                                                          {"type": "text", "text": "A"}]}, index=0)]),
        chunk([choice({"content": "b"}, "stop", index=1)]),
        chunk([choice({"tool_calls": [{"index": 0, "id": "c", "type": "function",
                                       "function": {"name": "f", "arguments": "{\"x\""}}]}, index=0)]),
        chunk([choice({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}, "tool_calls", index=0)]),
        chunk([], usage=usage)))
    body = reassemble(stream)
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["choices"][1]["message"] == {"role": "assistant", "content": "Bb"}
    assert body["choices"][0]["message"]["content"] == "A"
    assert body["choices"][0]["message"]["tool_calls"] == [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}}]
    assert body["choices"][0]["finish_reason"] == "tool_calls" and body["usage"] == usage
    assert body["id"] == "c1" and body["object"] == "chat.completion"
    assert [f for f in check_response(body) if f.level == "compat"] == []
