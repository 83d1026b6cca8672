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
from graph_engine.errors import ScoringError
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


@dataclass
class Transition:
    """A graph prepared for random-walk iterations, without transposing it.

    ``P^T x`` is computed as ``A^T (x * inv_out)``: scipy's CSC kernels read the
    CSR arrays of ``A`` as the CSC arrays of ``A^T`` (a scatter instead of a
    gather), which avoids an O(E) transpose that costs as much as ~10 iterations.

    Shapes:
        A: ``(N, N)`` CSR of the adjacency (canonical, no zeros).
        inv_out: ``(N,)`` ``1 / out-weight``, 0 for dangling nodes (``A.dtype``).
        dangling: ``(D,)`` int64, nodes without out-weight.
    """

    A: sp.csr_matrix
    inv_out: np.ndarray
    dangling: np.ndarray

    @property
    def n(self) -> int:
        return int(self.A.shape[0])

    def transposed(self) -> sp.csr_matrix:
        """``P^T`` as CSR (``PT[j, i] = A[i, j] / out_i``), for back ends that need a gather kernel."""
        C = self.A.tocsc()
        data = (C.data * self.inv_out[C.indices]).astype(self.A.dtype, copy=False)
        return sp.csr_matrix((data, C.indices, C.indptr), shape=self.A.shape)


def transition(M: sp.csr_matrix) -> Transition:
    """Out-weights of ``M`` (one pass) and the dangling set."""
    out_w = np.zeros(M.shape[0], dtype=M.dtype)
    if M.nnz:
        spmm_into(M, np.ones((M.shape[0], 1), M.dtype), out_w[:, None])
    inv = np.zeros(M.shape[0], dtype=np.float64)
    np.divide(1.0, out_w, out=inv, where=out_w > 0)
    return Transition(A=M, inv_out=inv.astype(M.dtype), dangling=np.flatnonzero(out_w <= 0).astype(np.int64))


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
class TorchTransition:
    """``P^T`` and the dangling nodes as torch tensors on one device.

    Shapes:
        PT: ``(N, N)`` sparse CSR, ``PT[j, i] = A[i, j] / out_i``.
        dangling: ``(D,)`` int64, nodes without out-weight.
    """

    n: int
    PT: Any
    dangling: Any


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
        T = transition(M)
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
    return TorchTransition(n, PT, dangling)


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


def spmm_t_into(M: sp.csr_matrix, x: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = M.T @ x`` without transposing ``M`` (CSR of M read as CSC of M^T).

    Shapes:
        M: ``(N, N)`` CSR; x, out: ``(N, B)`` C-contiguous, same dtype as ``M``.
    """
    n_row, n_col = M.shape
    b = x.shape[1]
    if _csc_matvec is not None and x.dtype == M.dtype and x.flags.c_contiguous and out.flags.c_contiguous:
        out.fill(0)
        if b == 1:
            _csc_matvec(n_col, n_row, M.indptr, M.indices, M.data, x.ravel(), out.ravel())
        else:
            _csc_matvecs(n_col, n_row, b, M.indptr, M.indices, M.data, x.ravel(), out.ravel())
    else:  # pragma: no cover
        out[...] = M.T @ x


try:  # scipy's private in-place kernels: avoid one (N, B) allocation per iteration
    from scipy.sparse._sparsetools import csr_matvec as _csr_matvec
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
    from scipy.sparse._sparsetools import csc_matvec as _csc_matvec
    from scipy.sparse._sparsetools import csc_matvecs as _csc_matvecs
except ImportError:  # pragma: no cover
    _csr_matvec = _csr_matvecs = _csc_matvec = _csc_matvecs = None
