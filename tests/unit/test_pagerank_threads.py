"""The two-thread Gauss-Seidel sweep: same iterates as one thread, against an exact dense solve."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.sparse as sp

from graph_engine.errors import ScoringError
from graph_engine.scoring import pagerank


def _graph(n: int = 3000, m: int = 40000, seed: int = 5) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    src = np.minimum((rng.pareto(1.1, m) * n / 30).astype(np.int64), n - 1)  # hubs, and nodes with no out-edge
    dst = np.where(rng.random(m) < 0.3, 0, rng.integers(0, n, m))  # node 0: a giant in-hub
    A = sp.csr_matrix((rng.random(m) + 0.1, (src, dst)), shape=(n, n))
    A.sum_duplicates()
    return A


def _exact(A: sp.csr_matrix, alpha: float = 0.85) -> np.ndarray:
    n = A.shape[0]
    out = np.asarray(A.sum(axis=1)).ravel()
    P = np.zeros((n, n))
    rows = out > 0
    P[rows] = A.toarray()[rows] / out[rows, None]
    P[~rows] = 1.0 / n  # dangling: uniform (the personalization)
    x = np.linalg.solve(np.eye(n) - alpha * P.T, np.full(n, (1 - alpha) / n))
    return x / x.sum()


pr_impl = importlib.import_module("graph_engine.scoring.pagerank")  # the module (the package exports the function)


@pytest.mark.parametrize("personalized", [False, True])
def test_two_threads_give_the_one_thread_iterates(monkeypatch, personalized):
    monkeypatch.setattr(pr_impl, "_GS_THREADS_MIN_NNZ", 0)  # the small graph takes the two-thread path
    A = _graph()
    seeds = None
    if personalized:
        seeds = np.zeros(A.shape[0])
        seeds[[3, 70, 900]] = [1.0, 2.0, 1.0]
    point = pagerank(A, personalization=seeds, threads=1, dtype=np.float64, tol=1e-10)  # the C sweeps, if built
    monkeypatch.setattr(pr_impl, "_gs_ext", None)  # one thread of the block sweeps, the two-thread path's twin
    one = pagerank(A, personalization=seeds, threads=1, dtype=np.float64, tol=1e-10)
    two = pagerank(A, personalization=seeds, threads=2, dtype=np.float64, tol=1e-10)
    assert one.converged and two.converged
    assert one.iterations == two.iterations
    assert np.abs(one.scores - two.scores).max() < 1e-13
    assert point.converged and np.abs(point.scores - two.scores).max() < 1e-9
    if not personalized:
        assert np.abs(two.scores - _exact(A)).max() < 1e-9
        assert np.abs(point.scores - _exact(A)).max() < 1e-9


def test_threads_must_be_positive():
    with pytest.raises(ScoringError, match="threads"):
        pagerank(_graph(200, 1000), threads=0)
