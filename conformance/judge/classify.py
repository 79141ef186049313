"""The classifier: observations in, verdict out. Pure: no I/O, no pytest, no httpx."""

from __future__ import annotations

import dataclasses
from typing import Any

from conformance.judge import answers, schemas, stream_rules
from conformance.judge.detection import DETECTORS, Context, Detection
from conformance.judge.error_body import SHAPE_NOTES, read_error
from conformance.judge.evidence import exchange_evidence, retry_note
from conformance.judge.ownership import ERROR_BODY_OWNER, also_seen_notes, split_findings
from conformance.judge.root_cause import RootCause, root_cause, suspect_answers
from conformance.model.findings import Finding, dedupe
from conformance.model.observation import Observation
from conformance.model.probes import Probe
from conformance.model.roles import REPEAT, RoleKind
from conformance.model.sse import parse_sse
from conformance.model.verdicts import Conformance, Status, Support, Verdict, conformance_of, worst_conformance


def findings_of(obs: Observation) -> list[Finding]:
    """Schema and stream-rule findings of one answer (the same rules `validate` applies to recordings)."""
    request = obs.request_body if isinstance(obs.request_body, dict) else None
    if obs.status is None:
        return []
    if obs.status >= 400:
        body = obs.json()
        return schemas.check_error(body) if body is not None else []
    if obs.path.rstrip("/").endswith("/models"):  # GET /models: a model list, not a completion
        body = obs.json()
        return schemas.check_model_list(body) if body is not None else []
    if obs.is_sse or (request or {}).get("stream") is True:
        return stream_rules.check_stream(parse_sse(obs.body_text), request, obs.content_type)
    body = obs.json()
    return schemas.check_response(body) if body is not None else []


# An answer longer than this is not judged (ERROR): no chat probe asks for more than a few kilobytes, and a
# runaway answer says nothing about the parameter that was sent (http.MAX_BODY_BYTES cuts at 12 MB anyway).
MAX_JUDGED_CHARS = 4_000_000


def _unusable(observations: list[Observation]) -> Verdict | None:
    """A verdict for answers that say nothing about the feature: not sent, transport failure, 5xx, garbage."""
    for obs in observations:
        if obs.skipped_reason:
            return Verdict(Status.SKIPPED, notes=[obs.skipped_reason], skip_cause=obs.skip_cause)
    for obs in observations:
        if obs.timed_out:
            return Verdict(Status.TIMEOUT, notes=[f"{obs.role}: {obs.error or 'timed out'}"])
        if obs.error:
            return Verdict(Status.ERROR, notes=[f"{obs.role}: {obs.error}"])
    for obs in observations:
        assert obs.status is not None
        if obs.status >= 500 or obs.status == 429:
            reading = read_error(obs.body_text)
            retried = f" after {obs.retries} retries" if obs.retries else ""
            notes = [f"{obs.role}: HTTP {obs.status}{retried}: {reading.message[:300]}"]
            if obs.status == 429:  # never a verdict, but the body shape is a finding for clients' retry code
                notes.append(rate_limit_note(obs))
                return Verdict(Status.ERROR, notes=notes, measurements={"rate_limit_body": reading.shape})
            return Verdict(Status.ERROR, notes=notes)
        if obs.status < 300 and not obs.is_sse and obs.json() is None:
            return Verdict(Status.ERROR, notes=[(f"{obs.role}: HTTP {obs.status} with a body that is not JSON: "
                                                 f"{obs.body_text[:120]!r}")])
        if obs.status >= 400 and obs.body_text.lstrip().startswith("{") and obs.json() is None:  # cut: unreadable
            return Verdict(Status.ERROR, notes=[(f"{obs.role}: HTTP {obs.status} with a JSON body cut short: "
                                                 f"{obs.body_text[:120]!r}")])
        if obs.status < 300 and len(obs.body_text) > MAX_JUDGED_CHARS:
            return Verdict(Status.ERROR, notes=[(f"{obs.role}: HTTP {obs.status} answer of {len(obs.body_text):,} "
                                                 f"characters, over the {MAX_JUDGED_CHARS:,} the suite judges: a "
                                                 "runaway answer or a misbehaving proxy, not a verdict on the "
                                                 "feature")])
        if obs.status < 300 and obs.is_sse:
            stream = parse_sse(obs.body_text)
            if not stream.events:
                return Verdict(Status.ERROR, notes=[f"{obs.role}: HTTP {obs.status} event stream with no events"])
            if stream.error_events:
                return Verdict(Status.ERROR, notes=[(f"{obs.role}: HTTP {obs.status} stream carried an error event "
                                                     f"after {len(stream.chunks)} chunks: "
                                                     f"{_error_event_message(stream.error_events[0])[:300]}")])
            if not stream.done_count and not _finished(stream.chunks):
                return Verdict(Status.ERROR, notes=[(f"{obs.role}: HTTP {obs.status} stream cut after "
                                                     f"{len(stream.events)} events: no finish_reason and no "
                                                     "[DONE] (a dropped connection, not an answer to judge)")])
    return None


