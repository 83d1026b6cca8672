"""Benchmark medkg's PageRank / HITS / batched personalized PageRank against networkx and igraph.

Runs every engine in the same process on the same matrix and prints wall
times, ratios and the max abs difference of the scores. Not a test: no
assertion on time. Usage::

    .venv/bin/python benchmarks/scoring.py                      # all sizes + Hetionet
    .venv/bin/python benchmarks/scoring.py --sizes 1e5:1e6 --no-hetionet
    .venv/bin/python benchmarks/scoring.py --skip-networkx-above 2e6 --json out.json

Graphs: synthetic power-law digraphs (Chung-Lu style: endpoints drawn with
probability ~ rank^-(1/1.2) by inverse-CDF sampling, node ids shuffled; parallel
edges summed into weights), and the Hetionet sample in shared/data/hetionet.

Conventions: medkg stops on an absolute L1 change < tol (default 1e-6);
networkx stops at ``N * tol``, so it is given ``tol / N`` to converge as far;
igraph's PRPACK solves to its own fixed tolerance (~1e-10). Our time is the
whole ``pagerank()`` call (input checks, normalisation, transpose, iterations);
igraph's is its ``pagerank()`` call on a prebuilt Graph; networkx's is its
``pagerank()`` call on a prebuilt DiGraph (it converts to scipy internally).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph_engine.export import GraphTables, EdgeList  # noqa: E402
from graph_engine.scoring import hits, pagerank, personalized_pagerank, project  # noqa: E402


# --- graphs ------------------------------------------------------------------------------

def power_law_graph(n: int, m: int, seed: int = 0, skew: float = 1.2, dst_skew: float | None = None
                    ) -> sp.csr_matrix:
    """A directed power-law multigraph as CSR (float32, parallel edges summed).

    Endpoint ``i`` is drawn with probability ~ ``(i + 1) ** (-1 / skew)`` by
    inverse-CDF sampling (``floor(n * u ** (skew / (skew - 1)))``), then node ids
    are shuffled so hubs are spread over the index range, as in real exports.
    ``dst_skew`` (default ``skew``) skews the targets separately: 1.07 makes one giant in-hub.

    Shapes:
        result: ``(n, n)``, about ``m`` stored entries.
    """
    rng = np.random.default_rng(seed)
    power = skew / (skew - 1.0)
    perm = rng.permutation(n).astype(np.int32)
    dst_power = power if dst_skew is None else dst_skew / (dst_skew - 1.0)
    src = perm[np.minimum((n * rng.random(m, dtype=np.float32) ** power).astype(np.int64), n - 1)]
    dst = perm[np.minimum((n * rng.random(m, dtype=np.float32) ** dst_power).astype(np.int64), n - 1)]
    A = sp.csr_matrix((np.ones(m, np.float32), (src, dst)), shape=(n, n))
    A.sum_duplicates()
    return A


def hub_graph(n: int, m: int, seed: int = 0) -> sp.csr_matrix:
    """Hub-heavy family (issue 24): sources skew 1.5, targets skew 1.07. At 1e6 nodes / 5e6 draws:
    3.6M edges, one node with 695k in-edges, 78k dangling nodes."""
    return power_law_graph(n, m, seed=seed, skew=1.5, dst_skew=1.07)


def dangling_graph(n: int, m: int, seed: int = 0, share: float = 0.6) -> sp.csr_matrix:
    """Many dangling nodes: the power-law graph with the out-edges of a random ``share`` of nodes removed."""
    A = power_law_graph(n, m, seed=seed)
    keep = np.random.default_rng(seed + 1).random(n) >= share
    A = sp.csr_matrix(sp.diags(keep.astype(np.float32)) @ A)
    A.eliminate_zeros()
    A.sort_indices()  # canonical, like an export
    return A


FAMILIES: dict[str, Callable[[int, int], sp.csr_matrix]] = {
    "power-law": lambda n, m: power_law_graph(n, m, seed=0),
    "hub": lambda n, m: hub_graph(n, m, seed=0),
    "dangling": lambda n, m: dangling_graph(n, m, seed=0),
}


def read_hetionet(directory: Path) -> GraphTables:
    """Hetionet nodes TSV + edges SIF into GraphTables (labels PascalCase, types UPPER_SNAKE)."""
    kinds: dict[str, list[str]] = {}
    label_of: dict[str, str] = {}
    with open(directory / "hetionet-v1.0-nodes.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            node_id, _, kind = line.rstrip("\n").split("\t")
            label = kind.replace(" ", "")
            kinds.setdefault(label, []).append(node_id)
            label_of[node_id] = label
    rel_of: dict[str, str] = {}
    with open(directory / "metaedges.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            metaedge, abbrev = line.split("\t")[:2]
            verb = metaedge.replace(">", "-").split("-")[1].strip()
            rel_of[abbrev] = verb.upper().replace(" ", "_")
    tables = GraphTables(nodes={k: np.asarray(v, dtype=object) for k, v in kinds.items()})
    index = tables.index_maps()
    buckets: dict[tuple[str, str, str], tuple[list[int], list[int]]] = {}
    with gzip.open(directory / "hetionet-v1.0-edges-sample.sif.gz", "rt", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            s, metaedge, t = line.rstrip("\n").split("\t")
            key = (label_of[s], rel_of[metaedge], label_of[t])
            b = buckets.setdefault(key, ([], []))
            b[0].append(index[key[0]][s])
            b[1].append(index[key[2]][t])
    for key, (src, dst) in buckets.items():
        tables.edges[key] = EdgeList(np.asarray(src), np.asarray(dst))
    return tables


# --- helpers -----------------------------------------------------------------------------

def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def timed_cpu(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, float, Any]:
    """Best wall and best process-CPU seconds of ``repeat`` runs. On a machine shared by many jobs the
    CPU time is the steadier measure (it leaves out the time the process waited for a core)."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = min(wall, time.perf_counter() - w0), min(cpu, time.process_time() - c0)
    return wall, cpu, out


