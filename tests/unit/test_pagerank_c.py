"""The compiled point Gauss-Seidel sweeps (``graph_engine/scoring/_gs.c``, driven by
``pagerank._pagerank_gs_c``): the same fixed point and stopping rule as the block sweeps and the power
iteration, checked against an exact dense solve and networkx, on every array type they take; malformed
arrays are refused, not read out of bounds; CI builds them (no silent fallback there)."""

from __future__ import annotations

import importlib
import os

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from graph_engine.errors import ScoringError
from graph_engine.scoring import pagerank
from graph_engine.scoring._common import as_csr
from tests.unit.test_scoring_gs import reference
from tests.unit.test_scoring_hubs import hub_graph

prm = importlib.import_module("graph_engine.scoring.pagerank")

pytestmark = pytest.mark.unit

needs_ext = pytest.mark.skipif(prm._gs_ext is None and os.environ.get("CI") != "true",
                               reason="the C extension is not built here (pip install -e . builds it)")


def test_ci_builds_the_extension():
    """In CI the package is installed with its C kernels: the fast path is what the tests exercise."""
    if os.environ.get("CI") != "true":
        pytest.skip("only enforced in CI")
    assert prm._gs_ext is not None, "graph_engine.scoring._gs was not built (a C compiler is needed)"


def exact(A: sp.spmatrix, alpha: float, p: np.ndarray | None = None, u: np.ndarray | None = None) -> np.ndarray:
    """Dense solve of ``x = alpha (P^T x + (d.x) u) + (1 - alpha) p`` (independent of the library)."""
    A = sp.csr_matrix(A, dtype=np.float64).toarray()
    n = A.shape[0]
    p = np.full(n, 1.0 / n) if p is None else p / p.sum()
    u = p if u is None else u / u.sum()
    out = A.sum(axis=1)
    P = np.zeros((n, n))
    rows = out > 0
    P[rows] = A[rows] / out[rows, None]
    P[~rows] = u
    x = np.linalg.solve(np.eye(n) - alpha * P.T, (1 - alpha) * p)
    return x / x.sum()


def small_graph(seed: int, n: int = 300, m: int = 2500) -> sp.csr_matrix:
    """Weighted, skewed, with self-loops, dangling nodes and a node of in-degree ~m/4."""
    rng = np.random.default_rng(seed)
    src = np.minimum((rng.pareto(1.2, m) * n / 20).astype(np.int64), n - 1)
    dst = np.where(rng.random(m) < 0.25, 7, rng.integers(0, n, m))
    A = sp.csr_matrix((rng.uniform(0.1, 3.0, m), (src, dst)), shape=(n, n))
    A.sum_duplicates()
    assert (np.diff(A.indptr) == 0).any() and (A.diagonal() > 0).any()
    return A


@needs_ext
@pytest.mark.parametrize("index_type", [np.int32, np.int64])
@pytest.mark.parametrize("weight_type", [np.float32, np.float64])
def test_every_array_type_solves_the_same_system(index_type, weight_type):
    A = small_graph(1)
    M = as_csr(A, np.dtype(weight_type))
    M.indices, M.indptr = M.indices.astype(index_type), M.indptr.astype(index_type)
    y, sweeps, res, ok = prm._pagerank_gs_c(M, None, None, 0.85, 1e-13, 500)
    ref = exact(M, 0.85)  # the matrix the kernel read (float32 weights rounded as stored)
    assert ok and res < 1e-13 and abs(y.sum() - 1) < 1e-13
    assert np.abs(y - ref).max() < 1e-12


@needs_ext
@pytest.mark.parametrize("seed", [0, 3])
def test_personalization_dangling_and_damping_against_networkx_and_dense(seed):
    A = small_graph(seed)
    n = A.shape[0]
    rng = np.random.default_rng(seed + 11)
    pers = rng.uniform(0, 1, n) * (rng.uniform(size=n) < 0.3)
    dang = rng.uniform(0, 1, n)
    G = nx.from_scipy_sparse_array(A, create_using=nx.DiGraph)
    for alpha in (0.5, 0.85, 0.99):
        for kw, nx_kw, p, u in [
            ({}, {}, None, None),
            (dict(personalization=pers), dict(personalization=dict(enumerate(pers))), pers, None),
            (dict(personalization=pers, dangling=dang),
             dict(personalization=dict(enumerate(pers)), dangling=dict(enumerate(dang))), pers, dang)]:
            r = pagerank(A, damping=alpha, dtype=np.float64, tol=1e-13, max_iter=5000, device="cpu", **kw)
            assert r.converged
            assert np.abs(r.scores - exact(A, alpha, p, u)).max() < 1e-11
            if alpha == 0.85:
                ref = nx.pagerank(G, alpha=alpha, tol=1e-15, max_iter=10_000, **nx_kw)
                assert np.abs(r.scores - np.array([ref[i] for i in range(n)])).max() < 1e-10


