"""Predicted toxicity in the patient safety filter: flagged above the documented thresholds, in the
documented patient contexts, naming model and probability; never removed."""

from __future__ import annotations

import pytest

from recommend import get_recommender
from recommend.patients import (
    RISK_RULES,
    Patient,
    PredictedRisks,
    Risk,
    SafetyIndex,
    recommend_for_patient,
)
from recommend.toy import toy_graph

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def setup():
    g = toy_graph()
    model = get_recommender("cf").fit(g)
    free = recommend_for_patient(model, Patient("PAT:0", conditions=["DOID:A0"]), SafetyIndex.from_tables(g), k=5)
    return g, model, [i.drug for i in free.items]


def _risks(drugs, herg=0.0, dili=0.0, qt_drugs=()):
    return PredictedRisks({d: {"hERG": Risk(herg, "admet-ai", "2.0.1"), "DILI": Risk(dili, "admet-ai", "2.0.1")}
                           for d in drugs}, qt_drugs)


def test_herg_flag_needs_a_qt_prolonging_current_drug(setup):
    g, model, top = setup
    thr = {r.task: r.threshold for r in RISK_RULES}
    pat = Patient("PAT:1", conditions=["DOID:A0"], current_drugs=["DRUGBANK:QT1"])
    safety = SafetyIndex.from_tables(g).with_predicted_risks(_risks(top, herg=thr["hERG"] + 0.2, qt_drugs=["DRUGBANK:QT1"]))
    for mode in ("remove", "flag"):
        res = recommend_for_patient(model, pat, safety, k=5, on_conflict=mode)
        assert [i.drug for i in res.items] == top  # predicted risks never remove
        for it in res.items:
            (r,) = it.predicted_risks
            assert r["task"] == "hERG" and r["model"] == "admet-ai" and r["probability"] == pytest.approx(thr["hERG"] + 0.2)
            assert "DRUGBANK:QT1" in r["reason"]
            assert any(f.startswith("predicted_risk:hERG=0.70") and "admet-ai 2.0.1" in f for f in it.flags)
    # same prediction, but the current drug does not prolong QT -> no flag
    safety = SafetyIndex.from_tables(g).with_predicted_risks(_risks(top, herg=0.9))
    res = recommend_for_patient(model, pat, safety, k=5)
    assert all(not i.predicted_risks and not i.flags for i in res.items)


def test_predicted_herg_of_the_current_drug_counts_as_qt_prolonging(setup):
    g, model, top = setup
    risks = _risks(top, herg=0.8)
    risks.risks["DRUGBANK:CUR"] = {"hERG": Risk(0.6, "admet-ai", "2.0.1")}
    pat = Patient("PAT:2", conditions=["DOID:A0"], current_drugs=["DRUGBANK:CUR"])
    res = recommend_for_patient(model, pat, SafetyIndex.from_tables(g).with_predicted_risks(risks), k=5)
    assert all(i.predicted_risks and "DRUGBANK:CUR" in i.predicted_risks[0]["reason"] for i in res.items)


def test_dili_flag_only_for_liver_disease_and_above_threshold(setup):
    g, model, top = setup
    thr = {r.task: r.threshold for r in RISK_RULES}["DILI"]
    liver = Patient("PAT:3", conditions=["DOID:A0", "DOID:2043"])  # hepatitis B (unknown to the toy model)
    plain = Patient("PAT:4", conditions=["DOID:A0"])
    above = SafetyIndex.from_tables(g).with_predicted_risks(_risks(top, dili=thr))
    below = SafetyIndex.from_tables(g).with_predicted_risks(_risks(top, dili=thr - 0.01))
    res = recommend_for_patient(model, liver, above, k=5)
    assert all(i.predicted_risks[0]["task"] == "DILI" and "DOID:2043" in i.predicted_risks[0]["reason"] for i in res.items)
    assert all(not i.flags for i in recommend_for_patient(model, plain, above, k=5).items)
    assert all(not i.flags for i in recommend_for_patient(model, liver, below, k=5).items)
