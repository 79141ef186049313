"""The probe registry: every probe and shared control, as data. A new parameter probe touches this file only."""

from __future__ import annotations

from typing import Any

from conformance.probes import Control, Probe

HELLO = "Say hello and introduce yourself in one sentence."
CREATIVE = "Write one short sentence about a random animal."

BASE_REQUEST: dict[str, Any] = {"messages": [{"role": "user", "content": HELLO}]}
HIGH_T = "$high_temperature"  # replaced by the target's `high_temperature`

CONTROLS: dict[str, Control] = {
    c.name: c
    for c in [
        Control("plain_t0", {"temperature": 0}, why="the deterministic answer other probes are compared with"),
        Control("high_temp", {"messages": [{"role": "user", "content": CREATIVE}], "temperature": HIGH_T,
                              "top_p": 1}, stochastic=True,
                why="k samples at a high temperature: shows whether this model's output can vary at all"),
    ]
}

PROBES: list[Probe] = [
    Probe("chat.completion", "chat.completion", "The plainest request every client sends.", detector="accepted"),
    Probe("request.max_tokens.effect", "request.max_tokens",
          "Caps cost and latency; a target that ignores it runs long.",
          {"temperature": 0, "max_tokens": 3}, "max_tokens", {"limit": 3}, control="plain_t0"),
    Probe("request.stop.string", "request.stop", "Stop sequences end structured answers; ignored, they leak text.",
          {"temperature": 0}, "stop", {"position": 2}, control="plain_t0", derive="stop_from_control",
          params=("stop",)),
    Probe("request.temperature.zero", "request.temperature",
          "temperature 0 makes answers repeatable (tests, caching, evals).",
          {"messages": [{"role": "user", "content": CREATIVE}], "temperature": 0, "top_p": 1}, "deterministic",
          control="high_temp", stochastic=True),
    Probe("request.unknown_parameter", "request.unknown_parameter",
          "OpenAI rejects fields it does not know; a target that drops them hides typos and unsupported options.",
          {"frobnicate_conformance_probe": True}, "no_effect_expected"),
    Probe("stream.basic", "stream.basic", "Streaming is how chat UIs show text as it comes.",
          {"stream": True}, "stream_basic"),
    Probe("stream.reassembly.text", "stream.reassembly",
          "A streamed answer must reassemble into the same answer as the non-streamed one.",
          {"stream": True, "temperature": 0}, "stream_matches_control", control="plain_t0"),
]


def probe_by_id() -> dict[str, Probe]:
    out: dict[str, Probe] = {}
    for p in PROBES:
        if p.id in out:
            raise ValueError(f"probe id {p.id!r} registered twice")
        out[p.id] = p
    return out