def to_igraph(A: sp.csr_matrix) -> Any:
    import igraph as ig

    coo = A.tocoo()
    g = ig.Graph(n=A.shape[0], edges=np.column_stack([coo.row, coo.col]), directed=True)
    g.es["weight"] = coo.data.astype(np.float64)
    return g


def to_networkx(A: sp.csr_matrix) -> Any:
    import networkx as nx

    return nx.from_scipy_sparse_array(A, create_using=nx.DiGraph)


def bandwidth_bound_gbs() -> float | None:
    """Peak device memory bandwidth in GB/s from torch's device properties, when it reports them."""
    import torch

    props = torch.cuda.get_device_properties(0)
    clock = getattr(props, "memory_clock_rate", None)  # kHz
    width = getattr(props, "memory_bus_width", None)  # bits
    if not clock or not width:
        return None
    return 2 * clock * 1e3 * width / 8 / 1e9


def fmt(x: float) -> str:
    return f"{x:8.3f}s" if x == x else "     n/a"


# --- benchmarks ----------------------------------------------------------------------------

def spmv_floor(A: sp.csr_matrix, reps: int = 10) -> float:
    """Median CPU seconds of one bare float32 ``A^T x`` (SciPy's kernel, no allocation): the per-iteration floor."""
    from graph_engine.scoring._common import spmm_t_into

    x = np.full((A.shape[0], 1), 1.0 / A.shape[0], np.float32)
    y = np.empty_like(x)
    ts = []
    for _ in range(reps):
        t0 = time.process_time()
        spmm_t_into(A, x, y)
        ts.append(time.process_time() - t0)
    return float(np.median(ts))


