"""Exported graph structures: typed node tables and edge lists, and their
conversion to a scipy.sparse CSR matrix (homogeneous view) with index<->id maps.

The Neo4j side (:meth:`graph_engine.client.GraphClient.export`) streams
records into :class:`GraphTables`; everything here is pure NumPy/SciPy so the
scoring, embedding and recommendation code can be tested without a database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from graph_engine.errors import SchemaError

EdgeKey = tuple[str, str, str]  # (source label, relationship type, target label)


@dataclass
class EdgeList:
    """Edges of one (source label, type, target label) triple, as local indices.

    Shapes:
        src, dst: ``(E,)`` int64, indices into the source / target label's id table.
        weight: ``(E,)`` float32 or ``None`` (all ones).
    """

    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.src = np.asarray(self.src, dtype=np.int64)
        self.dst = np.asarray(self.dst, dtype=np.int64)
        if self.src.shape != self.dst.shape or self.src.ndim != 1:
            raise ValueError(f"src and dst must be 1-D of equal length, got {self.src.shape} and {self.dst.shape}")
        if self.weight is not None:
            self.weight = np.asarray(self.weight, dtype=np.float32)
            if self.weight.shape != self.src.shape:
                raise ValueError(f"weight shape {self.weight.shape} != edge count {self.src.shape}")

    def __len__(self) -> int:
        return int(self.src.shape[0])


@dataclass
class GraphTables:
    """A heterogeneous graph as node-id tables per label and edge lists per triple.

    Attributes:
        nodes: label -> ``(N_label,)`` array of node ids (CURIE strings), in a fixed order.
        edges: ``(source label, type, target label)`` -> :class:`EdgeList`.
    """

    nodes: dict[str, np.ndarray] = field(default_factory=dict)
    edges: dict[EdgeKey, EdgeList] = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return int(sum(len(v) for v in self.nodes.values()))

    @property
    def num_edges(self) -> int:
        return int(sum(len(e) for e in self.edges.values()))

    def offsets(self) -> dict[str, int]:
        """Start of each label's block in the homogeneous (global) index."""
        out, start = {}, 0
        for label, ids in self.nodes.items():
            out[label] = start
            start += len(ids)
        return out

    def index_maps(self) -> dict[str, dict[str, int]]:
        """label -> {id: local index}."""
        return {label: {str(i): k for k, i in enumerate(ids)} for label, ids in self.nodes.items()}

    def fingerprint(self) -> str:
        """A stable SHA-256 of the graph's content (for model artifacts and comparisons).

        It does not depend on the order in which nodes or edges were read (node
        ids are hashed sorted per label, edges as sorted pairs of those ranks),
        and a repeated edge counts once, as a graph database stores it once: the
        Hetionet files read directly and the same files loaded into Neo4j and
        exported give the same fingerprint.
        """
        h = hashlib.sha256()
        rank: dict[str, np.ndarray] = {}
        for label in sorted(self.nodes):
            ids = np.asarray([str(i) for i in self.nodes[label]], dtype=object)
            order = np.argsort(ids, kind="stable")
            r = np.empty(len(ids), dtype=np.int64)
            r[order] = np.arange(len(ids), dtype=np.int64)
            rank[label] = r
            h.update(label.encode() + b"\0")
            for i in ids[order]:
                h.update(i.encode() + b"\0")
        for key in sorted(self.edges):
            e = self.edges[key]
            src, dst = rank[key[0]][e.src], rank[key[2]][e.dst]
            order = np.lexsort((dst, src))
            src, dst = src[order], dst[order]
            first = np.ones(len(src), dtype=bool)
            first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
            h.update("|".join(key).encode())
            h.update(src[first].tobytes())
            h.update(dst[first].tobytes())
            if e.weight is not None:
                h.update(np.asarray(e.weight, dtype=np.float32)[order][first].tobytes())
        return h.hexdigest()

    def to_matrix(
        self,
        edge_keys: Iterable[EdgeKey] | None = None,
        symmetric: bool = False,
        dtype: np.dtype | type = np.float32,
    ) -> "GraphMatrix":
        """Build the homogeneous adjacency ``A`` with ``A[i, j]`` = weight of edge i -> j.

        Parallel edges of different types between the same pair are summed.

        Args:
            edge_keys: which triples to include (default: all).
            symmetric: also add every edge in the reverse direction (undirected view).
            dtype: matrix dtype.
        """
        keys = list(self.edges) if edge_keys is None else list(edge_keys)
        offsets = self.offsets()
        n = self.num_nodes
        rows, cols, vals = [], [], []
        for key in keys:
            if key not in self.edges:
                raise SchemaError(f"edge triple {key} not in this export; have {sorted(self.edges)}")
            s_label, _, t_label = key
            e = self.edges[key]
            rows.append(e.src + offsets[s_label])
            cols.append(e.dst + offsets[t_label])
            vals.append(np.ones(len(e), dtype=dtype) if e.weight is None else e.weight.astype(dtype))
        if rows:
            r = np.concatenate(rows)
            c = np.concatenate(cols)
            v = np.concatenate(vals)
        else:
            r = c = np.zeros(0, dtype=np.int64)
            v = np.zeros(0, dtype=dtype)
        if symmetric:
            r, c, v = np.concatenate([r, c]), np.concatenate([c, r]), np.concatenate([v, v])
        matrix = sp.csr_matrix((v, (r, c)), shape=(n, n), dtype=dtype)
        matrix.sum_duplicates()
        ids = np.concatenate([np.asarray(v, dtype=object) for v in self.nodes.values()]) if n else np.zeros(0, dtype=object)
        labels = np.concatenate(
            [np.full(len(v), label, dtype=object) for label, v in self.nodes.items()]
        ) if n else np.zeros(0, dtype=object)
        return GraphMatrix(matrix=matrix, ids=ids, labels=labels)


