"""JSON: response_format json_object / json_schema, and structured-output rules."""

from __future__ import annotations

from typing import Any

from conformance.features.common import (
    AIRPORT_JSON_PROMPT,
    AIRPORT_WEATHER_SCHEMA,
    CITY_SCHEMA,
    JSON_PROMPT,
    PROSE_JSON_MODE,
    PROSE_PROMPT,
    invalid,
    user,
)
from conformance.features.generic import NO_ANSWER, schema_problem, strict_verdict
from conformance.judge import answers as A
from conformance.judge.detection import Context, Detection, detector, sent_request
from conformance.model.observation import Observation
from conformance.model.probes import DROP, Probe
from conformance.model.verdicts import Support

PROBES: list[Probe] = [
    # output shape
    Probe("request.response_format.json_object", "request.response_format.json_object",
          "JSON mode: the answer parses as a JSON object.",
          {"messages": PROSE_JSON_MODE, "temperature": 0, "response_format": {"type": "json_object"}},
          "json_object", control="prose_no_format", params=("response_format",)),
    Probe("request.response_format.json_schema", "request.response_format.json_schema",
          "Structured outputs: the answer follows the given schema.",
          {"messages": user(JSON_PROMPT), "temperature": 0, "response_format": {"type": "json_schema", "json_schema": {
              "name": "city", "strict": True, "schema": CITY_SCHEMA}}},
          "json_schema", control="json_no_format", params=("response_format",)),
    Probe("request.response_format.prompt_tokens", "request.response_format.json_schema",
          "Token accounting: does the schema reach the prompt? (Equal counts: enforced by decoding alone, or "
          "dropped; the json_schema probe tells which.)",
          {"messages": user(JSON_PROMPT), "temperature": 0, "response_format": {"type": "json_schema", "json_schema": {
              "name": "city", "strict": True, "schema": CITY_SCHEMA}}},
          "more_prompt_tokens", control="json_no_format", role="check", params=("response_format",)),
    Probe("request.response_format.text", "request.response_format", "The default format, sent explicitly.",
          {"response_format": {"type": "text"}}, "unobservable",
          {"reason": "text is the default format: the answer looks the same whether it is honoured or dropped"},
          params=("response_format",)),
    invalid("response_format", {"type": "yaml"}, "an unknown response_format type"),
    Probe("json.json_object", "json.json_object", "JSON mode: content parses; code fences break json.loads.",
          {"messages": user(JSON_PROMPT), "temperature": 0, "response_format": {"type": "json_object"}},
          "json_object", control="json_no_format", params=("response_format",)),
    Probe("json.json_object.prose_prompt", "json.json_object",
          "JSON mode must win over a system prompt that asks for prose.",
          {"messages": PROSE_JSON_MODE, "temperature": 0, "response_format": {"type": "json_object"}},
          "json_object", control="prose_no_format", params=("response_format",)),
    # strict against the same request without strict, on a schema a free model tends to break (enum, pattern).
    Probe("json.json_schema", "json.json_schema",
          "strict structured outputs: content validates against the schema where the same request without strict "
          "does not.",
          {"messages": user(AIRPORT_JSON_PROMPT), "temperature": 0, "response_format": {
              "type": "json_schema", "json_schema": {"name": "airport_weather", "strict": True,
                                                     "schema": AIRPORT_WEATHER_SCHEMA}}},
          "strict_json_schema", alternates=({"response_format": {"json_schema": {"strict": DROP}}},),
          params=("response_format",)),
    Probe("json.json_schema.unsupported_keywords", "json.unsupported_keywords",
          "OpenAI strict mode rejects schema keywords it cannot enforce (here oneOf); silently dropping them "
          "breaks the contract.",
          {"messages": user(JSON_PROMPT), "temperature": 0, "response_format": {"type": "json_schema", "json_schema": {
              "name": "city", "strict": True, "schema": {"oneOf": [CITY_SCHEMA, {"type": "string"}]}}}},
          kind="invalid", params=("response_format",)),
    # the migration (issue 13)
    Probe("json.json_schema.no_strict", "json.json_schema.no_strict",
          "json_schema without `strict` (it defaults to false): the schema should still shape the answer.",
          {"messages": user(JSON_PROMPT), "temperature": 0, "response_format": {"type": "json_schema", "json_schema": {
              "name": "city", "schema": CITY_SCHEMA}}}, "json_schema", control="json_no_format",
          params=("response_format",)),
    Probe("json.json_object.no_json_word", "json.json_object.no_json_word",
          "JSON mode on a prompt that never mentions JSON: OpenAI answers 400 (the word `json` must appear); "
          "Mistral warns of an endless whitespace answer. What does the target do?",
          {"messages": user(PROSE_PROMPT), "temperature": 0, "max_tokens": 200,
           "response_format": {"type": "json_object"}}, "json_object", control="prose_plain",
          params=("response_format", "messages")),
]


