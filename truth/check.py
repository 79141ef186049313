"""Re-check a reference server's truth table by hand: one command per server.

usage: python3 -m truth.check BASE MODEL TRUTHFILE [FEATURE_PREFIX]
  e.g. python3 -m truth.check http://127.0.0.1:8011/v1 tiny truth/tables/vllm.json

For every feature of the truth table it sends the entry's request (and its control, when the verdict is
differential), prints what came back — status, content, tool calls, finish_reason, usage, logprobs, choices, the
stream's shape — beside the expected verdict and why, and the curl command that reproduces the request. A human
compares: the truth table is established by reading these answers, never by running the suite. Stdlib only.
"""

from __future__ import annotations

import json
import shlex
import sys
import urllib.error
import urllib.request
from typing import Any

TIMEOUT = 60


def send(base: str, body: Any, headers: dict[str, str] | None = None, raw: str | None = None,
         method: str = "POST", path: str = "/chat/completions") -> tuple[int, str, str]:
    """POST /chat/completions (or GET `path`); (status, content type, body text)."""
    data = None if method == "GET" else raw.encode() if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:  # noqa: S310 - 127.0.0.1 reference servers
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode("utf-8", "replace")


def curl(base: str, body: Any, headers: dict[str, str] | None = None, raw: str | None = None,
         method: str = "POST", path: str = "/chat/completions") -> str:
    if method == "GET":
        return "curl -s " + shlex.quote(base.rstrip("/") + path)
    parts = ["curl -s", shlex.quote(base.rstrip("/") + path), "-H 'Content-Type: application/json'"]
    parts += [f"-H {shlex.quote(f'{k}: {v}')}" for k, v in (headers or {}).items()]
    parts.append("-d " + shlex.quote(raw if raw is not None else json.dumps(body, separators=(",", ":"))))
    return " ".join(parts)


def _stream_summary(text: str) -> str:
    datas = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    chunks = [json.loads(d) for d in datas if d and d != "[DONE]"]
    content: dict[int, str] = {}
    calls: list[str] = []
    finishes: dict[int, Any] = {}
    usage = [i for i, c in enumerate(chunks) if c.get("usage")]
    for c in chunks:
        for ch in c.get("choices") or []:
            idx = ch.get("index", 0)
            delta = ch.get("delta") or {}
            content[idx] = content.get(idx, "") + (delta.get("content") or "")
            for tc in delta.get("tool_calls") or []:
                fn = tc.get("function") or {}
                calls.append(f"[{tc.get('index')}] {fn.get('name') or ''}{fn.get('arguments') or ''}")
            if ch.get("finish_reason"):
                finishes[idx] = ch["finish_reason"]
    last = chunks[-1] if chunks else {}
    created = sorted({c.get("created") for c in chunks if isinstance(c.get("created"), int)})
    return (f"SSE {len(datas)} data lines, [DONE] x{datas.count('[DONE]')}, last is [DONE]: "
            f"{bool(datas) and datas[-1] == '[DONE]'}; created {created[:3]}{'...' if len(created) > 3 else ''} "
            f"({len(created)} distinct); top-level fields {sorted({k for c in chunks for k in c})}; "
            f"content {json.dumps(content)[:160]}; tool-call deltas "
            f"{calls[:6]}; finish {finishes}; usage on chunks {usage} (last chunk choices: "
            f"{json.dumps(last.get('choices'))[:60]}, usage {last.get('usage')})")


def summary(status: int, ctype: str, text: str) -> str:
    """What a reader needs to judge the answer, on a few lines."""
    if "event-stream" in ctype:
        return f"HTTP {status} {ctype}: {_stream_summary(text)}"
    try:
        body = json.loads(text)
    except ValueError:
        return f"HTTP {status} {ctype}: not JSON: {text[:200]!r}"
    if isinstance(body, dict) and body.get("object") == "list":  # GET /models
        return f"HTTP {status}: models {[m.get('id') for m in body.get('data') or []]}, created " \
               f"{[type(m.get('created')).__name__ for m in body.get('data') or []]}; {json.dumps(body)[:300]}"
    if status >= 400 or not isinstance(body, dict) or "choices" not in body:
        return f"HTTP {status}: {json.dumps(body)[:300]}"
    out = [f"HTTP {status} model={body.get('model')!r} usage={body.get('usage', {}) and {k: v for k, v in sorted(body['usage'].items()) if k.endswith('_tokens')}}"]  # noqa: E501
    for ch in body.get("choices") or []:
        msg = ch.get("message") or {}
        calls = [f"{(c.get('function') or {}).get('name')}({(c.get('function') or {}).get('arguments')!r})"
                 for c in msg.get("tool_calls") or []]
        lp = ch.get("logprobs")
        tops = sorted({len(t.get("top_logprobs") or []) for t in (lp or {}).get("content") or []})
        lp_text = f"{len((lp or {}).get('content') or [])} tokens, top {tops}" if lp else "none"
        out.append(f"  choice {ch.get('index')}: content={msg.get('content')!r:.120} tool_calls={calls} "
                   f"function_call={msg.get('function_call')} finish={ch.get('finish_reason')!r} logprobs={lp_text}")
    return "\n".join(out)


