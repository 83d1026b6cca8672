"""Next-condition Prediction nodes replaced per run, and patient x condition recommendations, on a real Neo4j."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from graph_engine.errors import MedkgError
from graph_engine.settings import Settings
from ingest.synthea.graph import import_synthea
from jobs.patient_recs import recommend_for_condition
from models.sequence.api import train_sequence
from models.sequence.model import SequenceConfig
from models.sequence.writeback import write_condition_predictions

pytestmark = pytest.mark.neo4j

SAMPLE = Path(__file__).resolve().parents[2] / "ingest" / "data" / "synthea-sample"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("seq") / "m"
    cfg = SequenceConfig(epochs=1, dim=8, hidden=8, threads=1, val_fraction=0.3, cuts=2)
    return train_sequence(SAMPLE, out, cfg, cohort={"seed": 1, "state": "Massachusetts", "patients": 20})


@pytest.fixture()
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.delenv("MEDKG_PATIENT_KEY", raising=False)
    monkeypatch.delenv("MEDKG_PATIENT_KEY_FILE", raising=False)
    return Settings.load(env={**os.environ, "MEDKG_HOME": str(tmp_path / "home")})


def _current(g):
    return g.read("MATCH (p:Prediction {kind: 'next_condition'})-[:FOR]->(pt:Patient), (p)-[:PREDICTS]->(d:Disease), "
                  "(p)-[:PRODUCED_BY]->(r:Run) RETURN p.run_id AS run, r.status AS status, pt.id AS patient, "
                  "p.probability AS prob, p.horizon_days AS h, p.explanation AS exp, p.model_version AS v")


def test_prediction_nodes_are_replaced_per_run(graph, tiny_model, settings):
    import_synthea(graph, SAMPLE, settings=settings, progress=False)
    s1 = write_condition_predictions(graph, tiny_model, SAMPLE, "2024-01-01", top=5, settings=settings)
    rows1 = _current(graph)
    assert s1["written"] == len(rows1) > 0 and {r["run"] for r in rows1} == {s1["run_id"]}
    assert all(r["status"] == "succeeded" and r["h"] == 365 and 0 < r["prob"] < 1 for r in rows1)
    assert all("because" in json.loads(r["exp"]) for r in rows1)
    s2 = write_condition_predictions(graph, tiny_model, SAMPLE, "2024-06-01", top=3, settings=settings)
    rows2 = _current(graph)
    assert {r["run"] for r in rows2} == {s2["run_id"]} and s2["run_id"] != s1["run_id"]
    assert len(rows2) == s2["written"] <= 3 * s2["patients"]
    total = graph.read("MATCH (p:Prediction {kind: 'next_condition'}) RETURN count(p) AS n")[0]["n"]
    assert total == len(rows2)


def test_predictions_refuse_patients_not_imported(graph, tiny_model, settings):
    from graph_engine.synthea import load_key

    with pytest.raises(MedkgError, match="patient key file .* does not exist"):
        write_condition_predictions(graph, tiny_model, SAMPLE, "2024-01-01", settings=settings)
    load_key(settings, env={"MEDKG_HOME": str(settings.home)})
    with pytest.raises(MedkgError, match="none of the .* patients"):
        write_condition_predictions(graph, tiny_model, SAMPLE, "2024-01-01", settings=settings)
    assert graph.read("MATCH (p:Prediction) RETURN count(p) AS n")[0]["n"] == 0


def test_patient_condition_recommendations_respect_the_safety_filter(graph, settings):
    import_synthea(graph, SAMPLE, settings=settings, progress=False)
    case = graph.read("MATCH (p:Patient)-[t:TAKES]->(:Drug) WHERE size(coalesce(t.reason_codes, [])) > 0 "
                      "RETURN p.id AS pid, t.reason_codes[0] AS code ORDER BY pid LIMIT 1")[0]
    rows = recommend_for_condition(graph, case["pid"], case["code"], k=5)
    assert rows and [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    current = {r["id"] for r in graph.read("MATCH (:Patient {id: $p})-[t:TAKES]->(d:Drug) WHERE t.stop IS NULL "
                                           "RETURN d.id AS id", {"p": case["pid"]})}
    allergic = {r["id"] for r in graph.read("MATCH (:Patient {id: $p})-[:ALLERGIC_TO]->(d:Drug) RETURN d.id AS id",
                                            {"p": case["pid"]})}
    assert not ({r["drug"] for r in rows} & (current | allergic))
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(MedkgError, match="not in the graph"):
        recommend_for_condition(graph, "SYN:nobody", case["code"])


def test_demo_recommends_only_drugs_prescribed_for_its_condition(graph, tmp_path, monkeypatch, capsys):
    """`medkg demo`'s patient section: the condition shown has recommendations, every one of them a drug some
    patient got for that condition (no popular drug padded in), and the "because" lines name the codes."""
    from jobs.demo_sections.patients import demo_section

    monkeypatch.setenv("MEDKG_HOME", str(tmp_path / "home"))  # the demo's patient key, not the caller's
    monkeypatch.delenv("MEDKG_PATIENT_KEY", raising=False)
    monkeypatch.delenv("MEDKG_PATIENT_KEY_FILE", raising=False)
    demo_section(graph)
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("recommended drugs for SNOMEDCT:"))
    code = line.split("SNOMEDCT:", 1)[1].split(" ", 1)[0]
    recs = graph.read("MATCH (r:Recommendation {method: 'history-cf'})-[:RECOMMENDS]->(d:Drug) "
                      "RETURN d.id AS id, r.condition AS condition")
    assert recs and {r["condition"] for r in recs} == {f"SNOMEDCT:{code}"}
    prescribed = {r["id"] for r in graph.read("MATCH (:Patient)-[t:TAKES]->(d:Drug) WHERE $c IN t.reason_codes "
                                              "RETURN DISTINCT d.id AS id", {"c": code})}
    assert {r["id"] for r in recs} <= prescribed
    because = [x for x in out.splitlines() if "   because " in x]
    assert because and not any("because SNOMEDCT:" in x or "because RXNORM:" in x for x in because)