@detector("json_object")
def json_object(ctx: Context) -> Detection:
    """The content parses as a JSON object; code fences are flagged."""
    raw = A.text(ctx.samples[0]).strip()
    value, why = A.json_content(ctx.samples[0])
    if raw.startswith("```"):
        return Detection(Support.PARTIAL, ["JSON wrapped in a Markdown code fence: json.loads on the content fails"],
                         {"content": raw[:200]})
    if not isinstance(value, dict):
        return Detection(Support.IGNORED, [why or f"content is JSON but not an object: {raw[:80]!r}"],
                         {"content": raw[:200]})
    ctrl_value = None
    if ctx.control:
        ctrl_value, _ = A.json_content(ctx.control[0])
    if isinstance(ctrl_value, dict):
        return Detection(Support.UNVERIFIABLE, [("content is a JSON object, but so is the control's without "
                                                "response_format: the prompt alone may explain it")],
                         {"content": raw[:200]})
    return Detection(Support.SUPPORTED, ["content is a JSON object"], {"content": raw[:200]})


@detector("json_schema")
def json_schema(ctx: Context) -> Detection:
    """The content validates against the requested schema (a refusal is reported, not judged)."""
    import jsonschema

    obs = ctx.samples[0]
    refusal = A.message(obs).get("refusal")
    if refusal:
        return Detection(Support.UNVERIFIABLE, [f"the model refused: {str(refusal)[:200]}"])
    schema = _schema_of(obs)
    value, why = A.json_content(obs)
    m: dict[str, Any] = {"content": A.text(obs)[:200]}
    if ctx.control:
        m["prompt_tokens"] = A.tokens(obs, "prompt")
        m["control_prompt_tokens"] = A.tokens(ctx.control[0], "prompt")
    if why:
        return Detection(Support.IGNORED, [why], m)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if errors:
        return Detection(Support.IGNORED, [f"content does not match the schema: {errors[0].message[:160]}"], m)
    if ctx.control:
        ctrl_value, _ = A.json_content(ctx.control[0])
        if ctrl_value is not None and not list(jsonschema.Draft202012Validator(schema).iter_errors(ctrl_value)):
            return Detection(Support.UNVERIFIABLE, [("content matches the schema, but so does the control's without "
                                                    "response_format")], m)
    return Detection(Support.SUPPORTED, ["content matches the requested schema"], m)



def _schema_of(obs: Observation) -> dict[str, Any]:
    return (((sent_request(obs).get("response_format") or {}).get("json_schema") or {}).get("schema")) or {}


@detector("strict_json_schema")
def strict_json_schema(ctx: Context) -> Detection:
    """strict: true gives content that validates against the schema where the same request without strict (the
    alternate) does not; when both validate, a free model already complies (UNVERIFIABLE)."""
    obs = ctx.samples[0]
    refusal = A.message(obs).get("refusal")
    if refusal:
        return Detection(Support.UNVERIFIABLE, [f"the model refused: {str(refusal)[:200]}"])
    schema = _schema_of(obs)

    def problem(o: Observation) -> str | None:
        if o.status is None or o.status >= 300 or A.message(o).get("refusal"):
            return NO_ANSWER
        value, why = A.json_content(o)
        return why or schema_problem(value, schema)

    got = problem(obs)
    loose = problem(ctx.alternates[0]) if ctx.alternates else NO_ANSWER
    m = {"content": A.text(obs)[:200], "strict_problem": got, "loose_problem": loose,
         "loose_content": A.text(ctx.alternates[0])[:200] if ctx.alternates else None}
    support, note = strict_verdict(got, loose, "content", NO_ANSWER, "the strict request got no answer")
    return Detection(support, [note], m)
