"""Migration view end to end, offline: an OpenAI-like and a Mistral-like fake server side by side.

Runs the whole suite live against both (real sockets on 127.0.0.1), writes one results.json per target,
then rebuilds the merged report with `python -m conformance report a.json b.json --baseline openai-like`.

usage: python examples/migration_demo.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.features import registry  # noqa: E402
from conformance.model.targets import Target  # noqa: E402
from conformance.report.report_cli import main as report_main  # noqa: E402
from conformance.run.engine import run_pairs  # noqa: E402
from conformance.run.results import build_results, now, record_of  # noqa: E402
from tests.fakeserver import FakeConfig, FakeServer  # noqa: E402

# What Mistral does differently (../shared/quirks/mistral.md): OpenAI-only fields are 422 extra_forbidden,
# usage rides on the finishing chunk, tool-call deltas come whole without index, ids are 9 alphanumerics.
MISTRAL_LIKE = FakeConfig(
    reject={"seed", "max_completion_tokens", "stream_options", "logprobs", "top_logprobs", "logit_bias", "user",
            "store", "safety_identifier", "modalities", "audio", "web_search_options", "verbosity", "functions",
            "function_call", "service_tier", "prediction", "metadata", "prompt_cache_key"},
    reject_unknown=True, error_style="mistral", stream_usage="mistral", tool_delta_style="mistral",
    tool_call_id_style="mistral", conversation_rules="mistral", aliases={"random_seed": "seed"},
)


def run_one(name: str, config: FakeConfig, out: Path) -> Path:
    with FakeServer(config) as srv:
        target = Target(name, srv.base_url, "fake-model", high_temperature=2.0)
        started = now()
        results, _ = run_pairs([(target, p) for p in registry.PROBES], out / "cassettes", "all")
        doc = build_results([record_of(r) for r in results], [target], record_mode="all",
                            probes=registry.probe_by_id(), started=started, finished=now())
    path = out / f"{name}.results.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "reports/migration-demo")
    out.mkdir(parents=True, exist_ok=True)
    openai_like = run_one("openai-like", FakeConfig(reject_unknown=True), out)
    mistral_like = run_one("mistral-like", MISTRAL_LIKE, out)
    return report_main([str(openai_like), str(mistral_like), "-o", str(out), "--baseline", "openai-like"])


if __name__ == "__main__":
    sys.exit(main())