def bench_pagerank(A: sp.csr_matrix, name: str, args: argparse.Namespace, nx_rate: dict[str, float]) -> dict:
    import torch

    n, m = A.shape[0], A.nnz
    indeg = np.bincount(A.indices, minlength=n)
    dangling = int((np.diff(A.indptr) == 0).sum())
    row: dict[str, Any] = {"graph": name, "nodes": n, "edges": m, "max_in_degree": int(indeg.max()),
                           "dangling": dangling, "load_before": os.getloadavg()[0]}
    print(f"\n== PageRank on {name}: {n:,} nodes, {m:,} edges, max in-degree {indeg.max():,}, "
          f"{dangling:,} dangling (damping 0.85, tol {args.tol:g} L1; load average {os.getloadavg()[0]:.1f})")
    t32, c32, r32 = timed_cpu(lambda: pagerank(A, tol=args.tol, device="cpu", dtype=np.float32), args.repeat)
    floor = spmv_floor(A)
    import importlib

    from graph_engine.scoring._common import as_csr

    prm = importlib.import_module("graph_engine.scoring.pagerank")
    M = as_csr(A, np.dtype(np.float32))
    M64 = sp.csr_matrix((M.data.astype(np.float64), M.indices, M.indptr), shape=M.shape)
    floor64 = spmv_floor(M64)
    # what pagerank() runs on the CPU: the compiled point Gauss-Seidel sweeps on the float32 matrix as it is
    # (out-weights and checks inside the first sweep), or, without the extension, block sweeps in float64
    # timed on a float64 matrix (the float64 copy left out)
    c0 = time.process_time()
    engine = "point sweeps, C" if prm._gs_ext is not None else "block sweeps, f64 copy left out"
    run = prm._pagerank_gs_c(M, None, None, 0.85, args.tol, 100) if prm._gs_ext is not None else None
    its = (run or prm._pagerank_gs(M64, None, None, 0.85, args.tol, 100))[1]
    per_it = (time.process_time() - c0) / max(1, its)
    row.update(engine=engine, medkg_f32_cpu_s=c32, spmv_floor_ms=1e3 * floor, spmv_floor64_ms=1e3 * floor64, per_iter_ms=1e3 * per_it,
               per_iter_over_floor=per_it / floor, total_over_floor=c32 / floor)
    print(f"CPU time: bare SpMV (A^T x, median of 10) f32 {1e3 * floor:.2f} ms, f64 {1e3 * floor64:.2f} ms; medkg "
          f"{1e3 * per_it:.2f} ms/sweep ({engine}) = {per_it / floor:.2f}x the f32 floor; whole call "
          f"{c32:.3f}s = {c32 / floor:.1f} f32 SpMVs ({r32.iterations} sweeps)")
    t64, r64 = timed(lambda: pagerank(A, tol=args.tol, device="cpu", dtype=np.float64), args.repeat)
    tt, rt = timed(lambda: pagerank(A, tol=args.tol, device="cpu", backend="torch", dtype=np.float32), args.repeat)
    row.update(medkg_f32_s=t32, medkg_f32_iter_s=r32.seconds, medkg_f64_s=t64, medkg_torch_cpu_f32_s=tt,
               iterations=r32.iterations, converged=r32.converged)
    print(f"medkg scipy f32   {fmt(t32)}  (sweeps {r32.iterations}, loop {r32.seconds:.3f}s, "
          f"{r32.seconds / r32.iterations * 1e3:.1f} ms/iter, converged {r32.converged})")
    print(f"medkg scipy f64   {fmt(t64)}  (iterations {r64.iterations})")
    print(f"medkg torch-cpu f32 {fmt(tt)}  (threads {torch.get_num_threads()}, loop {rt.seconds:.3f}s)")
    best = min(t32, tt)
    if m > args.skip_igraph_above:
        print(f"igraph PRPACK     not run ({m:,} edges > --skip-igraph-above)")
    else:
        _pagerank_references(A, r32.scores, r64.scores, best, args, nx_rate, row)
    if torch_cuda():
        row.update(bench_gpu(A, args, r64.scores))
    return row