@needs_ext
def test_point_sweeps_match_block_sweeps_on_a_giant_hub(monkeypatch):
    """Defaults (float32 matrix, tol 1e-6) on a 20k-node graph with a 15k-in-degree hub: the point sweeps
    need no more sweeps than 32 blocks, and both are within the documented bound of a float64 reference."""
    hub = hub_graph(n=20_000, m=80_000, hub_in=15_000, seed=1)
    ref = reference(hub)
    point = pagerank(hub, device="cpu")
    monkeypatch.setattr(prm, "_gs_ext", None)
    block = pagerank(hub, device="cpu")
    assert point.converged and block.converged and point.iterations <= block.iterations
    for r in (point, block):
        assert np.abs(r.scores - ref).max() < 1e-6
        assert np.abs(r.scores.astype(np.float64) - ref).sum() <= 0.85 * 1e-6 / 0.15 + 1e-6  # + float32 storage


@needs_ext
def test_unconverged_point_sweeps_warn():
    from graph_engine.errors import ConvergenceWarning

    hub = hub_graph(n=20_000, m=80_000, hub_in=15_000, seed=1)
    with pytest.warns(ConvergenceWarning, match="after 2 iterations"):
        r = pagerank(hub, device="cpu", max_iter=2, tol=1e-9)
    assert not r.converged and r.iterations == 2 and abs(r.scores.sum(dtype=np.float64) - 1) < 1e-6


@needs_ext
def test_malformed_arrays_are_refused_not_read_out_of_bounds():
    A = small_graph(2)
    M = as_csr(A, np.dtype(np.float64))
    bad_col = M.copy()
    bad_col.indices[5] = M.shape[0] + 3
    with pytest.raises(ScoringError, match=r"column index is outside \[0, N\)"):
        prm._pagerank_gs_c(bad_col, None, None, 0.85, 1e-6, 100)
    neg = M.copy()
    neg.indices[-1] = -1
    with pytest.raises(ScoringError, match="column index"):
        prm._pagerank_gs_c(neg, None, None, 0.85, 1e-6, 100)
    bad_ptr = M.copy()
    bad_ptr.indptr[10] = bad_ptr.indptr[11] + 1  # decreasing
    with pytest.raises(ScoringError, match="indptr must be non-decreasing"):
        prm._pagerank_gs_c(bad_ptr, None, None, 0.85, 1e-6, 100)
    short = M.copy()
    short.indptr[-1] = M.nnz + 5
    with pytest.raises(ScoringError, match="indptr"):
        prm._pagerank_gs_c(short, None, None, 0.85, 1e-6, 100)


@needs_ext
def test_kernel_argument_checks():
    ext = prm._gs_ext
    n = 4
    indptr = np.array([0, 1, 2, 3, 3], dtype=np.int32)
    indices = np.array([1, 2, 0], dtype=np.int32)
    w = np.ones(3, dtype=np.float32)
    x, S, ainv = np.zeros(n), np.zeros(n), np.zeros(n)
    with pytest.raises(ValueError, match="ixsize"):
        ext.sweep(indptr, indices, w, 2, ainv, x, S, 0.1)
    with pytest.raises(ValueError, match="float32 or float64"):
        ext.sweep(indptr, indices, np.ones(3, dtype=np.int16), 4, ainv, x, S, 0.1)
    with pytest.raises(ValueError, match="S has"):
        ext.sweep(indptr, indices, w, 4, ainv, x, np.zeros(n - 1), 0.1)
    with pytest.raises(ValueError, match="c has"):
        ext.sweep(indptr, indices, w, 4, ainv, x, S, np.zeros(n + 1))
    with pytest.raises(ValueError, match="indptr has"):
        ext.sweep(indptr.astype(np.int64), indices, w, 4, ainv, x, S, 0.1)
    total, mass, unit = ext.sweep(indptr, indices, w, 4, ainv, x, S, 0.25, first=True, alpha=0.5)
    assert unit  # every weight is 1
    assert ainv.tolist() == [0.5, 0.5, 0.5, 0.0] and mass == pytest.approx(x[3]) and total == pytest.approx(x.sum())
    assert ext.residual(S, 0.25, x) == pytest.approx(np.abs(S + 0.25 - x).sum())


