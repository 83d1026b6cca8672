"""Ingest throughput: online idempotent path vs bulk neo4j-admin import.

Generates a Hetionet-size graph (47,031 nodes with Hetionet's kind counts and
2.25M relationships with its metaedge mix, skewed degrees) in Hetionet format,
then on a throwaway managed Neo4j server:

1. bulk path: ``neo4j-admin database import`` into an empty database (``--bulk``);
2. online path, first load into an empty database (MERGE, batched);
3. online path, second load of the same files (idempotent: nothing changes);
4. the shared Hetionet sample (if ``../shared/data/hetionet`` exists), online.

    python benchmarks/ingest.py [--edges 2250197] [--batch-size 10000] [--skip-online]

Online comparison (row path = the reference, column path = the default), on
``--random-edges`` seeded random relationships over the real Hetionet nodes file,
first load into an empty database then reload, with graph fingerprints:

    python benchmarks/ingest.py --hetionet-nodes ../shared/data/hetionet/hetionet-v1.0-nodes.tsv \
        --random-edges 500000 --batch-size 50000

Prints nodes/s and relationships/s for each and the load average, so numbers
taken on a busy machine can be recognised as such.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from graph_engine import cypher  # noqa: E402
from graph_engine.client import GraphClient  # noqa: E402
from graph_engine.connect import connect  # noqa: E402
from graph_engine.server import ManagedNeo4j  # noqa: E402
from graph_engine.settings import Settings  # noqa: E402
from ingest.curated import HetionetFormat, bulk_load_graph, load_graph  # noqa: E402

KIND_COUNTS = {
    "Anatomy": 402, "Biological Process": 11381, "Cellular Component": 1391, "Compound": 1552,
    "Disease": 137, "Gene": 20945, "Molecular Function": 2884, "Pathway": 1822,
    "Pharmacologic Class": 345, "Side Effect": 5734, "Symptom": 438,
}
METAEDGE_COUNTS = {
    "AdG": 102240, "AeG": 526407, "AuG": 97848, "CbG": 11571, "CcSE": 138944, "CdG": 21102, "CpD": 390,
    "CrC": 6486, "CtD": 755, "CuG": 18756, "DaG": 12623, "DdG": 7623, "DlA": 3602, "DpS": 3357, "DrD": 543,
    "DuG": 7731, "GcG": 61690, "GiG": 147164, "GpBP": 559504, "GpCC": 73566, "GpMF": 97222, "GpPW": 84372,
    "Gr>G": 265672, "PCiC": 1029,
}
LOCAL_ID = {
    "Anatomy": "UBERON:{:07d}", "Biological Process": "GO:{:07d}", "Cellular Component": "GO:1{:06d}",
    "Compound": "DB{:05d}", "Disease": "DOID:{}", "Gene": "{}", "Molecular Function": "GO:2{:06d}",
    "Pathway": "PC7_{}", "Pharmacologic Class": "N{:010d}", "Side Effect": "C{:07d}", "Symptom": "D{:06d}",
}


def generate(out: Path, n_edges: int, seed: int = 0) -> tuple[Path, Path]:
    """Write a synthetic Hetionet-format graph; degrees follow a Zipf-like law."""
    rng = np.random.default_rng(seed)
    ids = {k: [f"{k}::{LOCAL_ID[k].format(i + 1)}" for i in range(n)] for k, n in KIND_COUNTS.items()}
    nodes = out / "synthetic-nodes.tsv"
    with open(nodes, "w", encoding="utf-8") as fh:
        fh.write("id\tname\tkind\n")
        for kind, names in ids.items():
            for i, hid in enumerate(names):
                fh.write(f"{hid}\t{kind} {i + 1}\t{kind}\n")
    het = HetionetFormat()
    total = sum(METAEDGE_COUNTS.values())
    edges = out / "synthetic-edges.sif.gz"
    with gzip.open(edges, "wt", encoding="utf-8", compresslevel=1) as fh:
        fh.write("source\tmetaedge\ttarget\n")
        for metaedge, count in METAEDGE_COUNTS.items():
            s_kind, _, t_kind = het.mapping.metaedges[metaedge]
            want = max(1, round(count * n_edges / total))
            ns, nt = KIND_COUNTS[s_kind], KIND_COUNTS[t_kind]
            want = min(want, ns * nt - (ns if s_kind == t_kind else 0))
            pairs: set[tuple[int, int]] = set()
            while len(pairs) < want:
                k = int((want - len(pairs)) * 1.3) + 16
                # skewed endpoints: power-law ranks mapped onto a random permutation of nodes
                s = np.minimum((rng.pareto(1.2, k) * ns / 20).astype(np.int64), ns - 1)
                t = rng.integers(0, nt, k)
                for a, b in zip(s.tolist(), t.tolist()):
                    if (s_kind != t_kind or a != b) and len(pairs) < want:
                        pairs.add((a, b))
            sid, tid = ids[s_kind], ids[t_kind]
            fh.writelines(f"{sid[a]}\t{metaedge}\t{tid[b]}\n" for a, b in sorted(pairs))
    return nodes, edges


def generate_over_nodes(nodes: Path, out: Path, n_edges: int, seed: int = 0) -> Path:
    """Write ``n_edges`` distinct random Hetionet-format relationships over a real Hetionet nodes file.

    The metaedge mix is Hetionet's (``METAEDGE_COUNTS`` scaled to ``n_edges``); sources follow a
    Pareto law (hubs), targets are uniform; pairs are unique per metaedge and self-loops excluded.
    Seeded: the same ``seed`` writes the same file.
    """
    rng = np.random.default_rng(seed)
    by_kind: dict[str, list[str]] = {}
    with open(nodes, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            hid, _, kind = line.rstrip("\n").split("\t")
            by_kind.setdefault(kind, []).append(hid)
    het = HetionetFormat()
    total = sum(METAEDGE_COUNTS.values())
    edges = out / f"random-{n_edges}-seed{seed}-edges.sif.gz"
    with gzip.open(edges, "wt", encoding="utf-8", compresslevel=1) as fh:
        fh.write("source\tmetaedge\ttarget\n")
        for metaedge, count in METAEDGE_COUNTS.items():
            s_kind, _, t_kind = het.mapping.metaedge(metaedge)
            sid, tid = by_kind[s_kind], by_kind[t_kind]
            ns, nt = len(sid), len(tid)
            want = min(max(1, round(count * n_edges / total)), ns * nt - (ns if s_kind == t_kind else 0))
            perm = rng.permutation(ns)  # which real nodes are the hubs
            codes = np.empty(0, dtype=np.int64)
            while len(codes) < want:
                k = int((want - len(codes)) * 1.3) + 16
                s = perm[np.minimum((rng.pareto(1.2, k) * ns / 20).astype(np.int64), ns - 1)]
                t = rng.integers(0, nt, k)
                keep = (s != t) if s_kind == t_kind else np.ones(k, dtype=bool)
                codes = np.unique(np.concatenate([codes, s[keep] * nt + t[keep]]))
            codes = rng.permutation(codes)[:want]  # unbiased subset, random order
            fh.writelines(f"{sid[c // nt]}\t{metaedge}\t{tid[c % nt]}\n" for c in codes.tolist())
    return edges


def wipe(driver, database: str) -> None:
    """Empty the database: relationships first in batches (hubs would not fit one transaction), then nodes."""
    with driver.session(database=database) as ses:
        ses.run(cypher.DELETE_ALL_RELATIONSHIPS).consume()
        ses.run(cypher.DELETE_ALL_NODES).consume()


def counts(settings: Settings) -> tuple[int, int]:
    with connect(settings) as d:
        g = GraphClient(d, settings.database)
        return (g.read("MATCH (n) RETURN count(n) AS n")[0]["n"], g.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"])


class RowPathClient(GraphClient):
    """The client without the column path: the loader falls back to the row path (the reference)."""

    column_writer = None  # type: ignore[assignment]


def fingerprint(settings: Settings) -> tuple[int, str]:
    """Relationship count and a hash of every (type, start id, end id, sources) — equal graphs, equal hashes."""
    import hashlib

    h = hashlib.sha256()
    rows = []
    with connect(settings) as d, d.session(database=settings.database) as s:
        for r in s.run("MATCH (a)-[r]->(b) RETURN type(r) AS t, a.id AS s, b.id AS o, r.sources AS src"):
            rows.append(f"{r['t']}|{r['s']}|{r['o']}|{r['src']}")
    for row in sorted(rows):
        h.update(row.encode())
    return len(rows), h.hexdigest()[:16]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of this process and of process ``pid`` (the Neo4j server)."""
    import psutil

    t = os.times()
    c = psutil.Process(pid).cpu_times()
    return t.user + t.system + c.user + c.system


