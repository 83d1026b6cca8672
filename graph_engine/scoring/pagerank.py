r"""PageRank and batched personalized PageRank by power iteration.

With :math:`P = D^{-1} A` the row-normalised adjacency (``D`` the out-weights),
:math:`p` the personalization (teleport) distribution, :math:`u` the
distribution that receives the mass of dangling nodes (default :math:`u = p`,
as in networkx) and :math:`\alpha` the damping factor, one iteration is

.. math::

    x^{(t+1)} = \alpha \left(P^\top x^{(t)} + (d^\top x^{(t)})\, u\right) + (1 - \alpha)\, p

where :math:`d` is the indicator of dangling nodes; write this step
:math:`x \mapsto G(x)`. Iteration stops at the first iterate :math:`x` whose
power step changes it by less than ``tol`` in L1,
:math:`\lVert G(x) - x \rVert_1 < \mathrm{tol}`, and returns :math:`G(x)`;
since :math:`G` contracts by :math:`\alpha` in L1, the returned scores are within
:math:`\alpha\,\mathrm{tol} / (1 - \alpha)` (L1) of the exact PageRank. Note
that networkx stops at ``N * tol``; ``tol`` here is absolute, so the same
number is stricter (and gives the same scores to ``tol``).

How the iterates are made (the stopping rule above is the same for all):

* ``pagerank`` on the CPU (scipy back end) runs **point Gauss-Seidel sweeps in
  float64** in the compiled kernels of ``_gs.c`` (:func:`_pagerank_gs_c`, built by
  ``pip install``): each node in turn takes its value from the in-sums ``S`` and
  scatters its change along its out-edges, one pass over the edges per sweep with
  the vector work, the out-weights and the CSR checks fused into it and the
  float32 weights read as they are. Without the extension (no C compiler at
  install time), with ``threads=2`` or with arrays it cannot take as they are,
  the same recurrence runs as **block Gauss-Seidel sweeps in
  float64** (:func:`_pagerank_gs`): the nodes are cut into up to
  :data:`_GS_BLOCKS` row blocks; each block takes its new values from the
  in-sums ``S = A^T (x / out)``, then pushes its change into ``S`` (a scatter
  product over its own out-edges), so later blocks of the same sweep already
  see it. A sweep reads every edge once, like a power step; ``S`` always
  equals ``A^T (x / out)`` for the current ``x``, so the check
  :math:`\lVert G(x) - x \rVert_1` costs no extra product. The vector is
  renormalised to sum 1 between sweeps (without that the total mass is the
  slowest mode). On the 1e6-node / 8.4M-edge power-law benchmark graph: 8
  sweeps where the power iteration takes 12, to the same ``tol``.
* Batched personalized PageRank and the torch/CUDA back end run the power
  iteration above.

Batched personalized PageRank runs the same recurrence on an ``(N, B)`` block
of seed distributions (sparse x dense products), ``B`` seeds at a time, and
keeps only the top-k of each column, so memory is ``O(N B)``, never ``O(N^2)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dasum as _dasum

from graph_engine.export import GraphMatrix
from graph_engine.scoring._common import (
    ScoringError,
    Transition,
    as_csr,
    csc_matvec_add,
    has_hubs,
    out_weights,
    probability_vector,
    resolve_device,
    resolve_dtype,
    TorchTransition,
    spmm_t_into,
    torch_transition,
    transition,
    warn_unconverged,
)


@dataclass
class PageRankResult:
    """Scores of one PageRank run.

    Attributes:
        scores: ``(N,)`` NumPy array summing to 1 (empty for an empty graph).
        iterations: power iterations performed.
        residual: L1 change of the last iteration (0.0 for an empty graph).
        converged: ``residual < tol`` within ``max_iter`` iterations.
        device, backend: where it ran (``"cpu"``/``"cuda"``, ``"scipy"``/``"torch"``).
        seconds: wall time of the iteration (excluding input conversion; on the CPU Gauss-Seidel paths
            including their setup: the out-weights, and on the block path the float64 copy of the weights).
        ids, labels: ``(N,)`` node ids and labels when ``A`` was a :class:`GraphMatrix`.
        method: how the iterates were made: ``"gauss-seidel-point"`` (the compiled sweeps),
            ``"gauss-seidel-block"`` (their NumPy/SciPy fallback, ``threads=2`` or damping 0) or ``"power"``
            (torch/CUDA, or damping 1). Same stopping rule for all; the scores of two methods agree to
            within the documented bound, not bit for bit.
    """

    scores: np.ndarray
    iterations: int
    residual: float
    converged: bool
    device: str = "cpu"
    backend: str = "scipy"
    seconds: float = 0.0
    ids: np.ndarray | None = field(default=None, repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)
    method: str = "power"


@dataclass
class PersonalizedPageRankResult:
    """Top-k of a batch of personalized PageRank runs, one row per seed.

    Attributes:
        indices: ``(S, k)`` int64 node indices, best first (ties by lower index).
        scores: ``(S, k)`` their scores.
        iterations: ``(S,)`` iterations each seed needed (``max_iter`` if not converged).
        residual: ``(S,)`` final L1 change of each seed's vector.
        converged: ``(S,)`` bool.
        ids, labels: ``(S, k)`` node ids and labels when ``A`` was a :class:`GraphMatrix`.
        device, backend, seconds: as in :class:`PageRankResult`.
    """

    indices: np.ndarray
    scores: np.ndarray
    iterations: np.ndarray
    residual: np.ndarray
    converged: np.ndarray
    device: str = "cpu"
    backend: str = "scipy"
    seconds: float = 0.0
    ids: np.ndarray | None = field(default=None, repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)


_CACHE_BYTES = 8 * 2**20


def _check_params(damping: float, tol: float, max_iter: int) -> None:
    if not (0.0 <= float(damping) <= 1.0):
        raise ScoringError(f"damping must be in [0, 1], got {damping}")
    if not (float(tol) > 0.0):
        raise ScoringError(f"tol must be > 0, got {tol}")
    if int(max_iter) < 1:
        raise ScoringError(f"max_iter must be >= 1, got {max_iter}")


def pagerank(
    A: Any,
    damping: float = 0.85,
    personalization: Any = None,
    tol: float = 1e-6,
    max_iter: int = 100,
    device: str = "auto",
    dtype: Any = np.float32,
    *,
    dangling: Any = None,
    backend: str = "auto",
    threads: int = 1,
) -> PageRankResult:
    """PageRank of a weighted directed graph.

    Args:
        A: adjacency, ``A[i, j] != 0`` an edge i -> j of that (non-negative)
            weight: scipy sparse, torch sparse/dense, dense NumPy, or a
            :class:`~graph_engine.export.GraphMatrix`. Zero weights are absent edges.
        damping: probability of following an edge (``alpha``).
        personalization: ``(N,)`` non-negative teleport weights (normalised);
            default uniform.
        tol: stop at the first iterate ``x`` whose power step changes it by less than this in L1
            (``||G(x) - x||_1 < tol``) and return ``G(x)``: within ``damping * tol / (1 - damping)``
            (L1) of the exact scores.
        max_iter: at most this many iterations (on the CPU: Gauss-Seidel sweeps, each one pass over
            the edges); ``converged`` says if ``tol`` was met (if not, a ConvergenceWarning too).
        device: ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``.
        dtype: ``np.float32`` or ``np.float64``: the scores' type. The SciPy back end always computes
            in float64 (damping 1: when a node has more than ``F64_ABOVE`` edges), reading a float32 matrix's
            weights as they are; torch computes in ``dtype`` with hub rows summed in float64.
        dangling: ``(N,)`` weights receiving the mass of nodes without out-edges;
            default the personalization (networkx's convention).
        backend: ``"auto"`` (scipy on CPU, torch on CUDA), ``"scipy"`` or ``"torch"``.
        threads: CPU threads, 1 (default: the compiled point sweeps when built) or 2: the block sweeps
            with each block's edges split between this thread and a worker; same fixed point. On the 1e7-edge
            benchmark graph two threads of block sweeps take more wall time than one thread of the
            compiled sweeps (BENCHMARKS.md), so one is the default.

    Returns:
        :class:`PageRankResult`; scores sum to 1.

    Raises:
        ScoringError: bad matrix, vector, parameter or device.

    Shapes:
        A: ``(N, N)``; personalization, dangling, scores: ``(N,)``.

    Example:
        >>> import scipy.sparse as sp
        >>> star = sp.csr_matrix(([1.0, 1.0, 1.0], ([1, 2, 3], [0, 0, 0])), shape=(4, 4))
        >>> int(pagerank(star).scores.argmax())
        0
    """
    _check_params(damping, tol, max_iter)
    if int(threads) < 1:
        raise ScoringError(f"threads must be >= 1, got {threads}")
    dt = resolve_dtype(dtype)
    device, backend = resolve_device(device, backend, A)
    store = dt
    if (dt == np.float64 and backend == "scipy" and 0.0 < damping < 1.0 and int(threads) == 1 and _gs_ext is not None
            and getattr(A.matrix if isinstance(A, GraphMatrix) else A, "dtype", None) == np.float32):
        store = np.dtype(np.float32)  # the compiled sweeps read float32 weights exactly: no float64 copy of them
    M = as_csr(A, store)
    ids, labels = (A.ids, A.labels) if isinstance(A, GraphMatrix) else (None, None)
    n = M.shape[0]
    if n == 0:
        return PageRankResult(np.zeros(0, dtype=dt), 0, 0.0, True, device, backend, 0.0, ids, labels)
    if backend == "scipy" and damping < 1.0:
        # Block Gauss-Seidel in float64 (scores returned in dt): fewer passes over the edges than the
        # power iteration, and exact on hubs (issue 24). damping == 1 (no teleport) keeps the power step.
        p64 = None if personalization is None else probability_vector(personalization, n, "personalization",
                                                                        np.dtype(np.float64))
        u64 = None if dangling is None else probability_vector(dangling, n, "dangling", np.dtype(np.float64))
        t0 = time.perf_counter()
        run = _pagerank_gs_c(M, p64, u64, float(damping), float(tol), int(max_iter)) if int(threads) == 1 else None
        method = "gauss-seidel-point"
        if run is None:
            run = _pagerank_gs(M, p64, u64, float(damping), float(tol), int(max_iter), threads=int(threads))
            method = "gauss-seidel-block"
        scores, sweeps, change, ok = run
        wall = time.perf_counter() - t0
        if not ok:
            warn_unconverged("pagerank", change, float(tol), sweeps)
        return PageRankResult(scores=scores.astype(dt, copy=False), iterations=sweeps, residual=change, converged=ok,
                              device=device, backend=backend, seconds=wall, ids=ids, labels=labels, method=method)
    if backend == "scipy" and dt == np.float32 and has_hubs(M):
        # damping == 1 with hubs: iterate in float64 (scores returned as float32).
        M = M.astype(np.float64)
    cdt = M.dtype
    p = np.full(n, 1.0 / n, dtype=cdt) if personalization is None else probability_vector(
        personalization, n, "personalization", cdt)
    u = None if dangling is None else probability_vector(dangling, n, "dangling", cdt)
    T, op = _prepare(M, device, backend)
    x0 = np.full((n, 1), 1.0 / n, dtype=cdt)
    t0 = time.perf_counter()
    x, its, res, first = _run(T, p[:, None], None if u is None else u[:, None], x0,
                              float(damping), float(tol), int(max_iter), device, backend, op=op)
    seconds = time.perf_counter() - t0
    if first[0] < 0:
        warn_unconverged("pagerank", float(res[0]), float(tol), int(its))
    return PageRankResult(
        scores=x[:, 0].astype(dt, copy=False), iterations=int(its), residual=float(res[0]), converged=bool(first[0] >= 0),
        device=device, backend=backend, seconds=seconds, ids=ids, labels=labels,
    )


def personalized_pagerank(
    A: Any,
    seeds: Any,
    k: int = 100,
    damping: float = 0.85,
    tol: float = 1e-6,
    max_iter: int = 100,
    device: str = "auto",
    dtype: Any = np.float32,
    *,
    candidates: Any = None,
    exclude_seeds: bool = False,
    block_size: int | None = None,
    memory_budget: int = 512 * 2**20,
    backend: str = "auto",
    progress: Any = None,
) -> PersonalizedPageRankResult:
    """Personalized PageRank for many seeds at once, keeping a top-k per seed.

    Seeds are processed in column blocks of ``block_size``: each block is an
    ``(N, B)`` dense matrix multiplied by the sparse transition matrix per
    iteration; only the top-k of each column is kept, so no ``N x N`` result
    is ever formed. Dangling mass returns to each seed's own distribution.

    Args:
        A: adjacency as in :func:`pagerank`.
        seeds: either a 1-D sequence of ``S`` node indices (one seed node per
            run), or an ``(S, N)`` array / sparse matrix of non-negative seed
            weights (one row per run, each normalised).
        k: results per seed (fewer if fewer candidates).
        damping, tol, max_iter, device, dtype, backend: as in :func:`pagerank`.
        candidates: ``(N,)`` boolean mask or index array of nodes allowed in the
            top-k (for example only genes); default all nodes.
        exclude_seeds: leave each run's own seed nodes out of its top-k (they get
            score ``-inf``, so they can only appear when ``k`` exceeds the other candidates).
        block_size: seeds per block; default on the CPU sized so one ``(N, B)`` block
            is about 8 MiB (16 to 256 seeds), with torch as many as ``memory_budget`` allows.
        memory_budget: bytes for the four ``(N, B)`` work arrays of a block.
        progress: optional callable ``progress(done_seeds, total_seeds)``.

    Returns:
        :class:`PersonalizedPageRankResult` with ``(S, k)`` indices and scores.

    Raises:
        ScoringError: bad seeds, k, candidates or parameters.

    Shapes:
        A: ``(N, N)``; seeds: ``(S,)`` or ``(S, N)``; result arrays ``(S, k)``.

    Example:
        >>> import scipy.sparse as sp
        >>> path = sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 2])), shape=(3, 3))
        >>> personalized_pagerank(path, [0], k=2, exclude_seeds=True).indices.tolist()
        [[1, 2]]
    """
    _check_params(damping, tol, max_iter)
    if int(k) < 1:
        raise ScoringError(f"k must be >= 1, got {k}")
    dt = resolve_dtype(dtype)
    device, backend = resolve_device(device, backend, A)
    M = as_csr(A, dt)
    n = M.shape[0]
    S = _seed_matrix(seeds, n)
    s = S.shape[0]
    cand = _candidate_index(candidates, n)
    k_eff = int(min(int(k), len(cand) if cand is not None else n))
    empty = PersonalizedPageRankResult(
        np.zeros((s, k_eff), np.int64), np.zeros((s, k_eff), dt), np.zeros(s, np.int64),
        np.zeros(s), np.ones(s, bool), device, backend)
    if s == 0 or n == 0 or k_eff == 0:
        return empty
    T, op = _prepare(M, device, backend)
    if block_size is None:
        # Cache-sized blocks: on the Hetionet sample, 32-64 seeds per block ran 2.7x
        # faster than all 137 at once (each (N, B) array then fits in a few MB of cache).
        # On a GPU, blocks as large as the memory budget allows.
        fit = memory_budget // max(1, 4 * n * dt.itemsize)
        cached = max(16, min(_CACHE_BYTES // max(1, n * dt.itemsize), 256))
        block_size = max(1, min(s, fit if backend == "torch" else min(cached, fit)))
    if int(block_size) < 1:
        raise ScoringError(f"block_size must be >= 1, got {block_size}")
    out_idx = np.zeros((s, k_eff), np.int64)
    out_sc = np.zeros((s, k_eff), dt)
    its = np.zeros(s, np.int64)
    res = np.zeros(s)
    conv = np.zeros(s, bool)
    t0 = time.perf_counter()
    for start in range(0, s, int(block_size)):
        stop = min(s, start + int(block_size))
        P = np.ascontiguousarray(S[start:stop].T.toarray(), dtype=dt)  # (N, B) teleport block
        x, it, r, first = _run(T, P, None, P.copy(), float(damping), float(tol), int(max_iter),
                               device, backend, op=op)
        if exclude_seeds:
            x[P > 0] = -np.inf
        idx, sc = _topk_columns(x, k_eff, cand)
        out_idx[start:stop], out_sc[start:stop] = idx, sc
        its[start:stop] = np.where(first >= 0, first, it)
        res[start:stop] = r
        conv[start:stop] = first >= 0
        if progress is not None:
            progress(stop, s)
    seconds = time.perf_counter() - t0
    if not conv.all():
        worst = int(np.argmax(res))
        warn_unconverged(f"personalized_pagerank: {int((~conv).sum())} of {s} seeds", float(res[worst]),
                         float(tol), int(max_iter), f" for those seeds (worst: seed row {worst})")
    ids = labels = None
    if isinstance(A, GraphMatrix):
        ids, labels = A.ids[out_idx], A.labels[out_idx]
    return PersonalizedPageRankResult(out_idx, out_sc, its, res, conv, device, backend, seconds, ids, labels)


def _seed_matrix(seeds: Any, n: int) -> sp.csr_matrix:
    """``(S, N)`` CSR of row-normalised seed weights."""
    if sp.issparse(seeds) or (isinstance(seeds, np.ndarray) and seeds.ndim == 2):
        S = sp.csr_matrix(seeds, dtype=np.float64)
        if S.shape[1] != n:
            raise ScoringError(f"seed matrix must be (S, N) with N={n}, got shape {S.shape}")
        if S.nnz and (not np.isfinite(S.data).all() or (S.data < 0).any()):
            raise ScoringError("seed weights must be finite and non-negative")
        tot = np.asarray(S.sum(axis=1)).ravel()
        if (tot <= 0).any():
            raise ScoringError(f"seed rows {np.flatnonzero(tot <= 0)[:10].tolist()} have no positive weight")
        S = sp.diags(1.0 / tot) @ S
        return sp.csr_matrix(S)
    idx = np.asarray(seeds)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ScoringError(
            f"seeds must be a 1-D sequence of node indices or an (S, N) weight matrix, got {idx.dtype} {idx.shape}")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ScoringError(f"seed indices must be in [0, {n}), got min {idx.min()} max {idx.max()}")
    return sp.csr_matrix((np.ones(idx.size), (np.arange(idx.size), idx)), shape=(idx.size, n))


def _candidate_index(candidates: Any, n: int) -> np.ndarray | None:
    if candidates is None:
        return None
    c = np.asarray(candidates)
    if c.dtype == bool:
        if c.shape != (n,):
            raise ScoringError(f"candidate mask must have shape ({n},), got {c.shape}")
        return np.flatnonzero(c)
    if c.ndim != 1 or (c.size and not np.issubdtype(c.dtype, np.integer)):
        raise ScoringError("candidates must be a boolean mask or a 1-D array of node indices")
    c = np.unique(c.astype(np.int64))
    if c.size and (c[0] < 0 or c[-1] >= n):
        raise ScoringError(f"candidate indices must be in [0, {n})")
    return c


def _topk_columns(x: np.ndarray, k: int, cand: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k rows of each column, best first, ties broken by lower index.

    Shapes:
        x: ``(N, B)``; returns ``(B, k)`` indices and scores.
    """
    X = x.T if cand is None else x[cand].T  # (B, C)
    c = X.shape[1]
    part = np.argpartition(-X, k - 1, axis=1)[:, :k] if k < c else np.broadcast_to(np.arange(c), X.shape).copy()
    vals = np.take_along_axis(X, part, axis=1)
    order = np.lexsort((part, -vals), axis=1) if X.shape[0] else part
    part = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    idx = part if cand is None else cand[part]
    return idx.astype(np.int64), vals


