"""Export a heterogeneous :class:`~graph_engine.export.GraphTables` to PyG ``HeteroData``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch_geometric.data import HeteroData

from graph_engine.export import EdgeKey, GraphTables

REVERSE_PREFIX = "rev_"


def reverse_key(key: EdgeKey) -> EdgeKey:
    """``(src, REL, dst)`` -> ``(dst, rev_REL, src)``: the message-passing reverse of a triple."""
    s, rel, d = key
    return (d, f"{REVERSE_PREFIX}{rel}", s)


def to_hetero_data(
    tables: GraphTables,
    edge_keys: list[EdgeKey] | None = None,
    reverse: bool = True,
    edges: dict[EdgeKey, tuple[np.ndarray, np.ndarray]] | None = None,
) -> HeteroData:
    """Build a ``HeteroData`` with one node type per label and one edge type per triple.

    Nodes carry no features (``num_nodes`` only): the encoder learns an
    input embedding per node. Edge weights, when the export has them, are
    stored as ``edge_weight``.

    Args:
        tables: the export.
        edge_keys: triples to include (default all).
        reverse: also add ``(dst, rev_REL, src)`` for every triple so messages
            flow both ways (every node type then receives messages).
        edges: optional replacement ``(src, dst)`` index arrays per triple (for
            example the training part of a split); weights are then dropped.

    Returns:
        ``HeteroData`` with ``data[label].num_nodes`` and
        ``data[(s, rel, d)].edge_index``.

    Shapes:
        edge_index: ``(2, E)`` int64.
    """
    data = HeteroData()
    for label, ids in tables.nodes.items():
        data[label].num_nodes = len(ids)
    keys = list(tables.edges) if edge_keys is None else list(edge_keys)
    for key in keys:
        e = tables.edges[key]
        src, dst = (e.src, e.dst) if edges is None else edges[key]
        ei = torch.from_numpy(np.vstack([src, dst]).astype(np.int64))
        data[key].edge_index = ei
        weight: Any = e.weight if edges is None else None
        if weight is not None:
            data[key].edge_weight = torch.from_numpy(np.asarray(weight, np.float32))
        if reverse:
            rk = reverse_key(key)
            data[rk].edge_index = ei.flip(0).contiguous()
            if weight is not None:
                data[rk].edge_weight = data[key].edge_weight
    return data
