"""Errors: client mistakes OpenAI answers with a 4xx."""

from __future__ import annotations

from conformance.model.probes import DROP, Probe

PROBES: list[Probe] = [
    Probe("errors.unknown_model", "errors.unknown_model",
          "OpenAI answers 404 model_not_found; a 200 from another model is a silent substitution.",
          {"model": "conformance-no-such-model"}, kind="error", expect_status=404, args={"substitution": True},
          params=("model",)),
    Probe("errors.bad_key", "errors.bad_key", "A wrong key must get 401, not an answer or a 500.", {},
          kind="error", expect_status=401, auth="bad"),
    Probe("errors.malformed_body", "errors.malformed_body", "A body that is not JSON is a 400, never a 5xx.",
          raw_body='{"model": "x", "messages": [', kind="error", expect_status=400),
    Probe("errors.missing_messages", "errors.missing_messages", "A body without messages is a 400 naming it.",
          {"messages": DROP}, kind="error", expect_status=400, params=("messages",)),
    Probe("errors.invalid_value", "errors.invalid_value", "An out-of-range value is a 400 naming the field.",
          {"temperature": 5}, kind="error", expect_status=400, params=("temperature",)),
    # the migration (issue 13)
    Probe("errors.context_overflow", "errors.context_overflow",
          "A prompt over the context window: OpenAI answers 400 context_length_exceeded; a 2xx is judged by its "
          "finish_reason (values outside OpenAI's enum, e.g. model_length, fail the schema).",
          {"messages": [{"role": "user", "content": "$overflow"}], "max_tokens": 16}, kind="error",
          expect_status=400, params=("messages",)),
]