#: At most this many row blocks per Gauss-Seidel sweep, each of at least :data:`_GS_MIN_ROWS` rows. On the
#: 1e6-node power-law benchmark graph 16, 32, 64 and 1,024 blocks all need 8 sweeps (8 blocks: 9, 1 block = the
#: power iteration: 12); more blocks only add Python calls.
_GS_BLOCKS = 32
_GS_MIN_ROWS = 1024
#: below this many edges a sweep is too short for a second thread to pay for its hand-offs
_GS_THREADS_MIN_NNZ = 200_000


def _common_index_type(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both index arrays in one type: int32 when nnz and N fit (the smaller copy), else int64 (indptr may
    hold offsets past 2**31 while the column indices are int32: narrowing indptr would wrap)."""
    fits = int(indptr[-1]) < np.iinfo(np.int32).max and indptr.size - 1 < np.iinfo(np.int32).max
    t = np.int32 if fits else np.int64
    return indptr.astype(t, copy=False), indices.astype(t, copy=False)


def _teleport_share(n: int, alpha: float, p: np.ndarray | None, u: np.ndarray | None) -> Any:
    """``share(total, mass)``: every node's teleport + dangling share ``total * c`` in the Gauss-Seidel sweeps'
    unnormalised units (``total = sum(x)``, ``mass`` its dangling part): a float when ``p`` and ``u`` are
    uniform, else an ``(N,)`` buffer refilled in place at each call (no new vectors per sweep)."""
    if p is None and u is None:
        return lambda total, mass: (alpha * mass + (1.0 - alpha) * total) / n
    pp = np.full(n, 1.0 / n) if p is None else p
    uu = pp if u is None else u
    buf, tmp = np.empty(n), np.empty(n)

    def share(total: float, mass: float) -> np.ndarray:
        np.multiply(uu, alpha * mass, out=buf)
        np.multiply(pp, (1.0 - alpha) * total, out=tmp)
        return np.add(buf, tmp, out=buf)

    return share


def _pagerank_gs(
    M: sp.csr_matrix, p: np.ndarray | None, u: np.ndarray | None, alpha: float, tol: float, max_iter: int,
    blocks: int | None = None, threads: int = 1,
) -> tuple[np.ndarray, int, float, bool]:
    """PageRank by block Gauss-Seidel sweeps in float64; returns (scores, sweeps, residual, converged).

    Solves ``x = alpha P^T x + alpha (d^T x) u + (1 - alpha) p`` (``p``, ``u``: float64 probability
    vectors, None = uniform / ``u = p``). ``x`` and ``S = A^T (x / out)`` are kept unnormalised
    (total ``T = sum(x)``), so the renormalisation between sweeps costs nothing: the true iterate is ``x / T``.
    A sweep visits the row blocks in order; block ``b`` sets ``x_b = alpha S_b + c_b`` (``c`` the teleport
    and dangling share, fixed for the sweep) and adds ``A_b^T (delta_b / out_b)`` into ``S`` with SciPy's
    CSC kernel on the block's rows of the CSR arrays (views, no copy). After each sweep the exact power-step
    change ``||G(x / T) - x / T||_1`` is computed from ``S`` (no product); the run stops when it is below
    ``tol`` and returns ``G(x / T)``. ``max_iter`` bounds the sweeps. ``blocks`` (tests) fixes the block count;
    ``threads`` 2 splits each block's scatter between this thread and a worker (graphs of at least
    ``_GS_THREADS_MIN_NNZ`` edges).

    Shapes:
        M: ``(N, N)`` canonical CSR, any float dtype (its data is copied to float64 when float32);
        p, u: ``(N,)`` or None; scores: ``(N,)`` float64, summing to 1.
    """
    n = M.shape[0]
    data = M.data if M.dtype == np.float64 else M.data.astype(np.float64)
    indptr, indices = M.indptr, M.indices
    if indptr.dtype != indices.dtype:  # one index type, so SciPy's kernel never converts (copies) per call
        indptr, indices = _common_index_type(indptr, indices)
    out_w = out_weights(M, data)
    ainv = np.zeros(n)  # alpha / out-weight (0 for dangling nodes): S below is alpha A^T (x / out)
    np.divide(alpha, out_w, out=ainv, where=out_w > 0)
    dangling = np.flatnonzero(out_w <= 0)
    k = max(1, min(_GS_BLOCKS, n // _GS_MIN_ROWS)) if blocks is None else max(1, min(int(blocks), n))
    bounds = [int(b) for b in np.linspace(0, n, k + 1).astype(np.int64)]
    spans = list(zip(bounds[:-1], bounds[1:]))
    width = max(r1 - r0 for r0, r1 in spans)
    buf, delta_buf = np.empty(width), np.empty(width)  # per-block temporaries, reused (no page faults)
    uniform = p is None and u is None
    x = np.zeros(n)  # start from 0: the first sweep builds S from nothing, no product to start with
    S = np.zeros(n)
    total, mass = 1.0, 0.0  # sum(x) (x / total is the iterate) and the dangling nodes' part, at sweep start

    share = _teleport_share(n, alpha, p, u)
    res, it = float("inf"), 0
    c = share(total, mass)
    # Two threads: each block's rows are split in two halves of equal edge count; the second half is
    # scattered by a worker thread into its own sum vector S2 (SciPy's kernel releases the GIL), so
    # S = S + S2 is only ever formed for the rows being read. Same sweeps, same iterates as one thread.
    pool = None
    if threads > 1 and M.nnz >= _GS_THREADS_MIN_NNZ:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medkg-pagerank")
        S2 = np.zeros(n)
        halves = [r0 + int(np.searchsorted(indptr[r0:r1 + 1], (int(indptr[r0]) + int(indptr[r1])) // 2))
                  for r0, r1 in spans]  # in [r0, r1]: the midpoint lies within the block's edge range

    def block_sum(r0: int, r1: int, out: np.ndarray) -> np.ndarray:
        """``S[r0:r1] + c[r0:r1]`` into ``out`` (with the worker's part when two threads run)."""
        np.add(S[r0:r1], c if uniform else c[r0:r1], out=out)  # type: ignore[index]
        if pool is not None:
            out += S2[r0:r1]
        return out

    try:
        for it in range(1, max_iter + 1):
            for b, (r0, r1) in enumerate(spans):
                new, delta = block_sum(r0, r1, buf[:r1 - r0]), delta_buf[:r1 - r0]
                np.subtract(new, x[r0:r1], out=delta)
                x[r0:r1] = new
                delta *= ainv[r0:r1]
                if pool is None:
                    csc_matvec_add(n, r1 - r0, indptr[r0:r1 + 1], indices, data, delta, S)  # S += alpha A_b^T delta
                else:
                    h = halves[b]
                    job = pool.submit(csc_matvec_add, n, r1 - h, indptr[h:r1 + 1], indices, data, delta[h - r0:], S2)
                    csc_matvec_add(n, h - r0, indptr[r0:h + 1], indices, data, delta[:h - r0], S)
                    job.result()
            total = float(x.sum())
            mass = float(x[dangling].sum()) if dangling.size else 0.0
            c = share(total, mass)
            res = 0.0
            for r0, r1 in spans:  # ||G(x/T) - x/T||_1 from S (no product), block by block in cache
                g = block_sum(r0, r1, buf[:r1 - r0])
                g -= x[r0:r1]
                res += float(_dasum(g))  # BLAS sum of |g|: one pass instead of abs + sum
            res /= total
            if res < tol:
                break
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    y = S + c
    if pool is not None:
        y += S2
    y /= total
    return y, it, res, res < tol


try:  # the point Gauss-Seidel kernels (graph_engine/scoring/_gs.c), built by pip install when a C compiler is there
    from graph_engine.scoring import _gs as _gs_ext
except ImportError:  # pragma: no cover - exercised by the fallback test, which hides the module
    _gs_ext = None  # type: ignore[assignment]


def _gs_c_usable(M: sp.csr_matrix) -> bool:
    """True when the C sweeps can take ``M``'s arrays as they are (no copies): int32/int64 indices,
    float32/float64 C-contiguous data."""
    return (_gs_ext is not None and M.indices.dtype in (np.int32, np.int64) and M.data.dtype in (np.float32, np.float64)
            and M.data.flags.c_contiguous and M.indices.flags.c_contiguous and M.indptr.flags.c_contiguous)


def _pagerank_gs_c(
    M: sp.csr_matrix, p: np.ndarray | None, u: np.ndarray | None, alpha: float, tol: float, max_iter: int,
) -> tuple[np.ndarray, int, float, bool] | None:
    """PageRank by **point** Gauss-Seidel sweeps (C kernels of ``_gs.c``); same contract as :func:`_pagerank_gs`.

    The block sweeps' recurrence with one node per block: node ``u`` sets ``x_u = S_u + c_u`` and
    scatters ``(x_u(new) - x_u(old)) alpha w / out_u`` along its out-edges into ``S``, so every later node
    of the sweep already reads it. One pass over the edges per sweep, the vector work fused into it, the
    weights read in their own type (no float64 copy), ``sum(x)`` and the dangling mass summed on the
    way; the first sweep also sums the out-weights and checks the CSR arrays. ``c`` (the teleport and
    dangling share) is fixed for a sweep and the stopping rule is the exact power-step change computed
    from ``S`` after it, as in :func:`_pagerank_gs`. Returns None when the kernels cannot take ``M``
    without a copy (the caller falls back to the block sweeps).

    Shapes:
        M: ``(N, N)`` canonical CSR; p, u: ``(N,)`` float64 or None; scores: ``(N,)`` float64, summing to 1.
    """
    if not _gs_c_usable(M) or not 0.0 < alpha < 1.0:
        return None
    assert _gs_ext is not None
    n = M.shape[0]
    indptr, indices, data = M.indptr, M.indices, M.data
    if indptr.dtype != indices.dtype:
        indptr, indices = _common_index_type(indptr, indices)
    ix = indices.dtype.itemsize
    share = _teleport_share(n, alpha, p, u)
    ainv = np.empty(n)  # alpha / out-weight, 0 for dangling nodes: written by the first sweep
    x, S = np.zeros(n), np.zeros(n)  # from 0: the first sweep builds S from nothing
    c = share(1.0, 0.0)
    res, it, unit = float("inf"), 0, False
    for it in range(1, max_iter + 1):
        try:  # unit: every weight is 1 (found by the first sweep): the later sweeps do not read the weights
            total, mass, unit = _gs_ext.sweep(indptr, indices, data, ix, ainv, x, S, c, first=it == 1, alpha=alpha,
                                              unit=unit)
        except ValueError as exc:
            raise ScoringError(f"adjacency: {exc}") from None
        if not (total > 0.0 and np.isfinite(total)):  # pragma: no cover - weights are checked finite and >= 0
            raise ScoringError(f"pagerank: Gauss-Seidel sweep {it} gave total mass {total}")
        c = share(total, mass)
        res = _gs_ext.residual(S, c, x) / total
        if res < tol:
            break
    y = S + c
    y /= total
    return y, it, res, res < tol


def _prepare(M: sp.csr_matrix, device: str, backend: str) -> tuple[Transition | None, TorchTransition | None]:
    """The operator for the back end: a host :class:`Transition` for scipy, a device one for torch."""
    if backend == "torch":
        return None, torch_transition(M, device)
    return transition(M), None


def _run(
    T: Transition | None,
    p: np.ndarray,
    u: np.ndarray | None,
    x: np.ndarray,
    alpha: float,
    tol: float,
    max_iter: int,
    device: str,
    backend: str,
    op: TorchTransition | None = None,
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Power iteration on an ``(N, B)`` block; returns (x, iterations, residual (B,), first converged it (B,)).

    ``T`` (scipy) or ``op`` (torch) from :func:`_prepare`.
    """
    if backend == "torch":
        if op is None:
            raise ScoringError("internal: the torch back end needs the device operator from _prepare")
        return _run_torch(op, p, u, x, alpha, tol, max_iter, device)
    if T is None:
        raise ScoringError("internal: the scipy back end needs the Transition from _prepare")
    return _run_scipy(T, p, u, x, alpha, tol, max_iter)


def _run_scipy(
    T: Transition, p: np.ndarray, u: np.ndarray | None, x: np.ndarray,
    alpha: float, tol: float, max_iter: int,
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """scipy power iteration on an ``(N, B)`` block.

    Columns that have converged are retired from the block (compacted out once
    a tenth of the active ones are done), so a batch costs what its seeds need,
    not ``B x`` the slowest seed. When ``u is None`` and ``p`` is sparse (seed
    nodes), the teleport step touches only the seed entries.
    """
    n, b = x.shape
    dt = x.dtype
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)  # final vectors, filled as columns retire
    first = np.full(b, -1, np.int64)
    residual = np.full(b, np.inf)
    active = np.arange(b)
    scaled_inv = (alpha * T.inv_out.astype(np.float64)).astype(dt)[:, None]  # alpha / out-weight
    dangling = T.dangling
    light = T.A if T.heavy is None or T.heavy.light is None else T.heavy.light
    uniform = u is None and b == 1 and p.min() == p.max()  # plain PageRank: the teleport is one number
    nz_rows, nz_cols = np.nonzero(p) if not uniform else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    sparse_p = u is None and not uniform and nz_rows.size * 4 <= p.size  # seeds: a few entries per column
    nz_vals = p[nz_rows, nz_cols]
    y = np.empty_like(x)
    tmp = np.empty_like(x)
    it = 0
    for it in range(1, max_iter + 1):
        np.multiply(x, scaled_inv, out=tmp)
        init = 0.0
        if uniform:                                   # y starts at the teleport + dangling share
            mass = x[dangling].sum(axis=0, dtype=np.float64) if dangling.size else np.zeros(1)
            init = float((alpha * mass[0] + (1.0 - alpha)) * p[0, 0])
        spmm_t_into(light, tmp, y, init=init)         # y = init + alpha P^T x
        if T.heavy is not None:                       # hubs' sums, accumulated in float64
            T.heavy.fix(tmp, y)                       # (fix overwrites the hub rows: give them init back)
            if init:
                y[T.heavy.index] += dt.type(init)
        if uniform:
            pass                                      # added above
        elif u is None:                               # dangling mass follows the teleport vector
            mass = x[dangling].sum(axis=0, dtype=np.float64) if dangling.size else np.zeros(x.shape[1])
            coef = (alpha * mass + (1.0 - alpha)).astype(dt)
            if sparse_p:
                y[nz_rows, nz_cols] += nz_vals * coef[nz_cols]
            else:
                np.multiply(p, coef, out=tmp)
                y += tmp
        else:
            mass = x[dangling].sum(axis=0, dtype=np.float64) if dangling.size else np.zeros(x.shape[1])
            np.multiply(u, (alpha * mass).astype(dt), out=tmp)
            y += tmp
            np.multiply(p, dt.type(1.0 - alpha), out=tmp)
            y += tmp
        np.subtract(y, x, out=tmp)
        np.abs(tmp, out=tmp)
        res = tmp.sum(axis=0, dtype=np.float64)
        residual[active] = res
        x, y = y, x
        done = res < tol
        first[active[done]] = it
        if done.all():
            out[:, active] = x
            active = active[:0]
            break
        if done.sum() * 10 >= active.size:           # retire converged columns
            out[:, active[done]] = x[:, done]
            keep = ~done
            active = active[keep]
            x = np.ascontiguousarray(x[:, keep])
            y = np.empty_like(x)
            tmp = np.empty_like(x)
            if sparse_p:
                remap = np.full(keep.size, -1)
                remap[keep] = np.arange(int(keep.sum()))
                sel = keep[nz_cols]
                nz_rows, nz_cols, nz_vals = nz_rows[sel], remap[nz_cols[sel]], nz_vals[sel]
            else:
                p = np.ascontiguousarray(p[:, keep])
                if u is not None:
                    u = np.ascontiguousarray(u[:, keep])
    if active.size:
        out[:, active] = x
    return out, it, residual, first


def _run_torch(
    op: TorchTransition, p: np.ndarray, u: np.ndarray | None, x0: np.ndarray,
    alpha: float, tol: float, max_iter: int, device: str,
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    import torch

    PT, dangling = op.PT, op.dangling
    pt = torch.from_numpy(p).to(device)
    ut = None if u is None else torch.from_numpy(u).to(device)
    x = torch.from_numpy(x0).to(device)
    b = x.shape[1]
    first = np.full(b, -1, np.int64)
    residual = np.full(b, np.inf)
    it = 0
    with torch.no_grad():
        for it in range(1, max_iter + 1):
            y = PT @ x if b > 1 else (PT @ x[:, 0]).unsqueeze(1)
            if op.heavy is not None:  # hubs' sums again, accumulated in float64
                op.heavy.fix(x, y)
            mass = x.index_select(0, dangling).sum(0, dtype=torch.float64) if dangling.numel() else \
                torch.zeros(b, dtype=torch.float64, device=device)
            y.mul_(alpha)
            if ut is None:
                y.add_(pt * (alpha * mass + (1.0 - alpha)).to(x.dtype))
            else:
                y.add_(ut * (alpha * mass).to(x.dtype)).add_(pt, alpha=1.0 - alpha)
            residual = (y - x).abs_().sum(0, dtype=torch.float64).cpu().numpy()
            x = y
            first[(residual < tol) & (first < 0)] = it
            if (first >= 0).all():
                break
    return x.cpu().numpy(), it, residual, first


__all__: Sequence[str] = ("PageRankResult", "PersonalizedPageRankResult", "pagerank", "personalized_pagerank")