def rate_limit_note(obs: Observation) -> str:
    """How a 429 body compares with OpenAI's {"error": {message, type, param, code}} (clients read it to back off)."""
    reading = read_error(obs.body_text)
    body = obs.json()
    findings = schemas.check_error(body) if body is not None else []
    code = reading.code
    if reading.shape == "openai" and not findings:
        return "429 body: OpenAI's error envelope"
    what = SHAPE_NOTES.get(reading.shape, reading.shape)
    detail = f" ({findings[0].pointer or '/'}: {findings[0].message})" if findings else ""
    return f"429 body not OpenAI-shaped: {what}{detail}" + (f"; code {code!r}" if code else "")


def _finished(chunks: list[Any]) -> bool:
    """Whether any chunk carries a finish_reason (the answer reached its end)."""
    for chunk in chunks:
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        if isinstance(choices, list) and any(isinstance(c, dict) and c.get("finish_reason") for c in choices):
            return True
    return False


def _error_event_message(payload: dict[str, Any]) -> str:
    err = payload.get("error")
    if isinstance(err, dict):
        return str(err.get("message") or err)
    return str(err or payload.get("message") or payload)


def error_conformance(obs: Observation, expected_status: int | None = None,
                      owns_envelope: bool = True) -> tuple[Conformance, list[str]]:
    """OpenAI answers client errors with 400 (or the specific code) and {"error": {message,type,param,code}}.

    Every difference in a 4xx answer is a SHOULD (NON_STRICT), including an error body that fails the error
    schema: the legend puts "error body not OpenAI-shaped" under NON_STRICT, never FAILED. The envelope's
    shape is charged to the errors.* features (`owns_envelope`); other probes mention it and stay clean.
    """
    reading = read_error(obs.body_text)
    notes: list[str] = []
    verdict = Conformance.OK
    envelope_issue = bool(findings_of(obs)) or reading.shape != "openai"
    if envelope_issue and owns_envelope:
        verdict = Conformance.NON_STRICT
        if reading.shape != "openai":
            notes.append(f"error envelope: {SHAPE_NOTES[reading.shape]}")
    elif envelope_issue:
        shape = SHAPE_NOTES.get(reading.shape, "fails the error schema")
        notes.append(f"also seen (see {ERROR_BODY_OWNER}): error envelope: {shape}")
    assert obs.status is not None
    if expected_status and obs.status != expected_status:
        notes.append(f"HTTP {obs.status} where OpenAI answers {expected_status}")
        verdict = Conformance.NON_STRICT
    elif not expected_status and obs.status == 422:
        notes.append("HTTP 422 where OpenAI answers 400")
        verdict = Conformance.NON_STRICT
    return verdict, notes


def _blame(probe: Probe, obs: Observation) -> tuple[list[str], list[str]]:
    """(fields a 4xx names, those of them that are this probe's own fields)."""
    reading = read_error(obs.body_text, probe.blamed_params)
    blamed = [p for p in reading.params if p.split(".")[0] not in ("body",)]
    ours = [p for p in blamed if any(p == b or p.split(".")[0] == b.split(".")[0] for b in probe.blamed_params)]
    return blamed, ours


def _rejection(probe: Probe, obs: Observation) -> Verdict:
    """Read a 4xx to a probe that OpenAI accepts (or rejects, for invalid values)."""
    assert obs.status is not None
    reading = read_error(obs.body_text, probe.blamed_params)
    conf, notes = error_conformance(obs, 400 if probe.kind == "invalid" else None, _owns_error_envelope(probe))
    evidence = f"HTTP {obs.status}: {reading.message[:400]}"
    blamed, ours = _blame(probe, obs)
    if blamed and not ours and probe.blamed_params and probe.kind != "invalid":
        return Verdict(Status.OK, Support.UNVERIFIABLE, conf,
                       [f"the 4xx blames {', '.join(blamed)}, not {', '.join(probe.blamed_params)}", evidence, *notes],
                       measurements={"error_params": blamed, "error_shape": reading.shape, "decisive": str(obs.role)})
    named = f" (names {', '.join(ours)})" if ours else ""
    lead = "rejects the invalid value, as OpenAI does" if probe.kind == "invalid" else "rejected"
    return Verdict(Status.OK, Support.REJECTED, conf, [f"{lead}{named}", evidence, *notes],
                   measurements={"error_params": blamed, "error_shape": reading.shape, "http_status": obs.status,
                                 "decisive": str(obs.role)})


