"""Benchmark (by hand): the same cells at --concurrency 1 and the default, live on the reference servers, direct and
behind a latency proxy (issue 21 item 3).

Each reference target (conformance/data/references.toml, servers started by servers/*.sh) is run live twice with
every probe of the registry, recording to a temporary directory: at concurrency 1 and at the target's default;
then once more each way behind a TCP proxy that delivers every client write LATENCY seconds late. Prints, per
target and setting, the probe and feature cells compared and every cell that differs.

usage: python bench/same_cells.py [--latency SECONDS] [--only direct|proxy] [--concurrency N] [TARGET...]
(--concurrency: compare 1 with N instead of the target's default)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.features import registry
from conformance.model.targets import Target, load_targets
from conformance.run.engine import run_pairs
from conformance.run.results import build_results, charge_unseen_findings, now, record_of

PROBES = registry.probe_by_id()
REFERENCES = ("vllm", "litellm", "llama", "litellm-vllm")
WHY: dict[tuple[str, int, str], str] = {}  # a probe cell's findings (or first note), to tell why cells differ


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy reader to writer, each chunk delivered `delay` seconds after it arrived (order kept)."""
    loop = asyncio.get_running_loop()
    try:
        while chunk := await reader.read(65536):
            due = loop.time() + delay
            await asyncio.sleep(max(0.0, due - loop.time()))
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


@contextmanager
def latency_proxy(upstream: str, delay: float) -> Iterator[str]:
    """A TCP proxy on 127.0.0.1 in front of `upstream` (a base URL); yields the proxied base URL."""
    parts = urlsplit(upstream)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port)
        await asyncio.gather(_pipe(reader, up_writer, delay), _pipe(up_reader, writer, 0.0))

    def serve() -> None:
        server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()  # until loop.stop() below

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"{parts.scheme}://127.0.0.1:{port[0]}{parts.path}"
    finally:
        loop.call_soon_threadsafe(loop.stop)


def cells(target: Target, concurrency: int, cassettes: Path) -> dict[str, tuple[Any, ...]]:
    """Every probe and feature cell of one live run (findings charged as the plugin charges them)."""
    pairs = [(target, p) for p in registry.PROBES]
    results, engine = run_pairs(pairs, cassettes, "all", concurrency)
    owners = [record_of(r) for r in engine.owner_results]
    records = charge_unseen_findings([record_of(r) for r in results], owners)
    doc = build_results(records, [target], record_mode="all", probes=PROBES, started=now(), finished=now())
    out: dict[str, tuple[Any, ...]] = {}
    for fid, per in doc["features"].items():
        for cell in per.values():
            out[fid] = (cell["status"], cell["support"], cell["conformance"])
            for probe in cell.get("evidence") or []:
                out[probe["probe"]] = (probe["status"], probe["support"], probe["conformance"])
                WHY[(target.name, concurrency, probe["probe"])] = "; ".join(
                    f"{f['rule']} at {f['pointer']}" for f in probe.get("findings") or []) or probe["notes"][0]
    return out


def compare(target: Target, label: str, root: Path) -> int:
    started = time.monotonic()
    one = cells(target, 1, root / f"{target.name}-{label}-c1")
    many = cells(target, target.concurrency, root / f"{target.name}-{label}-c{target.concurrency}")
    differ = sorted(k for k in one.keys() | many.keys() if one.get(k) != many.get(k))
    print(f"{target.name:13} {label:7} {len(one)} cells at 1 vs {target.concurrency}: {len(differ)} differ "
          f"({time.monotonic() - started:.0f} s)", flush=True)
    for key in differ:
        print(f"    {key}: {one.get(key)} at 1, {many.get(key)} at {target.concurrency}", flush=True)
        for level in (1, target.concurrency):
            if (target.name, level, key) in WHY:
                print(f"        at {level}: {WHY[(target.name, level, key)][:300]}", flush=True)
    return len(differ)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("targets", nargs="*", default=list(REFERENCES))
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--only", choices=("direct", "proxy"))
    parser.add_argument("--concurrency", type=int, help="compare 1 with this (default: the target's)")
    args = parser.parse_args()
    known = load_targets()
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.targets:
            target = known[name]
            if args.concurrency:
                target = dataclasses.replace(target, concurrency=args.concurrency)
            if args.only != "proxy":
                total += compare(target, "direct", Path(tmp))
            if args.only != "direct":
                with latency_proxy(target.base_url, args.latency) as url:
                    total += compare(dataclasses.replace(target, base_url=url), "proxy", Path(tmp))
    print(f"cells that differ in all: {total}")


if __name__ == "__main__":
    main()
