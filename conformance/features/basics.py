"""The plainest request, the model and messages, and the parameters whose effect no chat answer shows."""

from __future__ import annotations

from typing import Any

from conformance.features.common import JSON_PROMPT, invalid, unobservable, user
from conformance.judge import answers as A
from conformance.judge.detection import Context, Detection, detector, sent_request
from conformance.model.findings import Finding
from conformance.model.observation import Observation
from conformance.model.probes import Probe
from conformance.model.verdicts import Support

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")  # the OpenAI spec's enum


PROBES: list[Probe] = [
    # model and messages
    Probe("request.model.echo", "request.model", "The model must be honoured and reported.", {}, "model_echo"),
    invalid("model", 12345, "a model that is not a string"),
    Probe("request.messages.basic", "request.messages", "The conversation every client sends must reach the model.",
          {"messages": user(JSON_PROMPT), "temperature": 0}, "answer_depends_on_prompt", control="plain_t0",
          params=("messages",)),
    invalid("messages", [], "an empty messages list"),
    unobservable("modalities", ["text"], "['text'] is the default output"),
    invalid("modalities", ["smell"], "an unknown modality"),
    Probe("request.audio.output", "request.audio", "Spoken answers (voice apps).",
          {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}, "field_present",
          {"path": "choices.0.message.audio", "absent": Support.IGNORED, "why": "no audio in the answer"},
          params=("audio", "modalities")),
    invalid("audio", {"voice": 5, "format": "wav"}, "an audio voice that is not a string",
            modalities=["text", "audio"]),
    Probe("request.prediction.accepted", "request.prediction", "Predicted outputs speed up edits.",
          {"temperature": 0, "prediction": {"type": "content", "content": "Hello! I am a helpful assistant."}},
          "field_present", {"path": "usage.completion_tokens_details.accepted_prediction_tokens",
                            "why": "usage shows no accepted_prediction_tokens"}, params=("prediction",)),
    invalid("prediction", {"type": "bogus", "content": "x"}, "an unknown prediction type"),
    Probe("request.service_tier.accepted", "request.service_tier", "Priority / flex processing tiers.",
          {"service_tier": "auto"}, "unobservable",
          {"reason": "a processing tier shows only in latency and billing (the answer's service_tier is in the "
                     "evidence)"}, params=("service_tier",)),
    invalid("service_tier", "platinum", "an unknown service_tier"),
    Probe("request.reasoning_effort.accepted", "request.reasoning_effort", "Reasoning models' effort knob.",
          {"reasoning_effort": "low"}, "field_present",
          {"path": "usage.completion_tokens_details.reasoning_tokens", "why": "usage shows no reasoning_tokens"},
          params=("reasoning_effort",)),
    invalid("reasoning_effort", "extreme", "an unknown reasoning_effort"),
    unobservable("verbosity", "low", "verbosity only shortens gpt-5 answers; no detector can tell here"),
    invalid("verbosity", "loud", "an unknown verbosity"),
    Probe("request.web_search_options.accepted", "request.web_search_options", "Web search on search models.",
          {"web_search_options": {}}, "field_present",
          {"path": "choices.0.message.annotations", "why": "no url_citation annotations in the answer"},
          params=("web_search_options",)),
    invalid("web_search_options", {"search_context_size": "huge"}, "an unknown search_context_size"),
    Probe("request.moderation.accepted", "request.moderation", "Moderated completions.",
          {"moderation": {"model": "omni-moderation-latest"}}, "field_present",
          {"path": "moderation", "why": "the answer carries no moderation results"}, params=("moderation",)),
    invalid("moderation", {"policy": "x"}, "a moderation object without its model"),
    # bookkeeping parameters: no visible effect
    unobservable("user", "conformance-probe-user", "end-user ids only reach abuse monitoring"),
    invalid("user", 12345, "a user that is not a string"),
    unobservable("safety_identifier", "conformance-probe", "safety identifiers only reach abuse monitoring"),
    invalid("safety_identifier", 12345, "a safety_identifier that is not a string"),
    unobservable("store", True, "stored completions show only in the provider's dashboard"),
    invalid("store", "yes", "store that is not a boolean"),
    unobservable("metadata", {"probe": "conformance"}, "metadata shows only with stored completions"),
    invalid("metadata", "not-an-object", "metadata that is not an object"),
    unobservable("prompt_cache_key", "conformance-probe", "cache hits need prompts of 1024+ tokens"),
    invalid("prompt_cache_key", 12345, "a prompt_cache_key that is not a string"),
    unobservable("prompt_cache_retention", "24h", "cache retention shows only in billing"),
    invalid("prompt_cache_retention", "forever", "an unknown prompt_cache_retention"),
    unobservable("prompt_cache_options", {"ttl": "30m"}, "cache options show only in billing"),
    invalid("prompt_cache_options", {"ttl": "forever"}, "an unknown prompt cache ttl"),
    Probe("request.unknown_parameter", "request.unknown_parameter",
          "OpenAI rejects fields it does not know; a target that drops them hides typos and unsupported options.",
          {"frobnicate_conformance_probe": True}, "no_effect_expected"),
    Probe("chat.completion", "chat.completion", "The plainest request every client sends.", detector="accepted"),
    # the migration (issue 13): reasoning_effort at each documented value (specs: ReasoningEffort)
    *[Probe(f"request.reasoning_effort.{effort}", "request.reasoning_effort",
            f"reasoning_effort {effort!r}, a documented value: reasoning must appear (or, for none, disappear).",
            {"temperature": 0, "reasoning_effort": effort}, "reasoning_effect", {"effort": effort},
            control="plain_t0", params=("reasoning_effort",))
      for effort in REASONING_EFFORTS],
]


