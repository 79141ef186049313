#!/usr/bin/env python3
"""Send a bounded set of raw chat-completions probes to a server and print markdown.

    python tools/exploration/probe.py BASE_URL [MODEL] [--tools-model M] [--only NAME,...] [--trim N]

Stdlib only.  Each probe prints the exact request body, the HTTP status and a short excerpt
of the answer (for streams: the number of `data:` lines and the first/last events).  This is
how servers/BEHAVIOUR.md was produced; re-run it after a version bump and compare.
"""
from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import urllib.parse

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
HELLO = [{"role": "user", "content": "Hello"}]
WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]
COLOUR = [{"role": "user", "content": "Pick a random colour"}]
AFTER_TOOL = [{"role": "user", "content": "Weather in Paris?"},
              {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
                  "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
              {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 20C"}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": {
    "type": "object", "properties": {"name": {"type": "string", "maxLength": 8}, "age": {"type": "integer"}},
    "required": ["name", "age"], "additionalProperties": False}}}


def probes(m: str, tm: str):
    """(name, body or raw string, stream?) -- tm is the model to use for tool probes."""
    P = []

    def add(name, body, stream=False):
        P.append((name, body, stream))

    add("plain_t0", {"model": m, "messages": HELLO, "temperature": 0})
    add("plain_t0_again", {"model": m, "messages": HELLO, "temperature": 0})
    add("max_tokens_3", {"model": m, "messages": HELLO, "temperature": 0, "max_tokens": 3})
    add("max_completion_tokens_3", {"model": m, "messages": HELLO, "temperature": 0, "max_completion_tokens": 3})
    add("stop_tiny", {"model": m, "messages": HELLO, "temperature": 0, "stop": ["tiny"]})
    add("stop_string", {"model": m, "messages": HELLO, "temperature": 0, "stop": "!"})
    add("unknown_field", {"model": m, "messages": HELLO, "temperature": 0, "max_tokens": 5, "frobnicate": 1})
    add("stream", {"model": m, "messages": HELLO, "temperature": 0, "stream": True}, True)
    add("stream_include_usage", {"model": m, "messages": HELLO, "temperature": 0, "stream": True,
                                 "stream_options": {"include_usage": True}}, True)
    add("stream_options_without_stream", {"model": m, "messages": HELLO, "temperature": 0, "max_tokens": 5,
                                          "stream_options": {"include_usage": True}})
    add("tools_auto", {"model": tm, "messages": WEATHER, "tools": TOOLS, "tool_choice": "auto", "temperature": 0})
    add("tools_default_choice", {"model": tm, "messages": WEATHER, "tools": TOOLS, "temperature": 0})
    add("tools_required", {"model": tm, "messages": WEATHER, "tools": TOOLS, "tool_choice": "required",
                           "temperature": 0})
    add("tools_none", {"model": tm, "messages": WEATHER, "tools": TOOLS, "tool_choice": "none", "temperature": 0})
    add("tools_named", {"model": tm, "messages": WEATHER, "tools": TOOLS, "temperature": 0,
                        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    add("tools_named_unknown", {"model": tm, "messages": WEATHER, "tools": TOOLS, "temperature": 0,
                                "tool_choice": {"type": "function", "function": {"name": "nope"}}})
    add("tool_choice_without_tools", {"model": tm, "messages": WEATHER, "tool_choice": "required",
                                      "temperature": 0})
    add("tools_auto_stream", {"model": tm, "messages": WEATHER, "tools": TOOLS, "temperature": 0,
                              "stream": True}, True)
    add("tools_required_stream", {"model": tm, "messages": WEATHER, "tools": TOOLS, "tool_choice": "required",
                                  "temperature": 0, "stream": True}, True)
    add("tool_result_roundtrip", {"model": m, "messages": AFTER_TOOL, "tools": TOOLS, "temperature": 0})
    add("json_object", {"model": m, "messages": [{"role": "user", "content": "Reply with a JSON object"}],
                        "response_format": {"type": "json_object"}, "temperature": 0, "max_tokens": 40})
    add("json_object_plain_prompt", {"model": m, "messages": HELLO, "response_format": {"type": "json_object"},
                                     "temperature": 0, "max_tokens": 40})
    add("json_schema", {"model": m, "messages": [{"role": "user", "content": "Give a name and age as JSON"}],
                        "response_format": SCHEMA, "temperature": 0, "max_tokens": 60})
    add("json_schema_plain_prompt", {"model": m, "messages": HELLO, "response_format": SCHEMA,
                                     "temperature": 0, "max_tokens": 60})
    add("n2_t0", {"model": m, "messages": HELLO, "temperature": 0, "n": 2, "max_tokens": 8})
    add("n2_colour_t1", {"model": m, "messages": COLOUR, "temperature": 1, "n": 4, "max_tokens": 4})
    add("seed_42", {"model": m, "messages": COLOUR, "temperature": 1, "seed": 42, "max_tokens": 4})
    add("seed_42_again", {"model": m, "messages": COLOUR, "temperature": 1, "seed": 42, "max_tokens": 4})
    add("seed_7", {"model": m, "messages": COLOUR, "temperature": 1, "seed": 7, "max_tokens": 4})
    add("logprobs_top2", {"model": m, "messages": HELLO, "temperature": 0, "max_tokens": 3, "logprobs": True,
                          "top_logprobs": 2})
    add("logprobs_no_top", {"model": m, "messages": HELLO, "temperature": 0, "max_tokens": 2, "logprobs": True})
    add("top_logprobs_without_logprobs", {"model": m, "messages": HELLO, "temperature": 0, "max_tokens": 2,
                                          "top_logprobs": 2})
    add("top_logprobs_21", {"model": m, "messages": HELLO, "max_tokens": 2, "logprobs": True, "top_logprobs": 21})
    add("unknown_model", {"model": "no-such-model", "messages": HELLO, "max_tokens": 5})
    add("malformed_json", f'{{"model": "{m}", "messages": [ {{"role": "user", "content": "hi"')
    add("missing_messages", {"model": m})
    add("missing_model", {"messages": HELLO, "max_tokens": 5})
    add("empty_messages", {"model": m, "messages": [], "max_tokens": 5})
    add("bad_role", {"model": m, "messages": [{"role": "wizard", "content": "hi"}], "max_tokens": 5})
    add("temperature_5", {"model": m, "messages": HELLO, "temperature": 5, "max_tokens": 5})
    add("temperature_-1", {"model": m, "messages": HELLO, "temperature": -1, "max_tokens": 5})
    add("top_p_1.5", {"model": m, "messages": HELLO, "top_p": 1.5, "max_tokens": 5})
    add("max_tokens_0", {"model": m, "messages": HELLO, "max_tokens": 0})
    add("max_tokens_huge", {"model": m, "messages": HELLO, "max_tokens": 100000})
    add("n_0", {"model": m, "messages": HELLO, "n": 0, "max_tokens": 5})
    add("presence_penalty_3", {"model": m, "messages": HELLO, "presence_penalty": 3, "max_tokens": 5})
    add("stop_5_strings", {"model": m, "messages": HELLO, "stop": ["a", "b", "c", "d", "e"], "max_tokens": 5})
    add("temperature_string", {"model": m, "messages": HELLO, "temperature": "hot", "max_tokens": 5})
    add("content_parts", {"model": m, "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
                          "temperature": 0})
    add("developer_role", {"model": m, "messages": [{"role": "developer", "content": "Be brief."}] + HELLO,
                           "temperature": 0})
    add("user_field_and_metadata", {"model": m, "messages": HELLO, "temperature": 0, "max_tokens": 5,
                                    "user": "u1", "metadata": {"k": "v"}, "store": False})
    add("parallel_tool_calls_false", {"model": tm, "messages": WEATHER, "tools": TOOLS, "temperature": 0,
                                      "parallel_tool_calls": False})
    add("logit_bias", {"model": m, "messages": HELLO, "temperature": 0, "max_tokens": 5,
                       "logit_bias": {"50": -100}})
    add("user_name_field", {"model": m, "messages": [{"role": "user", "content": "Hello", "name": "alice"}],
                            "temperature": 0})
    # sampling that varies even on servers whose min_p default (llama.cpp: 0.05) cuts the tail
    hot = {"temperature": 2, "top_p": 1, "min_p": 0, "max_tokens": 8}
    add("hot_no_seed", {"model": m, "messages": HELLO, **hot})
    add("hot_no_seed_again", {"model": m, "messages": HELLO, **hot})
    add("hot_seed_42", {"model": m, "messages": HELLO, "seed": 42, **hot})
    add("hot_seed_42_again", {"model": m, "messages": HELLO, "seed": 42, **hot})
    add("hot_seed_7", {"model": m, "messages": HELLO, "seed": 7, **hot})
    add("logit_bias_green", {"model": m, "messages": COLOUR, "temperature": 0, "max_tokens": 4,
                             "logit_bias": {"832": -100}})
    return P


def send(base: str, body, stream: bool, key: str, timeout: float = 120):
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    raw = body if isinstance(body, str) else json.dumps(body)
    conn.request("POST", u.path.rstrip("/") + "/chat/completions", raw.encode(),
                 {"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    r = conn.getresponse()
    data = r.read().decode("utf-8", "replace")
    ctype = r.getheader("Content-Type", "")
    conn.close()
    return r.status, ctype, data


def excerpt(status, ctype, data, stream, trim):
    if stream and status == 200:
        events = [ln for ln in data.splitlines() if ln.startswith("data:")]
        shown = events[:2] + (["..."] if len(events) > 5 else []) + events[max(2, len(events) - 3):]
        return f"{len(events)} data lines; content-type {ctype}\n" + "\n".join(s[:trim] for s in shown)
    return data[:trim] + (" [...]" if len(data) > trim else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base", help="e.g. http://127.0.0.1:8011/v1")
    ap.add_argument("model", nargs="?", default="tiny")
    ap.add_argument("--tools-model", default=None)
    ap.add_argument("--only", default="")
    ap.add_argument("--trim", type=int, default=700)
    ap.add_argument("--key", default="sk-none")
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    for name, body, stream in probes(a.model, a.tools_model or a.model):
        if only and name not in only:
            continue
        t0 = time.time()
        try:
            status, ctype, data = send(a.base, body, stream, a.key)
            out = excerpt(status, ctype, data, stream, a.trim)
        except Exception as e:  # noqa: BLE001
            status, out = "ERR", repr(e)
        req = body if isinstance(body, str) else json.dumps(body)
        print(f"#### {name} -> {status} ({time.time() - t0:.1f}s)\n```\n> {req}\n{out}\n```\n", flush=True)


if __name__ == "__main__":
    sys.exit(main())
