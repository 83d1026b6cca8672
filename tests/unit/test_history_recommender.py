"""recommend.history.HistoryRecommender: only drugs with evidence for the condition are recommended."""

from __future__ import annotations

import pandas as pd
import pytest

from graph_engine.errors import RecommendError
from recommend.history import HistoryRecommender

pytestmark = pytest.mark.unit

COND, OTHER = "15777000", "10509002"


def fitted() -> HistoryRecommender:
    """COND is treated with A (2 patients) and B (1); Z, the commonest drug, only ever for OTHER."""
    rows = [("p1", "A", COND), ("p2", "A", COND), ("p2", "B", COND)]
    rows += [(f"q{i}", "Z", OTHER) for i in range(6)] + [("q0", "Y", OTHER)]
    rx = pd.DataFrame(rows, columns=["pid", "drug", "reason"])
    codes = pd.DataFrame([(p, c) for p, _, c in rows], columns=["pid", "code"]).drop_duplicates()
    return HistoryRecommender().fit(rx, codes, treats={COND: ["Y"]})


def test_only_drugs_with_evidence_are_recommended() -> None:
    rec = fitted()
    assert [r.drug for r in rec.recommend(COND, k=5)] == ["A", "B", "Y"]  # Y: a curated TREATS
    assert [r.drug for r in rec.recommend(COND, drugs={"A"}, codes={COND}, k=5)] == ["B", "Y"]
    # already on everything with evidence: nothing, not the cohort's commonest drug
    assert rec.recommend(COND, drugs={"A", "B"}, allergies={"Y"}, k=5) == []
    assert [r.drug for r in rec.recommend(COND, drugs={"A", "B"}, k=5, method="condition_frequency")] == []
    assert [r.drug for r in rec.recommend(COND, k=5, method="condition_frequency")] == ["A", "B"]


def test_the_popularity_baseline_still_ranks_every_drug() -> None:
    rec = fitted()
    got = [r.drug for r in rec.recommend(COND, drugs={"A", "B"}, k=5, method="popularity")]
    assert got[0] == "Z" and set(got) == {"Z", "Y"}


def test_unknown_method_is_refused() -> None:
    with pytest.raises(RecommendError, match="method must be"):
        fitted().recommend(COND, method="pop")