def _error_probe(probe: Probe, obs: Observation) -> Verdict:
    """errors.* probes: OpenAI answers with a 4xx; a 2xx means the mistake is accepted silently."""
    assert obs.status is not None
    if obs.status >= 400:
        reading = read_error(obs.body_text, probe.blamed_params)
        conf, notes = error_conformance(obs, probe.expect_status, _owns_error_envelope(probe))
        named = [p for p in probe.blamed_params if reading.names(p) or p in reading.message]
        names = f"the message names {', '.join(named)}" if named else "the message names no field"
        return Verdict(Status.OK, Support.SUPPORTED, conf,
                       [f"HTTP {obs.status}: {reading.message[:300]}", names, *notes],
                       measurements={"http_status": obs.status, "error_shape": reading.shape,
                                     "names_field": bool(named), "decisive": str(obs.role)})
    body = obs.json() if not obs.is_sse else None
    served = body.get("model") if isinstance(body, dict) else None
    note = "accepted silently with a 2xx where OpenAI answers " + str(probe.expect_status or "4xx")
    if probe.args.get("substitution") and served:
        note = f"silent substitution: HTTP {obs.status} answered by model {served!r} for an unknown model"
    findings, also, elsewhere = _charged(probe, findings_of(obs))
    return Verdict(Status.OK, Support.IGNORED, worst_conformance(Conformance.NON_STRICT, conformance_of(findings)),
                   [note, *also], findings=findings, measurements={"http_status": obs.status, "served_model": served,
                                                                   **({"also_seen": elsewhere} if elsewhere else {})})


def _owns_error_envelope(probe: Probe) -> bool:
    return probe.feature.startswith("errors.")


def _charged(probe: Probe, findings: list[Finding]) -> tuple[list[Finding], list[str], list[dict[str, Any]]]:
    """The findings this probe's feature owns, one "also seen (see <owner>)" note per other owner, and those
    other findings as data (results.json charges one back here when its owner's own probes do not show it)."""
    own, others = split_findings(probe.feature, findings)
    also = [{"owner": owner, **f.to_dict()} for owner, found in sorted(others.items()) for f in found]
    return own, also_seen_notes(others), also


def resendable_5xx(obs: Observation) -> bool:
    """A 5xx answer other than 503 (overload, which the client already retries): re-sent once to see whether it
    reproduces."""
    return obs.status is not None and obs.status >= 500 and obs.status != 503 and not obs.error


REPEATED_5XX = ("a client error answered with HTTP 5xx: clients retry it and the request fails every time")


def _reproducible_5xx(probe: Probe, variant: list[Observation], control: list[Observation]) -> Verdict | None:
    """Control fine, variant 5xx, and the re-sent variant 5xx again with the same body (or naming the field).

    That is how this target answers the parameter, every time: REJECTED, conformance FAILED. An errors.* probe's
    mistake answered that way is refused every time, with the wrong status: SUPPORTED, conformance FAILED. A 5xx
    whose re-send fails differently, or beside a control that is not a valid answer, is left to `_unusable`
    (ERROR); one whose re-send is answered was settled before (`_varies_between_tries`).
    """
    pair = _repeated(variant)
    if pair is None:
        return None
    first, repeat = pair
    assert first.status is not None
    if not _control_fine(control) or _unusable(control) is not None:  # a valid answer, not a runaway one
        return None
    if repeat.status != first.status:
        return None
    reading = read_error(first.body_text, probe.blamed_params)
    blamed, ours = _blame(probe, first)
    named = bool(ours) or any(p in reading.message for p in probe.blamed_params)
    if repeat.body_text != first.body_text and not named:
        return None
    names = f" (names {', '.join(ours or [p for p in probe.blamed_params if p in reading.message])})" if named else ""
    if probe.kind == "error":  # the mistake is refused, every time, but as a server error OpenAI never gives
        return Verdict(Status.OK, Support.SUPPORTED, Conformance.FAILED,
                       [f"refused with HTTP {first.status} twice{names} where OpenAI answers "
                        f"{probe.expect_status or '4xx'}: {REPEATED_5XX}",
                        f"HTTP {first.status}: {reading.message[:400]}", "the control request succeeded"],
                       measurements={"http_status": first.status, "error_params": blamed, "reproduced": True,
                                     "decisive": str(first.role)})
    return Verdict(Status.OK, Support.REJECTED, Conformance.FAILED,
                   [f"rejected with HTTP {first.status} twice{names}: {REPEATED_5XX}",
                    f"HTTP {first.status}: {reading.message[:400]}", "the control request succeeded"],
                   measurements={"http_status": first.status, "error_params": blamed, "reproduced": True,
                                 "decisive": str(first.role)})


