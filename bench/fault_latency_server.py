"""Run the fake OpenAI-like server from the command line, e.g. to see how the suite copes with faults and latency.

    python bench/fault_latency_server.py --latency 0.5
    python bench/fault_latency_server.py --fault hang
    python bench/fault_latency_server.py --fault cycle --hang-seconds 20     # every request one fault, in turn
    python bench/fault_latency_server.py --fault rate_limit --rate-limit-count 3 --ignore seed --reject logprobs
    python bench/fault_latency_server.py --max-in-flight 1 --latency 0.05      # one request at a time, resets others
    python bench/fault_latency_server.py --server-error logprobs --reset-after-5xx   # uvicorn after a 5xx

It prints the base URL (point ``--base-url`` at it, model ``fake-model``) and serves until interrupted.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakeserver import FAULTS, FakeConfig, FakeServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line into the fake server's switches."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", choices=(*FAULTS, "cycle"), default=None,
                        help="the fault every chat request gets (cycle: each the next one in turn)")
    parser.add_argument("--hang-seconds", type=float, default=None,
                        help="with hang: reset the connection after this long (default: hang until stopped)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept before each answer")
    parser.add_argument("--rate-limit-count", type=int, default=1000, help="429s before normal service")
    parser.add_argument("--ignore", action="append", default=[], help="a param accepted with no effect")
    parser.add_argument("--reject", action="append", default=[], help="a param answered with a 4xx")
    parser.add_argument("--reject-unknown", action="store_true", help="4xx for fields outside the spec")
    parser.add_argument("--style", choices=("openai", "mistral"), default="openai", help="error/stream style")
    parser.add_argument("--server-error", action="append", default=[], help="a param answered with a 500")
    parser.add_argument("--reset-after-5xx", action="store_true",
                        help="keep-alive; the next request on a connection that got a 5xx is reset")
    parser.add_argument("--max-in-flight", type=int, default=None, help="chat requests served at once")
    parser.add_argument("--over-capacity", choices=("reset", "503"), default="reset",
                        help="what a request beyond --max-in-flight gets")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C; return the exit status."""
    args = parse_args(argv)
    mistral = args.style == "mistral"
    config = FakeConfig(
        ignore=set(args.ignore),
        reject=set(args.reject),
        reject_unknown=args.reject_unknown,
        error_style=args.style,
        stream_usage=args.style,
        tool_delta_style=args.style,
        tool_call_id_style=args.style,
        conversation_rules=args.style,
        unknown_model="404",
        fault=args.fault,
        hang_seconds=args.hang_seconds,
        rate_limit_count=args.rate_limit_count,
        latency=args.latency,
        server_error=set(args.server_error),
        reset_after_5xx=args.reset_after_5xx,
        max_in_flight=args.max_in_flight,
        over_capacity=args.over_capacity,
        models=("fake-model", "mistral-small-latest") if mistral else ("fake-model",),
    )
    with FakeServer(config) as server:
        print(server.base_url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
