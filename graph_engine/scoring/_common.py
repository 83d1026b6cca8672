"""Input validation, device resolution and matrix preparation shared by the scorers.

Inputs are normalised to a scipy CSR matrix on the CPU first, then handed to
the scipy kernels, or copied once to a torch sparse CSR tensor for the torch
kernels, which prepare the rest (out-weights, transpose) on their device.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from graph_engine.devices import check_device_name, cuda_available, resolve_device_name
from graph_engine.errors import ConvergenceWarning, ScoringError
from graph_engine.export import GraphMatrix

Device = Literal["auto", "cpu", "cuda"]
Backend = Literal["auto", "scipy", "torch"]


def resolve_dtype(dtype: Any) -> np.dtype:
    """Return ``np.float32`` or ``np.float64``; anything else raises ScoringError."""
    try:
        if _is_torch_dtype(dtype):
            dtype = str(dtype).replace("torch.", "")
        dt = np.dtype(dtype)
    except TypeError as e:
        raise ScoringError(f"dtype must be float32 or float64, got {dtype!r}") from e
    if dt not in (np.float32, np.float64):
        raise ScoringError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _is_torch_dtype(obj: Any) -> bool:
    return type(obj).__module__ == "torch" and type(obj).__name__ == "dtype"


def _is_torch_tensor(obj: Any) -> bool:
    return type(obj).__module__.startswith("torch") and type(obj).__name__ == "Tensor"


def resolve_device(device: str, backend: str, A: Any = None) -> tuple[str, str]:
    """Pick ``(device, backend)``.

    ``device="auto"`` means CUDA when a GPU is visible (or ``A`` already lives
    there), else CPU. ``backend="auto"`` means torch on CUDA and scipy on CPU;
    ``backend="torch"`` with ``device="cpu"`` runs the torch kernels on the CPU
    (used by the tests of the GPU code path on machines without a GPU).

    Raises:
        ScoringError: unknown names, or CUDA asked for but not available.
    """
    check_device_name(device, ScoringError)
    if backend not in ("auto", "scipy", "torch"):
        raise ScoringError(f"backend must be 'auto', 'scipy' or 'torch', got {backend!r}")
    if device == "auto":
        on_cuda = _is_torch_tensor(A) and A.device.type == "cuda"
        device = "cuda" if (cuda_available() or on_cuda) and backend != "scipy" else "cpu"
    if str(device).startswith("cuda"):
        resolve_device_name(device, ScoringError)  # CUDA asked for without a GPU: the shared error
        if backend == "scipy":
            raise ScoringError("backend='scipy' runs on the CPU only; use backend='torch' for CUDA")
        return str(device), "torch"
    return "cpu", ("scipy" if backend == "auto" else backend)


def as_csr(A: Any, dtype: np.dtype) -> sp.csr_matrix:
    """Convert an adjacency to a canonical CSR matrix (no explicit zeros, no duplicates).

    Args:
        A: a :class:`GraphMatrix`, any scipy sparse matrix/array, a torch sparse
            (COO or CSR) or dense tensor, or a dense 2-D NumPy array.
            ``A[i, j] != 0`` is an edge i -> j with that weight.
        dtype: float32 or float64.

    Returns:
        ``(N, N)`` CSR with int32 indices when they fit.

    Raises:
        ScoringError: not square, not 2-D, negative or non-finite weights, or an
            unsupported type.

    Shapes:
        A: ``(N, N)``.
    """
    if isinstance(A, GraphMatrix):
        A = A.matrix
    if _is_torch_tensor(A):
        A = _torch_to_scipy(A)
    owned = False  # never modify the caller's matrix; copy only when something must change
    if sp.issparse(A):
        M = A if A.format == "csr" else A.tocsr()
        owned = M is not A
        if M.dtype != dtype:
            M, owned = M.astype(dtype), True
    elif isinstance(A, np.ndarray):
        if A.ndim != 2:
            raise ScoringError(f"adjacency must be 2-D (N, N), got shape {A.shape}")
        M, owned = sp.csr_matrix(A.astype(dtype, copy=False)), True
    else:
        raise ScoringError(
            f"adjacency must be a scipy sparse matrix, a torch tensor, a NumPy array or a GraphMatrix, "
            f"got {type(A).__name__}"
        )
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ScoringError(f"adjacency must be square (N, N), got shape {M.shape}")
    if not M.has_canonical_format:
        M = M if owned else M.copy()
        owned = True
        M.sum_duplicates()
    if M.nnz:
        lo, hi = M.data.min(), M.data.max()
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ScoringError("adjacency has NaN or infinite weights; expected finite non-negative weights")
        if lo < 0:
            raise ScoringError(
                f"adjacency has {int((M.data < 0).sum())} negative weights; expected non-negative weights"
            )
        if lo == 0:  # zero-weight edges are absent edges
            M = M if owned else M.copy()
            owned = True
            M.eliminate_zeros()
    small = M.nnz < np.iinfo(np.int32).max and M.shape[0] < np.iinfo(np.int32).max
    if small and (M.indices.dtype != np.int32 or M.indptr.dtype != np.int32):
        M = sp.csr_matrix((M.data, M.indices.astype(np.int32), M.indptr.astype(np.int32)), shape=M.shape)
    return M


def _torch_to_scipy(T: Any) -> sp.csr_matrix:
    import torch

    if T.layout == torch.sparse_csr:
        crow, col, val = (t.detach().cpu().numpy() for t in (T.crow_indices(), T.col_indices(), T.values()))
        return sp.csr_matrix((val, col, crow), shape=tuple(T.shape))
    if T.layout == torch.sparse_coo:
        T = T.coalesce()
        idx = T.indices().detach().cpu().numpy()
        val = T.values().detach().cpu().numpy()
        return sp.csr_matrix((val, (idx[0], idx[1])), shape=tuple(T.shape))
    if T.layout == torch.strided:
        return sp.csr_matrix(T.detach().cpu().numpy())
    raise ScoringError(f"unsupported torch layout {T.layout}; expected sparse_coo, sparse_csr or dense")


#: A float32 sum over more terms than this (a node's in-edges in ``P^T x``, its out-edges in ``A x``) is
#: accumulated in float64 instead (:class:`HeavyLines`). SciPy's kernels add a row's terms one after another
#: in the storage type; on a hub with 684k in-edges that left PageRank unconverged (residual 1.5e-3, scores
#: summing to 1.0003). Below this many terms the float32 rounding stays well under ``tol`` (tests measure it).
F64_ABOVE = 1024


@dataclass
class HeavyLines:
    """The lines of a product ``M^T x`` (columns of ``M``) or ``M x`` (rows) that have more than
    :data:`F64_ABOVE` terms, as a float64 matrix, so their sums are accumulated in float64.

    The float32 kernel runs on ``light`` (``M`` without the heavy lines' entries: on the issue-24
    hub graph they are a fifth of the edges, on smaller hub graphs up to half) when it is set, else
    on ``M``; :meth:`fix` then writes the heavy lines.

    Shapes:
        index: ``(H,)`` int64 line (node) indices.
        M64: float64 CSR, ``(N, H)`` (the heavy columns of ``M``; ``transposed``) or ``(H, N)`` (heavy rows).
    """

    index: np.ndarray
    M64: sp.csr_matrix
    transposed: bool
    light: sp.csr_matrix | None = None  # M without the heavy lines' entries, for the float32 kernel

    def fix(self, x: np.ndarray, out: np.ndarray) -> None:
        """``out[index] = (M64^T or M64) @ x``, the products and sums in float64.

        Shapes:
            x, out: ``(N, B)`` C-contiguous.
        """
        x64 = x.astype(np.float64)
        res = np.empty((self.index.size, x.shape[1]), np.float64)
        (spmm_t_into if self.transposed else spmm_into)(self.M64, x64, res)
        out[self.index] = res


def heavy_candidates(M: sp.csr_matrix, threshold: int | None = None) -> np.ndarray:
    """Columns of ``M`` that may have more than ``threshold`` (:data:`F64_ABOVE`) entries, from every 8th
    stored entry (see :func:`heavy_columns`); ``(H,)`` int64, empty when there is no hub."""
    limit = F64_ABOVE if threshold is None else int(threshold)
    if M.nnz <= limit:
        return np.zeros(0, np.int64)
    stride = 8
    sampled = np.bincount(M.indices[::stride], minlength=M.shape[1])
    return np.flatnonzero(sampled * stride * 2 > limit).astype(np.int64)


def has_hubs(M: sp.csr_matrix) -> bool:
    """True when a float32 product with ``M`` or ``M^T`` would sum more than :data:`F64_ABOVE` terms
    in a line (a node with that many in- or out-edges)."""
    return bool(heavy_candidates(M).size) or bool(M.nnz and np.diff(M.indptr).max() > F64_ABOVE)


def heavy_columns(M: sp.csr_matrix, threshold: int | None = None) -> HeavyLines | None:
    """:class:`HeavyLines` for ``M^T x``: the columns of ``M`` (in-degrees) with more than ``threshold`` entries.

    None for float64 matrices or when no column is that heavy. Candidates come from every
    8th stored entry (a node with 1,024 in-edges shows ~128 times; ones shown more than
    ``threshold / 16`` times are kept), so graphs without hubs pay an eighth of a pass;
    treating a lighter column as heavy costs a little time, never accuracy.
    """
    if M.dtype == np.float64:
        return None
    heavy = heavy_candidates(M, threshold)
    if heavy.size == 0:
        return None
    compact = np.full(M.shape[1], -1, np.int32)
    compact[heavy] = np.arange(heavy.size, dtype=np.int32)
    col = compact[M.indices]
    mask = col >= 0
    before = np.zeros(M.nnz + 1, np.int64)  # heavy entries before each position
    np.cumsum(mask, out=before[1:])
    at_rows = before[M.indptr]
    pos = np.flatnonzero(mask)
    M64 = sp.csr_matrix((M.data[pos].astype(np.float64), col[pos], at_rows), shape=(M.shape[0], heavy.size))
    keep = ~mask
    light = sp.csr_matrix((M.data[keep], M.indices[keep], (M.indptr - at_rows).astype(M.indptr.dtype)),
                          shape=M.shape)
    return HeavyLines(heavy.astype(np.int64), M64, transposed=True, light=light)


def heavy_rows(M: sp.csr_matrix, threshold: int | None = None) -> HeavyLines | None:
    """:class:`HeavyLines` for ``M x``: the rows of ``M`` (out-degrees) with more than ``threshold`` entries."""
    limit = F64_ABOVE if threshold is None else int(threshold)
    if M.dtype == np.float64 or M.nnz <= limit:
        return None
    heavy = np.flatnonzero(np.diff(M.indptr) > limit)
    if heavy.size == 0:
        return None
    return HeavyLines(heavy.astype(np.int64), sp.csr_matrix(M[heavy], dtype=np.float64), transposed=False)


@dataclass
class Transition:
    """A graph prepared for random-walk iterations, without transposing it.

    ``P^T x`` is computed as ``A^T (x * inv_out)``: scipy's CSC kernels read the
    CSR arrays of ``A`` as the CSC arrays of ``A^T`` (a scatter instead of a
    gather), which avoids an O(E) transpose that costs as much as ~10 iterations.
    Nodes with more than :data:`F64_ABOVE` in-edges get their sums in float64 (``heavy``).

    Shapes:
        A: ``(N, N)`` CSR of the adjacency (canonical, no zeros).
        inv_out: ``(N,)`` ``1 / out-weight``, 0 for dangling nodes (``A.dtype``).
        dangling: ``(D,)`` int64, nodes without out-weight.
    """

    A: sp.csr_matrix
    inv_out: np.ndarray
    dangling: np.ndarray
    heavy: HeavyLines | None = None

    @property
    def n(self) -> int:
        return int(self.A.shape[0])


def out_weights(M: sp.csr_matrix, data: np.ndarray | None = None) -> np.ndarray:
    """Row sums of ``M`` accumulated in float64 (one pass), ``(N,)`` float64.

    ``data``: ``M.data`` already in float64 (same order), when the caller has that copy: summing it
    costs half of summing float32 data with a float64 accumulator (measured 24 vs 47 ms on 8.4M entries).
    """
    out_w = np.zeros(M.shape[0], dtype=np.float64)
    if M.nnz and M.data.min() == 1 and M.data.max() == 1:  # unweighted: the out-degrees
        out_w[:] = np.diff(M.indptr)
    elif M.nnz:
        # reduceat over the rows up to the last non-empty one (an empty row in between gets one stray
        # entry, zeroed after): no index gather of the non-empty rows
        # rows [0, last) reach the end of data (the scalar in indptr's type: no converted copy of indptr)
        last = int(np.searchsorted(M.indptr, M.indptr.dtype.type(M.nnz), side="left"))
        starts = M.indptr[:last]
        if data is not None and data.dtype == np.float64:
            out_w[:last] = np.add.reduceat(data, starts)
        else:
            out_w[:last] = np.add.reduceat(M.data, starts, dtype=np.float64)
        out_w[:last][M.indptr[1:last + 1] == starts] = 0.0
    return out_w


def transition(M: sp.csr_matrix, heavy: bool = True) -> Transition:
    """Out-weights of ``M`` (one pass, float64), the dangling set and (``heavy``) the heavy in-degree columns."""
    out_w = out_weights(M)
    inv = np.zeros(M.shape[0], dtype=np.float64)
    np.divide(1.0, out_w, out=inv, where=out_w > 0)
    return Transition(A=M, inv_out=inv.astype(M.dtype), dangling=np.flatnonzero(out_w <= 0).astype(np.int64),
                      heavy=heavy_columns(M) if heavy else None)


def warn_unconverged(what: str, residual: float, tol: float, iterations: int, hint: str = "") -> None:
    """Issue a :class:`~graph_engine.errors.ConvergenceWarning` naming the residual, ``tol`` and the iterations."""
    warnings.warn(
        f"{what} did not converge: L1 change {residual:.3g} >= tol {tol:g} after {iterations} iterations; "
        f"the result is returned with converged=False{hint}. Raise max_iter (or pass dtype=np.float64).",
        ConvergenceWarning, stacklevel=3)


def probability_vector(v: Any, n: int, name: str, dtype: np.dtype) -> np.ndarray:
    """Validate and L1-normalise a non-negative length-``n`` vector.

    Raises:
        ScoringError: wrong length, negative or non-finite entries, or all zeros.
    """
    if _is_torch_tensor(v):
        v = v.detach().cpu().numpy()
    arr = np.asarray(v, dtype=np.float64).ravel()
    if arr.shape != (n,):
        raise ScoringError(f"{name} must have one entry per node ({n}), got shape {np.shape(v)}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ScoringError(f"{name} must be finite and non-negative")
    total = arr.sum()
    if total <= 0:
        raise ScoringError(f"{name} sums to zero; give at least one positive entry")
    return (arr / total).astype(dtype)


def to_torch_csr(M: sp.csr_matrix, device: str) -> Any:
    """Copy a scipy CSR matrix to a torch sparse CSR tensor on ``device``."""
    import torch

    idx_dtype = torch.int32 if M.indices.dtype == np.int32 else torch.int64
    with warnings.catch_warnings():  # "sparse CSR support is in beta": known, and what we want
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(np.ascontiguousarray(M.indptr)).to(idx_dtype),
            torch.from_numpy(np.ascontiguousarray(M.indices)).to(idx_dtype),
            torch.from_numpy(np.ascontiguousarray(M.data)),
            size=M.shape,
            device=device,
            check_invariants=False,
        )


@dataclass(frozen=True)
class TorchHeavyRows:
    """The rows of a torch CSR product with more than :data:`F64_ABOVE` terms, as a float64 CSR
    (the torch counterpart of :class:`HeavyLines`; cuSPARSE reduces in a tree, MKL on the CPU does not).

    Shapes:
        index: ``(H,)`` int64 row indices; M64: ``(H, N)`` float64 sparse CSR.
    """

    index: Any
    M64: Any

    def fix(self, x: Any, out: Any) -> Any:
        """``out[index] = M64 @ x`` accumulated in float64 (in place; returns ``out``)."""
        y = self.M64 @ x.double() if x.dim() == 2 else (self.M64 @ x.double().unsqueeze(1)).squeeze(1)
        return out.index_copy_(0, self.index, y.to(out.dtype))


def torch_heavy_rows(T: Any, threshold: int | None = None) -> TorchHeavyRows | None:
    """:class:`TorchHeavyRows` of a float32 torch sparse CSR tensor, or None (float64, or no heavy row)."""
    import torch

    limit = F64_ABOVE if threshold is None else int(threshold)
    if T.dtype == torch.float64 or T.values().numel() <= limit:
        return None
    crow = T.crow_indices().long()
    deg = crow[1:] - crow[:-1]
    heavy = torch.nonzero(deg > limit).flatten()
    if heavy.numel() == 0:
        return None
    counts = deg[heavy]
    new_crow = torch.zeros(heavy.numel() + 1, dtype=torch.int64, device=T.device)
    new_crow[1:] = torch.cumsum(counts, 0)
    # positions of the heavy rows' entries: each row's start, then 0, 1, ... within the row
    pos = torch.repeat_interleave(crow[heavy] - new_crow[:-1], counts) + torch.arange(
        int(new_crow[-1]), device=T.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        M64 = torch.sparse_csr_tensor(new_crow, T.col_indices().long()[pos], T.values()[pos].double(),
                                      size=(heavy.numel(), T.shape[1]), check_invariants=False)
    return TorchHeavyRows(heavy, M64)


@dataclass(frozen=True)
class TorchTransition:
    """``P^T`` and the dangling nodes as torch tensors on one device.

    Shapes:
        PT: ``(N, N)`` sparse CSR, ``PT[j, i] = A[i, j] / out_i``.
        dangling: ``(D,)`` int64, nodes without out-weight.
        heavy: rows of ``PT`` (nodes with more than :data:`F64_ABOVE` in-edges) summed in float64.
    """

    n: int
    PT: Any
    dangling: Any
    heavy: TorchHeavyRows | None = None


def torch_transition(M: sp.csr_matrix, device: str) -> TorchTransition:
    """Copy ``M`` to ``device`` once and build the random-walk operator there.

