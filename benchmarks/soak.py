"""Soak test: many readers, one write job in a loop, a server restart in the middle (issue 21).

Bounded and loopback only: a throwaway managed Neo4j (127.0.0.1, its own temporary home) holding
the demo graph (or ``--nodes/--edges`` Hetionet files); ``--readers`` threads read for ``--seconds``
while one thread re-runs ``pagerank_job`` with alternating damping (small batches, so each write-back
spans many transactions); at ``--restart-at`` seconds the server is stopped and started again.

Each reader cycles through three reads:

* ``published``: every node's pagerank through the published read pattern (graph_engine.published);
  a **mixed read** is one result with values of more than one run, an **incomplete read** one with
  fewer nodes than the graph's published set;
* ``plain``: every node's plain ``n.pagerank`` / ``n.pagerank_run`` (mixed reads are expected here
  while a write-back is under way: the README says so);
* ``top``: ``GraphClient.top("Drug", "pagerank", 10)``.

Reported: reads and errors per kind (inside / outside the restart window), latency p50 / p95 / max,
mixed and incomplete reads, write jobs succeeded / failed, Runs left ``running`` after the end, and
whether plain and published values agree at the end.

    .venv/bin/python benchmarks/soak.py --readers 50 --seconds 120 --restart-at 50 --json soak.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from graph_engine.client import GraphClient  # noqa: E402
from graph_engine.connect import connect  # noqa: E402
from graph_engine.enrich import Projection, pagerank_job  # noqa: E402
from graph_engine.runs import mark_abandoned  # noqa: E402
from graph_engine.server import ManagedNeo4j  # noqa: E402
from graph_engine.settings import Settings  # noqa: E402
from ingest.curated import load_graph  # noqa: E402
from ingest.demo import demo_files  # noqa: E402

PUBLISHED = (
    "MATCH (p:Published {property: 'pagerank'})\n"
    "WITH p.key AS key, p.run_key AS rk, p.run_id AS run\n"
    "MATCH (n) WHERE n[rk] = run RETURN count(n) AS n, collect(DISTINCT n[rk]) AS runs"
)
PLAIN = "MATCH (n) WHERE n.pagerank IS NOT NULL RETURN count(n) AS n, collect(DISTINCT n.pagerank_run) AS runs"
PUBLISHED_VALUES = (
    "MATCH (p:Published {property: 'pagerank'}) WITH p.key AS key, p.run_key AS rk, p.run_id AS run\n"
    "MATCH (n) WHERE n[rk] = run RETURN n.id AS id, n[key] AS v"
)
PLAIN_VALUES = "MATCH (n) WHERE n.pagerank IS NOT NULL RETURN n.id AS id, n.pagerank AS v"


def pct(xs: list[float], q: float) -> float | None:
    return float(np.percentile(xs, q)) if xs else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--readers", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--restart-at", type=float, default=50.0, help="seconds after the start; negative: no restart")
    ap.add_argument("--batch-size", type=int, default=200, help="write-back batch (nodes per transaction)")
    ap.add_argument("--nodes", type=Path, help="Hetionet nodes file (default: the demo graph)")
    ap.add_argument("--edges", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="medkg-soak-") as tmp:
        settings = Settings(home=Path(tmp) / "home", heap_size="1g", pagecache_size="256m", batch_size=args.batch_size)
        server = ManagedNeo4j(settings)
        user_lib = Settings.load().server_dir / "lib"
        if (user_lib / ".complete").exists():  # reuse provisioned jars
            server.root.mkdir(parents=True, exist_ok=True)
            server.lib.symlink_to(user_lib)
        info = server.start(timeout=600)
        try:
            out = soak(server, settings.with_overrides(uri=info.uri, password=info.password), args)
        finally:
            server.stop()
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


def write_loop(live: Settings, batch_size: int, stop: Any, results: Any) -> None:
    """Re-run pagerank_job (alternating damping) until ``stop``; put (succeeded/failed counts, error types)."""
    jobs: Counter = Counter()
    job_errors: Counter = Counter()
    with connect(live) as driver:
        g = GraphClient(driver, live.database, batch_size=batch_size)
        j = 0
        while not stop.is_set():
            try:
                pagerank_job(g, Projection(), damping=(0.85, 0.8)[j % 2])
                jobs["succeeded"] += 1
            except Exception as e:  # noqa: BLE001 - counted and reported
                jobs["failed"] += 1
                job_errors[type(e).__name__] += 1
                time.sleep(0.5)
            j += 1
    results.put((dict(jobs), dict(job_errors)))


def soak(server: ManagedNeo4j, live: Settings, args: argparse.Namespace) -> dict:
    nodes, edges = (args.nodes, args.edges) if args.nodes else demo_files()
    with connect(live) as driver:
        g = GraphClient(driver, live.database, batch_size=args.batch_size)
        g.ensure_schema()
        load_graph(g, "hetionet", nodes, edges, progress=False)
        first = pagerank_job(g, Projection())
        expected = g.read(PUBLISHED)[0]["n"]

        stop = threading.Event()
        t0 = time.monotonic()
        window: dict[str, float] = {}
        lat: dict[str, list[float]] = defaultdict(list)
        errors: dict[str, Counter] = defaultdict(Counter)
        counts: Counter = Counter()
        lock = threading.Lock()

        def in_window(t: float) -> bool:
            return "down" in window and window["down"] <= t <= window.get("up", float("inf")) + 5.0

        def reader(k: int) -> None:
            kinds = ("published", "plain", "top")
            i = k
            while not stop.is_set():
                kind = kinds[i % 3]
                i += 1
                start = time.monotonic()
                try:
                    if kind == "top":
                        g.top("Drug", "pagerank", 10)
                        res = None
                    else:
                        res = g.read(PUBLISHED if kind == "published" else PLAIN)[0]
                except Exception as e:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors[kind]["restart window" if in_window(start) else "outside"] += 1
                        errors[kind][type(e).__name__] += 1
                    time.sleep(0.2)
                    continue
                took = time.monotonic() - start
                with lock:
                    lat[kind].append(took)
                    counts[f"{kind} reads"] += 1
                    if res is not None and len(res["runs"]) > 1:
                        counts[f"{kind} mixed"] += 1
                    if kind == "published" and res is not None and res["n"] != expected:
                        counts["published incomplete"] += 1

        ctx = mp.get_context("spawn")  # the writer in its own process: 50 reader threads would starve it of the GIL
        writer_stop, results = ctx.Event(), ctx.Queue()
        writer = ctx.Process(target=write_loop, args=(live, args.batch_size, writer_stop, results), daemon=True)

        threads = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(args.readers)]
        writer.start()
        for t in threads:
            t.start()
        if args.restart_at >= 0:
            time.sleep(max(0.0, args.restart_at - (time.monotonic() - t0)))
            window["down"] = time.monotonic()
            server.stop()
            server.start(timeout=600)
            window["up"] = time.monotonic()
        time.sleep(max(0.0, args.seconds - (time.monotonic() - t0)))
        stop.set()
        writer_stop.set()
        for t in threads:
            t.join(timeout=300)
        jobs, job_errors = results.get(timeout=600)
        writer.join(timeout=60)

        mark_abandoned(g)
        left_running = g.read("MATCH (r:Run {status: 'running'}) RETURN count(r) AS n")[0]["n"]
        statuses = {r["s"]: r["n"] for r in g.read("MATCH (r:Run) RETURN r.status AS s, count(*) AS n")}
        end_pub = {r["id"]: r["v"] for r in g.read(PUBLISHED_VALUES)}
        end_plain = {r["id"]: r["v"] for r in g.read(PLAIN_VALUES)}
        return {
            "readers": args.readers, "seconds": args.seconds, "batch_size": args.batch_size,
            "graph_nodes_with_pagerank": expected, "first_run": first.run_id,
            "restart_seconds": (window["up"] - window["down"]) if "up" in window else None,
            "reads": {k: counts[f"{k} reads"] for k in ("published", "plain", "top")},
            "latency_s": {k: {"p50": pct(v, 50), "p95": pct(v, 95), "max": max(v) if v else None}
                          for k, v in lat.items()},
            "errors": {k: dict(v) for k, v in errors.items()},
            "mixed_reads": {"published": counts["published mixed"], "plain": counts["plain mixed"]},
            "published_incomplete_reads": counts["published incomplete"],
            "write_jobs": dict(jobs), "write_job_errors": dict(job_errors),
            "runs_by_status": statuses, "runs_left_running": left_running,
            "end_plain_equals_published": end_plain == end_pub,
            "load_average": os.getloadavg(),
        }


if __name__ == "__main__":
    main()
