"""GNN recommender: link-prediction score from node embeddings, when there are any.

The embeddings come from the GNN job (``graph_engine.embeddings``: an artifact
directory or an ``EmbeddingResult``; or ``embeddings="train"`` to train them on
the graph being fitted), or any other source, as ``{"Disease": (D, d), "Drug": (C, d)}`` arrays aligned with the
exported node tables, or an ``.npz`` file with those keys (and optionally
``Disease__ids`` / ``Drug__ids`` to realign by id). A logistic-regression head on
the Hadamard product ``e_disease * e_drug`` is fitted on the training
indications, so the score is a link-prediction log-odds. Without embeddings
``fit`` raises :class:`RecommendError` saying how to produce them; the
evaluation reports the method as skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
from sklearn.linear_model import LogisticRegression

from graph_engine.errors import RecommendError
from graph_engine.export import GraphTables

from recommend.base import Explanation, PathContribution, Recommender, register
from recommend.data import DISEASE, DRUG
from recommend.graph import training_pairs

NO_EMBEDDINGS = (
    "gnn: no node embeddings available; train them with the embeddings job (graph_engine.embeddings) "
    "and pass embeddings={'Disease': ..., 'Drug': ...} or embeddings='path/to/embeddings.npz'"
)


def load_embeddings(source: Mapping[str, np.ndarray] | str | Path | Any, tables: GraphTables) -> dict[str, np.ndarray]:
    """Disease and Drug embedding matrices aligned with ``tables`` (rows in table order).

    Raises:
        RecommendError: a label is missing or the row count / ids do not match the tables.
    """
    if hasattr(source, "embeddings") and hasattr(source, "ids"):  # graph_engine.embeddings.EmbeddingResult
        res: Any = source
        source = {**res.embeddings, **{f"{k}__ids": v for k, v in res.ids.items()}}
    elif isinstance(source, (str, Path)):
        p = Path(source)
        if p.is_dir():  # an artifact written by graph_engine.embeddings (manifest.json, embeddings.npz)
            from graph_engine.embeddings import EmbeddingResult

            return load_embeddings(EmbeddingResult.load(p, load_model=False), tables)
        if not p.exists():
            raise RecommendError(f"gnn: embeddings file {p} does not exist. {NO_EMBEDDINGS}")
        with np.load(p, allow_pickle=False) as z:
            source = {k: z[k] for k in z.files}
    out = {}
    for label in (DISEASE, DRUG):
        if label not in source:
            raise RecommendError(f"gnn: embeddings lack {label!r}. {NO_EMBEDDINGS}")
        e = np.asarray(source[label], dtype=np.float32)
        ids = source.get(f"{label}__ids")
        if ids is not None:
            pos = {str(i): k for k, i in enumerate(ids)}
            table = [str(i) for i in tables.nodes[label]]
            miss = [i for i in table if i not in pos]
            if miss:
                raise RecommendError(f"gnn: {len(miss)} {label} nodes have no embedding (e.g. {miss[:3]})")
            e = e[[pos[i] for i in table]]
        if e.ndim != 2 or e.shape[0] != len(tables.nodes[label]):
            raise RecommendError(
                f"gnn: {label} embeddings have shape {e.shape}, expected ({len(tables.nodes[label])}, dim)")
        out[label] = e
    if out[DISEASE].shape[1] != out[DRUG].shape[1]:
        raise RecommendError("gnn: Disease and Drug embeddings must have the same dimension")
    return out


@register("gnn")
class GNNRecommender(Recommender):
    """Link prediction from node embeddings (logistic head on ``e_d * e_c``).

    Args:
        embeddings: ``{"Disease": ..., "Drug": ...}`` arrays, an ``.npz`` path, an artifact
            directory or ``EmbeddingResult`` of ``graph_engine.embeddings``, or ``"train"`` to
            train GraphSAGE embeddings on the fitted graph itself (leak-free in evaluation).
        embedding_config: ``EmbeddingConfig`` fields for ``"train"`` (defaults: 3 epochs, device
            ``"auto"``, i.e. CUDA when present).
        c: inverse L2 regularisation of the head.
        max_negatives: non-indication pairs sampled for fitting.
        seed: seeds the negative sample.
    """

    def __init__(self, embeddings: Mapping[str, np.ndarray] | str | None = None, c: float = 1.0,
                 max_negatives: int = 100_000, embedding_config: Mapping[str, Any] | None = None,
                 seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.embeddings = embeddings
        self.embedding_config = embedding_config
        self.c, self.max_negatives = float(c), int(max_negatives)

    def params(self) -> dict[str, Any]:
        return {"c": self.c, "max_negatives": self.max_negatives, "seed": self.seed}

    def _fit(self, tables: GraphTables) -> None:
        if self.embeddings is None:
            raise RecommendError(NO_EMBEDDINGS)
        source: Any = self.embeddings
        if isinstance(source, str) and source == "train":
            # train on exactly the graph being fitted: no held-out edge can leak into the embeddings
            from graph_engine.embeddings import train_embeddings

            cfg = {"device": "auto", "epochs": 3, "seed": self.seed, **dict(self.embedding_config or {})}
            source = train_embeddings(tables, cfg)
        e = load_embeddings(source, tables)
        self.ed_, self.ec_ = e[DISEASE], e[DRUG]
        d = self._data()
        warm = np.flatnonzero(np.diff(d.indications.indptr) > 0)
        if len(warm) == 0:
            raise RecommendError("gnn: the graph has no TREATS/PALLIATES edges to fit the link head on")
        r, c, y = training_pairs(d, warm, self.max_negatives, self.seed)
        head = LogisticRegression(C=self.c, max_iter=1000, class_weight="balanced")
        head.fit(self.ed_[r] * self.ec_[c], y)
        self.w_ = head.coef_.ravel().astype(np.float32)
        self.b_ = float(head.intercept_[0])

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return (self.ed_[rows] * self.w_) @ self.ec_.T + self.b_

    def _explain(self, row: int, col: int, top: int) -> Explanation:
        d = self._data()
        contrib = self.ed_[row] * self.w_ * self.ec_[col]
        paths = [PathContribution([(DRUG, str(d.drug_ids[col])), (DISEASE, str(d.disease_ids[row]))],
                                  [f"EMBEDDING_DIM_{j}"], float(contrib[j]), "gnn:dim")
                 for j in np.argsort(-np.abs(contrib))[:top]]
        return Explanation("", "", self.name, 0.0, paths=paths,
                           note="embedding dimensions with the largest terms in the link-prediction log-odds")

    def _get_state(self) -> dict[str, Any]:
        return {"ed": self.ed_, "ec": self.ec_, "w": self.w_, "b": self.b_}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.ed_, self.ec_ = np.asarray(state["ed"]), np.asarray(state["ec"])
        self.w_, self.b_ = np.asarray(state["w"]), float(state["b"])
