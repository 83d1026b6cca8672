"""Type stub of the C extension ``graph_engine/scoring/_gs.c`` (point Gauss-Seidel PageRank kernels)."""

from typing import Any

def sweep(indptr: Any, indices: Any, data: Any, ixsize: int, ainv: Any, x: Any, S: Any, c: float | Any,
          first: bool = ..., alpha: float = ..., unit: bool = ...) -> tuple[float, float, bool]: ...
def residual(S: Any, c: float | Any, x: Any) -> float: ...