On CUDA the out-weights are summed on the device (in float64, over the CSR
rows), so no host-side pass over the edges is needed: on a 10M-node /
88.6M-edge H100 run that pass had cost 0.9 s of a 1.2 s PageRank. The transpose
is cuSPARSE's. On the CPU (``backend="torch", device="cpu"``) the out-weights
come from :func:`transition` (SciPy's pass is faster than torch's float64
scatter there) and torch transposes.
    """
    import torch

    A = to_torch_csr(M, device)
    n = int(M.shape[0])
    crow, col, val = A.crow_indices(), A.col_indices(), A.values()
    row = torch.repeat_interleave(torch.arange(n, dtype=torch.int64, device=device), (crow[1:] - crow[:-1]).long())
    if A.device.type == "cpu":  # on the host scipy's one pass is faster than torch's float64 scatter
        T = transition(M, heavy=False)
        inv, dangling = torch.from_numpy(T.inv_out), torch.from_numpy(T.dangling)
    else:
        out_w = torch.zeros(n, dtype=torch.float64, device=device).index_add_(0, row, val.double())
        has_out = out_w > 0
        inv = torch.where(has_out, 1.0 / torch.where(has_out, out_w, 1.0), 0.0).to(val.dtype)
        dangling = torch.nonzero(~has_out).flatten()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scaled = torch.sparse_csr_tensor(crow, col, val * inv[row], size=A.shape, check_invariants=False)
        PT = scaled.t().to_sparse_csr()  # CSC view of P^T -> CSR: the one transpose, on the device
    return TorchTransition(n, PT, dangling, torch_heavy_rows(PT))


def spmm_into(M: sp.csr_matrix, x: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = M @ x`` without allocating (scipy's C kernels when available).

    Shapes:
        M: ``(N, N)`` CSR; x, out: ``(N, B)`` C-contiguous, same dtype as ``M``.
    """
    n_row, n_col = M.shape
    b = x.shape[1]
    if _csr_matvec is not None and x.dtype == M.dtype and x.flags.c_contiguous and out.flags.c_contiguous:
        out.fill(0)
        if b == 1:
            _csr_matvec(n_row, n_col, M.indptr, M.indices, M.data, x.ravel(), out.ravel())
        else:
            _csr_matvecs(n_row, n_col, b, M.indptr, M.indices, M.data, x.ravel(), out.ravel())
    else:  # pragma: no cover - only when scipy moves its private kernels
        out[...] = M @ x


