"""Projections: the homogeneous matrix a scorer runs on, cut from a heterogeneous export.

A projection keeps some labels and relationship types of a
:class:`~graph_engine.export.GraphTables`, takes edge weights from the export
(or from arrays the caller supplies, for example a relationship property),
and either respects edge direction or symmetrises it.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from graph_engine.errors import SchemaError
from graph_engine.export import EdgeKey, EdgeList, GraphMatrix, GraphTables
from graph_engine.scoring._common import ScoringError


def project(
    tables: GraphTables,
    labels: Iterable[str] | None = None,
    rel_types: Iterable[str] | None = None,
    *,
    edge_keys: Iterable[EdgeKey] | None = None,
    symmetric: bool = False,
    weighted: bool = True,
    weights: Mapping[EdgeKey, np.ndarray] | None = None,
    dtype: np.dtype | type = np.float32,
) -> GraphMatrix:
    """Cut a homogeneous adjacency out of a heterogeneous export.

    Args:
        tables: the export.
        labels: node labels to keep (default all); nodes of other labels are
            not in the matrix at all.
        rel_types: relationship types to keep (default all whose endpoints are kept).
        edge_keys: explicit ``(source label, type, target label)`` triples instead
            of ``rel_types``.
        symmetric: add every edge in the reverse direction too (undirected view).
        weighted: use the export's edge weights; ``False`` gives every edge weight 1.
        weights: per-triple ``(E,)`` weight arrays overriding the export's
            (for example a relationship property read by the caller).
        dtype: matrix dtype.

    Returns:
        :class:`~graph_engine.export.GraphMatrix` over the kept nodes, in the
        export's label order.

    Raises:
        SchemaError: an unknown label, relationship type or triple.
        ScoringError: a weight array of the wrong length or with negative values.

    Shapes:
        result.matrix: ``(N_kept, N_kept)`` CSR.

    Example:
        >>> from graph_engine.export import tables_from_edges
        >>> t = tables_from_edges({"Drug": ["d"], "Gene": ["g"], "Disease": ["x"]},
        ...                       {("Drug", "BINDS", "Gene"): [("d", "g")],
        ...                        ("Gene", "ASSOCIATES", "Disease"): [("g", "x")]})
        >>> project(t, labels=["Drug", "Gene"]).matrix.shape
        (2, 2)
    """
    keep = list(tables.nodes) if labels is None else list(dict.fromkeys(labels))
    unknown = [label for label in keep if label not in tables.nodes]
    if unknown:
        raise SchemaError(f"labels {unknown} are not in this export; it has {list(tables.nodes)}")
    if edge_keys is not None:
        keys: list[EdgeKey] = [(str(k[0]), str(k[1]), str(k[2])) for k in edge_keys]
        missing = [k for k in keys if k not in tables.edges]
        if missing:
            raise SchemaError(f"edge triples {missing} are not in this export; it has {sorted(tables.edges)}")
        outside = [k for k in keys if k[0] not in keep or k[2] not in keep]
        if outside:
            raise SchemaError(f"edge triples {outside} connect labels outside {keep}")
    else:
        types = None if rel_types is None else set(rel_types)
        if types is not None:
            known = {k[1] for k in tables.edges}
            bad = sorted(types - known)
            if bad:
                raise SchemaError(f"relationship types {bad} are not in this export; it has {sorted(known)}")
        keys = [k for k in tables.edges
                if k[0] in keep and k[2] in keep and (types is None or k[1] in types)]
    weights = dict(weights or {})
    for key in weights:
        if key not in keys:
            raise SchemaError(f"weights given for {key}, which is not in the projection {keys}")
    sub = GraphTables(nodes={label: tables.nodes[label] for label in tables.nodes if label in keep})
    for key in keys:
        e = tables.edges[key]
        w = e.weight if weighted else None
        if key in weights:
            w = np.asarray(weights[key], dtype=np.float32)
            if w.shape != (len(e),):
                raise ScoringError(f"weights for {key} must have shape ({len(e)},), got {w.shape}")
            if not np.isfinite(w).all() or (w < 0).any():
                raise ScoringError(f"weights for {key} must be finite and non-negative")
        sub.edges[key] = EdgeList(e.src, e.dst, w)  # type: ignore[index]
    return sub.to_matrix(symmetric=symmetric, dtype=dtype)
