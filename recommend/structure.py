"""Structure similarity as a content signal: cold-start drugs get a ranked list of diseases.

``structure``: ``score(d, c) = sum_{c'} K[c, c'] * P[d, c']`` where ``K`` keeps each drug's
``k`` most Tanimoto-similar drugs (Morgan r=2, 2048 bits; itself excluded) and ``P`` is the
content recommender's disease profile weight of drug ``c'`` (its indications spread over
similar diseases). A compound with no edges in the graph, only a structure, is scored through
the drugs it resembles.

``content+structure``: ``(1 - beta) * content / rowmax + beta * structure / rowmax`` per disease.

Structures: ``structures={drug id: SMILES}``; default the DrugBank approved set shipped with
admet-ai (``DRUGBANK:DB…`` ids, CC0). Drugs without a structure have a zero row in ``K``.

:func:`drug_cold_split` holds out drugs with **all** their edges (indications, targets, classes,
side effects …): the test drugs are unknown compounds to every recommender.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from graph_engine.chem import morgan_matrix, read_drugbank_approved, tanimoto_matrix
from graph_engine.export import EdgeList, GraphTables

from recommend.base import Explanation, Recommender, register
from recommend.content import ContentRecommender
from recommend.data import DRUG
from recommend.split import Split, indication_pairs


def default_structures() -> dict[str, str]:
    return {rid: smi for _, rid, smi, _ in read_drugbank_approved() if smi}


def similarity_graph(drug_ids: np.ndarray, structures: Mapping[str, str], k: int) -> sp.csr_matrix:
    """``(C, C)`` top-``k`` Tanimoto neighbours of every drug with a structure (self excluded)."""
    have = np.array([str(d) in structures for d in drug_ids])
    idx = np.flatnonzero(have)
    n = len(drug_ids)
    if len(idx) < 2:
        return sp.csr_matrix((n, n), dtype=np.float32)
    fp = morgan_matrix([structures[str(drug_ids[i])] for i in idx])
    S = tanimoto_matrix(fp, fp)
    np.fill_diagonal(S, -1.0)
    kk = min(k, len(idx) - 1)
    top = np.argpartition(-S, kk - 1, axis=1)[:, :kk]
    vals = np.clip(np.take_along_axis(S, top, 1), 0, None)
    rows = np.repeat(idx, kk)
    return sp.csr_matrix((vals.ravel(), (rows, idx[top].ravel())), shape=(n, n), dtype=np.float32)


def _rowmax_norm(a: np.ndarray) -> np.ndarray:
    m = a.max(axis=1, keepdims=True)
    return np.divide(a, m, out=np.zeros_like(a), where=m > 0)


@register("structure")
class StructureRecommender(Recommender):
    """Drugs scored through their structural neighbours' indications (see module docstring).

    Args:
        structures: drug id -> SMILES (default: admet-ai's DrugBank approved set).
        k: structural neighbours per drug.
        beta: weight of the structure score against the content score (1.0: structure only).
        neighbors, self_weight: the content recommender's disease-similarity settings.
    """

    default_beta = 1.0

    def __init__(self, structures: Mapping[str, str] | None = None, k: int = 10, beta: float | None = None,
                 neighbors: int = 20, self_weight: float = 1.0, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.structures = structures
        self.k = int(k)
        self.beta = float(self.default_beta if beta is None else beta)
        self.neighbors, self.self_weight = int(neighbors), float(self_weight)

    def params(self) -> dict[str, Any]:
        return {"k": self.k, "beta": self.beta, "neighbors": self.neighbors, "self_weight": self.self_weight,
                "seed": self.seed}

    content_: ContentRecommender
    k_: sp.csr_matrix

    def _fit(self, tables: GraphTables) -> None:
        structures = self.structures if self.structures is not None else default_structures()
        self.content_ = ContentRecommender(neighbors=self.neighbors, self_weight=self.self_weight)
        self.content_.fit(tables)
        self.k_ = similarity_graph(self._data().drug_ids, structures, self.k)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        struct = np.asarray((self.content_.drug_weight_[rows] @ self.k_.T).toarray(), dtype=np.float32)
        if self.beta >= 1.0:
            return struct
        content = np.asarray(self.content_._score_rows(rows), dtype=np.float32)
        return (1 - self.beta) * _rowmax_norm(content) + self.beta * _rowmax_norm(struct)

    def _explain(self, row: int, col: int, top: int) -> Explanation:
        d = self._data()
        nb = self.k_[col]
        w = self.content_.drug_weight_[row].toarray().ravel()
        contrib = sorted(((float(s * w[j]), int(j)) for j, s in zip(nb.indices, nb.data) if w[j] > 0), reverse=True)
        from recommend.base import PathContribution

        paths = [PathContribution([(DRUG, str(d.drug_ids[col])), (DRUG, str(d.drug_ids[j])), ("Disease", str(d.disease_ids[row]))],
                                  ["SIMILAR_STRUCTURE", "TREATS_OR_SIMILAR"], c, "structure") for c, j in contrib[:top]]
        return Explanation("", "", self.name, 0.0, paths=paths, note="structurally similar drugs that treat this or similar diseases")

    def _get_state(self) -> dict[str, Any]:
        return {"k": self.k_, "content": self.content_._get_state()}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.k_ = state["k"]
        self.content_ = ContentRecommender(neighbors=self.neighbors, self_weight=self.self_weight)
        self.content_.data = self.data
        self.content_._build_indexes()
        self.content_._set_state(state["content"])


@register("content+structure")
class ContentStructureRecommender(StructureRecommender):
    """Today's content score blended with the structure score (``beta`` = 0.5 by default)."""

    default_beta = 0.5


def drug_cold_split(tables: GraphTables, test_frac: float = 0.2, seed: int = 0,
                    structures: Mapping[str, str] | None = None) -> Split:
    """Hold out ``test_frac`` of the drugs that have indications (and a structure, when ``structures`` is
    given) with every edge they have; ``test_pairs`` are their indications.

    The returned Split's ``test_diseases`` are the *drug* indices held out (the split is drug-cold)."""
    pairs = indication_pairs(tables)
    drugs = np.unique(pairs[:, 1])
    if structures is not None:
        ids = tables.nodes[DRUG]
        drugs = np.array([c for c in drugs if str(ids[c]) in structures], dtype=np.int64)
    rng = np.random.default_rng(seed)
    n_test = max(1, int(round(test_frac * len(drugs))))
    test_drugs = np.sort(rng.choice(drugs, n_test, replace=False))
    gone = np.zeros(len(tables.nodes[DRUG]), bool)
    gone[test_drugs] = True
    edges = {}
    for key, e in tables.edges.items():
        keep = np.ones(len(e.src), bool)
        if key[0] == DRUG:
            keep &= ~gone[e.src]
        if key[2] == DRUG:
            keep &= ~gone[e.dst]
        edges[key] = EdgeList(e.src[keep], e.dst[keep], None if e.weight is None else e.weight[keep])
    from dataclasses import replace

    train = replace(tables, nodes=tables.nodes, edges=edges)
    is_test = np.isin(pairs[:, 1], test_drugs)
    return Split("drug-cold", seed, train, pairs[is_test], pairs[~is_test], test_drugs)


def evaluate_drug_cold(split: Split, method: str, params: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Rank every disease for each held-out drug; AUROC / AUPRC / MRR / Hits@10 over the held-out indications."""
    from recommend import get_recommender
    from recommend.evaluate import ranking_metrics

    rec = get_recommender(method, seed=split.seed, **dict(params or {})).fit(split.train)
    d = rec._data()
    scores = np.asarray(rec._score_rows(np.arange(d.n_diseases)), dtype=np.float64).T[split.test_diseases]  # (B, D)
    pos = np.zeros_like(scores, dtype=bool)
    where = {int(c): i for i, c in enumerate(split.test_diseases)}
    for dis, c in split.test_pairs:
        pos[where[int(c)], dis] = True
    known = d.indications[:, split.test_diseases].toarray().T > 0
    if (known & pos).any():
        raise AssertionError("drug-cold split leak: a held-out indication is still in training")
    return ranking_metrics(scores, pos, np.ones_like(pos))
