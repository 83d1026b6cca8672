"""A pure NumPy heterogeneous neighbour sampler for PyG's ``LinkNeighborLoader``.

PyG 2.8's :class:`~torch_geometric.sampler.NeighborSampler` samples through
the compiled ``pyg-lib`` or ``torch-sparse`` extensions and raises
``ImportError`` when neither is installed (they are not on PyPI as wheels for
every torch build). :class:`NumpyNeighborSampler` keeps PyG's loader, input
handling, negative sampling and subgraph filtering, and replaces only the
sampling step with a vectorised NumPy version of the same semantics
(directional, without replacement, per-hop fan-out per edge type). When
either extension is importable the compiled path is used instead.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
import torch_geometric.typing
from torch_geometric.sampler import HeteroSamplerOutput, NeighborSampler


def compiled_sampler_available() -> bool:
    """True when ``pyg-lib`` or ``torch-sparse`` can do the sampling."""
    return bool(torch_geometric.typing.WITH_PYG_LIB or torch_geometric.typing.WITH_TORCH_SPARSE)


class NumpyNeighborSampler(NeighborSampler):
    """Heterogeneous neighbour sampling in NumPy, seeded and deterministic.

    Args:
        data: the ``HeteroData`` to sample from (kept on the CPU).
        num_neighbors: fan-out per hop (``[10, 5]``), or per edge type; ``-1`` takes all.
        seed: seed of the sampler's own random generator.
        force_numpy: use NumPy even when a compiled sampler is installed.
        **kwargs: passed to :class:`~torch_geometric.sampler.NeighborSampler`.
    """

    def __init__(self, data: Any, num_neighbors: Any, seed: int = 0, force_numpy: bool = False, **kwargs: Any):
        with warnings.catch_warnings():  # "without pyg-lib is deprecated": this class is the answer
            warnings.simplefilter("ignore")
            super().__init__(data, num_neighbors, **kwargs)
        self.use_numpy = force_numpy or not compiled_sampler_available()
        self._rng = np.random.default_rng(seed)
        if self.data_type.name != "heterogeneous":
            raise TypeError("NumpyNeighborSampler supports HeteroData only")
        self._colptr = {k: v.numpy().astype(np.int64) for k, v in self.colptr_dict.items()}
        self._row = {k: v.numpy().astype(np.int64) for k, v in self.row_dict.items()}
        self._local = {t: np.full(n, -1, np.int64) for t, n in self.num_nodes.items()}

    def _sample(self, seed: Any, seed_time: Any = None, **kwargs: Any) -> Any:
        if not self.use_numpy or not isinstance(seed, dict):
            return super()._sample(seed, seed_time, **kwargs)
        if seed_time is not None:
            raise NotImplementedError("temporal sampling needs pyg-lib")
        fanout = self.num_neighbors.get_mapped_values(self.edge_types)
        hops = self.num_neighbors.num_hops
        nodes: dict[str, list[np.ndarray]] = {t: [] for t in self.node_types}
        count = {t: 0 for t in self.node_types}
        frontier: dict[str, np.ndarray] = {}

        def add(t: str, glob: np.ndarray) -> np.ndarray:
            _, first = np.unique(glob, return_index=True)
            cand = glob[np.sort(first)]
            new = cand[self._local[t][cand] < 0]
            self._local[t][new] = np.arange(count[t], count[t] + new.size)
            count[t] += new.size
            nodes[t].append(new)
            return new

        for t, s in seed.items():
            frontier[t] = add(t, s.numpy().astype(np.int64))
        # per-hop counts let the model trim each layer to the nodes it still needs (trim_to_layer)
        n_per_hop = {t: [int(sum(a.size for a in nodes[t]))] for t in self.node_types}
        e_per_hop: dict[str, list[int]] = {r: [] for r in self._colptr}
        rows: dict[str, list[np.ndarray]] = {r: [] for r in self._colptr}
        cols: dict[str, list[np.ndarray]] = {r: [] for r in self._colptr}
        eids: dict[str, list[np.ndarray]] = {r: [] for r in self._colptr}
        try:
            for hop in range(hops):
                nxt: dict[str, list[np.ndarray]] = {t: [] for t in self.node_types}
                for rel, colptr in self._colptr.items():
                    src_t, _, dst_t = self.to_edge_type[rel]
                    f = frontier.get(dst_t)
                    k = int(fanout[rel][hop]) if hop < len(fanout[rel]) else 0
                    if f is None or f.size == 0 or k == 0:
                        continue
                    pos, seg = self._pick(colptr, f, k)
                    if pos.size == 0:
                        continue
                    src = self._row[rel][pos]
                    nxt[src_t].append(add(src_t, src))
                    rows[rel].append(self._local[src_t][src])
                    cols[rel].append(self._local[dst_t][f[seg]])
                    eids[rel].append(pos)
                frontier = {t: np.concatenate(v) if v else np.zeros(0, np.int64) for t, v in nxt.items()}
                for t in self.node_types:
                    n_per_hop[t].append(int(frontier[t].size))
                for rel in self._colptr:
                    e_per_hop[rel].append(int(sum(a.size for a in rows[rel])) - sum(e_per_hop[rel]))
            node = {t: torch.from_numpy(np.concatenate(v) if v else np.zeros(0, np.int64)) for t, v in nodes.items()}
        finally:
            for t, v in nodes.items():
                for arr in v:
                    self._local[t][arr] = -1

        def cat(d: dict[str, list[np.ndarray]]) -> dict[Any, torch.Tensor]:
            return {self.to_edge_type[r]: torch.from_numpy(np.concatenate(v) if v else np.zeros(0, np.int64))
                    for r, v in d.items()}

        return HeteroSamplerOutput(node=node, row=cat(rows), col=cat(cols), edge=cat(eids), batch=None,
                                   num_sampled_nodes=n_per_hop,
                                   num_sampled_edges={self.to_edge_type[r]: v for r, v in e_per_hop.items()})

    def _pick(self, colptr: np.ndarray, f: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """CSC positions of up to ``k`` in-edges of each node in ``f`` (all if ``k < 0``), and their segment."""
        start, deg = colptr[f], colptr[f + 1] - colptr[f]
        total = int(deg.sum())
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        seg = np.repeat(np.arange(f.size), deg)
        seg_start = np.cumsum(deg) - deg
        offset = np.arange(total) - seg_start[seg]
        pos = start[seg] + offset
        if k < 0 or (deg <= k).all():
            return pos, seg
        # without replacement: a random key per candidate edge, keep the k smallest per node
        keys = self._rng.random(total)
        order = np.lexsort((keys, seg))
        rank = np.arange(total) - seg_start[seg[order]]
        keep = order[rank < k]
        keep.sort()
        return pos[keep], seg[keep]