def spmm_t_into(M: sp.csr_matrix, x: np.ndarray, out: np.ndarray, init: float = 0.0) -> None:
    """``out[...] = init + M.T @ x`` without transposing ``M`` (CSR of M read as CSC of M^T).

    Shapes:
        M: ``(N, N)`` CSR; x, out: ``(N, B)`` C-contiguous, same dtype as ``M``.
    """
    n_row, n_col = M.shape
    b = x.shape[1]
    if _csc_matvec is not None and x.dtype == M.dtype and x.flags.c_contiguous and out.flags.c_contiguous:
        out.fill(init)  # the kernel adds into out
        if b == 1:
            _csc_matvec(n_col, n_row, M.indptr, M.indices, M.data, x.ravel(), out.ravel())
        else:
            _csc_matvecs(n_col, n_row, b, M.indptr, M.indices, M.data, x.ravel(), out.ravel())
    else:  # pragma: no cover
        out[...] = M.T @ x + init


def csc_matvec_add(n_out: int, n_cols: int, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                   x: np.ndarray, out: np.ndarray) -> None:
    """``out += C @ x`` for the CSC matrix ``C = (data, indices, indptr)`` of shape ``(n_out, n_cols)``,
    in place. ``indptr`` may be a slice of a larger matrix's pointer array (absolute offsets into
    ``indices``/``data``): a block of rows of a CSR matrix ``M`` is read as the CSC of ``M_block^T``
    without copying anything.

    Shapes:
        indptr: ``(n_cols + 1,)`` (same dtype as ``indices``); x: ``(n_cols,)``; out: ``(n_out,)``; float64.
    """
    if _csc_matvec is not None:
        _csc_matvec(n_out, n_cols, indptr, indices, data, x, out)
    else:  # pragma: no cover - only when scipy moves its private kernels
        lo, hi = int(indptr[0]), int(indptr[-1])
        out += sp.csc_matrix((data[lo:hi], indices[lo:hi], indptr - lo), shape=(n_out, n_cols)) @ x


try:  # scipy's private in-place kernels: avoid one (N, B) allocation per iteration
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
    from scipy.sparse._sparsetools import csc_matvec as _csc_matvec
    from scipy.sparse._sparsetools import csc_matvecs as _csc_matvecs
except ImportError:  # pragma: no cover
    _csr_matvec = _csr_matvecs = _csc_matvec = _csc_matvecs = None
