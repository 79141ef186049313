"""The official openai SDK as a client: the only module that imports `openai` (the optional `[sdk]` extra).

Teams migrate by pointing their openai-SDK code at a new base URL, so the sdk.openai.* probes run real SDK
calls. The SDK's HTTP goes through wire/http.LibraryTransport, i.e. through the suite's own client and
cassettes: the SDK probes record and replay offline like every other probe. What the SDK made of the answers
(the value the code gets, or the exception it raises) is stored as facts on the first observation
(`Observation.client`); features/sdk.py judges them.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from conformance.features.common import HELLO, JSON_PROMPT, WEATHER, WEATHER_TOOL, function_tool
from conformance.judge.classify import resendable_5xx
from conformance.model.observation import Observation
from conformance.model.probes import Probe
from conformance.model.roles import REPEAT, STREAM, TURN_2
from conformance.model.targets import PACKAGE_DIR, Target
from conformance.model.verdicts import SkipCause, Status, Support, Verdict, conformance_of
from conformance.wire.http import LibraryTransport, NoAnswerInTime, NotAnswered, Send, library_http_client

EXTRA = "sdk"  # pip install 'openai-conformance[sdk]'
TESTED_RANGE = ">=2.0,<4"  # keep in step with pyproject.toml's [sdk] extra
PLACEHOLDER_KEY = "conformance-sdk-placeholder"  # the SDK wants a key; the suite's client sends the target's

STRICT_WEATHER_TOOL = function_tool("get_weather", "Get the current weather in a city.", strict=True)

Scenario = Callable[[Any, LibraryTransport, str], Awaitable[dict[str, Any]]]


def sdk_version() -> str | None:
    """The installed openai SDK version, or None when the [sdk] extra is not installed."""
    try:
        import openai
    except ImportError:
        return None
    return str(openai.__version__)


def sdk_clients() -> dict[str, dict[str, str | None]]:
    """The client libraries the sdk.* probes drove, for results.json's run.clients (the report shows them)."""
    return {"openai": {"version": sdk_version(), "tested": TESTED_RANGE, "extra": EXTRA}}


def _content_facts(content: Any) -> dict[str, Any]:
    return {"content_type": type(content).__name__, "content": content if isinstance(content, (str, type(None)))
            else json.loads(json.dumps(content, default=str))}


async def _chat(client: Any, transport: LibraryTransport, model: str) -> dict[str, Any]:
    answer = await client.chat.completions.create(model=model, temperature=0,
                                                  messages=[{"role": "user", "content": HELLO}])
    msg = answer.choices[0].message
    return {**_content_facts(msg.content), "finish_reason": answer.choices[0].finish_reason}


async def _final_of_stream(client: Any, **kwargs: Any) -> Any:
    async with client.chat.completions.stream(**kwargs) as stream:
        events = 0
        async for _event in stream:
            events += 1
        return await stream.get_final_completion(), events


async def _stream(client: Any, transport: LibraryTransport, model: str) -> dict[str, Any]:
    request = {"model": model, "temperature": 0, "messages": [{"role": "user", "content": HELLO}]}
    plain = await client.chat.completions.create(**request)
    transport.role = STREAM
    final, events = await _final_of_stream(client, **request)
    got, want = final.choices[0], plain.choices[0]
    facts = {**_content_facts(got.message.content), "events": events, "finish_reason": got.finish_reason,
             "unstreamed": {**_content_facts(want.message.content), "finish_reason": want.finish_reason,
                            "choices": len(plain.choices)}, "choices": len(final.choices)}
    facts["same_shape"] = (type(got.message.content) is type(want.message.content)
                           and got.finish_reason == want.finish_reason and len(final.choices) == len(plain.choices))
    facts["same_text"] = got.message.content == want.message.content
    return facts


def _calls_facts(calls: Any) -> list[dict[str, Any]]:
    out = []
    for call in calls or []:
        args = call.function.arguments
        try:
            parsed: Any = json.loads(args) if isinstance(args, str) else None
        except ValueError:
            parsed = None
        out.append({"id": call.id, "name": call.function.name, "arguments": args,
                    "arguments_json": isinstance(parsed, dict)})
    return out


async def _stream_tools(client: Any, transport: LibraryTransport, model: str) -> dict[str, Any]:
    # strict: the stream helper of openai 2.x only accepts strict function tools (it parses their arguments)
    final, events = await _final_of_stream(client, model=model, temperature=0, tools=[STRICT_WEATHER_TOOL],
                                           messages=[{"role": "user", "content": WEATHER}])
    choice = final.choices[0]
    return {"tool_calls": _calls_facts(choice.message.tool_calls), "events": events,
            "finish_reason": choice.finish_reason}


async def _parse(client: Any, transport: LibraryTransport, model: str) -> dict[str, Any]:
    from pydantic import BaseModel  # an openai dependency

    class City(BaseModel):
        name: str
        country: str

    answer = await client.chat.completions.parse(model=model, temperature=0, response_format=City,
                                                 messages=[{"role": "user", "content": JSON_PROMPT}])
    msg = answer.choices[0].message
    parsed = msg.parsed
    return {"parsed_type": type(parsed).__name__, "parsed": parsed.model_dump() if parsed is not None else None,
            "refusal": msg.refusal, **_content_facts(msg.content)}


