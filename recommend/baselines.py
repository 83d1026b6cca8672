"""Baselines every method is compared with: popularity and random."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from graph_engine.export import GraphTables

from recommend.base import Explanation, Recommender, register


@register("popularity")
class PopularityRecommender(Recommender):
    """Score = number of diseases the drug treats or palliates in the training graph.

    The same ranking for every target; the prior that any useful method must beat.
    """

    supports_patients = True

    def _fit(self, tables: GraphTables) -> None:
        d = self._data()
        counts = np.asarray(d.indications.sum(axis=0)).ravel()
        if d.patient_drugs.shape[0]:
            counts = counts + np.asarray(d.patient_drugs.sum(axis=0)).ravel()
        self.counts_ = counts.astype(np.float32)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self.counts_, (len(rows), 1))

    def _explain(self, row: int, col: int, top: int) -> Explanation:
        return Explanation("", "", self.name, 0.0,
                           note=f"popularity: the drug has {int(self.counts_[col])} known indications (or patients)")

    def _get_state(self) -> dict[str, Any]:
        return {"counts": self.counts_}

    def _set_state(self, state: Mapping[str, Any]) -> None:
        self.counts_ = np.asarray(state["counts"], dtype=np.float32)


@register("random")
class RandomRecommender(Recommender):
    """Uniform random scores, fixed per (seed, target, drug) so repeated calls agree."""

    supports_patients = True

    def _fit(self, tables: GraphTables) -> None:
        return None

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        n = self._data().n_drugs
        out = np.empty((len(rows), n), dtype=np.float32)
        for b, r in enumerate(rows):
            out[b] = np.random.default_rng([self.seed, int(r)]).random(n, dtype=np.float32)
        return out

    def _explain(self, row: int, col: int, top: int) -> Explanation:
        return Explanation("", "", self.name, 0.0, note="random baseline: the score carries no information")
