"""Streaming: stream, stream_options, [DONE], usage chunks, reassembly, n interleaving."""

from __future__ import annotations

from typing import Any

from conformance.features.common import CREATIVE, HIGH_T, WEATHER, WEATHER_TOOL, invalid, user
from conformance.judge import answers as A
from conformance.judge.detection import Context, Detection, detector
from conformance.model.observation import Observation
from conformance.model.probes import Probe
from conformance.model.verdicts import Support

PROBES: list[Probe] = [
    # streaming parameters
    Probe("request.stream.basic", "request.stream", "Streaming is how chat UIs show text as it comes.",
          {"stream": True}, "stream_basic"),
    invalid("stream", "yes", "stream that is not a boolean"),
    Probe("request.stream_options.include_usage", "request.stream_options", "Token usage of a streamed answer.",
          {"stream": True, "stream_options": {"include_usage": True}}, "stream_usage", control="stream_plain",
          params=("stream_options",),
          hint="drop `stream_options`: usage arrives on the finishing chunk anyway"),
    invalid("stream_options", {"include_usage": True}, "stream_options without stream: true"),
    Probe("request.stream_options.include_obfuscation.off", "request.stream_options.include_obfuscation",
          "Clients that trust their network turn OpenAI's `obfuscation` padding off to save bandwidth.",
          {"stream": True, "stream_options": {"include_obfuscation": False}}, "no_obfuscation",
          control="stream_plain", params=("stream_options",), hint="drop `include_obfuscation` from `stream_options`"),
    Probe("stream.done_sentinel", "stream.done_sentinel", "Clients stop reading at `data: [DONE]`.",
          {"stream": True, "temperature": 0}, "done_sentinel"),
    Probe("stream.usage_chunk.requested", "stream.usage_chunk",
          "Usage of a stream arrives as a final chunk with choices: [] when include_usage is sent.",
          {"stream": True, "temperature": 0, "stream_options": {"include_usage": True}}, "stream_usage",
          control="stream_plain_t0", params=("stream_options",),
          hint="stream usage arrives on the finishing chunk: read usage from any chunk, do not assume choices: []"),
    Probe("stream.usage_chunk.unrequested", "stream.usage_chunk", "Without include_usage OpenAI sends no usage.",
          {"stream": True, "temperature": 0}, "usage_unrequested", role="check"),
    Probe("stream.reassembly.text", "stream.reassembly",
          "A streamed answer must reassemble into the same answer as the non-streamed one.",
          {"stream": True, "temperature": 0}, "stream_equals_unstreamed", control="plain_t0"),
    Probe("stream.reassembly.tool_calls", "stream.tool_call_deltas",
          "Streamed tool-call deltas (index, first-fragment fields, argument pieces) must reassemble.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "stream": True},
          "stream_equals_unstreamed", {"needs_tool_calls": True}, control="tools_t0"),
    Probe("stream.n_choices", "stream.n_interleave", "n > 1 streams interleave choices by index.",
          {"stream": True, "messages": user(CREATIVE), "temperature": HIGH_T, "n": 2}, "n_choices",
          params=("n",)),
    # the migration (issue 13): quirks/mistral.md C11
    Probe("stream.padding", "stream.padding",
          "Chunks carry only fields OpenAI clients know (OpenAI pads with `obfuscation`; Mistral with `p`).",
          {"stream": True, "temperature": 0}, "chunk_fields"),
]


@detector("stream_basic")
def stream_basic(ctx: Context) -> Detection:
    """A stream that reassembles into a non-empty answer."""
    obs = ctx.variant[0]
    if not obs.is_sse:
        return Detection(Support.IGNORED, [(f"stream requested but the answer is {obs.content_type or 'untyped'}, "
                                           "not text/event-stream")])
    got = A.text(obs)
    if not got and not A.tool_calls(obs):
        return Detection(Support.UNVERIFIABLE, ["the stream reassembles to an empty answer"])
    return Detection(Support.SUPPORTED, [f"reassembled {len(got)} characters"], {"content": got[:200]})