def run_sdk(base: str, model: str, scenario: str) -> str:
    """What openai-SDK code gets from the server (the sdk.openai.* probes): the value, or the exception raised."""
    try:
        import openai
        from pydantic import BaseModel
    except ImportError:
        return "the openai SDK is not installed (pip install openai): cannot run this check"
    client = openai.OpenAI(base_url=base, api_key="sk-none", max_retries=0)
    hello = [{"role": "user", "content": "Say hello and introduce yourself in one sentence."}]
    weather = [{"role": "user", "content": "What is the weather in Paris? Use the get_weather tool."}]
    params = {"type": "object", "properties": {"city": {"type": "string", "description": "a city name"}},
              "required": ["city"], "additionalProperties": False}
    tool = {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city.",
                                             "parameters": params}}
    strict_tool = {"type": "function", "function": {**tool["function"], "strict": True}}

    class City(BaseModel):
        name: str
        country: str

    def calls(msg: Any) -> str:
        return str([(c.id, c.function.name, c.function.arguments) for c in msg.tool_calls or []])

    try:
        if scenario == "chat":
            got = client.chat.completions.create(model=model, temperature=0, messages=hello)
            return f"openai {openai.__version__}: message.content {got.choices[0].message.content!r} " \
                   f"({type(got.choices[0].message.content).__name__}), finish {got.choices[0].finish_reason}"
        if scenario in ("stream", "stream_tools"):
            kw = {"messages": hello} if scenario == "stream" else {"messages": weather, "tools": [strict_tool]}
            plain = client.chat.completions.create(model=model, temperature=0, **kw)
            with client.chat.completions.stream(model=model, temperature=0, **kw) as stream:
                events = sum(1 for _ in stream)
                final = stream.get_final_completion()
            return (f"openai {openai.__version__}: {events} events; final content {final.choices[0].message.content!r}"
                    f" calls {calls(final.choices[0].message)} finish {final.choices[0].finish_reason}; unstreamed: "
                    f"content {plain.choices[0].message.content!r} calls {calls(plain.choices[0].message)} finish "
                    f"{plain.choices[0].finish_reason}")
        if scenario == "parse":
            got = client.chat.completions.parse(model=model, temperature=0, response_format=City, messages=[
                {"role": "user", "content": "Describe the city of Paris as a JSON object with the keys name and "
                                            "country. Answer in JSON only."}])
            return f"openai {openai.__version__}: .parsed = {got.choices[0].message.parsed!r}"
        if scenario == "tools":
            first = client.chat.completions.create(model=model, temperature=0, tools=[tool], messages=weather)
            msg = first.choices[0].message
            if not msg.tool_calls:
                return f"openai {openai.__version__}: no tool call: {msg.content!r}"
            turn2 = [*weather, msg, *({"role": "tool", "tool_call_id": c.id, "content": "Sunny, 21 degrees"}
                                      for c in msg.tool_calls)]
            second = client.chat.completions.create(model=model, temperature=0, tools=[tool], messages=turn2)
            return f"openai {openai.__version__}: calls {calls(msg)}; turn 2: {second.choices[0].message.content!r} " \
                   f"finish {second.choices[0].finish_reason}"
    except Exception as exc:  # noqa: BLE001 - what the code sees is the finding
        return f"openai {openai.__version__}: raises {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:300]}"
    return f"unknown sdk scenario {scenario!r}"


def _expand(body: Any, words: int) -> Any:
    """The context-overflow prompt ("$overflow"): `words` words, as the suite sends it."""
    text = json.dumps(body)
    return json.loads(text.replace('"$overflow"', json.dumps(" ".join(["echo"] * words)))) if words else body


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__)
        return 2
    base, model, path = argv[1], argv[2], argv[3]
    prefix = argv[4] if len(argv) > 4 else ""
    truth = json.loads(open(path, encoding="utf-8").read())  # noqa: SIM115 - a one-shot script
    for fid, entry in sorted(truth["features"].items()):
        if not fid.startswith(prefix):
            continue
        print(f"=== {fid}: expected {entry['support']} / {entry.get('conformance')} — {entry['why']}")
        if entry.get("sdk"):
            print(f"--- openai SDK scenario {entry['sdk']!r} (model {entry.get('model', model)})")
            print(run_sdk(base, entry.get("model", model), entry["sdk"]))
            print()
            continue
        method, path = entry.get("method", "POST"), entry.get("path", "/chat/completions")
        roles = [("request", entry.get("request")), ("control", entry.get("control")),
                 ("alternate", entry.get("alternate"))]
        roles += [(f"also {i + 1}", also) for i, also in enumerate(entry.get("also") or [])]  # the other variants
        for role, fragment in roles:
            if fragment is None:
                continue
            body = _expand({"model": entry.get("model", model), **fragment}, int(entry.get("overflow_words", 0)))
            raw = entry.get("raw_body") if role == "request" else None
            headers = entry.get("headers") if role == "request" else None
            shown = body if not entry.get("overflow_words") else {**body, "messages": "<the $overflow prompt>"}
            print(f"--- {role}: {curl(base, shown, headers, raw, method, path)}")
            for _ in range(int(entry.get("repeat", 1))):  # sampling effects need a few samples to show
                print(summary(*send(base, body, headers, raw, method, path)))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
