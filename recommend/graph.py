"""Graph recommenders: personalized PageRank from the disease, and metapath (DWPC) features.

- ``ppr``: personalized PageRank on the undirected homogeneous graph, restarting
  at the target disease (or at a patient's conditions); a drug's score is its
  stationary probability. Explanations are the short disease -> drug walks
  carrying most of the probability.
- ``metapath``: Rephetio-style logistic regression over degree-weighted path
  counts (``recommend/metapaths.toml``), fitted on the training indications.
  The score is the log-odds; each path's contribution is its share of its
  metapath's term in the log-odds.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from graph_engine.errors import RecommendError
from graph_engine.export import GraphTables
from graph_engine.scoring.walk import ppr_walk, ppr_walk_dampings, seed_columns

from recommend.base import Explanation, PathContribution, Recommender, register
from recommend.data import DISEASE, DRUG, IndicationData
from recommend.metapaths import MetapathFeatures


#: Relationship types the PPR walk follows by default. Measured on the Hetionet sample
#: (held-out diseases): walking expression / regulation / gene-gene edges too lowers AUROC
#: from ~0.86 to ~0.82.
PPR_REL_TYPES: tuple[str, ...] = (
    "TREATS", "PALLIATES", "BINDS", "ASSOCIATES", "RESEMBLES", "PRESENTS", "LOCALIZES", "INCLUDES", "CAUSES",
)


def ppr_drug_scores(a: sp.csr_matrix, seed_nodes: np.ndarray, drug_start: int, n_drugs: int,
                    alpha: float = 0.15, iters: int = 30, device: str = "cpu") -> np.ndarray:
    """PPR mass on the drug block for each seed node.

    ``device="cpu"`` runs the fixed-length SciPy walk of
    ``graph_engine.scoring.walk.ppr_walk`` (``alpha`` is the restart probability,
    ``1 - damping``); any other device (``"cuda"``, ``"auto"``) runs
    ``graph_engine.scoring.personalized_pagerank`` and its torch back end.

    Shapes:
        return: ``(S, n_drugs)`` float32.
    """
    if device == "cpu":
        r = ppr_walk(a, seed_columns(a.shape[0], seed_nodes), damping=1.0 - alpha, max_iter=iters)
        return np.ascontiguousarray(r[drug_start:drug_start + n_drugs].T)
    from graph_engine.scoring import personalized_pagerank as shared_ppr

    out = np.zeros((len(seed_nodes), n_drugs), dtype=np.float32)
    cand = np.arange(drug_start, drug_start + n_drugs)
    res = shared_ppr(a, np.asarray(seed_nodes, dtype=np.int64), k=n_drugs, damping=1.0 - alpha,
                     max_iter=iters, tol=1e-7, device=device, candidates=cand)
    rows = np.repeat(np.arange(len(seed_nodes)), res.indices.shape[1])
    out[rows, res.indices.ravel() - drug_start] = res.scores.ravel()
    return out


def ppr_drug_scores_alphas(a: sp.csr_matrix, seed_nodes: np.ndarray, drug_start: int, n_drugs: int,
                           alphas: tuple[float, ...], iters: int = 30, device: str = "cpu") -> list[np.ndarray]:
    """:func:`ppr_drug_scores` at several restart probabilities: on the CPU from one walk
    (``graph_engine.scoring.walk.ppr_walk_dampings``), on a torch device one iteration per alpha."""
    if device != "cpu":
        return [ppr_drug_scores(a, seed_nodes, drug_start, n_drugs, al, iters, device) for al in alphas]
    walks = ppr_walk_dampings(a, seed_columns(a.shape[0], seed_nodes), [1.0 - al for al in alphas], iters)
    return [np.ascontiguousarray(r[drug_start:drug_start + n_drugs].T) for r in walks]


@register("ppr")
class PPRRecommender(Recommender):
    """Personalized PageRank from the target disease over the whole exported graph.

    Args:
        alpha: restart probability.
        iters: power iterations.
        rel_types: relationship types the walk follows (default :data:`PPR_REL_TYPES`:
            the drug/disease-centred ones; expression and gene-gene edges mostly add noise).
        device: ``"cpu"`` (SciPy, here) or a torch device for ``graph_engine.scoring``.
        seed: unused (deterministic).
    """

    supports_patients = False

    def __init__(self, alpha: float = 0.3, iters: int = 30, rel_types: list[str] | None = None,
                 device: str = "cpu", seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.alpha, self.iters, self.device = float(alpha), int(iters), str(device)
        self.rel_types = list(PPR_REL_TYPES if rel_types is None else rel_types)
        self._also_alphas: tuple[float, ...] = ()  # set by fit_alphas for the duration of one fit

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "iters": self.iters, "rel_types": self.rel_types, "device": self.device,
                "seed": self.seed}

    def _fit(self, tables: GraphTables) -> None:
        d = self._data()
        keys = [k for k in tables.edges if k[1] in self.rel_types]
        gm = tables.to_matrix(edge_keys=keys, symmetric=True)
        a = sp.csr_matrix(gm.matrix)
        a.data[:] = 1.0
        offsets = tables.offsets()
        dis0, drug0 = offsets[DISEASE], offsets[DRUG]
        seed_nodes = dis0 + np.arange(d.n_diseases)
        if self._also_alphas:  # fit_alphas: every restart probability from one walk
            blocks = ppr_drug_scores_alphas(a, seed_nodes, drug0, d.n_drugs, (self.alpha, *self._also_alphas),
                                            self.iters, self.device)
            scores, self._also_scores = blocks[0], dict(zip(self._also_alphas, blocks[1:]))
        else:
            scores = ppr_drug_scores(a, seed_nodes, drug0, d.n_drugs, self.alpha, self.iters, self.device)
        self.scores_ = scores
        self.adj_ = a
        self.offsets_ = {k: int(v) for k, v in offsets.items()}
        self.labels_ = list(tables.nodes)
        self.ids_ = np.concatenate([np.asarray(v, dtype=object) for v in tables.nodes.values()])

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.scores_[rows]

    def fit_alphas(self, tables: GraphTables, alphas: tuple[float, ...]) -> list["PPRRecommender"]:
        """Fit at ``self.alpha`` and return fitted copies at each of ``alphas`` (as :meth:`with_alpha`).

        On the CPU one walk gives every restart probability (:func:`personalized_pagerank_alphas`);
        on a torch device each alpha runs its own iteration.
        """
        self._also_alphas = tuple(float(x) for x in alphas)
        try:
            self.fit(tables)
            return [self.with_alpha(x, scores=self._also_scores[x]) for x in self._also_alphas]
        finally:
            self._also_alphas = ()
            self.__dict__.pop("_also_scores", None)

    def with_alpha(self, alpha: float, scores: np.ndarray | None = None) -> "PPRRecommender":
        """A fitted copy walking the same graph with another restart probability.

        Shares this model's adjacency (no re-export); ``scores`` restores saved ones instead of iterating.
        """
        other = copy.copy(self)  # fitted state shared (adjacency, indexes), only alpha and scores differ
        other.alpha = float(alpha)
        if scores is None:
            d = self._data()
            scores = ppr_drug_scores(self.adj_, self.offsets_[DISEASE] + np.arange(d.n_diseases), self.offsets_[DRUG],
                                     d.n_drugs, other.alpha, self.iters, self.device)
        other.scores_ = np.asarray(scores, dtype=np.float32)
        return other

    def _node(self, g: int) -> tuple[str, str]:
        label = max((l for l in self.labels_ if self.offsets_[l] <= g), key=lambda l: self.offsets_[l])
        return label, str(self.ids_[g])

    def _explain(self, row: int, col: int, top: int) -> Explanation:
        a = self.adj_
        deg = np.asarray(a.sum(axis=1)).ravel()
        inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1e-12), 0.0)
        p = sp.csr_matrix(sp.diags(inv) @ a) * (1 - self.alpha)  # damped transition probabilities
        src = self.offsets_[DISEASE] + row
        dst = self.offsets_[DRUG] + col
        first = p[src]  # (1, N): src -> x
        last = sp.csr_matrix(p[:, dst].T)  # (1, N): y -> dst
        paths: list[PathContribution] = []
        w1 = first[0, dst]
        if w1:
            paths.append(PathContribution([self._node(src), self._node(dst)], ["~"], float(w1), "ppr:len1"))
        two = first.multiply(last).tocoo()
        for x, w in zip(two.col, two.data):
            if x not in (src, dst):
                paths.append(PathContribution([self._node(src), self._node(int(x)), self._node(dst)], ["~", "~"],
                                              float(w), "ppr:len2"))
        # length 3: src -> x -> y -> dst, as diag(first) P diag(last) restricted to first's support
        xs = first.indices
        mid = sp.csr_matrix(sp.diags(first.data) @ p[xs] @ sp.diags(last.toarray().ravel())).tocoo()
        order = np.argsort(-mid.data)[: max(top, 1) * 4]
        for i in order:
            x, y = int(xs[mid.row[i]]), int(mid.col[i])
            if len({src, x, y, dst}) == 4:
                paths.append(PathContribution([self._node(src), self._node(x), self._node(y), self._node(dst)],
                                              ["~", "~", "~"], float(mid.data[i]), "ppr:len3"))
        paths.sort(key=lambda q: -q.contribution)
        for q in paths:  # present drug-first like the other methods
            q.nodes = q.nodes[::-1]
        return Explanation("", "", self.name, 0.0, paths=paths[: max(top, 1) * 4],
                           note="walk probability of short disease-to-drug paths (undirected, '~')")

    def _get_state(self) -> dict[str, Any]:
        return {"scores": self.scores_, "adj": self.adj_, "offsets": self.offsets_, "labels": self.labels_,
                "ids": self.ids_.astype(str)}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.scores_ = np.asarray(state["scores"], dtype=np.float32)
        self.adj_ = state["adj"]
        self.offsets_ = {k: int(v) for k, v in state["offsets"].items()}
        self.labels_ = list(state["labels"])
        self.ids_ = np.asarray(state["ids"]).astype(object)


def standardizer(x: np.ndarray, min_std: float = 1e-4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column means, scales and a keep-mask; (near-)constant columns get scale 1 and are dropped.

    Dropping them keeps scores independent of float noise in features that carried no
    information during fitting (and so independent of batch composition).
    """
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    keep = (sd > min_std).astype(np.float32)
    return mu.astype(np.float32), np.where(sd > min_std, sd, 1.0).astype(np.float32), keep