def classify(probe: Probe, variant: list[Observation], control: list[Observation] | None = None) -> Verdict:
    """The verdict of one probe on one target, from its answers and its control's answers (and what was re-sent)."""
    verdict = _verdict(probe, variant, control or [])
    note = retry_note([*variant, *(control or [])])
    if note:
        verdict.notes.append(note)
    return verdict


def _control_fine(control: list[Observation]) -> bool:
    """A control counts only when every answer is a valid answer (status, JSON, a completion with choices): a 200
    whose body is not JSON is no proof that the server works."""
    return bool(control) and all(answers.invalid_answer(o) is None for o in control)


def _repeated(variant: list[Observation]) -> tuple[Observation, Observation] | None:
    """(the request that failed with a 5xx, its re-send), when the engine re-sent one."""
    repeat = next((o for o in variant if o.role == REPEAT), None)
    if repeat is None:
        return None
    # the request that was re-sent: the variant, or (an SDK scenario) whichever of its requests failed
    first = next((o for o in variant if o.role != REPEAT and o.path == repeat.path and resendable_5xx(o)
                  and o.request_body == repeat.request_body), None)
    return (first, repeat) if first is not None else None


def _varies_between_tries(probe: Probe, variant: list[Observation]) -> tuple[list[Observation], Finding] | None:
    """A 5xx whose re-send answers: the server fails on some tries of the same request (on its own output), not on
    the request. The answer to judge replaces the 5xx, with a server-defect finding (never REJECTED or ERROR)."""
    pair = _repeated(variant)
    if pair is None or probe.client != "http":
        return None
    first, repeat = pair
    if repeat.status is None or repeat.error or repeat.status >= 500:
        return None
    settled = [dataclasses.replace(repeat, role=first.role) if o is first else o for o in variant if o is not repeat]
    message = (f"HTTP {first.status} on one try and HTTP {repeat.status} on the same request re-sent: the server "
               "fails on some answers (its own output), not on the request: "
               f"{read_error(first.body_text).message[:200]}")
    return settled, Finding("response", "", "server.defect", "compat", message, "the same answer every time",
                            first.status)


def _judged_on_cause(probe: Probe, cause: RootCause, variant: list[Observation], control: list[Observation]
                     ) -> Verdict:
    """The verdict once the re-sends named the root cause: a server defect (UNVERIFIABLE, FAILED); the probe's own
    part (REJECTED: its feature owns it, or the probe is about its field, e.g. tools.followup_turn's call_… id);
    else the probe judged on the working answer, the part's owner named."""
    finding = cause.finding()
    m = cause.measurements()
    if cause.defect:
        assert finding is not None
        return Verdict(Status.OK, Support.UNVERIFIABLE, Conformance.FAILED, [cause.note()], [finding], m)
    assert cause.suspect is not None
    if cause.suspect.owned_by(probe):
        assert cause.failed.status is not None
        conf = Conformance.FAILED if cause.failed.status >= 500 else error_conformance(cause.failed, None, False)[0]
        return Verdict(Status.OK, Support.REJECTED, conf, [cause.note(judged=False)], [f for f in [finding] if f], m)
    if probe.stochastic:
        return Verdict(Status.OK, Support.UNVERIFIABLE, None, [cause.note(), "a sampled probe: its samples would have "
                                                               "to be sent again in the working shape"], measurements=m)
    working = [dataclasses.replace(cause.answer, role=o.role) if o.request_body == cause.failed.request_body else o
               for o in variant if o.role != REPEAT]
    verdict = _verdict(probe, working, control)
    if verdict.status is not Status.OK:
        return Verdict(Status.OK, Support.UNVERIFIABLE, None, [cause.note(), *verdict.notes], measurements=m)
    # the refusal is the owner's (its own probe gets REJECTED and the finding); here it is named, not charged
    verdict.notes.insert(0, cause.note())
    verdict.measurements.update(m)
    return verdict


