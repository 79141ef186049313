"""The exchange that decided a cell: the request value, the status and the server's own words."""

from __future__ import annotations

import pytest

from conformance.report.decisive import decisive_evidence, evidence_line, server_message


@pytest.mark.parametrize(("body", "message"), [
    ({"error": {"message": "Invalid model", "type": "invalid_request_error"}}, "Invalid model"),
    ({"object": "error", "message": {"detail": [{"loc": ["body", "seed"], "msg": "Extra inputs are not permitted"}]}},
     "seed: Extra inputs are not permitted"),
    ({"detail": [{"loc": ["body", "messages", 0], "msg": "Field required"}]}, "messages.0: Field required"),
    ({"message": "Unauthorized", "request_id": "x"}, "Unauthorized"),
    ("upstream\n  timed out", "upstream timed out"),
    (None, ""),
])
def test_the_servers_own_message_in_any_common_shape(body: object, message: str) -> None:
    assert server_message(body) == message


def _x(role: str, body: dict, status: int, answer: object) -> dict:
    return {"role": role, "request": {"body": {"model": "m", "messages": [], **body}},
            "response": {"status": status, "body": answer}}


def test_the_judges_decisive_role_wins_over_the_first_failure() -> None:
    refused = {"error": {"message": "n must be at most 1"}}
    record = {"probe": "request.n.choices", "status": "OK", "support": "REJECTED", "conformance": "OK", "notes": [],
              "findings": [], "measurements": {"decisive": "variant-2"},
              "exchanges": [_x("control", {}, 200, {}), _x("variant-1", {"n": 2}, 400, refused),
                            _x("variant-2", {"n": 3}, 400, refused)]}
    cell = {"status": "OK", "support": "REJECTED", "conformance": "OK", "notes": [], "evidence": [record]}
    ev = decisive_evidence(cell)
    assert ev["role"] == "variant-2" and ev["sent"] == "n=3" and ev["status"] == 400
    assert evidence_line(ev) == '[request.n.choices] sent n=3 → HTTP 400 "n must be at most 1"'
    del record["measurements"]["decisive"]  # an older results.json: the first refused answer, as the judge reads it
    assert decisive_evidence(cell)["role"] == "variant-1"


def test_a_failed_cell_quotes_the_must_that_broke_on_the_streamed_answer() -> None:
    record = {"probe": "stream.reassembly.tool_calls", "status": "OK", "support": "SUPPORTED", "conformance": "FAILED",
              "notes": ["streamed and unstreamed answers agree"], "measurements": {},
              "findings": [{"part": "stream", "pointer": "/chunks/1/choices/0/delta/tool_calls/0/index",
                            "level": "compat", "message": "'index' is a required property"}],
              "exchanges": [_x("control", {}, 200, {}),
                            {**_x("variant", {"stream": True}, 200, None), "response": {"status": 200, "sse": ["…"]}}]}
    cell = {"status": "OK", "support": "SUPPORTED", "conformance": "FAILED", "notes": [], "evidence": [record]}
    line = evidence_line(decisive_evidence(cell))
    assert "sent stream=true → HTTP 200" in line and "'index' is a required property" in line
    assert "agree" not in line  # never the note of what did not decide the cell
