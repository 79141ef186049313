#!/usr/bin/env python3
"""Re-check a reference server's truth table by hand: one command per server.

usage: python3 servers/check_truth.py BASE MODEL TRUTHFILE [FEATURE_PREFIX]
  e.g. python3 servers/check_truth.py http://127.0.0.1:8011/v1 tiny servers/truth/vllm.json

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


def send(base: str, body: Any, headers: dict[str, str] | None = None, raw: str | None = None) -> tuple[int, str, str]:
    """POST /chat/completions; (status, content type, body text)."""
    data = raw.encode() if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(base.rstrip("/") + "/chat/completions", data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:  # noqa: S310 - 127.0.0.1 reference servers
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode("utf-8", "replace")


def curl(base: str, body: Any, headers: dict[str, str] | None = None, raw: str | None = None) -> str:
    parts = ["curl -s", shlex.quote(base.rstrip("/") + "/chat/completions"), "-H 'Content-Type: application/json'"]
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
    return (f"SSE {len(datas)} data lines, [DONE] x{datas.count('[DONE]')}, last is [DONE]: "
            f"{bool(datas) and datas[-1] == '[DONE]'}; content {json.dumps(content)[:160]}; tool-call deltas "
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
    if status >= 400 or not isinstance(body, dict) or "choices" not in body:
        return f"HTTP {status}: {json.dumps(body)[:300]}"
    out = [f"HTTP {status} model={body.get('model')!r} usage={body.get('usage', {}) and {k: v for k, v in body['usage'].items() if k.endswith('_tokens')}}"]  # noqa: E501
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
        for role in ("request", "control", "alternate"):
            body = entry.get(role)
            if body is None:
                continue
            body = {"model": entry.get("model", model), **body}  # a request naming its own model keeps it
            raw = entry.get("raw_body") if role == "request" else None
            headers = entry.get("headers") if role == "request" else None
            print(f"--- {role}: {curl(base, body, headers, raw)}")
            for _ in range(int(entry.get("repeat", 1))):  # sampling effects need a few samples to show
                print(summary(*send(base, body, headers, raw)))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