def _verdict(probe: Probe, variant: list[Observation], control: list[Observation]) -> Verdict:
    resent = suspect_answers(variant)
    variant = [o for o in variant if o.role.kind is not RoleKind.SUSPECT]
    settled = _varies_between_tries(probe, variant)
    if settled is not None:
        verdict = _verdict(probe, settled[0], control)
        if verdict.status is Status.OK:
            verdict.findings.append(settled[1])
            verdict.conformance = worst_conformance(verdict.conformance, Conformance.FAILED)
        verdict.notes.insert(0, settled[1].message)
        return verdict
    cause = next((c for o in variant if o.role in resent and (c := root_cause(o, resent[o.role])) is not None), None)
    if cause is not None and (not cause.defect or _control_fine(control)):
        return _judged_on_cause(probe, cause, variant, control)
    reproducible = _reproducible_5xx(probe, variant, control)
    if reproducible is not None:
        return reproducible
    variant = [o for o in variant if o.role != REPEAT]
    if not probe.control:
        control = []  # a witness control fetched only to judge a 5xx is not this probe's control
    unusable = _unusable(variant + control)
    if unusable is not None:
        return unusable
    broken = next((why for o in control if o.status is not None and o.status < 300
                   and (why := answers.invalid_answer(o))), None)
    if broken:  # a 2xx control that is no answer (no choices) proves nothing to compare with
        return Verdict(Status.ERROR, notes=[f"control: {broken}: nothing to compare with"])
    first = variant[0]
    assert first.status is not None
    rejected = [o for o in variant if o.status is not None and o.status >= 400]
    control_failed = any(o.status is not None and o.status >= 400 for o in control)
    if rejected and probe.kind != "error" and (not control_failed or _blame(probe, rejected[0])[1]):
        # A 4xx naming this probe's own field is decisive whatever the control did (a target that rejects
        # `temperature` also fails the control that carries it); any other 4xx defers to a failed control.
        return _rejection(probe, rejected[0])
    for obs in control:
        assert obs.status is not None
        if obs.status >= 400:
            reading = read_error(obs.body_text)
            return Verdict(Status.OK, Support.UNVERIFIABLE, None,
                           [(f"the control request failed (HTTP {obs.status}: {reading.message[:200]}): nothing to "
                             "compare with")])
    if probe.kind == "error":
        return _error_probe(probe, first)
    detection: Detection | None = None
    if probe.kind != "invalid":
        detection = DETECTORS[probe.detector](Context(probe, variant, control, dict(probe.args)))
    seen = [f for obs in variant for f in findings_of(obs)] + (detection.findings if detection else [])
    findings, also, elsewhere = _charged(probe, dedupe(seen))
    extra = {"also_seen": elsewhere} if elsewhere else {}
    if detection is None:
        return Verdict(Status.OK, Support.IGNORED, conformance_of(findings),
                       [f"accepts a value OpenAI rejects (HTTP {first.status}): the mistake passes silently", *also],
                       findings=findings, measurements=extra)
    return Verdict(Status.OK, detection.support, worst_conformance(conformance_of(findings), detection.conformance),
                   [*detection.notes, *also], findings=findings, measurements={**detection.measurements, **extra})


def summarize_findings(findings: list[Finding], limit: int = 5) -> list[str]:
    """One line per finding, for notes."""
    return [f"{f.part}{f.pointer or '/'}: {f.message}" for f in findings[:limit]]


def probe_record(probe: Probe, verdict: Verdict, observations: list[Observation]) -> dict[str, Any]:
    """The evidence entry of one probe in results.json."""
    return {
        "probe": probe.id,
        "why": probe.why,
        "status": verdict.status.value,
        "support": verdict.support.value if verdict.support else None,
        "conformance": verdict.conformance.value if verdict.conformance else None,
        "notes": list(verdict.notes) + summarize_findings(verdict.findings),
        "measurements": verdict.measurements,
        "findings": [f.to_dict() for f in verdict.findings],
        "exchanges": [exchange_evidence(o) for o in observations],
        **({"skip_cause": verdict.skip_cause.value} if verdict.skip_cause else {}),
    }