async def _tools(client: Any, transport: LibraryTransport, model: str) -> dict[str, Any]:
    messages: list[Any] = [{"role": "user", "content": WEATHER}]
    first = await client.chat.completions.create(model=model, temperature=0, tools=[WEATHER_TOOL],
                                                 messages=messages)
    msg = first.choices[0].message
    calls = _calls_facts(msg.tool_calls)
    if not msg.tool_calls:
        return {"tool_calls": calls, "turn2": None}
    # what SDK code does: append the SDK's message object, answer each call with the id the SDK received
    messages.append(msg)
    messages.extend({"role": "tool", "tool_call_id": c.id, "content": "Sunny, 21 degrees"} for c in msg.tool_calls)
    transport.role = TURN_2
    second = await client.chat.completions.create(model=model, temperature=0, tools=[WEATHER_TOOL],
                                                  messages=messages)
    return {"tool_calls": calls, "turn2": {**_content_facts(second.choices[0].message.content),
                                           "finish_reason": second.choices[0].finish_reason}}


# scenario name → (the SDK call a migrating team's code makes, the coroutine that makes it)
SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "chat": ("client.chat.completions.create(...)", _chat),
    "stream": ("client.chat.completions.stream(...).get_final_completion()", _stream),
    "stream_tools": ("client.chat.completions.stream(..., tools=[...]).get_final_completion()", _stream_tools),
    "parse": ("client.chat.completions.parse(..., response_format=<pydantic model>)", _parse),
    "tools": ("client.chat.completions.create(..., tools=[...]) then the tool result with the SDK's ids", _tools),
}


def suite_bug(exc: BaseException) -> bool:
    """Whether an exception out of a scenario is a bug of the suite's code rather than what the SDK raised for the
    target's answer: its first cause was raised in this package's code (the scenario, our transport) or in what that
    code called directly (an attribute the SDK's objects do not have), not through the SDK; the signal our
    transport raises on purpose for an answer that never came is no bug."""
    import openai

    root = exc
    while (cause := root.__cause__ or root.__context__) is not None:
        root = cause
    if isinstance(root, (NotAnswered, NoAnswerInTime)):
        return False
    files = [Path(f.filename).resolve() for f in traceback.extract_tb(root.__traceback__)]
    ours = [i for i, f in enumerate(files) if f.is_relative_to(PACKAGE_DIR)]
    library = Path(openai.__file__).resolve().parent
    return bool(ours) and not any(f.is_relative_to(library) for f in files[ours[-1] + 1:])


def _exception_facts(exc: BaseException) -> dict[str, str]:
    module = type(exc).__module__.split(".")[0]
    name = type(exc).__name__ if module in ("builtins",) else f"{module}.{type(exc).__name__}"
    return {"type": name, "message": str(exc)[:600]}


async def run_sdk_probe(probe: Probe, target: Target, send: Callable[[Send], Awaitable[Observation]],
                        cassette: Path) -> tuple[Verdict | None, list[Observation]]:
    """Run the probe's SDK scenario; (a verdict when nothing could be judged, the observed exchanges)."""
    try:
        import openai
    except ImportError:
        missing = (f"the openai SDK is not installed: pip install 'openai-conformance[{EXTRA}]' "
                   f"(tested openai{TESTED_RANGE})")
        return Verdict(Status.SKIPPED, notes=[missing], skip_cause=SkipCause.NO_CLIENT), []
    call, scenario = SCENARIOS[probe.args["scenario"]]
    transport = LibraryTransport(send, target.base_url, cassette, probe.auth)
    client = openai.AsyncOpenAI(api_key=PLACEHOLDER_KEY, base_url=target.base_url, max_retries=0,
                                http_client=library_http_client(transport))
    facts: dict[str, Any] = {"library": "openai", "version": openai.__version__, "tested": TESTED_RANGE,
                             "call": call}
    try:
        facts.update(await scenario(client, transport, target.model_for(probe.feature)))
    except Exception as exc:
        if suite_bug(exc):  # our scenario's (or transport's) bug is no behaviour of the target: the engine's INTERNAL
            raise
        facts["raised"] = _exception_facts(exc)  # what the SDK raises is the finding
        facts["http_error"] = isinstance(exc, (openai.APIStatusError, openai.APIConnectionError))
    finally:
        await client.close()
    failed = next((o for o in reversed(transport.seen) if resendable_5xx(o)), None)
    if failed is not None:  # does the 5xx reproduce? (a rejection, judged like any probe's: classify)
        transport.seen.append(await send(Send(REPEAT, failed.method, failed.path, failed.request_body, cassette,
                                              probe.auth)))
    if not transport.seen:
        return Verdict(Status.ERROR, notes=[f"{call} raised before sending anything: "
                                            f"{facts.get('raised', {}).get('type')}: "
                                            f"{facts.get('raised', {}).get('message', '')[:300]}"]), []
    transport.seen[0].client = facts
    return None, transport.seen


def sdk_verdict(verdict: Verdict, observations: list[Observation]) -> Verdict:
    """An SDK probe owns only what the SDK did: schema findings on the wire belong to the response-shape
    features (one finding, one owner); a 4xx says which exception the SDK code sees."""
    facts = next((o.client for o in observations if o.client), None) or {}
    verdict.findings = [f for f in verdict.findings if f.rule.startswith("sdk.")]
    if verdict.status is Status.OK:
        verdict.conformance = conformance_of(verdict.findings) if verdict.support is not Support.REJECTED \
            else verdict.conformance
    raised = facts.get("raised")
    if raised and verdict.support is Support.REJECTED:
        verdict.notes.append(f"{facts.get('call')} raises {raised['type']}")
    verdict.measurements.setdefault("call", facts.get("call"))
    if facts.get("version"):
        verdict.measurements.setdefault("sdk", f"openai {facts['version']} (tested {facts.get('tested')})")
    return verdict

