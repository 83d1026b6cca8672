"""Leakage-safe train/test splits of the indications of a graph.

The unit held out is a (disease, drug) *pair*: the ``TREATS`` and ``PALLIATES``
edges between them (in either stored direction, duplicates included) are
removed together, so no twin of a test pair stays in training. Node tables are
never changed, so local indices mean the same thing in train and test.

- :func:`random_edge_split`: a random fraction of the pairs.
- :func:`disease_split`: a random fraction of the diseases that have indications;
  *all* their pairs are removed (cold start / zero-shot evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from graph_engine.errors import RecommendError
from graph_engine.export import EdgeList, GraphTables

from recommend.data import DISEASE, DRUG, INDICATION_TYPES


@dataclass
class Split:
    """One split.

    Attributes:
        kind: ``"random-edge"`` or ``"held-out-disease"``.
        seed: the seed that drew it.
        train: the graph with every test pair's indication edges removed.
        test_pairs: ``(n, 2)`` int64 ``(disease index, drug index)`` held-out pairs.
        train_pairs: ``(m, 2)`` pairs still in ``train``.
        test_diseases: ``(k,)`` disease indices with at least one test pair.
    """

    kind: str
    seed: int
    train: GraphTables
    test_pairs: np.ndarray
    train_pairs: np.ndarray
    test_diseases: np.ndarray


def _indication_keys(tables: GraphTables) -> list[tuple[tuple[str, str, str], bool]]:
    """Indication edge keys present, with whether they are stored Drug -> Disease."""
    out = []
    for t in INDICATION_TYPES:
        for key, drug_first in (((DRUG, t, DISEASE), True), ((DISEASE, t, DRUG), False)):
            if key in tables.edges:
                out.append((key, drug_first))
    return out


def indication_pairs(tables: GraphTables) -> np.ndarray:
    """Unique ``(disease, drug)`` index pairs over TREATS and PALLIATES, sorted.

    Shapes:
        return: ``(n, 2)`` int64.
    """
    parts = []
    for key, drug_first in _indication_keys(tables):
        e = tables.edges[key]
        dis, drug = (e.dst, e.src) if drug_first else (e.src, e.dst)
        parts.append(np.stack([dis, drug], axis=1))
    if not parts:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(parts), axis=0).astype(np.int64)


def remove_pairs(tables: GraphTables, pairs: np.ndarray) -> GraphTables:
    """A copy of ``tables`` without any indication edge between the given pairs.

    Indication edge lists are also de-duplicated; other edge lists are shared, not copied.
    """
    n_drug = len(tables.nodes[DRUG])
    drop = set((np.asarray(pairs, dtype=np.int64)[:, 0] * n_drug + np.asarray(pairs, dtype=np.int64)[:, 1]).tolist()) if len(pairs) else set()
    edges = dict(tables.edges)
    for key, drug_first in _indication_keys(tables):
        e = tables.edges[key]
        dis, drug = (e.dst, e.src) if drug_first else (e.src, e.dst)
        code = dis * n_drug + drug
        keep = ~np.isin(code, np.fromiter(drop, dtype=np.int64, count=len(drop)))
        _, first = np.unique(code, return_index=True)
        unique = np.zeros(len(code), dtype=bool)
        unique[first] = True
        keep &= unique
        edges[key] = EdgeList(e.src[keep], e.dst[keep], None if e.weight is None else e.weight[keep])
    return replace(tables, nodes=tables.nodes, edges=edges)


def _check(tables: GraphTables, pairs: np.ndarray) -> None:
    if DISEASE not in tables.nodes or DRUG not in tables.nodes:
        raise RecommendError("a split needs Disease and Drug nodes in the tables")
    if len(pairs) < 4:
        raise RecommendError(f"only {len(pairs)} TREATS/PALLIATES pairs: too few to split")


def random_edge_split(tables: GraphTables, test_frac: float = 0.2, seed: int = 0) -> Split:
    """Hold out a random ``test_frac`` of the (disease, drug) indication pairs."""
    pairs = indication_pairs(tables)
    _check(tables, pairs)
    rng = np.random.default_rng(seed)
    n_test = max(1, int(round(test_frac * len(pairs))))
    perm = rng.permutation(len(pairs))
    test, train = pairs[np.sort(perm[:n_test])], pairs[np.sort(perm[n_test:])]
    return Split("random-edge", seed, remove_pairs(tables, test), test, train, np.unique(test[:, 0]))


def disease_split(tables: GraphTables, test_frac: float = 0.2, seed: int = 0) -> Split:
    """Hold out a random ``test_frac`` of the diseases with indications, with all their pairs."""
    pairs = indication_pairs(tables)
    _check(tables, pairs)
    rng = np.random.default_rng(seed)
    diseases = np.unique(pairs[:, 0])
    n_test = max(1, int(round(test_frac * len(diseases))))
    return _hold_out_diseases(tables, pairs, rng.choice(diseases, n_test, replace=False), seed)


def _hold_out_diseases(tables: GraphTables, pairs: np.ndarray, test_diseases: np.ndarray, seed: int) -> Split:
    """The held-out-disease split that removes every pair of ``test_diseases``."""
    test_d = np.sort(test_diseases)
    is_test = np.isin(pairs[:, 0], test_d)
    test, train = pairs[is_test], pairs[~is_test]
    return Split("held-out-disease", seed, remove_pairs(tables, test), test, train, test_d)


def disease_folds(tables: GraphTables, k: int = 5, seed: int = 0) -> list[Split]:
    """``k`` held-out-disease splits whose test diseases are disjoint and cover every disease with indications.

    Each disease with an indication is held out (with all its pairs) in exactly
    one fold: k-fold cross-validation over diseases.

    Raises:
        RecommendError: fewer diseases with indications than folds, or too few pairs.
    """
    pairs = indication_pairs(tables)
    _check(tables, pairs)
    diseases = np.unique(pairs[:, 0])
    if k < 2 or len(diseases) < k:
        raise RecommendError(f"{len(diseases)} diseases with indications: too few for {k} disease folds (need k >= 2)")
    perm = np.random.default_rng(seed).permutation(diseases)
    return [_hold_out_diseases(tables, pairs, fold, seed) for fold in np.array_split(perm, k)]


SPLITS = {"random-edge": random_edge_split, "held-out-disease": disease_split}


def make_split(kind: str, tables: GraphTables, test_frac: float = 0.2, seed: int = 0) -> Split:
    """Resolve a split by name (``random-edge`` or ``held-out-disease``)."""
    try:
        fn = SPLITS[kind]
    except KeyError:
        raise RecommendError(f"unknown split {kind!r}; choose one of {sorted(SPLITS)}") from None
    return fn(tables, test_frac=test_frac, seed=seed)
