"""Numerics on hub-heavy graphs (issue 24): float32 defaults converge to ``tol`` and agree with a float64
reference (igraph PRPACK, networkx), unconverged runs warn, on the scipy and the torch (GPU) code paths."""

from __future__ import annotations

import warnings

import igraph as ig
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import graph_engine.scoring._common as common
from graph_engine.errors import ConvergenceWarning, MedkgWarning
from graph_engine.scoring import hits, pagerank, personalized_pagerank
from tests.unit.test_scoring import BACKENDS, one_torch_thread  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.unit


def hub_graph(n: int = 60_000, m: int = 240_000, hub_in: int = 45_000, seed: int = 0) -> sp.csr_matrix:
    """A power-law digraph plus one giant hub (``hub_in`` in-edges) and ~10 % dangling nodes.

    The hub's in-edges come from random nodes in random order, as in an export; weights are
    the multiplicities of parallel edges (1-4).
    """
    rng = np.random.default_rng(seed)
    src = np.minimum((n * rng.random(m) ** 3.0).astype(np.int64), n - 1)  # skewed out-degrees
    dst = np.minimum((n * rng.random(m) ** 4.0).astype(np.int64), n - 1)  # skewed in-degrees
    hub = int(rng.integers(n))
    hs = rng.choice(n, hub_in, replace=False)
    src, dst = np.r_[src, hs], np.r_[dst, np.full(hub_in, hub)]
    perm = rng.permutation(n)
    A = sp.csr_matrix((np.ones(src.size, np.float32), (perm[src], perm[dst])), shape=(n, n))
    A.sum_duplicates()
    dangling = rng.choice(n, n // 10, replace=False)  # drop the out-edges of 10 % of the nodes
    keep = np.ones(n, np.float32)
    keep[dangling] = 0
    A = sp.csr_matrix(sp.diags(keep) @ A, dtype=np.float32)
    A.eliminate_zeros()
    return A


@pytest.fixture(scope="module")
def hub() -> sp.csr_matrix:
    return hub_graph()


@pytest.fixture(scope="module")
def prpack(hub: sp.csr_matrix) -> np.ndarray:
    coo = hub.tocoo()
    g = ig.Graph(n=hub.shape[0], edges=np.column_stack([coo.row, coo.col]), directed=True)
    g.es["weight"] = coo.data.astype(np.float64)
    return np.asarray(g.pagerank(damping=0.85, weights="weight", implementation="prpack"))


def test_the_hub_graph_is_hub_heavy(hub):
    indeg = np.bincount(hub.indices, minlength=hub.shape[0])
    assert indeg.max() > 40_000 > 1_000 * np.median(indeg[indeg > 0])
    assert (np.diff(hub.indptr) == 0).sum() >= hub.shape[0] // 10


@pytest.mark.parametrize("be", BACKENDS)
def test_default_pagerank_converges_on_a_giant_hub(hub, prpack, be):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        r = pagerank(hub, backend=be[0], device=be[1])  # defaults: float32, tol 1e-6
    r64 = pagerank(hub, backend=be[0], device=be[1], dtype=np.float64)
    assert r.scores.dtype == np.float32
    assert r.converged and r.residual < 1e-6 and r.iterations <= r64.iterations + 2
    assert np.abs(r.scores - prpack).max() < 1e-6
    assert abs(r.scores.sum(dtype=np.float64) - 1.0) < 1e-6


def test_without_float64_hub_sums_float32_is_wrong(hub, prpack, monkeypatch):
    """The float32 power iteration (batched PPR; here one seed row of uniform weights, i.e. plain
    PageRank) with the float64 hub sums switched off: the plain float32 kernel's sequential hub sum
    misses PRPACK by far more than tol (the bug of issue 24). With them, and in ``pagerank`` (float64
    Gauss-Seidel, which does not need them), it is within 1e-6."""
    n = hub.shape[0]
    uniform = np.full((1, n), 1.0)
    ppr = personalized_pagerank(hub, uniform, k=n, device="cpu")
    assert np.abs(ppr.scores[0] - prpack[ppr.indices[0]]).max() < 1e-6
    monkeypatch.setattr(common, "F64_ABOVE", 10**9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ppr = personalized_pagerank(hub, uniform, k=n, device="cpu")
        r = pagerank(hub, device="cpu")
    assert np.abs(ppr.scores[0] - prpack[ppr.indices[0]]).max() > 1e-5
    assert r.converged and np.abs(r.scores - prpack).max() < 1e-6


@pytest.mark.parametrize("be", BACKENDS)
def test_hub_pagerank_with_personalization_matches_networkx(be):
    A = hub_graph(n=8_000, m=30_000, hub_in=6_000, seed=3)
    n = A.shape[0]
    pers = np.random.default_rng(1).uniform(size=n) ** 4
    G = nx.from_scipy_sparse_array(A.astype(np.float64), create_using=nx.DiGraph)
    ref = np.array([v for _, v in sorted(nx.pagerank(G, personalization=dict(enumerate(pers)),
                                                     tol=1e-14, max_iter=1000).items())])
    r = pagerank(A, personalization=pers, backend=be[0], device=be[1])
    assert r.converged and np.abs(r.scores - ref).max() < 1e-6


@pytest.mark.parametrize("be", BACKENDS)
def test_batched_ppr_on_a_giant_hub_matches_float64(hub, be):
    seeds = np.random.default_rng(2).choice(hub.shape[0], 12, replace=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        r = personalized_pagerank(hub, seeds, k=50, backend=be[0], device=be[1])
    ref = personalized_pagerank(hub, seeds, k=hub.shape[0], dtype=np.float64, tol=1e-12, max_iter=1000,
                                device="cpu")
    assert r.converged.all()
    full = np.zeros((len(seeds), hub.shape[0]))
    full[np.arange(len(seeds))[:, None], ref.indices] = ref.scores
    got = np.take_along_axis(full, r.indices, axis=1)
    assert np.abs(r.scores - got).max() < 1e-6  # the top-50 scores, against float64
    assert np.abs(ref.scores.sum(axis=1) - 1).max() < 1e-9


@pytest.mark.parametrize("be", BACKENDS)
def test_hits_on_a_giant_hub_matches_igraph(hub, be):
    A = hub.copy()
    # a giant out-hub too: one node pointing at 30k others (A x sums over its row)
    rng = np.random.default_rng(5)
    out_hub, targets = int(rng.integers(A.shape[0])), rng.choice(A.shape[0], 30_000, replace=False)
    A = sp.csr_matrix(A + sp.csr_matrix((np.ones(targets.size, np.float32), (np.full(targets.size, out_hub),
                                                                                targets)), shape=A.shape))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        r = hits(A, backend=be[0], device=be[1], tol=1e-7, max_iter=500)
    coo = A.tocoo()
    g = ig.Graph(n=A.shape[0], edges=np.column_stack([coo.row, coo.col]), directed=True)
    g.es["weight"] = coo.data.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # igraph: "more than 30 % of the scores are zero"
        hub_ref = np.asarray(g.hub_score(weights="weight", scale=False))
        auth_ref = np.asarray(g.authority_score(weights="weight", scale=False))
    hub_ref, auth_ref = hub_ref / hub_ref.sum(), auth_ref / auth_ref.sum()
    assert r.converged
    assert np.abs(r.hubs - hub_ref).max() < 1e-6
    assert np.abs(r.authorities - auth_ref).max() < 1e-6


@pytest.mark.parametrize("be", BACKENDS)
def test_unconverged_runs_warn(be):
    A = hub_graph(n=3_000, m=10_000, hub_in=2_000, seed=4)
    kw = dict(backend=be[0], device=be[1], max_iter=2, tol=1e-12)
    with pytest.warns(ConvergenceWarning, match=r"pagerank did not converge: L1 change .* after 2 iterations"):
        assert not pagerank(A, **kw).converged
    seeds = np.flatnonzero(np.diff(A.indptr))[:3]  # not dangling: they need more than one iteration
    with pytest.warns(ConvergenceWarning, match=r"3 of 3 seeds"):
        assert not personalized_pagerank(A, seeds, k=5, **kw).converged.any()
    with pytest.warns(ConvergenceWarning, match=r"hits did not converge"):
        assert not hits(A, **kw).converged
    assert issubclass(ConvergenceWarning, MedkgWarning) and issubclass(ConvergenceWarning, RuntimeWarning)


def test_converged_runs_do_not_warn():
    A = hub_graph(n=3_000, m=10_000, hub_in=2_000, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pagerank(A, device="cpu").converged
        assert personalized_pagerank(A, [0, 1], k=5, device="cpu").converged.all()


def test_heavy_lines_are_found_and_exact():
    """Columns with more in-edges than the threshold are found from the strided sample, and their
    float64 sums equal an independent float64 product."""
    rng = np.random.default_rng(0)
    n = 5_000
    src = rng.integers(0, n, 40_000)
    dst = rng.integers(0, n, 40_000)
    src, dst = np.r_[src, np.arange(n)], np.r_[dst, np.full(n, 17)]  # node 17: 5k+ in-edges
    A = sp.csr_matrix((rng.uniform(0.1, 2, src.size).astype(np.float32), (src, dst)), shape=(n, n))
    h = common.heavy_columns(A, threshold=1024)
    assert h is not None and 17 in h.index.tolist()
    assert common.heavy_columns(A, threshold=10**6) is None
    assert common.heavy_columns(A.astype(np.float64)) is None  # float64 needs no help
    x = rng.uniform(size=(n, 2)).astype(np.float32)
    out = np.zeros((n, 2), np.float32)
    h.fix(x, out)
    ref = A.astype(np.float64).T @ x.astype(np.float64)
    assert np.abs(out[h.index] - ref[h.index]).max() <= 1e-7 * np.abs(ref[h.index]).max()
    rows = common.heavy_rows(A.T.tocsr(), threshold=1024)
    assert rows is not None and rows.index.tolist() == [17]


def test_recommend_walks_sum_hubs_in_float64(hub):
    """The fixed-step PPR walks recommend uses (graph_engine.scoring.walk, plain and several dampings)
    on a giant hub: float32 results within 1e-6 of the same walk in float64, and far from it without
    the float64 hub sums."""
    from graph_engine.scoring.walk import ppr_walk, ppr_walk_dampings, walk_operator

    sym = sp.csr_matrix(hub + hub.T)
    seeds = np.zeros((sym.shape[0], 3), np.float32)
    seeds[np.random.default_rng(0).choice(sym.shape[0], 3, replace=False), np.arange(3)] = 1
    pt, dangling, heavy = walk_operator(sym)
    assert heavy is not None and heavy.index.size >= 1
    pt64 = pt.astype(np.float64)
    ref = {al: seeds.astype(np.float64) for al in (0.15, 0.5)}
    for al in ref:
        r = seeds.astype(np.float64)
        for _ in range(30):
            r = al * seeds + (1 - al) * (pt64 @ r + seeds * r[dangling].sum(axis=0, keepdims=True))
        ref[al] = r
    got = ppr_walk(sym, seeds, damping=0.85, max_iter=30, tol=0.0)
    assert np.abs(got - ref[0.15]).max() < 1e-6
    for al, w in zip((0.15, 0.5), ppr_walk_dampings(sym, seeds, (0.85, 0.5), 30)):
        assert np.abs(w - ref[al]).max() < 1e-6
    plain = seeds.copy()
    for _ in range(30):
        plain = 0.15 * seeds + 0.85 * (pt @ plain + seeds * plain[dangling].sum(axis=0, keepdims=True))
    assert np.abs(plain - ref[0.15]).max() > 1e-6  # scipy's float32 row sums alone: the error fixed here
