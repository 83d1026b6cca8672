"""The block Gauss-Seidel PageRank of the scipy back end (``graph_engine.scoring.pagerank._pagerank_gs``, the
fallback of the compiled point sweeps, ``tests/unit/test_pagerank_c.py``):
same fixed point and stopping rule as the power iteration (one block *is* the power iteration), fewer
sweeps with blocks, accurate against float64 references on hub-heavy graphs, never silently unconverged."""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import importlib
from graph_engine.errors import ConvergenceWarning
from graph_engine.scoring import pagerank
from graph_engine.scoring._common import as_csr, transition
from tests.unit.test_scoring import random_graph
from tests.unit.test_scoring_hubs import hub_graph

prm = importlib.import_module("graph_engine.scoring.pagerank")  # the package re-exports the function

pytestmark = pytest.mark.unit


def power_step(A: sp.csr_matrix, x: np.ndarray, alpha: float, p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One float64 power step ``G(x)``, written independently of the library (dense-ish scipy algebra)."""
    A = sp.csr_matrix(A, dtype=np.float64)
    out = np.asarray(A.sum(axis=1)).ravel()
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    return alpha * (A.T @ (x * inv)) + alpha * x[out == 0].sum() * u + (1 - alpha) * p


def reference(A: sp.csr_matrix, alpha: float = 0.85, p: np.ndarray | None = None, u: np.ndarray | None = None,
              tol: float = 1e-15) -> np.ndarray:
    """Float64 power iteration to ``tol`` (L1), independent of the library."""
    n = A.shape[0]
    p = np.full(n, 1.0 / n) if p is None else p / p.sum()
    u = p if u is None else u / u.sum()
    x = np.full(n, 1.0 / n)
    for _ in range(10_000):
        y = power_step(A, x, alpha, p, u)
        if np.abs(y - x).sum() < tol:
            return y
        x = y
    raise AssertionError("reference did not converge")


@pytest.fixture(scope="module")
def hub() -> sp.csr_matrix:
    return hub_graph(n=20_000, m=80_000, hub_in=15_000, seed=1)


@pytest.fixture(scope="module")
def hub_ref(hub: sp.csr_matrix) -> np.ndarray:
    return reference(hub)


def test_one_block_is_the_power_iteration(hub):
    """With one block a sweep is a power step: the same iteration count and scores as the power iteration."""
    M = as_csr(hub, np.dtype(np.float32))
    n = M.shape[0]
    x0 = np.full((n, 1), 1.0 / n)
    x, its, res, first = prm._run_scipy(transition(M.astype(np.float64)), x0, None, x0.copy(), 0.85, 1e-9, 500)
    y, sweeps, gs_res, ok = prm._pagerank_gs(M, None, None, 0.85, 1e-9, 500, blocks=1)
    assert ok and first[0] == its == sweeps
    assert np.abs(y - x[:, 0]).max() < 1e-14
    assert gs_res == pytest.approx(res[0], rel=1e-6)


def test_blocks_need_fewer_sweeps_to_the_same_scores(hub, hub_ref):
    one = prm._pagerank_gs(as_csr(hub, np.dtype(np.float64)), None, None, 0.85, 1e-10, 500, blocks=1)
    many = prm._pagerank_gs(as_csr(hub, np.dtype(np.float64)), None, None, 0.85, 1e-10, 500, blocks=32)
    assert one[3] and many[3]
    assert many[1] * 4 <= one[1] * 3  # at least a quarter fewer passes over the edges (measured 26 vs 41 at 1e-6)
    assert np.abs(many[0] - hub_ref).max() < 1e-11 and np.abs(one[0] - hub_ref).max() < 1e-11


def test_default_pagerank_on_a_hub_graph_is_accurate_and_stops_where_documented(hub, hub_ref):
    """Defaults (float32 out, tol 1e-6): within 1e-6 of float64, summing to 1, and the returned vector
    satisfies the documented bound: its own power-step change is at most ``alpha * tol``-ish (it is
    ``G(x)`` for an ``x`` with ``||G(x) - x||_1 < tol``), checked with an independent power step."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        r = pagerank(hub, device="cpu")
    assert r.converged and r.residual < 1e-6 and r.scores.dtype == np.float32
    assert np.abs(r.scores - hub_ref).max() < 1e-6
    assert abs(r.scores.sum(dtype=np.float64) - 1) < 1e-6
    r64 = pagerank(hub, device="cpu", dtype=np.float64)
    n = hub.shape[0]
    p = np.full(n, 1.0 / n)
    change = np.abs(power_step(hub, r64.scores, 0.85, p, p) - r64.scores).sum()
    assert change <= 0.85 * r64.residual * (1 + 1e-6) + 1e-15
    assert np.abs(r64.scores - hub_ref).sum() <= 0.85 * 1e-6 / 0.15  # the documented L1 error bound


def test_tight_tolerance_reaches_float64_accuracy(hub, hub_ref):
    """tol 1e-13: the documented L1 bound holds and the largest score (0.148, the hub) is within 1e-13
    (7e-13 relative: the incremental in-sums' rounding is ~1e-14 after 20 sweeps); block sweeps too."""
    r = pagerank(hub, device="cpu", dtype=np.float64, tol=1e-13, max_iter=1000)
    assert r.converged and np.abs(r.scores - hub_ref).max() < 1e-13 and abs(r.scores.sum() - 1) < 1e-13
    assert np.abs(r.scores - hub_ref).sum() <= 0.85 * r.residual / 0.15 + 1e-14
    y, _, res, ok = prm._pagerank_gs(as_csr(hub, np.dtype(np.float64)), None, None, 0.85, 1e-13, 1000)
    assert ok and np.abs(y - hub_ref).max() < 1e-13 and np.abs(y - hub_ref).sum() <= 0.85 * res / 0.15 + 1e-14


@pytest.mark.parametrize("seed", [0, 3])
def test_many_blocks_on_small_graphs_match_networkx(monkeypatch, seed):
    """Personalization, a dangling vector, self-loops, zero in-degree, damping 0.7; the block size forced
    down so a 42-node graph is cut into 10 blocks."""
    monkeypatch.setattr(prm, "_GS_MIN_ROWS", 4)
    monkeypatch.setattr(prm, "_gs_ext", None)  # the block sweeps (pagerank takes the C point sweeps when built)
    A = random_graph(seed=seed)
    n = A.shape[0]
    rng = np.random.default_rng(seed + 7)
    pers = rng.uniform(0, 1, n) * (rng.uniform(size=n) < 0.4)
    dang = rng.uniform(0, 1, n)
    G = nx.from_scipy_sparse_array(A, create_using=nx.DiGraph)
    for kw, nx_kw in [({}, {}), (dict(personalization=pers), dict(personalization=dict(enumerate(pers)))),
                      (dict(personalization=pers, dangling=dang),
                       dict(personalization=dict(enumerate(pers)), dangling=dict(enumerate(dang))))]:
        ref = np.array([v for _, v in sorted(nx.pagerank(G, alpha=0.7, tol=1e-15, max_iter=5000, **nx_kw).items())])
        r = pagerank(A, damping=0.7, dtype=np.float64, tol=1e-13, max_iter=1000, device="cpu", **kw)
        assert r.converged and np.abs(r.scores - ref).max() < 1e-10
        indep = reference(A, 0.7, pers if "personalization" in kw else None, dang if "dangling" in kw else None)
        assert np.abs(r.scores - indep).max() < 1e-12


def test_unconverged_gauss_seidel_warns_and_flags(hub):
    with pytest.warns(ConvergenceWarning, match=r"pagerank did not converge: L1 change .* after 3 iterations"):
        r = pagerank(hub, device="cpu", max_iter=3, tol=1e-9)
    assert not r.converged and r.iterations == 3 and r.residual >= 1e-9
    assert abs(r.scores.sum(dtype=np.float64) - 1) < 1e-6  # still a distribution, just not to tol


def test_damping_one_and_zero():
    """damping 1 (no teleport) keeps the power iteration; damping 0 is the teleport vector in one sweep."""
    cyc = sp.csr_matrix((np.ones(4), ([0, 1, 2, 2], [1, 2, 0, 1])), shape=(3, 3))  # aperiodic, strongly connected
    r = pagerank(cyc, damping=1.0, dtype=np.float64, tol=1e-13, max_iter=5000)
    ref = np.array([v for _, v in sorted(nx.pagerank(nx.from_scipy_sparse_array(cyc, create_using=nx.DiGraph),
                                                     alpha=1.0, tol=1e-15, max_iter=5000).items())])
    assert r.converged and np.abs(r.scores - ref).max() < 1e-9
    pers = np.array([1.0, 2.0, 1.0])
    r0 = pagerank(cyc, damping=0.0, personalization=pers, dtype=np.float64)
    assert r0.converged and r0.iterations == 1 and np.allclose(r0.scores, pers / 4)