def training_pairs(data: IndicationData, rows: np.ndarray, max_negatives: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positive indications of ``rows`` plus up to ``max_negatives`` sampled non-indications.

    Returns:
        ``(row_idx, col_idx, label)`` arrays.
    """
    rng = np.random.default_rng(seed)
    ind = data.indications[rows].toarray() > 0
    pos_r, pos_c = np.nonzero(ind)
    neg_r, neg_c = np.nonzero(~ind)
    if len(neg_r) > max_negatives:
        pick = rng.choice(len(neg_r), max_negatives, replace=False)
        neg_r, neg_c = neg_r[pick], neg_c[pick]
    r = np.concatenate([pos_r, neg_r])
    c = np.concatenate([pos_c, neg_c])
    y = np.concatenate([np.ones(len(pos_r)), np.zeros(len(neg_r))])
    return rows[r], c, y


def metapath_path_contributions(
    mf: MetapathFeatures, data: IndicationData, feature_contrib: np.ndarray, col: int, row: int, per_feature: int
) -> list[PathContribution]:
    """Split each metapath's log-odds term over its concrete paths, by path weight."""
    out: list[PathContribution] = []
    for f in np.argsort(-np.abs(feature_contrib)):
        if feature_contrib[f] == 0:
            continue
        found = mf.paths(int(f), col, row, data)
        total = sum(w for _, _, w in found)
        if total <= 0:
            continue
        for nodes, rels, w in found[:per_feature]:
            named = [(lab, str(data.drug_ids[i] if lab == DRUG else data.disease_ids[i] if lab == DISEASE else i))
                     for lab, i in nodes]
            out.append(PathContribution(named, rels, float(feature_contrib[f] * w / total), mf.names[f]))
    return out


@register("metapath")
class MetapathRecommender(Recommender):
    """Logistic regression over DWPC features (Rephetio), fitted on the training indications.

    Args:
        c: inverse L2 regularisation of the logistic regression.
        max_negatives: non-indication pairs sampled for fitting.
        seed: seeds the negative sample.
    """

    def __init__(self, c: float = 1.0, max_negatives: int = 100_000, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.c, self.max_negatives = float(c), int(max_negatives)

    def params(self) -> dict[str, Any]:
        return {"c": self.c, "max_negatives": self.max_negatives, "seed": self.seed}

    def _fit(self, tables: GraphTables) -> None:
        d = self._data()
        self.mf_ = MetapathFeatures().fit(tables, d)
        self.nodes_ = {l: np.asarray(v, dtype=object) for l, v in tables.nodes.items()}
        warm = np.flatnonzero(np.diff(d.indications.indptr) > 0)
        if len(warm) == 0:
            raise RecommendError("metapath: the graph has no TREATS/PALLIATES edges to learn from")
        r, c, y = training_pairs(d, warm, self.max_negatives, self.seed)
        x = self.mf_.transform(self.mf_.dwpc[:, r, c]).T
        self.mu_, self.sd_, keep = standardizer(x)
        lr = LogisticRegression(C=self.c, max_iter=1000, class_weight="balanced")
        lr.fit((x - self.mu_) / self.sd_ * keep, y)
        self.coef_ = (lr.coef_.ravel() * keep).astype(np.float32)
        self.intercept_ = float(lr.intercept_[0])

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        x = self.mf_.rows(rows)
        return ((x - self.mu_) / self.sd_) @ self.coef_ + self.intercept_

    def _explain(self, row: int, col: int, top: int) -> Explanation:
        d = self._data()
        x = self.mf_.transform(self.mf_.dwpc[:, row, col])
        contrib = self.coef_ * x / self.sd_  # term relative to a pair with no paths
        paths = metapath_path_contributions(self.mf_, d, contrib, col, row, per_feature=top)
        _rename(paths, self.nodes_)
        return Explanation("", "", self.name, 0.0, paths=paths,
                           note="log-odds contributions of metapaths, split over their paths by path weight")

    def _get_state(self) -> dict[str, Any]:
        return {"mf": self.mf_.get_state(), "mu": self.mu_, "sd": self.sd_, "coef": self.coef_,
                "intercept": self.intercept_, "nodes": {k: v.astype(str) for k, v in self.nodes_.items()}}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.mf_ = MetapathFeatures.from_state(state["mf"])
        self.mu_, self.sd_ = np.asarray(state["mu"]), np.asarray(state["sd"])
        self.coef_, self.intercept_ = np.asarray(state["coef"]), float(state["intercept"])
        self.nodes_ = {k: np.asarray(v).astype(object) for k, v in state["nodes"].items()}


def _rename(paths: list[PathContribution], nodes: Mapping[str, np.ndarray]) -> None:
    """Replace local indices of intermediate nodes by their ids (Drug/Disease are already ids)."""
    for p in paths:
        p.nodes = [(lab, nid if lab in (DRUG, DISEASE) else str(nodes[lab][int(nid)])) for lab, nid in p.nodes]
