"""Collaborative filtering on the (disease + patient) x drug interaction matrix.

The interaction matrix ``X`` stacks the disease x drug indications (``TREATS``
or ``PALLIATES``) and, when the graph has patients, the patient x drug
``TAKES`` matrix. Both recommenders score a target row ``x`` as ``x S`` for an
item-item matrix ``S``, so each score splits exactly over the drugs the target
already has (the explanation).

- ``cf`` (item-kNN): ``S`` = cosine similarity of drug columns, top-``k`` per drug.
- ``cf-svd``: truncated SVD ``X ~ U Sigma V^T``; ``S = V V^T`` (the projection onto
  the ``rank`` leading item factors).

A target with no known drugs scores zero everywhere (cold start); the hybrid
falls back to content and graph signals for those.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from graph_engine.export import GraphTables

from recommend.base import Explanation, PathContribution, Recommender, register
from recommend.data import DISEASE, DRUG, PATIENT, cosine_similarity


class _ItemItemCF(Recommender):
    supports_patients = True

    def _interactions(self) -> sp.csr_matrix:
        d = self._data()
        cached = getattr(self, "_x", None)
        if cached is None or cached[0] is not d:  # rebuilt after fit / load
            self._x = (d, sp.csr_matrix(sp.vstack([d.indications, d.patient_drugs]), dtype=np.float32))
        return self._x[1]

    def _item_sim(self) -> sp.csr_matrix | np.ndarray:
        raise NotImplementedError

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        x = self._interactions()[rows]
        s = x @ self._item_sim()
        return s.toarray() if sp.issparse(s) else np.asarray(s)

    def _explain(self, row: int, col: int, top: int) -> Explanation:
        d = self._data()
        x = self._interactions()[row]
        sim = self._item_sim()
        col_sim = sp.csr_matrix(sim[:, col]).toarray().ravel() if sp.issparse(sim) else np.asarray(sim[:, col]).ravel()
        is_patient = row >= d.n_diseases
        t_label = PATIENT if is_patient else DISEASE
        t_id = str(d.patient_ids[row - d.n_diseases]) if is_patient else str(d.disease_ids[row])
        paths = []
        for c2 in x.indices:
            w = float(col_sim[c2])
            if w == 0.0:
                continue
            rel = "<TAKES" if is_patient else d.indication_type(row, c2)
            if c2 == col:  # the drug's own edge to the target (its self-similarity): no "similar to itself" path
                paths.append(PathContribution(nodes=[(DRUG, str(d.drug_ids[col])), (t_label, t_id)], rels=[rel],
                                              contribution=w, metapath=f"{self.name}:known"))
                continue
            paths.append(PathContribution(
                nodes=[(DRUG, str(d.drug_ids[col])), (DRUG, str(d.drug_ids[c2])), (t_label, t_id)],
                rels=["SIMILAR_CF", rel], contribution=w, metapath=f"{self.name}:CsimCtD"))
        return Explanation("", "", self.name, 0.0, paths=paths,
                           note="drugs with a similar indication profile that the target already has")


@register("cf")
class ItemKNNRecommender(_ItemItemCF):
    """Item-kNN collaborative filtering.

    Args:
        neighbors: drug neighbours kept per drug.
        seed: unused (deterministic), kept for the common interface.
    """

    def __init__(self, neighbors: int = 50, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.neighbors = int(neighbors)

    def params(self) -> dict[str, Any]:
        return {"neighbors": self.neighbors, "seed": self.seed}

    def _fit(self, tables: GraphTables) -> None:
        x = self._interactions()
        self.sim_ = sp.csr_matrix(cosine_similarity(sp.csr_matrix(x.T), top_k=self.neighbors).T)

    def _item_sim(self) -> sp.csr_matrix:
        return self.sim_

    def _get_state(self) -> dict[str, Any]:
        return {"sim": self.sim_}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.sim_ = state["sim"]


@register("cf-svd")
class SVDRecommender(_ItemItemCF):
    """Truncated-SVD factorisation of the interaction matrix.

    Args:
        rank: number of latent factors (capped by the matrix size).
        seed: seeds the ARPACK start vector.
    """

    def __init__(self, rank: int = 32, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.rank = int(rank)

    def params(self) -> dict[str, Any]:
        return {"rank": self.rank, "seed": self.seed}

    def _fit(self, tables: GraphTables) -> None:
        x = self._interactions()
        r = max(1, min(self.rank, min(x.shape) - 1))
        if x.nnz == 0 or min(x.shape) < 2:
            self.v_ = np.zeros((x.shape[1], 1), dtype=np.float32)
            return
        v0 = np.random.default_rng(self.seed).random(min(x.shape))
        _, sv, vt = svds(x.astype(np.float64), k=r, v0=v0)
        keep = sv > 1e-8
        self.v_ = vt[keep].T.astype(np.float32)  # (C, r)

    def _item_sim(self) -> np.ndarray:
        return self.v_ @ self.v_.T

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        x = self._interactions()[rows]
        return np.asarray((x @ self.v_) @ self.v_.T)

    def _get_state(self) -> dict[str, Any]:
        return {"v": self.v_}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.v_ = np.asarray(state["v"], dtype=np.float32)
