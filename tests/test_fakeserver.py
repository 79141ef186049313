"""Real-socket tests of the fake OpenAI-like server's switches (httpx against 127.0.0.1)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakeserver import SENTENCES, VOCAB, FakeConfig, FakeServer, deterministic_answer, token_id

Make = Callable[..., FakeServer]

USER = [{"role": "user", "content": "Say something nice about the weather"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}


@pytest.fixture
def make() -> Iterator[Make]:
    """Start fake servers on demand; stop them all at teardown."""
    servers: list[FakeServer] = []

    def _make(**switches: Any) -> FakeServer:
        server = FakeServer(FakeConfig(**switches)).start()
        servers.append(server)
        return server

    yield _make
    for server in servers:
        server.stop()


#: One client for the module: building an httpx client (its SSL context) costs tens of milliseconds.
CLIENT = httpx.Client(timeout=5.0)


def chat(
    server: FakeServer, timeout: float = 5.0, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    """POST a chat completion (model and messages defaulted) and return the httpx response."""
    body = {"model": "fake-model", "messages": USER, **fields}
    return CLIENT.post(f"{server.base_url}/chat/completions", json=body, timeout=timeout, headers=headers)


def sse(response: httpx.Response) -> tuple[list[dict[str, Any]], bool]:
    """Parse an SSE body into (chunks, saw [DONE])."""
    chunks, done = [], False
    for block in response.text.split("\n\n"):
        if not block.startswith("data: "):
            continue
        data = block[len("data: ") :]
        if data == "[DONE]":
            done = True
        else:
            chunks.append(json.loads(data))
    return chunks, done


def content(response: httpx.Response, index: int = 0) -> str:
    return response.json()["choices"][index]["message"]["content"]


# -- shape, endpoints, recording --------------------------------------------------------------------------


def test_completion_has_the_openai_shape_and_consistent_usage(make: Make) -> None:
    server = make()
    body = chat(server, temperature=0).json()
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert body["model"] == "fake-model" and body["system_fingerprint"] == "fp_fake"
    choice = body["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop" and choice["logprobs"] is None
    assert choice["message"]["role"] == "assistant" and choice["message"]["refusal"] is None
    assert choice["message"]["content"] == deterministic_answer(USER[0]["content"])
    usage = body["usage"]
    assert usage["prompt_tokens"] == len(USER[0]["content"].split())
    assert usage["completion_tokens"] == len(choice["message"]["content"].split()) >= 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert all(word in VOCAB for s in SENTENCES for word in s.split())


def test_models_unknown_paths_and_the_request_log(make: Make) -> None:
    server = make(models=("fake-model", "other"))
    listing = CLIENT.get(f"{server.base_url}/models").json()
    assert [m["id"] for m in listing["data"]] == ["fake-model", "other"]
    missing = CLIENT.get(f"{server.base_url}/nope")
    assert missing.status_code == 404 and "error" in missing.json()
    chat(server, headers={"X-Trace": "abc"}, content_type_is_irrelevant=True)
    assert [r["path"] for r in server.requests] == ["/v1/models", "/v1/nope", "/v1/chat/completions"]
    last = server.last_request
    assert last["method"] == "POST" and last["headers"]["x-trace"] == "abc"
    assert last["body"]["content_type_is_irrelevant"] is True
    wrong_type = CLIENT.post(
        f"{server.base_url}/chat/completions",
        content=json.dumps({"model": "fake-model", "messages": USER}),
        headers={"Content-Type": "text/plain"},
    )
    assert wrong_type.status_code == 200


def test_config_can_be_swapped_between_requests(make: Make) -> None:
    server = make()
    assert chat(server, seed=1).status_code == 200
    server.config = FakeConfig(reject={"seed"})
    assert chat(server, seed=1).status_code == 400


# -- honour / ignore / reject -----------------------------------------------------------------------------


def test_temperature_zero_is_deterministic_and_sampling_varies(make: Make) -> None:
    server = make()
    assert content(chat(server, temperature=0)) == content(chat(server, temperature=0))
    assert content(chat(server, top_p=0.05)) == content(chat(server, temperature=0))
    assert content(chat(server, temperature=1)) != content(chat(server, temperature=1))
    ignored = make(ignore={"temperature"})
    assert content(chat(ignored, temperature=0)) != content(chat(ignored, temperature=0))


def test_seed_honoured_ignored_rejected(make: Make) -> None:
    honoured = make()
    assert content(chat(honoured, seed=7)) == content(chat(honoured, seed=7))
    assert content(chat(honoured, seed=7)) != content(chat(honoured, seed=8))
    ignored = make(ignore={"seed"})
    assert content(chat(ignored, seed=7)) != content(chat(ignored, seed=7))
    rejected = chat(make(reject={"seed"}), seed=7)
    assert rejected.status_code == 400
    assert rejected.json()["error"]["param"] == "seed" and "seed" in rejected.json()["error"]["message"]


def test_max_tokens_and_max_completion_tokens(make: Make) -> None:
    server = make()
    for name in ("max_tokens", "max_completion_tokens"):
        body = chat(server, temperature=0, **{name: 3}).json()
        assert body["choices"][0]["finish_reason"] == "length"
        assert (
            len(body["choices"][0]["message"]["content"].split()) == 3 == body["usage"]["completion_tokens"]
        )
        bad = chat(server, **{name: 0})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == name
    ignored = make(ignore={"max_tokens"})
    assert chat(ignored, temperature=0, max_tokens=0).json()["choices"][0]["finish_reason"] == "stop"


def test_out_of_range_values_are_rejected_only_when_honoured(make: Make) -> None:
    server = make()
    cases = {
        "temperature": 3,
        "top_p": 1.5,
        "presence_penalty": 3,
        "frequency_penalty": -3,
        "top_logprobs": 21,
    }
    cases |= {"n": 9}
    for name, value in cases.items():
        response = chat(server, **{name: value})
        assert response.status_code == 400 and response.json()["error"]["param"] == name, name
    assert chat(server, n=0).json()["error"]["param"] == "n"
    assert chat(server, stop=["a", "b", "c", "d", "e"]).json()["error"]["param"] == "stop"
    ignoring = make(ignore=set(cases))
    assert all(chat(ignoring, **{k: v}).status_code == 200 for k, v in cases.items())


def test_stop_cuts_before_the_stop_text(make: Make) -> None:
    server = make()
    full = content(chat(server, temperature=0))
    word = full.split()[3]
    body = chat(server, temperature=0, stop=[word, "zzz"]).json()
    text = body["choices"][0]["message"]["content"]
    assert word not in text and full.startswith(text) and body["choices"][0]["finish_reason"] == "stop"
    assert content(chat(make(ignore={"stop"}), temperature=0, stop=word)) == full


def test_n_gives_distinct_indexes_and_interleaved_stream(make: Make) -> None:
    server = make()
    assert [c["index"] for c in chat(server, n=3).json()["choices"]] == [0, 1, 2]
    assert len(chat(make(ignore={"n"}), n=3).json()["choices"]) == 1
    chunks, done = sse(chat(server, n=2, stream=True, temperature=0))
    indexes = [c["choices"][0]["index"] for c in chunks if c["choices"]]
    assert done and indexes[:4] == [0, 1, 0, 1]


def test_logprobs_and_top_logprobs(make: Make) -> None:
    server = make()
    body = chat(server, temperature=0, logprobs=True, top_logprobs=3).json()
    entries = body["choices"][0]["logprobs"]["content"]
    assert "".join(e["token"] for e in entries) == body["choices"][0]["message"]["content"]
    assert all(len(e["top_logprobs"]) == 3 and e["bytes"] == list(e["token"].encode()) for e in entries)
    assert chat(make(ignore={"logprobs"}), logprobs=True).json()["choices"][0]["logprobs"] is None


def test_logit_bias_bans_a_token(make: Make) -> None:
    server = make()
    full = content(chat(server, temperature=0)).split()
    banned = full[2]
    biased = content(chat(server, temperature=0, logit_bias={str(token_id(banned)): -100})).split()
    assert banned not in biased and len(biased) == len(full)
    sampled = " ".join(content(chat(server, logit_bias={str(token_id("the")): -100})) for _ in range(5))
    assert "the" not in sampled.split()
    ignored = make(ignore={"logit_bias"})
    assert content(chat(ignored, temperature=0, logit_bias={str(token_id(banned)): -100})).split() == full


def test_penalties_remove_repetition(make: Make) -> None:
    server = make()
    repeat = [{"role": "user", "content": "Please repeat one word"}]
    plain = content(chat(server, messages=repeat, temperature=0)).split()
    assert plain.count("echo") >= 10
    for name in ("presence_penalty", "frequency_penalty"):
        words = content(chat(server, messages=repeat, temperature=0, **{name: 1.5})).split()
        assert len({w.lower() for w in words}) == len(words)
        ignored = make(ignore={name})
        assert content(chat(ignored, messages=repeat, temperature=0, **{name: 1.5})).split() == plain


def test_response_format_json_object_and_json_schema(make: Make) -> None:
    server = make()
    assert "answer" in json.loads(content(chat(server, response_format={"type": "json_object"})))
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "color": {"enum": ["red", "blue"]},
        },
        "required": ["name", "age", "score", "ok", "tags", "color"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": True}}
    value = json.loads(content(chat(server, response_format=fmt)))
    assert set(value) == set(schema["required"]) and isinstance(value["age"], int) and value["color"] == "red"
    with pytest.raises(json.JSONDecodeError):
        json.loads(content(chat(make(ignore={"response_format"}), response_format=fmt)))
    assert chat(server, response_format={"type": "yaml"}).json()["error"]["param"] == "response_format"


# -- tools ------------------------------------------------------------------------------------------------


def test_tool_calls_choice_variants_and_follow_up(make: Make) -> None:
    server = make()
    body = chat(server, tools=[WEATHER_TOOL]).json()
    choice = body["choices"][0]
    call = choice["message"]["tool_calls"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert call["id"].startswith("call_") and len(call["id"]) == 29 and call["type"] == "function"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert content(chat(server, tools=[WEATHER_TOOL], tool_choice="none")) is not None
    named = {"type": "function", "function": {"name": "get_time"}}
    named_call = chat(server, tools=[WEATHER_TOOL, TIME_TOOL], tool_choice=named).json()
    assert named_call["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_time"
    unknown = chat(server, tools=[WEATHER_TOOL], tool_choice={"type": "function", "function": {"name": "x"}})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "tool_choice"
    assert chat(server, tool_choice="auto").json()["error"]["param"] == "tool_choice"
    assert chat(server, tools=[WEATHER_TOOL], tool_choice="any").status_code == 400
    assert (
        chat(make(conversation_rules="mistral"), tools=[WEATHER_TOOL], tool_choice="any").status_code == 200
    )
    follow_up = [
        *USER,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny 21C"},
    ]
    assert content(chat(server, messages=follow_up, tools=[WEATHER_TOOL])) == "The result was: sunny 21C"
    assert content(chat(make(ignore={"tools"}), tools=[WEATHER_TOOL])) is not None


def test_parallel_tool_calls(make: Make) -> None:
    server = make()
    ask = [{"role": "user", "content": "Weather in two cities, in parallel please"}]
    calls = chat(server, messages=ask, tools=[WEATHER_TOOL]).json()["choices"][0]["message"]["tool_calls"]
    assert len(calls) == 2 and calls[0]["id"] != calls[1]["id"]
    assert [json.loads(c["function"]["arguments"])["city"] for c in calls] == ["Paris", "London"]
    single = chat(server, messages=ask, tools=[WEATHER_TOOL], parallel_tool_calls=False).json()
    assert len(single["choices"][0]["message"]["tool_calls"]) == 1


def test_usage_counts_tools_and_response_format_only_when_honoured(make: Make) -> None:
    honoured, ignored = make(), make(ignore={"tools", "response_format"})
    fields = {"tools": [WEATHER_TOOL], "tool_choice": "none", "response_format": {"type": "json_object"}}
    base = chat(honoured).json()["usage"]["prompt_tokens"]
    assert chat(ignored, **fields).json()["usage"]["prompt_tokens"] == base
    assert chat(honoured, **fields).json()["usage"]["prompt_tokens"] > base


def test_tool_delta_styles(make: Make) -> None:
    for style in ("openai", "mistral"):
        chunks, done = sse(chat(make(tool_delta_style=style), tools=[WEATHER_TOOL], stream=True))
        deltas = [tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls", [])]
        assert done
        if style == "openai":
            assert len(deltas) > 2 and deltas[0]["index"] == 0 and deltas[0]["type"] == "function"
            arguments = "".join(d["function"]["arguments"] for d in deltas)
        else:
            assert len(deltas) == 1 and "index" not in deltas[0] and "type" not in deltas[0]
            arguments = deltas[0]["function"]["arguments"]
        assert json.loads(arguments) == {"city": "Paris"}


def test_mistral_tool_call_ids(make: Make) -> None:
    server = make(tool_call_id_style="mistral")
    call = chat(server, tools=[WEATHER_TOOL]).json()["choices"][0]["message"]["tool_calls"][0]
    assert len(call["id"]) == 9 and call["id"].isalnum()
    turn = [
        *USER,
        {"role": "assistant", "content": None, "tool_calls": [{**call, "id": "call_abc123"}]},
        {"role": "tool", "tool_call_id": "call_abc123", "content": "sunny"},
    ]
    bad = chat(server, messages=turn, tools=[WEATHER_TOOL])
    assert bad.status_code == 400
    assert "Tool call id was call_abc123 but must be a-z, A-Z, 0-9, with a length of 9." in bad.text


# -- streaming --------------------------------------------------------------------------------------------


def test_stream_usage_styles_and_nested_ignore(make: Make) -> None:
    opts = {"stream": True, "temperature": 0, "stream_options": {"include_usage": True}}
    chunks, done = sse(chat(make(), **opts))
    assert done and chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == content(chat(make(), temperature=0))
    assert len({c["id"] for c in chunks}) == 1 and {c["object"] for c in chunks} == {"chat.completion.chunk"}
    chunks, _ = sse(chat(make(), stream=True))
    assert all("usage" not in c for c in chunks)
    chunks, _ = sse(chat(make(ignore={"stream_options.include_usage"}), **opts))
    assert all(not c.get("usage") for c in chunks)
    chunks, _ = sse(chat(make(stream_usage="mistral"), stream=True))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["usage"]["total_tokens"] > 0
    chunks, _ = sse(chat(make(stream_usage="none"), **opts))
    assert all(not c.get("usage") for c in chunks)


# -- error styles, unknown fields, conversation rules, models, auth, malformed body -----------------------


def test_error_styles_for_a_rejected_param(make: Make) -> None:
    openai = chat(make(reject={"seed"}), seed=1)
    assert openai.status_code == 400
    assert openai.json()["error"] == {
        "message": openai.json()["error"]["message"],
        "type": "invalid_request_error",
        "param": "seed",
        "code": "unsupported_parameter",
    }
    fastapi = chat(make(reject={"seed"}, error_style="fastapi"), seed=1)
    assert fastapi.status_code == 422
    assert fastapi.json()["detail"][0] == {
        "type": "extra_forbidden",
        "loc": ["body", "seed"],
        "msg": "Extra inputs are not permitted",
        "input": 1,
    }
    mistral = chat(
        make(reject={"stream_options.include_usage"}, error_style="mistral"),
        stream=True,
        stream_options={"include_usage": True},
    )
    body = mistral.json()
    assert mistral.status_code == 422 and body["object"] == "error" and body["param"] is None
    assert body["message"]["detail"][0]["loc"] == ["body", "stream_options", "include_usage"]
    flat = chat(make(reject={"seed"}, error_style="flat"), seed=1)
    assert flat.status_code == 400 and set(flat.json()) == {"message", "type", "code"} and "seed" in flat.text


def test_unknown_fields_ignored_or_rejected(make: Make) -> None:
    assert chat(make(), random_seed=3).status_code == 200
    rejected = chat(make(reject_unknown=True), random_seed=3)
    assert rejected.status_code == 400
    assert rejected.json()["error"]["message"] == "Unrecognized request argument supplied: random_seed"
    assert rejected.json()["error"]["param"] == "random_seed"
    strict = chat(make(reject_unknown=True, error_style="mistral"), random_seed=3)
    assert strict.status_code == 422 and strict.json()["message"]["detail"][0]["type"] == "extra_forbidden"
    assert chat(make(reject_unknown=True), user="u1").status_code == 200


def test_mistral_conversation_rules(make: Make) -> None:
    server = make(conversation_rules="mistral", error_style="mistral")
    call = {"id": "abcDEF123", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    cases_400 = {
        "assistant last": [*USER, {"role": "assistant", "content": "hi"}],
        "user after tool": [
            *USER,
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "abcDEF123", "content": "x"},
            {"role": "user", "content": "and?"},
        ],
        "count mismatch": [*USER, {"role": "assistant", "content": None, "tool_calls": [call, call]}]
        + [{"role": "tool", "tool_call_id": "abcDEF123", "content": "x"}],
    }
    for label, messages in cases_400.items():
        response = chat(server, messages=messages)
        assert response.status_code == 400 and response.json()["object"] == "error", label
    cases_422 = {
        "developer": [{"role": "developer", "content": "be brief"}, *USER],
        "name on user": [{"role": "user", "content": "hi", "name": "bob"}],
        "extra key": [{"role": "user", "content": "hi", "metadata": {}}],
    }
    for label, messages in cases_422.items():
        assert chat(server, messages=messages).status_code == 422, label
    prefix = [*USER, {"role": "assistant", "content": "The", "prefix": True}]
    assert chat(server, messages=prefix).status_code == 200
    assert chat(make(), messages=cases_422["developer"] + cases_400["assistant last"]).status_code == 200


def test_missing_messages_unknown_model_auth_and_malformed_body(make: Make) -> None:
    server = make(unknown_model="404")
    missing = CLIENT.post(f"{server.base_url}/chat/completions", json={"model": "fake-model"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "messages"
    unknown = chat(server, model="gpt-9")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    assert chat(make(unknown_model="substitute"), model="gpt-9").json()["model"] == "fake-default"
    secret = make(api_key="sk-secret-123")
    for headers in ({}, {"Authorization": "Bearer sk-wrong"}):
        denied = chat(secret, headers=headers)
        assert denied.status_code == 401 and "error" in denied.json() and "sk-" not in denied.text
    assert chat(secret, headers={"Authorization": "Bearer sk-secret-123"}).status_code == 200
    for status in (400, 422):
        broken = CLIENT.post(
            f"{make(malformed_body_status=status).base_url}/chat/completions", content=b"{nope"
        )
        assert broken.status_code == status


# -- faults -----------------------------------------------------------------------------------------------


def test_fault_html502_invalid_json_huge(make: Make) -> None:
    page = chat(make(fault="html502"))
    assert page.status_code == 502 and page.headers["content-type"].startswith("text/html")
    invalid = chat(make(fault="invalid_json"))
    assert invalid.status_code == 200 and invalid.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        invalid.json()
    huge = chat(make(fault="huge"))
    assert huge.status_code == 200 and len(huge.content) >= 10 * 1024 * 1024
    assert huge.json()["object"] == "chat.completion"


def test_fault_truncated_and_midstream_streams(make: Make) -> None:
    chunks, done = sse(chat(make(fault="truncated_sse"), stream=True))
    assert chunks and not done
    response = chat(make(fault="midstream_500"), stream=True)
    assert response.status_code == 200
    assert "[DONE]" not in response.text
    blocks = [b for b in response.text.split("\n\n") if b.startswith("data: ")]
    assert len(blocks) > 1 and "error" in json.loads(blocks[-1][len("data: ") :])
    assert chat(make(fault="midstream_500")).status_code == 500


def test_fault_reset_and_hang(make: Make) -> None:
    with pytest.raises(httpx.TransportError):
        chat(make(fault="reset"))
    with pytest.raises(httpx.ReadTimeout):
        chat(make(fault="hang"), timeout=0.3)


def test_fault_rate_limit_then_normal(make: Make) -> None:
    server = make(fault="rate_limit", rate_limit_count=2)
    first, second, third = (chat(server) for _ in range(3))
    assert first.status_code == second.status_code == 429
    assert first.headers["retry-after"] == "1" and first.headers["x-ratelimit-reset-requests"] == "1s"
    assert first.json()["error"]["code"] == "rate_limit_exceeded"
    assert third.status_code == 200


def test_latency(make: Make) -> None:
    with pytest.raises(httpx.ReadTimeout):
        chat(make(latency=0.5), timeout=0.2)


def test_importable_from_tests_directory() -> None:
    tests_dir = Path(__file__).parent
    code = "from fakeserver import FakeServer, FakeConfig; print(FakeServer(FakeConfig()).config.fault)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tests_dir, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0 and result.stdout.strip() == "None", result.stderr
