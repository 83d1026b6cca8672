r"""HITS (hubs and authorities) by power iteration.

Starting from uniform hubs :math:`h`, one iteration is

.. math::

    a \leftarrow A^\top h / \lVert A^\top h \rVert_1, \qquad
    h \leftarrow A a / \lVert A a \rVert_1

so :math:`h` and :math:`a` converge to the principal left and right singular
vectors of the weighted adjacency :math:`A`, each normalised to sum 1
(networkx's ``hits(normalized=True)``). Iteration stops when the L1 change of
:math:`h` is below ``tol``. A graph without edges gives uniform scores.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graph_engine.export import GraphMatrix
from graph_engine.scoring._common import (
    ScoringError,
    as_csr,
    has_hubs,
    resolve_device,
    resolve_dtype,
    spmm_into,
    spmm_t_into,
    to_torch_csr,
    torch_heavy_rows,
    warn_unconverged,
)


@dataclass
class HitsResult:
    """Hub and authority scores of one HITS run.

    Attributes:
        hubs, authorities: ``(N,)`` NumPy arrays, each summing to 1.
        iterations, residual, converged, device, backend, seconds, ids, labels:
            as in :class:`~graph_engine.scoring.PageRankResult`.
    """

    hubs: np.ndarray
    authorities: np.ndarray
    iterations: int
    residual: float
    converged: bool
    device: str = "cpu"
    backend: str = "scipy"
    seconds: float = 0.0
    ids: np.ndarray | None = field(default=None, repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)


def hits(
    A: Any,
    tol: float = 1e-6,
    max_iter: int = 100,
    device: str = "auto",
    dtype: Any = np.float32,
    *,
    backend: str = "auto",
) -> HitsResult:
    """Hubs and authorities of a weighted directed graph.

    Args:
        A: adjacency as in :func:`~graph_engine.scoring.pagerank`
            (``A[i, j]`` the weight of i -> j; zero weights are absent edges).
        tol: stop when the L1 change of the hub vector is below this.
        max_iter: at most this many iterations.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        dtype: ``np.float32`` or ``np.float64``.
        backend: ``"auto"``, ``"scipy"`` or ``"torch"``.

    Returns:
        :class:`HitsResult`. When the top singular value of ``A`` is repeated
        (for example two identical components), the answer depends on the
        start vector, as with any power method.

    Raises:
        ScoringError: bad matrix, parameter or device.

    Shapes:
        A: ``(N, N)``; hubs, authorities: ``(N,)``.

    Example:
        >>> import scipy.sparse as sp
        >>> fan = sp.csr_matrix(([1.0, 1.0], ([0, 0], [1, 2])), shape=(3, 3))
        >>> r = hits(fan)
        >>> int(r.hubs.argmax()), bool(r.authorities[0] == 0)
        (0, True)
    """
    if not (float(tol) > 0):
        raise ScoringError(f"tol must be > 0, got {tol}")
    if int(max_iter) < 1:
        raise ScoringError(f"max_iter must be >= 1, got {max_iter}")
    dt = resolve_dtype(dtype)
    device, backend = resolve_device(device, backend, A)
    M = as_csr(A, dt)
    ids, labels = (A.ids, A.labels) if isinstance(A, GraphMatrix) else (None, None)
    n = M.shape[0]
    if n == 0:
        z = np.zeros(0, dt)
        return HitsResult(z, z.copy(), 0, 0.0, True, device, backend, 0.0, ids, labels)
    if M.nnz == 0:
        u = np.full(n, 1.0 / n, dt)
        return HitsResult(u, u.copy(), 0, 0.0, True, device, backend, 0.0, ids, labels)
    t0 = time.perf_counter()
    if backend == "torch":
        h, a, it, res = _hits_torch(M, n, float(tol), int(max_iter), device)
    else:
        if dt == np.float32 and has_hubs(M):  # as in pagerank: hubs -> iterate in float64, return float32
            M = M.astype(np.float64)
        h, a, it, res = _hits_scipy(M, n, M.dtype, float(tol), int(max_iter))
        h, a = h.astype(dt, copy=False), a.astype(dt, copy=False)
    if not res < tol:
        warn_unconverged("hits", float(res), float(tol), int(it))
    return HitsResult(h, a, it, res, res < tol, device, backend, time.perf_counter() - t0, ids, labels)


def _hits_scipy(M: Any, n: int, dt: np.dtype, tol: float, max_iter: int):  # type: ignore[no-untyped-def]
    h = np.full((n, 1), 1.0 / n, dt)
    a = np.empty_like(h)
    h_new = np.empty_like(h)
    tmp = np.empty_like(h)
    res, it = np.inf, 0
    for it in range(1, max_iter + 1):  # (a float32 M has no hubs here: hits() moved those to float64)
        spmm_t_into(M, h, a)  # a = A^T h, no transpose needed
        a /= a.sum(dtype=np.float64)
        spmm_into(M, a, h_new)
        h_new /= h_new.sum(dtype=np.float64)
        np.subtract(h_new, h, out=tmp)
        res = float(np.abs(tmp, out=tmp).sum(dtype=np.float64))
        h, h_new = h_new, h
        if res < tol:
            break
    return h[:, 0], a[:, 0], it, res


def _hits_torch(M: Any, n: int, tol: float, max_iter: int, device: str):  # type: ignore[no-untyped-def]
    import torch

    Mt = to_torch_csr(M, device)
    if Mt.device.type == "cpu":  # scipy's transpose is faster than torch's on the host
        MTt = to_torch_csr(M.T.tocsr(), device)
    else:  # one copy; A^T is made on the device (cuSPARSE), not on the host
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            MTt = Mt.t().to_sparse_csr()
    heavy_in, heavy_out = torch_heavy_rows(MTt), torch_heavy_rows(Mt)  # hubs' sums in float64
    h = torch.full((n,), 1.0 / n, dtype=Mt.dtype, device=device)
    a = h
    res, it = np.inf, 0
    with torch.no_grad():
        for it in range(1, max_iter + 1):
            a = MTt @ h
            if heavy_in is not None:
                heavy_in.fix(h, a)
            a = a / a.sum(dtype=torch.float64).to(a.dtype)
            h_new = Mt @ a
            if heavy_out is not None:
                heavy_out.fix(a, h_new)
            h_new = h_new / h_new.sum(dtype=torch.float64).to(a.dtype)
            res = float((h_new - h).abs().sum(dtype=torch.float64))
            h = h_new
            if res < tol:
                break
    return h.cpu().numpy(), a.cpu().numpy(), it, res