@detector("model_echo")
def model_echo(ctx: Context) -> Detection:
    """The answer names the requested model (a dated snapshot of it counts: gpt-4o-mini → gpt-4o-mini-2024-…)."""
    asked = str(sent_request(ctx.samples[0]).get("model", ""))
    served = A.completion(ctx.samples[0]).get("model")
    m = {"requested": asked, "served": served}
    if not isinstance(served, str) or not served:
        return Detection(Support.UNVERIFIABLE, ["the answer does not say which model answered"], m)
    if served == asked or served.startswith(asked) or asked.startswith(served) or served.endswith("/" + asked):
        return Detection(Support.SUPPORTED, [f"answered by {served!r}"], m)
    return Detection(Support.PARTIAL, [f"asked for {asked!r}, the answer names {served!r}"], m)


def reasoning_shown(obs: Observation) -> tuple[bool, str]:
    """Whether an answer shows reasoning: reasoning tokens, a reasoning field, or thinking chunks in content."""
    tokens = (A.usage(obs).get("completion_tokens_details") or {}).get("reasoning_tokens")
    if isinstance(tokens, int) and tokens > 0:
        return True, f"{tokens} reasoning tokens"
    msg = A.message(obs)
    for key in ("reasoning_content", "reasoning"):
        if msg.get(key):
            return True, f"message.{key} present"
    content = msg.get("content")
    if isinstance(content, list) and any(isinstance(c, dict) and c.get("type") == "thinking" for c in content):
        return True, "thinking chunks in message.content"
    return False, "no reasoning tokens, field or chunks"


@detector("reasoning_effect")
def reasoning_effect(ctx: Context) -> Detection:
    """reasoning_effort changes whether the model reasons, against the same request without it: an effort above
    none shows reasoning the control does not, `none` removes reasoning the control shows."""
    effort = ctx.args.get("effort")
    got, got_how = reasoning_shown(ctx.samples[0])
    ctrl, ctrl_how = reasoning_shown(ctx.control[0])
    m = {"reasoning": got_how, "control_reasoning": ctrl_how}
    findings = content_chunk_findings(ctx.samples[0])
    detection = _reasoning_support(effort, got, got_how, ctrl, ctrl_how, m)
    detection.findings.extend(findings)
    return detection


def content_chunk_findings(obs: Observation) -> list[Finding]:
    """Content as an array of thinking/text chunks: reasoning_effort's own part of the answer (a compat failure
    for every client that reads message.content as a string), with the chunks as the evidence."""
    content = A.message(obs).get("content")
    if not isinstance(content, list):
        return []
    kinds = sorted({str(c.get("type")) for c in content if isinstance(c, dict)})
    return [Finding("response", "/choices/0/message/content", "reasoning.content_chunks", "compat",
                    f"content is an array of chunks ({', '.join(kinds)}), not a string: clients that read "
                    "message.content as text break", "string", content)]


def _reasoning_support(effort: Any, got: bool, got_how: str, ctrl: bool, ctrl_how: str,
                       m: dict[str, Any]) -> Detection:
    if effort == "none":
        if ctrl and not got:
            return Detection(Support.SUPPORTED, [f"none removes reasoning (control: {ctrl_how})"], m)
        if ctrl and got:
            return Detection(Support.IGNORED, [f"still reasons with none: {got_how}"], m)
        return Detection(Support.UNVERIFIABLE, ["accepted; the model does not reason by default, so none shows "
                                               "nothing"], m)
    if got and not ctrl:
        return Detection(Support.SUPPORTED, [f"reasoning appears: {got_how} (control: {ctrl_how})"], m)
    if got and ctrl:
        return Detection(Support.UNVERIFIABLE, [f"the model reasons with or without it ({got_how})"], m)
    return Detection(Support.UNVERIFIABLE, [f"accepted; {got_how}: not a reasoning model, or the effort is "
                                           "hidden"], m)
