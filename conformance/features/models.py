"""Models: GET /models, the first call many clients make (model pickers, health checks)."""

from __future__ import annotations

from conformance.judge.detection import Context, Detection, detector
from conformance.model.probes import Probe
from conformance.model.verdicts import Support

PROBES: list[Probe] = [
    Probe("models.list", "models.list", "GET /models lists the configured model, OpenAI-shaped (created an "
          "integer): model pickers and health checks read it.", detector="model_listed", method="GET",
          path="/models"),
]


@detector("model_listed")
def model_listed(ctx: Context) -> Detection:
    """The configured model is in the list (schema findings, e.g. a created that is not an integer, come from
    the model-list schema); a list without it is IGNORED: the client cannot find what it will call."""
    obs = ctx.samples[0]
    body = obs.json()
    data = body.get("data") if isinstance(body, dict) else None
    ids = [str(m.get("id")) for m in data if isinstance(m, dict)] if isinstance(data, list) else []
    want = str(ctx.args.get("model") or "")
    m = {"models": ids[:20], "count": len(ids)}
    if not ids:
        return Detection(Support.IGNORED, ["GET /models answered 2xx without a list of models"], m)
    if want and want not in ids:
        return Detection(Support.PARTIAL, [f"the configured model {want!r} is not listed ({', '.join(ids[:5])})"], m)
    return Detection(Support.SUPPORTED, [f"{len(ids)} model(s) listed" + (f", including {want!r}" if want else "")],
                     m)
