"""Content-based recommender: drug feature vectors against a disease's treatment profile.

Drug vectors ``F`` (``C x K``) concatenate IDF-weighted, L2-normalised blocks:
bound genes (``BINDS``), pharmacologic classes (``INCLUDES``), side effects
(``CAUSES``) and, when given, node embeddings. Diseases are compared through
their associated genes, symptoms, anatomy and ``RESEMBLES`` links (cosine,
top-``neighbors``). A disease's profile is the average vector of the drugs that
treat it and its similar diseases, weighted by similarity:

    profile(d) = sum_d' W[d, d'] * mean_{c in T(d')} F[c],   W = S_disease + self_weight * I
    score(d, c) = cos(profile(d), F[c])

A disease with no known treatment still gets a profile from its neighbours
(cold start).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp

from graph_engine.export import GraphTables

from recommend.base import Explanation, PathContribution, Recommender, register
from recommend.data import DISEASE, DRUG, adjacency, cosine_similarity, idf_weight, row_normalize

#: (relationship type, feature label, block weight) for drug vectors.
DRUG_BLOCKS: tuple[tuple[str, str, float], ...] = (
    ("BINDS", "Gene", 1.0), ("INCLUDES", "PharmacologicClass", 1.0), ("CAUSES", "SideEffect", 0.5),
)
#: (relationship type, feature label, block weight) for disease similarity.
DISEASE_BLOCKS: tuple[tuple[str, str, float], ...] = (
    ("ASSOCIATES", "Gene", 1.0), ("PRESENTS", "Symptom", 1.0), ("LOCALIZES", "Anatomy", 0.5),
    ("RESEMBLES", "Disease", 1.0),
)


def _blocks(tables: GraphTables, label: str, spec: tuple[tuple[str, str, float], ...]) -> tuple[sp.csr_matrix, list[tuple[str, str, int]]]:
    mats, cols = [], []
    for rel, feat, weight in spec:
        a = adjacency(tables, label, rel, feat)
        if a.nnz == 0:
            continue
        mats.append(row_normalize(idf_weight(a)) * weight)
        stored = (label, rel, feat) in tables.edges
        cols.append((rel if stored else "<" + rel, feat, a.shape[1]))
    n = len(tables.nodes[label])
    if not mats:
        return sp.csr_matrix((n, 0), dtype=np.float32), []
    return sp.csr_matrix(sp.hstack(mats), dtype=np.float32), cols


@register("content")
class ContentRecommender(Recommender):
    """Drug features vs. the profile of drugs treating similar diseases.

    Args:
        neighbors: similar diseases kept per disease.
        self_weight: weight of the disease's own treatments in its profile.
        embeddings: optional ``{"Drug": (C, d) array}`` aligned with the Drug table, appended
            to the drug vectors as one more block.
        drug_blocks: relationship types of the drug blocks to use (default all of
            :data:`DRUG_BLOCKS`: ``BINDS``, ``INCLUDES``, ``CAUSES``).
        seed: unused (deterministic).
    """

    def __init__(self, neighbors: int = 20, self_weight: float = 1.0,
                 embeddings: Mapping[str, np.ndarray] | None = None, drug_blocks: list[str] | None = None,
                 seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.neighbors, self.self_weight = int(neighbors), float(self_weight)
        self.embeddings = embeddings
        self.drug_blocks = list(drug_blocks) if drug_blocks is not None else None

    def params(self) -> dict[str, Any]:
        return {"neighbors": self.neighbors, "self_weight": self.self_weight, "drug_blocks": self.drug_blocks,
                "seed": self.seed}

    def _fit(self, tables: GraphTables) -> None:
        d = self._data()
        spec = DRUG_BLOCKS if self.drug_blocks is None else tuple(b for b in DRUG_BLOCKS if b[0] in self.drug_blocks)
        f, self.cols_ = _blocks(tables, DRUG, spec)
        if self.embeddings is not None and DRUG in self.embeddings:
            e = np.asarray(self.embeddings[DRUG], dtype=np.float32)
            f = sp.hstack([f, sp.csr_matrix(row_normalize(e))])
            self.cols_.append(("EMBEDDING", "dim", e.shape[1]))
        self.f_ = sp.csr_matrix(row_normalize(sp.csr_matrix(f)))
        g, _ = _blocks(tables, DISEASE, DISEASE_BLOCKS)
        s = cosine_similarity(g, top_k=self.neighbors) if g.shape[1] else sp.csr_matrix((d.n_diseases,) * 2, dtype=np.float32)
        self.w_ = sp.csr_matrix(s + self.self_weight * sp.identity(d.n_diseases, dtype=np.float32, format="csr"))
        self.feat_ids_ = {lab: np.asarray(tables.nodes[lab], dtype=object) for _, lab, _ in self.cols_ if lab in tables.nodes}
        self._refresh()

    def _refresh(self) -> None:
        d = self._data()
        tn = row_normalize(d.indications, norm="l1")
        self.drug_weight_ = sp.csr_matrix(self.w_ @ tn)  # (D, C): each drug's weight in each profile
        prof = self.drug_weight_ @ self.f_
        self.profile_ = row_normalize(sp.csr_matrix(prof))

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.profile_[rows] @ self.f_.T).toarray())

    def _feature(self, j: int) -> tuple[str, str, str]:
        start = 0
        for rel, lab, width in self.cols_:
            if j < start + width:
                local = j - start
                fid = str(self.feat_ids_[lab][local]) if lab in self.feat_ids_ else str(local)
                return rel, lab, fid
            start += width
        raise IndexError(j)

    def _explain(self, row: int, col: int, top: int) -> Explanation:
        d = self._data()
        fc = self.f_[col]
        prof = self.profile_[row].toarray().ravel()
        contrib = {int(j): float(v * prof[j]) for j, v in zip(fc.indices, fc.data) if prof[j] > 0}
        dw = self.drug_weight_[row].toarray().ravel()
        paths = []
        for j, c in sorted(contrib.items(), key=lambda t: -t[1])[:top]:
            rel, lab, fid = self._feature(j)
            holders = self.f_[:, j].toarray().ravel() * dw
            holders[col] = 0
            nodes: list[tuple[str, str]] = [(DRUG, str(d.drug_ids[col])), (lab, fid)]
            rels = [rel]
            if holders.max() > 0:
                c2 = int(np.argmax(holders))
                via = (self.w_[row].toarray().ravel() * d.indications[:, c2].toarray().ravel())
                d2 = int(np.argmax(via))
                nodes += [(DRUG, str(d.drug_ids[c2])), (DISEASE, str(d.disease_ids[d2]))]
                rels += [rel[1:] if rel.startswith("<") else "<" + rel, d.indication_type(d2, c2)]
                if d2 != row:
                    nodes.append((DISEASE, str(d.disease_ids[row])))
                    rels.append("SIMILAR_DISEASE")
            paths.append(PathContribution(nodes, rels, c, f"content:{rel.lstrip('<')}"))
        return Explanation("", "", self.name, 0.0, paths=paths,
                           note="cosine terms of shared features with drugs treating this or similar diseases")

    def _get_state(self) -> dict[str, Any]:
        return {"f": self.f_, "w": self.w_, "cols": [list(c) for c in self.cols_],
                "feat_ids": {k: v.astype(str) for k, v in self.feat_ids_.items()}}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.f_, self.w_ = state["f"], state["w"]
        self.cols_ = [(str(a), str(b), int(c)) for a, b, c in state["cols"]]
        self.feat_ids_ = {k: np.asarray(v).astype(object) for k, v in state["feat_ids"].items()}
        self._refresh()


@register("imc")
class IMCRecommender(Recommender):
    """Inductive matrix completion: a learned bilinear map between disease and drug features.

    Disease vectors (genes, symptoms, anatomy, resemblance) and drug vectors (targets,
    classes, side effects) are reduced by truncated SVD to ``rank`` dimensions
    (``u_d``, ``v_c``, unit norm); a logistic regression on ``vec(u_d v_c^T)`` plus
    ``v_c`` is fitted on the training indications:

        score(d, c) = u_d^T W v_c + w^T v_c + b

    Because it only sees features, it scores diseases without known treatments
    (zero-shot) and drugs without indications (Natarajan & Dhillon 2014).

    Args:
        rank: SVD dimensions per side (capped by the feature counts).
        c: inverse L2 regularisation.
        max_negatives: non-indication pairs sampled for fitting.
        seed: seeds the SVD and the negative sample.
    """

    def __init__(self, rank: int = 48, c: float = 0.05, max_negatives: int = 30_000, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.rank, self.c, self.max_negatives = int(rank), float(c), int(max_negatives)

    def params(self) -> dict[str, Any]:
        return {"rank": self.rank, "c": self.c, "max_negatives": self.max_negatives, "seed": self.seed}

    @staticmethod
    def _reduce(f: sp.csr_matrix, rank: int, seed: int) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD

        k = min(rank, f.shape[1] - 1, f.shape[0] - 1)
        if k < 1 or f.nnz == 0:
            return np.zeros((f.shape[0], 1), dtype=np.float32)
        u = TruncatedSVD(k, random_state=seed).fit_transform(f)
        return row_normalize(u.astype(np.float32))

    def _fit(self, tables: GraphTables) -> None:
        from sklearn.linear_model import LogisticRegression

        from recommend.graph import training_pairs

        d = self._data()
        fd, _ = _blocks(tables, DISEASE, DISEASE_BLOCKS)
        fc, _ = _blocks(tables, DRUG, DRUG_BLOCKS)
        self.ud_ = self._reduce(fd, self.rank, self.seed)
        self.uc_ = self._reduce(fc, self.rank, self.seed)
        warm = np.flatnonzero(np.diff(d.indications.indptr) > 0)
        if len(warm) == 0:
            from graph_engine.errors import RecommendError

            raise RecommendError("imc: the graph has no TREATS/PALLIATES edges to learn from")
        r, c, y = training_pairs(d, warm, self.max_negatives, self.seed)
        x = np.concatenate([np.einsum("ni,nj->nij", self.ud_[r], self.uc_[c]).reshape(len(r), -1), self.uc_[c]], axis=1)
        lr = LogisticRegression(C=self.c, max_iter=2000, class_weight="balanced").fit(x.astype(np.float32), y)
        kd, kc = self.ud_.shape[1], self.uc_.shape[1]
        coef = lr.coef_.ravel().astype(np.float32)
        self.w_ = coef[: kd * kc].reshape(kd, kc)
        self.wc_ = coef[kd * kc:]
        self.b_ = float(lr.intercept_[0])

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return (self.ud_[rows] @ self.w_) @ self.uc_.T + (self.uc_ @ self.wc_)[None, :] + self.b_

    def _explain(self, row: int, col: int, top: int) -> Explanation:
        return Explanation("", "", self.name, 0.0,
                           note="bilinear match of the disease's features (genes, symptoms, anatomy) with the "
                                "drug's (targets, classes, side effects)")

    def _get_state(self) -> dict[str, Any]:
        return {"ud": self.ud_, "uc": self.uc_, "w": self.w_, "wc": self.wc_, "b": self.b_}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.ud_, self.uc_ = np.asarray(state["ud"]), np.asarray(state["uc"])
        self.w_, self.wc_, self.b_ = np.asarray(state["w"]), np.asarray(state["wc"]), float(state["b"])