def test_without_the_extension_the_block_sweeps_give_the_same_scores(monkeypatch):
    """The fallback (no C compiler at install time) solves the same system."""
    A = small_graph(4)
    monkeypatch.setattr(prm, "_gs_ext", None)
    r = pagerank(A, dtype=np.float64, tol=1e-13, max_iter=1000)
    assert r.converged and np.abs(r.scores - exact(A, 0.85)).max() < 1e-11


def test_mixed_index_types_are_widened_not_wrapped():
    """int32 columns with an int64 indptr (SciPy allows it): one common type, never a narrowing that wraps."""
    ip64 = np.array([0, 2, 3, 2**31 + 5], dtype=np.int64)
    ix32 = np.zeros(4, dtype=np.int32)
    a, b = prm._common_index_type(ip64, ix32)
    assert a.dtype == b.dtype == np.int64 and int(a[-1]) == 2**31 + 5
    a, b = prm._common_index_type(np.array([0, 1, 2], dtype=np.int64), np.array([1, 0], dtype=np.int32))
    assert a.dtype == b.dtype == np.int32
    A = small_graph(5)
    M = as_csr(A, np.dtype(np.float64))
    M.indptr = M.indptr.astype(np.int64)  # mixed: int64 indptr, int32 indices
    runs = [prm._pagerank_gs(M, None, None, 0.85, 1e-13, 500)]
    if prm._gs_ext is not None:
        runs.append(prm._pagerank_gs_c(M, None, None, 0.85, 1e-13, 500))
    for run in runs:
        assert run is not None and run[3] and np.abs(run[0] - exact(A, 0.85)).max() < 1e-11


def test_the_result_names_the_method(monkeypatch):
    A = small_graph(6)
    assert pagerank(A, threads=2).method == "gauss-seidel-block"
    assert pagerank(A, damping=1.0).method == "power"
    if prm._gs_ext is not None:
        assert pagerank(A).method == "gauss-seidel-point"
    monkeypatch.setattr(prm, "_gs_ext", None)
    assert pagerank(A).method == "gauss-seidel-block"


def test_damping_zero_is_the_teleport_vector_on_the_block_path():
    A = small_graph(7)
    pers = np.arange(A.shape[0], dtype=float) + 1
    r = pagerank(A, damping=0.0, personalization=pers, dtype=np.float64)
    assert r.method == "gauss-seidel-block" and r.converged and np.allclose(r.scores, pers / pers.sum())


@needs_ext
@pytest.mark.parametrize("last_weight", [1.0, 2.5])
def test_unweighted_graphs_take_the_out_degree_shortcut_and_solve_the_same_system(last_weight):
    """All weights 1: the first sweep uses the row lengths as out-weights (no summing pass) and reports the
    graph unweighted, so the later sweeps do not read the weights; one weight other than 1, even the last one,
    must switch both off. Both against the dense solve of the matrix as given."""
    A = small_graph(8)
    M = as_csr(A, np.dtype(np.float32))
    M.data[:] = 1.0
    M.data[-1] = last_weight
    y, _, _, ok = prm._pagerank_gs_c(M, None, None, 0.85, 1e-13, 500)
    assert ok and np.abs(y - exact(M, 0.85)).max() < 1e-12
    n = M.shape[0]
    ainv, x, S = np.empty(n), np.zeros(n), np.zeros(n)
    *_, unit = prm._gs_ext.sweep(M.indptr, M.indices, M.data, 4, ainv, x, S, 0.15 / n, first=True, alpha=0.85)
    assert unit == (last_weight == 1.0)


@needs_ext
def test_float64_scores_of_a_float32_matrix_without_a_float64_copy():
    """dtype=float64 on a float32 matrix: the sweeps read the float32 weights as they are; the scores are
    bit-identical to those of the same matrix converted to float64 first."""
    A = as_csr(small_graph(9), np.dtype(np.float32))
    r32 = pagerank(A, dtype=np.float64, tol=1e-12, max_iter=500)
    r64 = pagerank(A.astype(np.float64), dtype=np.float64, tol=1e-12, max_iter=500)
    assert r32.scores.dtype == np.float64 and r32.method == r64.method == "gauss-seidel-point"
    assert np.array_equal(r32.scores, r64.scores) and r32.iterations == r64.iterations