def _usage_chunks(obs: Observation) -> tuple[list[dict[str, Any]], list[int]]:
    """The stream's chunks and the indexes of those that carry a usage object."""
    from conformance.model.sse import parse_sse

    chunks = parse_sse(obs.body_text).chunks
    return chunks, [i for i, c in enumerate(chunks) if isinstance(c.get("usage"), dict)]


@detector("stream_usage")
def stream_usage(ctx: Context) -> Detection:
    """include_usage: a usage object arrives in the stream (placement is judged by the stream rules).

    With a control (the same stream without stream_options), usage that arrives there too shows no effect.
    """
    chunks, with_usage = _usage_chunks(ctx.samples[0])
    m = {"usage_chunks": with_usage, "chunks": len(chunks)}
    if not with_usage:
        return Detection(Support.IGNORED, ["no chunk carries usage"], m)
    last = chunks[with_usage[-1]]
    where = "a final chunk with choices: []" if last.get("choices") == [] else "a chunk that also carries choices"
    note = f"usage arrives on {where} (chunk {with_usage[-1] + 1} of {len(chunks)})"
    if ctx.control and _usage_chunks(ctx.control[0])[1]:
        return Detection(Support.UNVERIFIABLE, [f"{note}, but it arrives without include_usage too: the "
                                                "parameter has no effect to show (clients get usage either way)"], m)
    return Detection(Support.SUPPORTED, [note], m)


@detector("usage_unrequested")
def usage_unrequested(ctx: Context) -> Detection:
    """Without include_usage OpenAI sends no usage chunk; say what this target does."""
    chunks, with_usage = _usage_chunks(ctx.samples[0])
    if with_usage:
        return Detection(Support.SUPPORTED, [f"usage sent although not requested (chunk {with_usage[-1] + 1} of "
                                             f"{len(chunks)}): clients that read chunk.choices[0] on every chunk "
                                             "must tolerate it"])
    return Detection(Support.SUPPORTED, ["no usage unless requested, as OpenAI"])


@detector("done_sentinel")
def done_sentinel(ctx: Context) -> Detection:
    """Exactly one `data: [DONE]`, last. None at all: the sentinel is not sent (IGNORED; the stream rule's finding,
    owned here, says what OpenAI requires); sent but twice or not last: PARTIAL."""
    from conformance.model.sse import parse_sse

    stream = parse_sse(ctx.samples[0].body_text)
    m = {"done_count": stream.done_count, "done_last": stream.done_last, "events": len(stream.events)}
    if stream.done_count == 1 and stream.done_last:
        return Detection(Support.SUPPORTED, ["one [DONE], last"], m)
    if stream.done_count == 0:
        return Detection(Support.IGNORED, [f"no [DONE] in {len(stream.events)} events: the stream ends without the "
                                           "sentinel (clients that read until [DONE] wait for the connection to "
                                           "close)"], m)
    return Detection(Support.PARTIAL, [f"[DONE] seen {stream.done_count} time(s), last: {stream.done_last}"], m)


ALLOWED_STREAM_DIFFERENCES = ("id", "created", "system_fingerprint", "obfuscation", "usage.*_details")


