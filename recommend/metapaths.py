"""Degree-weighted path counts (DWPC) between drugs and diseases, and the paths behind them.

For a metapath with steps ``A_1 ... A_n`` (binary adjacency, Drug -> ... -> Disease)
the DWPC matrix is the product of degree-normalised steps

    W_i = D_row(A_i)^-w  A_i  D_col(A_i)^-w,      DWPC = W_1 W_2 ... W_n

(``w`` = damping, 0.4 as in Rephetio). Paths that come back to the start drug
(e.g. ``C-b-G-b-C`` with the same ``C``) or pass through the target disease
itself are removed by zeroing the diagonal of the Drug x Drug prefix and the
Disease x Disease suffix, so the pair's own edge never counts as evidence for
it. The sum of the weights of the concrete paths that :meth:`MetapathFeatures.paths`
enumerates equals the DWPC up to that node-uniqueness rule.

Metapaths are declared in ``recommend/metapaths.toml``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from graph_engine.errors import RecommendError
from graph_engine.export import GraphTables

from recommend.data import DISEASE, DRUG, IndicationData, adjacency, degree_normalize

Step = tuple[str, str, str]  # (from label, relationship type, to label)

#: this package's folder (see graph_engine.schema._PACKAGE_DIR)
_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Metapath:
    """A Drug -> Disease metapath: ``name`` (``CbGaD``) and its steps as label triples."""

    name: str
    steps: tuple[Step, ...]


@lru_cache(maxsize=1)
def default_metapaths() -> tuple[tuple[Metapath, ...], float]:
    """The metapaths and damping shipped in ``metapaths.toml``."""
    data = tomllib.loads(_PACKAGE_DIR.joinpath("metapaths.toml").read_text(encoding="utf-8"))
    out = []
    for entry in data["metapath"]:
        label = DRUG
        steps = []
        for s in entry["steps"]:
            rel, nxt = s.split()
            steps.append((label, rel, nxt))
            label = nxt
        if steps[0][0] != DRUG or label != DISEASE:
            raise RecommendError(f"metapaths.toml: {entry['name']} must run from Drug to Disease")
        out.append(Metapath(entry["name"], tuple(steps)))
    return tuple(out), float(data.get("damping", 0.4))


@lru_cache(maxsize=None)
def default_degree_steps(label: str = DRUG) -> tuple[Step, ...]:
    """Degree features of ``label`` nodes declared under ``[degrees]`` in ``metapaths.toml``."""
    data = tomllib.loads(_PACKAGE_DIR.joinpath("metapaths.toml").read_text(encoding="utf-8"))
    return tuple((label, *s.split()) for s in data.get("degrees", {}).get(label.lower(), []))  # type: ignore[misc]


def node_degrees(tables: GraphTables, label: str, steps: tuple[Step, ...] | None = None,
                 prefix: str = "deg") -> tuple[list[str], np.ndarray]:
    """``log1p`` degree of every ``label`` node per relation: names ``<prefix>:REL:Label`` and an ``(N, K)`` array."""
    steps = default_degree_steps(label) if steps is None else steps
    names, cols = [], []
    for a, rel, b in steps:
        names.append(f"{prefix}:{rel}:{b}")
        cols.append(np.log1p(np.asarray(adjacency(tables, a, rel, b).sum(axis=1)).ravel()))
    n = len(tables.nodes[label])
    return names, (np.stack(cols, axis=1) if cols else np.zeros((n, 0))).astype(np.float32)


def drug_degrees(tables: GraphTables, steps: tuple[Step, ...] | None = None) -> tuple[list[str], np.ndarray]:
    """``log1p`` degree of every drug per relation: names ``deg:BINDS:Gene`` ... and a ``(C, K)`` array."""
    return node_degrees(tables, DRUG, steps, "deg")


def disease_degrees(tables: GraphTables, steps: tuple[Step, ...] | None = None) -> tuple[list[str], np.ndarray]:
    """``log1p`` degree of every disease per non-indication relation: names ``ddeg:ASSOCIATES:Gene`` ...

    A disease-level term shifts all of a disease's pairs together, which matters for rankings pooled
    over diseases: well-studied diseases (many genes, symptoms, anatomy) have more known drugs.

    Shapes:
        return: names and a ``(D, K)`` float32 array.
    """
    return node_degrees(tables, DISEASE, steps, "ddeg")


def _key(step: Step) -> str:
    return "|".join(step)


class MetapathFeatures:
    """DWPC features for every (disease, drug) pair of a graph.

    Args:
        metapaths: which metapaths (default: ``metapaths.toml``).
        damping: degree damping exponent ``w``.

    Attributes (after :meth:`fit`):
        names: feature names, one per metapath.
        dwpc: ``(F, D, C)`` float32 raw DWPC values.
        scale: ``(F,)`` mean of the non-zero training values (for :meth:`transform`).
    """

    def __init__(self, metapaths: tuple[Metapath, ...] | None = None, damping: float | None = None) -> None:
        mps, w = default_metapaths()
        self.metapaths = metapaths if metapaths is not None else mps
        self.damping = float(w if damping is None else damping)
        self.names = [m.name for m in self.metapaths]
        self.steps: dict[str, sp.csr_matrix] = {}
        self.stored: dict[str, bool] = {}

    def fit(self, tables: GraphTables, data: IndicationData) -> "MetapathFeatures":
        self.steps, self.stored = {}, {}
        for mp in self.metapaths:
            for step in mp.steps:
                k = _key(step)
                if k in self.steps:
                    continue
                a, b, c = step
                if {a, c} == {DRUG, DISEASE} and b == "TREATS":
                    m = data.indications.T if a == DRUG else data.indications
                    self.stored[k] = a == DRUG
                else:
                    m = adjacency(tables, a, b, c)
                    self.stored[k] = (a, b, c) in tables.edges
                self.steps[k] = degree_normalize(sp.csr_matrix(m), self.damping)
        feats = [self._dwpc(mp) for mp in self.metapaths]
        self.dwpc = np.stack([f.T for f in feats]).astype(np.float32)  # (F, D, C)
        self.scale = np.array([float(f[f > 0].mean()) if (f > 0).any() else 1.0 for f in self.dwpc],
                              dtype=np.float32)
        self.missing = [n for n, f in zip(self.names, self.dwpc) if not f.any()]
        return self

    def _dwpc(self, mp: Metapath) -> np.ndarray:
        labels = [mp.steps[0][0]] + [s[2] for s in mp.steps]
        n = len(mp.steps)
        inner = range(1, n)
        drug_pos = [p for p in inner if labels[p] == DRUG]
        a = max(drug_pos) if drug_pos else 0
        dis_pos = [p for p in inner if labels[p] == DISEASE and p > a]
        b = min(dis_pos) if dis_pos else n
        mats = [self.steps[_key(s)] for s in mp.steps]

        def prod(ms: list[sp.csr_matrix]) -> sp.csr_matrix:
            out = ms[0]
            for m in ms[1:]:
                out = sp.csr_matrix(out @ m)
            return out

        parts = []
        if a > 0:
            left = prod(mats[:a]).tolil()
            left.setdiag(0)
            parts.append(sp.csr_matrix(left))
        if b > a:
            parts.append(prod(mats[a:b]))
        if b < n:
            right = prod(mats[b:]).tolil()
            right.setdiag(0)
            parts.append(sp.csr_matrix(right))
        return np.asarray(prod(parts).toarray(), dtype=np.float32)  # (C, D)

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """``asinh(DWPC / scale)``; works on ``(F, ...)`` arrays or ``(..., F)`` with ``axis`` last."""
        return np.arcsinh(raw / self.scale.reshape((-1,) + (1,) * (raw.ndim - 1)))

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """Transformed features for disease rows.

        Shapes:
            return: ``(B, C, F)`` float32.
        """
        return np.ascontiguousarray(np.moveaxis(self.transform(self.dwpc[:, rows, :]), 0, -1))

    def paths(self, feature: int, drug: int, disease: int, data: IndicationData,
              max_paths: int = 50, max_expansions: int = 200_000) -> list[tuple[list[tuple[str, int]], list[str], float]]:
        """Concrete node-unique paths of one metapath from ``drug`` to ``disease``.

        Returns:
            up to ``max_paths`` ``(nodes, rels, weight)`` with nodes as ``(label, index)``,
            heaviest first; rels carry ``<`` when traversed against the stored direction, and
            an indication step is labelled ``TREATS`` or ``PALLIATES`` as stored.
        """
        mp = self.metapaths[feature]
        mats = [self.steps[_key(s)] for s in mp.steps]
        found: list[tuple[list[tuple[str, int]], list[str], float]] = []
        budget = [max_expansions]

        def rel_name(step: Step, u: int, v: int) -> str:
            a, b, c = step
            if b == "TREATS" and {a, c} == {DRUG, DISEASE}:
                dis, dr = (v, u) if a == DRUG else (u, v)
                t = data.indication_type(dis, dr)
                return t if a == DRUG else "<" + t
            return b if self.stored.get(_key(step), True) else "<" + b

        def dfs(i: int, node: int, nodes: list[tuple[str, int]], rels: list[str], w: float) -> None:
            if budget[0] <= 0:
                return
            m = mats[i]
            lo, hi = m.indptr[node], m.indptr[node + 1]
            step = mp.steps[i]
            last = i == len(mats) - 1
            for nb, val in zip(m.indices[lo:hi], m.data[lo:hi]):
                budget[0] -= 1
                if last and nb != disease:
                    continue
                nxt = (step[2], int(nb))
                if nxt in nodes:
                    continue
                if not last and nxt == (DISEASE, disease):
                    continue
                nn, rr, ww = nodes + [nxt], rels + [rel_name(step, node, int(nb))], w * float(val)
                if last:
                    found.append((nn, rr, ww))
                else:
                    dfs(i + 1, int(nb), nn, rr, ww)

        dfs(0, drug, [(DRUG, drug)], [], 1.0)
        found.sort(key=lambda t: -t[2])
        return found[:max_paths]

    def get_state(self) -> dict[str, Any]:
        return {
            "names": self.names, "damping": self.damping, "dwpc": self.dwpc, "scale": self.scale,
            "steps": {k.replace("|", "__"): v for k, v in self.steps.items()},
            "stored": {k.replace("|", "__"): v for k, v in self.stored.items()},
            "metapaths": [[m.name, [list(s) for s in m.steps]] for m in self.metapaths],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "MetapathFeatures":
        mps = tuple(Metapath(n, tuple(tuple(s) for s in steps)) for n, steps in state["metapaths"])  # type: ignore[misc]
        self = cls(mps, state["damping"])
        self.dwpc = np.asarray(state["dwpc"], dtype=np.float32)
        self.scale = np.asarray(state["scale"], dtype=np.float32)
        self.steps = {k.replace("__", "|"): v for k, v in state["steps"].items()}
        self.stored = {k.replace("__", "|"): bool(v) for k, v in state["stored"].items()}
        self.missing = [n for n, f in zip(self.names, self.dwpc) if not f.any()]
        return self