def _pagerank_references(A: sp.csr_matrix, s32: np.ndarray, s64: np.ndarray, best: float,
                         args: argparse.Namespace, nx_rate: dict[str, float], row: dict[str, Any]) -> None:
    """igraph PRPACK and networkx on the same matrix: times, ratios to ``best`` and max |diff| into ``row``."""
    n, m = A.shape[0], A.nnz
    tb, g = timed(lambda: to_igraph(A))
    ti, ci, pr_ig = timed_cpu(lambda: np.asarray(g.pagerank(damping=0.85, weights="weight",
                                                            implementation="prpack")), args.repeat)
    # interleaved: medkg again right after igraph, so both see the same load
    t_again, c_again, _ = timed_cpu(lambda: pagerank(A, tol=args.tol, device="cpu"), args.repeat)
    best = min(best, t_again)
    row.update(igraph_prpack_cpu_s=ci, medkg_again_cpu_s=c_again, ratio_igraph_cpu=ci / c_again)
    print(f"CPU time: igraph PRPACK {ci:.3f}s, medkg f32 (right after) {c_again:.3f}s -> {ci / c_again:.1f}x")
    d32, d64 = np.abs(s32 - pr_ig).max(), np.abs(s64 - pr_ig).max()
    row.update(igraph_prpack_s=ti, ratio_igraph=ti / best, maxdiff_igraph_f32=float(d32), maxdiff_igraph_f64=float(d64),
               max_score=float(pr_ig.max()), medkg_best_s=best, load_after=os.getloadavg()[0])
    print(f"igraph PRPACK     {fmt(ti)}  (graph build {tb:.2f}s not counted)  -> medkg is {ti / best:5.1f}x faster; "
          f"max|diff| f32 {d32:.2e}, f64 {d64:.2e} (largest score {pr_ig.max():.2e})")
    g = None  # free the igraph copy before the next engine
    if m <= args.skip_networkx_above:
        import networkx as nx

        tb, G = timed(lambda: to_networkx(A))
        tn, pr_nx = timed(lambda: nx.pagerank(G, alpha=0.85, tol=args.tol / n, max_iter=1000))
        v = np.fromiter((pr_nx[i] for i in range(n)), np.float64, n)
        dn = np.abs(s64 - v).max()
        nx_rate["pagerank"] = tn / m
        row.update(networkx_s=tn, ratio_networkx=tn / best, maxdiff_networkx_f64=float(dn), networkx_extrapolated=False)
        print(f"networkx          {fmt(tn)}  (graph build {tb:.2f}s not counted)  -> medkg is {tn / best:5.1f}x faster; "
              f"max|diff| f64 {dn:.2e}")
        del G
    elif "pagerank" in nx_rate:
        tn = nx_rate["pagerank"] * m
        row.update(networkx_s=tn, ratio_networkx=tn / best, networkx_extrapolated=True)
        print(f"networkx          {fmt(tn)}  EXTRAPOLATED linearly in edges from the smaller graph (not run: "
              f"{m:,} edges > --skip-networkx-above) -> medkg ~{tn / best:5.1f}x faster")


