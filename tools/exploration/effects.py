#!/usr/bin/env python3
"""Measure whether sampling parameters have an observable effect on a server's tiny model.

    python tools/exploration/effects.py BASE_URL [MODEL]

Stdlib only.  Prints one line per experiment (settings -> the distinct outputs seen), the
numbers quoted in servers/BEHAVIOUR.md ("Sampling effects").
"""
from __future__ import annotations

import http.client
import json
import sys
import urllib.parse

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8011/v1"
MODEL = sys.argv[2] if len(sys.argv) > 2 else "tiny"
COLOUR = [{"role": "user", "content": "Pick a random colour"}]
HELLO = [{"role": "user", "content": "Hello"}]


def chat(**body):
    u = urllib.parse.urlsplit(BASE)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    body.setdefault("model", MODEL)
    conn.request("POST", u.path + "/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = json.loads(r.read() or b"null")
    conn.close()
    if r.status != 200:
        return [f"HTTP {r.status}: {str(data)[:120]}"]
    return [c["message"]["content"] for c in data["choices"]]


def run(label, k, **body):
    outs = [o for _ in range(k) for o in chat(**body)]
    distinct = sorted(set(outs))
    print(f"{label}: {len(distinct)} distinct of {len(outs)} -> {distinct[:8]}", flush=True)
    return outs


def main():
    print(f"# {BASE} model={MODEL}")
    for name, msgs, mt in (("colour", COLOUR, 4), ("hello", HELLO, 16)):
        run(f"{name} t=0 x5", 5, messages=msgs, temperature=0, max_tokens=mt)
        run(f"{name} t=1 no seed x8", 8, messages=msgs, temperature=1, max_tokens=mt)
        run(f"{name} t=2 top_p=1 no seed x8", 8, messages=msgs, temperature=2, top_p=1, max_tokens=mt)
        run(f"{name} t=1 seed=42 x4", 4, messages=msgs, temperature=1, seed=42, max_tokens=mt)
        run(f"{name} t=2 top_p=1 seed=42 x4", 4, messages=msgs, temperature=2, top_p=1, seed=42, max_tokens=mt)
        outs = [chat(messages=msgs, temperature=1, seed=s, max_tokens=mt)[0] for s in range(1, 9)]
        print(f"{name} t=1 seeds 1..8: {len(set(outs))} distinct -> {outs}")
        outs = [chat(messages=msgs, temperature=2, top_p=1, seed=s, max_tokens=mt)[0] for s in range(1, 9)]
        print(f"{name} t=2 top_p=1 seeds 1..8: {len(set(outs))} distinct -> {outs}")
        run(f"{name} t=1 top_p=0.01 x8", 8, messages=msgs, temperature=1, top_p=0.01, max_tokens=mt)
        run(f"{name} t=2 top_p=0.01 x8", 8, messages=msgs, temperature=2, top_p=0.01, max_tokens=mt)
        run(f"{name} t=0.01 x8", 8, messages=msgs, temperature=0.01, max_tokens=mt)
        run(f"{name} t=1 top_k=1 x8", 8, messages=msgs, temperature=1, top_k=1, max_tokens=mt)
        run(f"{name} n=4 t=1 x1", 1, messages=msgs, temperature=1, n=4, max_tokens=mt)
        run(f"{name} n=4 t=1 seed=42 x2", 2, messages=msgs, temperature=1, n=4, seed=42, max_tokens=mt)
    # penalties act on tokens already generated: visible only on longer greedy outputs
    for pen in ({}, {"frequency_penalty": 2}, {"presence_penalty": 2}, {"frequency_penalty": -2},
                {"repetition_penalty": 2}):
        run(f"hello t=0 max_tokens=40 {pen}", 1, messages=HELLO, temperature=0, max_tokens=40, **pen)
    for pen in ({}, {"frequency_penalty": 2}, {"presence_penalty": 2}):
        run(f"json t=0 {pen}", 1, messages=[{"role": "user", "content": "Reply with a JSON object"}],
            temperature=0, max_tokens=40, **pen)


if __name__ == "__main__":
    main()