@dataclass
class GraphMatrix:
    """A homogeneous sparse adjacency with its index <-> (label, id) maps.

    Shapes:
        matrix: ``(N, N)`` CSR; ``matrix[i, j] != 0`` is an edge i -> j.
        ids, labels: ``(N,)`` object arrays; row i is node ``(labels[i], ids[i])``.
    """

    matrix: sp.csr_matrix
    ids: np.ndarray
    labels: np.ndarray
    _index: dict[tuple[str, str], int] | None = field(default=None, repr=False)

    def index_of(self, label: str, node_id: str) -> int:
        """Row index of a node; raises KeyError naming the node if absent."""
        if self._index is None:
            self._index = {(str(l), str(i)): k for k, (l, i) in enumerate(zip(self.labels, self.ids))}
        try:
            return self._index[(label, node_id)]
        except KeyError:
            raise KeyError(f"node ({label} {node_id!r}) is not in this matrix") from None

    def mask(self, label: str) -> np.ndarray:
        """Boolean mask of the rows carrying ``label``."""
        return self.labels == label


def tables_from_edges(
    node_ids: Mapping[str, Sequence[str]],
    edges: Mapping[EdgeKey, Iterable[tuple[str, str] | tuple[str, str, float]]],
) -> GraphTables:
    """Build :class:`GraphTables` from ids and (source id, target id[, weight]) tuples.

    Convenient for tests and for small in-memory graphs.

    Raises:
        KeyError: an edge names a node id that is not in ``node_ids``.
    """
    tables = GraphTables(nodes={l: np.asarray(list(ids), dtype=object) for l, ids in node_ids.items()})
    index = tables.index_maps()
    for key, pairs in edges.items():
        s_label, _, t_label = key
        src, dst, w = [], [], []
        weighted = False
        for p in pairs:
            src.append(index[s_label][p[0]])
            dst.append(index[t_label][p[1]])
            if len(p) > 2:
                weighted = True
                w.append(float(p[2]))  # type: ignore[misc]
            else:
                w.append(1.0)
        tables.edges[key] = EdgeList(np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64),
                                     np.array(w, dtype=np.float32) if weighted else None)
    return tables