def torch_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def bench_gpu(A: sp.csr_matrix, args: argparse.Namespace, ref: np.ndarray) -> dict:
    """GPU PageRank: end to end, and split into copy-in (host -> device + transpose) and iterations.

    The end-to-end time includes copying the CSR arrays to the device and
    transposing there; the iteration time runs on a prepared operator; the
    SpMV row times ``P^T @ x`` alone (20 products) and gives its achieved
    bandwidth (CSR values + column indices + row pointers, gathered x, written y).
    """
    import torch

    from graph_engine.scoring._common import as_csr, torch_transition
    from graph_engine.scoring.pagerank import _run

    def synced(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            out = fn()
            torch.cuda.synchronize()
            return out
        return run

    pagerank(A, tol=args.tol, device="cuda")  # warm-up (context, cuSPARSE handles)
    torch.cuda.synchronize()
    tg, rg = timed(synced(lambda: pagerank(A, tol=args.tol, device="cuda")), args.repeat)
    n, m = A.shape[0], A.nnz
    M = as_csr(A, np.dtype(np.float32))
    tc, op = timed(synced(lambda: torch_transition(M, "cuda")), args.repeat)
    p = np.full((n, 1), 1.0 / n, np.float32)
    ti, out = timed(synced(lambda: _run(None, p, None, p.copy(), 0.85, args.tol, 100, "cuda", "torch", op=op)),
                    args.repeat)
    iters = int(out[1])
    x = torch.from_numpy(p[:, 0]).to("cuda")
    ts, _ = timed(synced(lambda: [op.PT @ x for _ in range(20)]), args.repeat)
    ts /= 20
    dg = float(np.abs(rg.scores - ref).max())
    bytes_spmv = m * (4 + 4) + (n + 1) * 4 + m * 4 + n * 4
    achieved = bytes_spmv / ts / 1e9
    peak = bandwidth_bound_gbs()
    print(f"medkg torch cuda  {fmt(tg)}  end to end; copy-in + out-weights + transpose {tc:.3f}s, {iters} iterations "
          f"{ti:.3f}s ({1e3 * ti / max(1, iters):.2f} ms/iter); SpMV alone {1e3 * ts:.3f} ms, {achieved:.0f} GB/s"
          + (f" = {100 * achieved / peak:.0f}% of {peak:.0f} GB/s peak" if peak else "")
          + f"; max|diff| vs CPU f64 {dg:.1e}")
    out_row = {"gpu_s": tg, "gpu_copy_in_s": tc, "gpu_iter_s": ti, "gpu_iterations": iters,
               "gpu_spmv_ms": 1e3 * ts, "gpu_spmv_gbs": achieved, "gpu_peak_gbs": peak,
               "gpu_maxdiff_vs_cpu_f64": dg}
    try:
        import cudf  # noqa: F401
        import cugraph

        coo = A.tocoo()
        df = cudf.DataFrame({"src": coo.row, "dst": coo.col, "w": coo.data})
        G = cugraph.Graph(directed=True)
        G.from_cudf_edgelist(df, source="src", destination="dst", edge_attr="w")
        tcg, _ = timed(lambda: cugraph.pagerank(G, alpha=0.85, tol=args.tol / n), args.repeat)
        out_row["cugraph_s"] = tcg
        print(f"cuGraph           {fmt(tcg)}")
    except ImportError:
        print("cuGraph           not installed")
    return out_row


def bench_hits(A: sp.csr_matrix, name: str, args: argparse.Namespace, nx_rate: dict[str, float]) -> dict:
    n, m = A.shape[0], A.nnz
    row: dict[str, Any] = {"graph": name, "nodes": n, "edges": m}
    print(f"\n== HITS on {name}")
    t32, r32 = timed(lambda: hits(A, tol=args.tol, device="cpu", dtype=np.float32), args.repeat)
    t64, r64 = timed(lambda: hits(A, tol=1e-10, max_iter=1000, device="cpu", dtype=np.float64), args.repeat)
    print(f"medkg scipy f32   {fmt(t32)}  (iterations {r32.iterations}, converged {r32.converged})")
    print(f"medkg scipy f64   {fmt(t64)}  (tol 1e-10, iterations {r64.iterations}, converged {r64.converged})")
    row.update(medkg_f32_s=t32, medkg_f64_s=t64, iterations=r32.iterations, converged=r32.converged)
    if torch_cuda():
        hits(A, tol=args.tol, device="cuda")  # warm-up
        tg, rg = timed(lambda: hits(A, tol=args.tol, device="cuda"), args.repeat)
        dg = float(np.abs(rg.hubs - r32.hubs).max())
        row.update(gpu_s=tg, gpu_maxdiff_vs_cpu=dg)
        print(f"medkg torch cuda  {fmt(tg)}  ({t32 / tg:.1f}x the CPU f32 run; iterations {rg.iterations}, "
              f"max|diff| hubs vs CPU f32 {dg:.1e})")
    if m > args.skip_igraph_above:
        print(f"igraph hub_score  not run ({m:,} edges > --skip-igraph-above)")
        return row
    tb, g = timed(lambda: to_igraph(A))
    ti, hub = timed(lambda: np.asarray(g.hub_score(weights="weight", scale=False)))
    hub = hub / hub.sum()
    d = np.abs(r64.hubs - hub).max()
    row.update(igraph_s=ti, ratio_igraph=ti / t32, maxdiff_igraph_f64=float(d))
    print(f"igraph hub_score  {fmt(ti)}  -> medkg f32 is {ti / t32:5.1f}x faster; max|diff| hubs f64 {d:.2e}")
    g = None  # free the igraph copy before the next engine
    if m <= args.skip_networkx_above:
        import networkx as nx

        tb, G = timed(lambda: to_networkx(A))
        tn, (h_nx, _) = timed(lambda: nx.hits(G, max_iter=1000, tol=1e-10))
        v = np.fromiter((h_nx[i] for i in range(n)), np.float64, n)
        dn = np.abs(r64.hubs - v).max()
        nx_rate["hits"] = tn / m
        row.update(networkx_s=tn, ratio_networkx=tn / t32, maxdiff_networkx_f64=float(dn))
        print(f"networkx hits     {fmt(tn)}  -> medkg f32 is {tn / t32:5.1f}x faster; max|diff| hubs f64 {dn:.2e}")
    elif "hits" in nx_rate:
        tn = nx_rate["hits"] * m
        row.update(networkx_s=tn, ratio_networkx=tn / t32, networkx_extrapolated=True)
        print(f"networkx hits     {fmt(tn)}  EXTRAPOLATED linearly in edges (not run) -> medkg ~{tn / t32:5.1f}x")
    return row


def bench_hetionet(directory: Path, args: argparse.Namespace, nx_rate: dict[str, float]) -> dict:
    import igraph as ig  # noqa: F401
    import networkx as nx

    t0 = time.perf_counter()
    tables = read_hetionet(directory)
    gm = project(tables, symmetric=True)
    print(f"\n== Hetionet sample: {tables.num_nodes:,} nodes, {tables.num_edges:,} edges, "
          f"{len(tables.edges)} triples (read + project {time.perf_counter() - t0:.2f}s)")
    out: dict[str, Any] = {"pagerank": bench_pagerank(project(tables).matrix, "hetionet (directed)", args, {}),
                           "hits": bench_hits(project(tables).matrix, "hetionet (directed)", args, {})}
    diseases = np.flatnonzero(gm.mask("Disease"))
    print(f"\n== Batched personalized PageRank: all {diseases.size} diseases as seeds, undirected Hetionet, top-100")
    tp, res = timed(lambda: personalized_pagerank(gm, diseases, k=100, tol=args.tol, device="cpu"), args.repeat)
    print(f"medkg batched f32 {fmt(tp)}  (iterations {res.iterations.min()}-{res.iterations.max()}, "
          f"all converged {res.converged.all()}, default block size)")
    tp64, res64 = timed(lambda: personalized_pagerank(gm, diseases, k=100, tol=1e-10, max_iter=1000,
                                                      device="cpu", dtype=np.float64))
    print(f"medkg batched f64 {fmt(tp64)}  (tol 1e-10)")
    gpu: dict[str, Any] = {}
    if torch_cuda():
        personalized_pagerank(gm, diseases, k=100, tol=args.tol, device="cuda")  # warm-up
        tg, resg = timed(lambda: personalized_pagerank(gm, diseases, k=100, tol=args.tol, device="cuda"), args.repeat)
        same = int((np.sort(resg.indices[:, :10], 1) == np.sort(res.indices[:, :10], 1)).all(1).sum())
        print(f"medkg batched cuda {fmt(tg)}  ({tp / tg:.1f}x the CPU f32 run; top-10 sets equal to the CPU's "
              f"for {same}/{diseases.size} seeds)")
        gpu = {"medkg_cuda_s": tg, "cuda_top10_same_as_cpu": same}
    g = to_igraph(sp.triu(gm.matrix).tocsr())  # each undirected edge once
    g.to_undirected(mode="each")
    ti, ig_scores = timed(lambda: [g.personalized_pagerank(reset_vertices=[int(d)], weights="weight",
                                                           damping=0.85) for d in diseases])
    agree, tie_only, maxdiff = 0, 0, 0.0
    for row, sc in enumerate(ig_scores):
        sc = np.asarray(sc)
        top = np.lexsort((np.arange(sc.size), -sc))[:10]
        same = set(top) == set(res64.indices[row, :10])
        agree += int(same)
        # a different member is only a tie if igraph's own scores of both top-10 lists agree
        tie_only += int(not same and np.abs(np.sort(sc[top]) - np.sort(sc[res64.indices[row, :10]])).max() < 1e-9)
        maxdiff = max(maxdiff, float(np.abs(res64.scores[row] - sc[res64.indices[row]]).max()))
    print(f"igraph per seed   {fmt(ti)}  ({diseases.size} calls) -> medkg f32 is {ti / tp:5.1f}x faster; "
          f"top-10 sets equal for {agree}/{diseases.size} seeds ({tie_only} of the others differ only among "
          f"exactly tied scores); max|diff| of top-100 scores (f64) {maxdiff:.2e}")
    G = nx.from_scipy_sparse_array(gm.matrix, create_using=nx.DiGraph)
    sample = diseases[: args.nx_seeds]
    tn, _ = timed(lambda: [nx.pagerank(G, personalization={int(d): 1.0}, tol=args.tol / gm.matrix.shape[0])
                           for d in sample])
    tn_all = tn / sample.size * diseases.size
    print(f"networkx per seed {fmt(tn_all)}  (EXTRAPOLATED from {sample.size} seeds x {diseases.size}) "
          f"-> medkg ~{tn_all / tp:5.1f}x faster")
    out["ppr"] = {"seeds": int(diseases.size), "medkg_s": tp, "medkg_f64_s": tp64, "igraph_s": ti,
                  "ratio_igraph": ti / tp, "networkx_s_extrapolated": tn_all, "top10_agree": agree,
                  "top10_tie_only": tie_only,
                  "maxdiff_f64": maxdiff, **gpu}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1e5:1e6,1e6:1e7",
                   help="comma-separated [FAMILY=]NODES:EDGES synthetic graphs; families: power-law (default), "
                        "hub (one giant in-hub: hub=1e6:5e6 is issue 24's), dangling (60%% of nodes dangling)")
    p.add_argument("--skip-networkx-above", type=float, default=2e6,
                   help="run networkx only on graphs with at most this many edges; extrapolate above")
    p.add_argument("--skip-igraph-above", type=float, default=2e8,
                   help="run igraph (and networkx) only on graphs with at most this many edges (PageRank and HITS)")
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--repeat", type=int, default=1, help="best of N runs for medkg timings")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--hetionet", type=Path, default=ROOT.parent / "shared" / "data" / "hetionet")
    p.add_argument("--no-hetionet", action="store_true")
    p.add_argument("--no-hits", action="store_true")
    p.add_argument("--nx-seeds", type=int, default=5, help="networkx PPR seeds timed before extrapolating")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    import igraph
    import networkx
    import scipy
    import torch

    torch.set_num_threads(args.threads)
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"torch {torch.__version__}, igraph {igraph.__version__}, networkx {networkx.__version__}; "
          f"{os.cpu_count()} CPUs; CUDA {'yes: ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no'}")
    results: dict[str, Any] = {"pagerank": [], "hits": []}
    nx_rate: dict[str, float] = {}
    for spec in args.sizes.split(","):
        if not spec:
            continue
        family, _, size = spec.rpartition("=")
        family = family or "power-law"
        if family not in FAMILIES:
            p.error(f"unknown graph family {family!r}; known: {', '.join(FAMILIES)}")
        n, m = (int(float(x)) for x in size.split(":"))
        t0 = time.perf_counter()
        A = FAMILIES[family](n, m)
        name = f"{family} {size}"
        print(f"\n(generated {family} graph {n:,} nodes / {m:,} draws in {time.perf_counter() - t0:.2f}s)")
        results["pagerank"].append(bench_pagerank(A, name, args, nx_rate))
        if not args.no_hits:
            results["hits"].append(bench_hits(A, name, args, nx_rate))
        del A
    if not args.no_hetionet:
        results["hetionet"] = bench_hetionet(args.hetionet, args, nx_rate)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
