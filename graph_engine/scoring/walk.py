"""Personalized PageRank as a fixed-length walk with the whole distribution kept.

:func:`graph_engine.scoring.personalized_pagerank` keeps a top-k per seed and
iterates to a tolerance. Recommenders need instead every node's mass after a
given number of steps (the step count is a model parameter), often at several
damping factors: these two functions give that, on the CPU with SciPy, with the
same parameter names and the same dangling-node rule (a dangling node's mass
returns to the seed).

``r <- (1 - damping) * s + damping * (P^T r + s * dangling_mass)``, from ``r = s``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp


def walk_operator(A: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """``P^T`` (``P`` the row-stochastic transition matrix of ``A``, float32) and the dangling-node mask."""
    deg = np.asarray(A.sum(axis=1)).ravel()
    inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1e-12), 0.0).astype(np.float32)
    return sp.csr_matrix((sp.diags(inv) @ A).T, dtype=np.float32), deg == 0


def seed_columns(n: int, seed_nodes: np.ndarray) -> np.ndarray:
    """``(n, S)`` restart distributions, one column per seed node."""
    s = np.zeros((n, len(seed_nodes)), dtype=np.float32)
    s[seed_nodes, np.arange(len(seed_nodes))] = 1.0
    return s


def ppr_walk(A: sp.csr_matrix, seeds: np.ndarray, damping: float = 0.85, max_iter: int = 40,
             tol: float = 1e-7) -> np.ndarray:
    """Batch personalized PageRank by at most ``max_iter`` power-iteration steps.

    Stops earlier when the L1 change per column falls below ``tol`` (``tol=0``: every step).

    Args:
        A: ``(N, N)`` adjacency (use a symmetric one for an undirected walk).
        seeds: ``(N, B)`` restart distributions (columns sum to 1).
        damping: probability of following an edge (``1 - damping`` restarts).

    Shapes:
        return: ``(N, B)`` float32, columns sum to 1.
    """
    restart = 1.0 - damping
    pt, dangling = walk_operator(A)
    s = np.asarray(seeds, dtype=np.float32)
    r = s.copy()
    for _ in range(max_iter):
        lost = r[dangling].sum(axis=0, keepdims=True)
        nxt = restart * s + (1 - restart) * (pt @ r + s * lost)
        if np.abs(nxt - r).sum() < tol * r.shape[1]:
            r = nxt
            break
        r = nxt
    return r.astype(np.float32)


def ppr_walk_dampings(A: sp.csr_matrix, seeds: np.ndarray, dampings: Sequence[float],
                      max_iter: int = 40) -> list[np.ndarray]:
    """:func:`ppr_walk` (``max_iter`` steps, no early stop) at several damping factors from one walk.

    With ``M`` the walk operator (``P^T``, dangling mass back to the seed), which does
    not depend on the damping ``d``, ``K`` steps from ``r = s`` give
    ``(1 - d) * sum_{k<K} d^k M^k s + d^K M^K s``. The ``M^k s`` are computed once and
    summed with each damping's weights, so three dampings cost one walk.

    Shapes:
        seeds: ``(N, B)``; return: one ``(N, B)`` float32 array per damping.
    """
    restarts = [1.0 - d for d in dampings]
    pt, dangling = walk_operator(A)
    s = np.asarray(seeds, dtype=np.float32)
    w = s.copy()  # M^k s
    acc = [np.float32(al) * w for al in restarts]
    decay = [1.0] * len(restarts)  # damping^k
    for k in range(1, max_iter + 1):
        w = pt @ w + s * w[dangling].sum(axis=0, keepdims=True)
        for j, al in enumerate(restarts):
            decay[j] *= 1.0 - al
            acc[j] += np.float32(decay[j] if k == max_iter else al * decay[j]) * w
    return [x.astype(np.float32) for x in acc]