def online_compare(args: argparse.Namespace) -> dict:
    """Row path (reference) vs column path, first load into an empty database and reload, same server.

    A small warm-up load through both paths runs first (the server's query compilation and JIT
    would otherwise be charged to whichever path runs first). Besides wall time, the CPU seconds
    of this process plus the Neo4j server are reported: on a machine shared with other work,
    relationships per CPU-second is the figure that does not depend on how busy the cores are.
    """
    out: dict = {"load_average_start": os.getloadavg(), "edges_requested": args.random_edges}
    with tempfile.TemporaryDirectory(prefix="medkg-bench-") as tmp:
        tmp_path = Path(tmp)
        edges = generate_over_nodes(args.hetionet_nodes, tmp_path, args.random_edges, seed=args.seed)
        warm = generate_over_nodes(args.hetionet_nodes, tmp_path, 20_000, seed=args.seed + 1000)
        kw = {k: v for k, v in (("heap_size", args.heap), ("pagecache_size", args.pagecache)) if v}
        settings = Settings(home=tmp_path / "home", batch_size=args.batch_size, **kw)
        server = ManagedNeo4j(settings)
        user_lib = Settings.load().server_dir / "lib"
        if (user_lib / ".complete").exists():
            server.root.mkdir(parents=True, exist_ok=True)
            server.lib.symlink_to(user_lib)
        try:
            info = server.start()
            live = settings.with_overrides(uri=info.uri, password=info.password)
            pid = info.pid
            with connect(live) as d:
                GraphClient(d, settings.database).ensure_schema()
                for cls in (GraphClient, RowPathClient):  # warm-up, not timed
                    wipe(d, settings.database)
                    load_graph(cls(d, settings.database, batch_size=args.batch_size), "hetionet", args.hetionet_nodes,
                               warm, progress=False, batch_size=args.batch_size)
                for rep in range(args.repeat):
                    for name, cls in (("column", GraphClient), ("row", RowPathClient)):
                        if name == "row" and args.skip_row:
                            continue
                        g = cls(d, settings.database, batch_size=args.batch_size)
                        wipe(d, settings.database)
                        for phase in ("first", "reload"):
                            la = os.getloadavg()[0]
                            c = cpu_seconds(pid)
                            t = time.perf_counter()
                            s = load_graph(g, "hetionet", args.hetionet_nodes, edges, progress=False,
                                           batch_size=args.batch_size)
                            dt = time.perf_counter() - t
                            cpu = cpu_seconds(pid) - c
                            n_rel = sum(c.written for c in s.edges.values())
                            n_node = sum(c.written for c in s.nodes.values())
                            assert s.balanced() and s.rejected == 0
                            row = {"seconds": dt, "nodes": n_node, "relationships": n_rel, "rels_per_s": n_rel / dt,
                                   "cpu_seconds": cpu, "rels_per_cpu_s": n_rel / cpu,
                                   "load1": la, "counts": counts(live), "fingerprint": fingerprint(live)[1]}
                            out[f"{name}_{phase}_{rep}"] = row
                            print(f"{name:6} {phase:6} rep {rep}: {dt:6.1f}s  {n_node} nodes + {n_rel} rels  "
                                  f"{n_rel / dt:8,.0f} rels/s  CPU {cpu:6.1f}s {n_rel / cpu:8,.0f} rels/CPU-s  counts {row['counts']}  graph {row['fingerprint']}  "
                                  f"load1 {la:.1f}", flush=True)
        finally:
            server.stop()
    out["load_average_end"] = os.getloadavg()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edges", type=int, default=sum(METAEDGE_COUNTS.values()))
    ap.add_argument("--batch-size", type=int, default=10000)
    ap.add_argument("--skip-online", action="store_true", help="only the bulk path")
    ap.add_argument("--heap", default="2g")
    ap.add_argument("--pagecache", default="2g")
    ap.add_argument("--json", type=Path, default=None, help="also write results as JSON")
    ap.add_argument("--hetionet-nodes", type=Path, default=None,
                    help="online comparison mode: random relationships over this real Hetionet nodes file")
    ap.add_argument("--random-edges", type=int, default=500_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--skip-row", action="store_true", help="comparison mode: the column path only")
    args = ap.parse_args()
    if args.hetionet_nodes is not None:
        if args.heap == "2g" and args.pagecache == "2g":  # comparison mode: the managed server's defaults
            args.heap = args.pagecache = None
        res = online_compare(args)
        print(f"load average start {res['load_average_start']}, end {res['load_average_end']}")
        if args.json:
            args.json.write_text(json.dumps(res, indent=2))
        return

    results: dict[str, dict] = {"load_average_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="medkg-bench-") as tmp:
        tmp_path = Path(tmp)
        settings = Settings(home=tmp_path / "home", heap_size=args.heap, pagecache_size=args.pagecache,
                            batch_size=args.batch_size)
        server = ManagedNeo4j(settings)
        user_lib = Settings.load().server_dir / "lib"
        if (user_lib / ".complete").exists():  # reuse provisioned jars
            server.root.mkdir(parents=True, exist_ok=True)
            server.lib.symlink_to(user_lib)
        t0 = time.perf_counter()
        nodes, edges = generate(tmp_path, args.edges)
        print(f"generated synthetic graph in {time.perf_counter() - t0:.1f}s: {nodes.name}, {edges.name}")
        try:
            # 1. bulk
            t_cpu = os.times()
            s = bulk_load_graph(settings, "hetionet", nodes, edges, progress=False, force=True)
            t_cpu2 = os.times()
            own_cpu = t_cpu2.user + t_cpu2.system - t_cpu.user - t_cpu.system
            admin_cpu = t_cpu2.children_user + t_cpu2.children_system - t_cpu.children_user - t_cpu.children_system
            info = server.running()
            live = settings.with_overrides(uri=info.uri, password=info.password)
            n_nodes, n_rels = counts(live)
            results["bulk"] = {"seconds": s.seconds, "nodes": n_nodes, "relationships": n_rels,
                               "rels_per_s": n_rels / s.seconds, "phases": s.phases}
            results["bulk"].update(own_cpu_s=own_cpu, admin_cpu_s=admin_cpu)
            print("  phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in s.phases.items()))
            print(f"  our validation + CSV: {s.phases['validate_and_write_csv']:.1f}s wall = "
                  f"{s.phases['validate_and_write_csv'] / s.phases['neo4j_admin_import']:.0%} of the import's "
                  f"{s.phases['neo4j_admin_import']:.1f}s; CPU: this process {own_cpu:.1f}s (validation, CSV, client), "
                  f"neo4j-admin {admin_cpu:.1f}s -> {own_cpu / admin_cpu:.0%}" if admin_cpu else "")
            print(f"bulk (neo4j-admin import, incl. validation, stop/start, schema): {s.seconds:.1f}s "
                  f"-> {n_nodes} nodes, {n_rels} rels, {n_rels / s.seconds:,.0f} rels/s")
            if not args.skip_online:
                with connect(live) as d:
                    g = GraphClient(d, settings.database, batch_size=args.batch_size)
                    # 3. idempotent re-load over the bulk-loaded graph
                    t = time.perf_counter()
                    s2 = load_graph(g, "hetionet", nodes, edges, progress=True, batch_size=args.batch_size)
                    dt = time.perf_counter() - t
                    results["online_reload"] = {"seconds": dt, "rels_per_s": n_rels / dt, "nodes_per_s": n_nodes / dt}
                    print(f"online re-load (idempotent MERGE, nothing changes): {dt:.1f}s, "
                          f"{s2.written - n_nodes:,} rels -> {(s2.written - n_nodes) / dt:,.0f} rows/s")
                    assert counts(live) == (n_nodes, n_rels)
                    # 2. online first load into an empty database
                    wipe(d, settings.database)
                    t = time.perf_counter()
                    s3 = load_graph(g, "hetionet", nodes, edges, progress=True, batch_size=args.batch_size)
                    dt = time.perf_counter() - t
                    node_s = sum(c.written for c in s3.nodes.values())
                    rel_s = sum(c.written for c in s3.edges.values())
                    results["online_first"] = {"seconds": dt, "nodes": node_s, "relationships": rel_s,
                                               "rows_per_s": (node_s + rel_s) / dt}
                    print(f"online first load (MERGE into empty db): {dt:.1f}s, {node_s} nodes + {rel_s} rels "
                          f"-> {(node_s + rel_s) / dt:,.0f} rows/s")
                    shared = REPO.parent / "shared" / "data" / "hetionet"
                    if shared.exists():
                        wipe(d, settings.database)
                        t = time.perf_counter()
                        s4 = load_graph(g, "hetionet", shared / "hetionet-v1.0-nodes.tsv",
                                        shared / "hetionet-v1.0-edges-sample.sif.gz", progress=False,
                                        batch_size=args.batch_size)
                        dt = time.perf_counter() - t
                        results["shared_sample_online"] = {"seconds": dt, "rows": s4.written, "rows_per_s": s4.written / dt}
                        print(f"shared Hetionet sample online: {dt:.1f}s for {s4.written} rows -> {s4.written / dt:,.0f} rows/s")
        finally:
            server.stop()
    results["load_average_end"] = os.getloadavg()
    print(f"load average start {results['load_average_start']}, end {results['load_average_end']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