@detector("stream_equals_unstreamed")
def stream_equals_unstreamed(ctx: Context) -> Detection:
    """The same request streamed and not streamed: content, tool calls, finish reason and usage agree.

    Allowed differences (not compared): id, created, system_fingerprint, padding fields, usage details.
    """
    obs, ctrl = ctx.samples[0], ctx.control[0]
    if not obs.is_sse:
        return Detection(Support.IGNORED, ["stream requested but the answer is not text/event-stream"])
    diffs = []
    if A.text(obs) != A.text(ctrl):
        diffs.append(f"content {A.text(obs)[:60]!r} vs {A.text(ctrl)[:60]!r}")
    calls = [(c.get("function") or {}) for c in A.tool_calls(obs)]
    ctrl_calls = [(c.get("function") or {}) for c in A.tool_calls(ctrl)]
    if [(c.get("name"), _norm_json(c.get("arguments"))) for c in calls] != \
            [(c.get("name"), _norm_json(c.get("arguments"))) for c in ctrl_calls]:
        diffs.append(f"tool calls {calls} vs {ctrl_calls}")
    if A.finish_reason(obs) != A.finish_reason(ctrl):
        diffs.append(f"finish_reason {A.finish_reason(obs)!r} vs {A.finish_reason(ctrl)!r}")
    for kind in ("prompt", "completion"):
        got, want = A.tokens(obs, kind), A.tokens(ctrl, kind)
        if got is not None and want is not None and got != want:
            diffs.append(f"{kind}_tokens {got} vs {want}")
    m = {"differences": diffs, "allowed_differences": list(ALLOWED_STREAM_DIFFERENCES)}
    if ctx.args.get("needs_tool_calls") and not calls and not ctrl_calls:
        return Detection(Support.UNVERIFIABLE, ["neither the streamed nor the unstreamed answer has a tool call: "
                                                "no tool-call deltas to judge"], m)
    if ctx.args.get("needs_tool_calls") and not calls:
        return Detection(Support.IGNORED, [("the unstreamed answer calls a tool, the streamed one carries no "
                                            "tool-call deltas: the call is lost"), "; ".join(diffs)], m)
    if not diffs:
        return Detection(Support.SUPPORTED, [("streamed and unstreamed answers agree (content, tool calls, "
                                             "finish_reason, usage)")], m)
    return Detection(Support.PARTIAL, ["streamed vs unstreamed: " + "; ".join(diffs)], m)


def _norm_json(value: Any) -> Any:
    import json

    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value


# Top-level chunk fields OpenAI sends (the chunk schema's properties, and OpenAI's own padding field).
OPENAI_CHUNK_FIELDS = frozenset({"id", "object", "created", "model", "system_fingerprint", "choices", "usage",
                                 "service_tier", "obfuscation"})


@detector("chunk_fields")
def chunk_fields(ctx: Context) -> Detection:
    """Every chunk's top-level fields are ones OpenAI sends; extra fields (Mistral's `p`) are named."""
    from conformance.model.sse import parse_sse

    chunks = [c for c in parse_sse(ctx.samples[0].body_text).chunks if isinstance(c, dict)]
    extra = sorted({k for c in chunks for k in c if k not in OPENAI_CHUNK_FIELDS})
    m = {"chunks": len(chunks), "extra_fields": extra}
    if not chunks:
        return Detection(Support.UNVERIFIABLE, ["no chunks to read"], m)
    if extra:
        return Detection(Support.PARTIAL, [f"chunks carry fields OpenAI does not send: {', '.join(extra)} (strict "
                                          "chunk parsers break; ignore unknown fields)"], m)
    return Detection(Support.SUPPORTED, [f"{len(chunks)} chunks, only fields OpenAI sends"], m)


@detector("no_obfuscation")
def no_obfuscation(ctx: Context) -> Detection:
    """`include_obfuscation: false` asks for chunks without OpenAI's `obfuscation` padding field, which the same
    stream without the option (the control) carries: a variant chunk still padded ignored it; padding only in the
    control is the effect; no padding in either shows nothing (a server that never pads)."""
    obs = ctx.variant[0]
    if not obs.is_sse:
        return Detection(Support.UNVERIFIABLE, [f"the answer is {obs.content_type or 'untyped'}, not a stream"])
    padded, chunks = _padded(obs)
    control = [_padded(o) for o in ctx.control if o.is_sse]
    m = {"chunks": chunks, "padded": padded, "control_padded": sum(p for p, _ in control)}
    if padded:
        return Detection(Support.IGNORED, [f"{padded} of {chunks} chunks still carry `obfuscation`"], m)
    if m["control_padded"]:
        return Detection(Support.SUPPORTED, [f"no chunk carries `obfuscation`; without the option "
                                             f"{m['control_padded']} did"], m)
    return Detection(Support.UNVERIFIABLE, [f"accepted; none of {chunks} chunks carries `obfuscation`, as asked, "
                                           "but the stream without the option has none either"], m)


def _padded(obs: Observation) -> tuple[int, int]:
    """How many of the stream's chunks carry `obfuscation`, of how many."""
    from conformance.model.sse import parse_sse

    chunks = [c for c in parse_sse(obs.body_text).chunks if isinstance(c, dict)]
    return sum(1 for c in chunks if "obfuscation" in c), len(chunks)
