"""Write-back logic against a fake client: one transaction per run, only the
Cypher constants of models.cypher, deterministic ids, failed runs marked."""

from __future__ import annotations

from typing import Any

import pytest

from graph_engine.errors import ModelError
from models import load_model, predict_records
from models.records import InferenceReport, Prediction, Skipped, TextRecord
from models.writeback import DIAGNOSIS, diagnosis_rows, write_diagnoses
from tests.unit.fake_graph import FakeGraph

pytestmark = pytest.mark.unit


def disease_ids(model: Any) -> set[str]:
    return {li.disease_id for li in model.label_info.values() if li.disease_id}


class FakeClient(FakeGraph):
    def __init__(self, model: Any, fail_on: str | None = None, diseases: set[str] | None = None) -> None:
        def fail(op: str, creates: int) -> None:
            if op == fail_on:
                raise RuntimeError("transient failure")

        super().__init__({"Disease": disease_ids(model) if diseases is None else diseases}, fail=fail)


@pytest.fixture(scope="module")
def model() -> Any:
    return load_model(kind="text")


@pytest.fixture(scope="module")
def report(model: Any) -> InferenceReport:
    recs = [TextRecord("case-1", "I have high fever, chills and sweating"), TextRecord("case-2", "itchy red rash with pimples")]
    return predict_records(model, recs, [Skipped("case-3", 3, "empty text")])


def test_rows_are_top_k_with_disease_ids_and_stable_ids(model: Any, report: InferenceReport) -> None:
    rows = diagnosis_rows(model, report, top_k=2)
    assert len(rows) == 4 and [r["rank"] for r in rows] == [1, 2, 1, 2]
    assert rows[0]["probability"] >= rows[1]["probability"]
    ver = model.manifest["model_version"]
    assert rows[0]["id"] == f"medkg-text-linear:{ver}:case-1:{rows[0]['label']}"
    assert all(r["disease_id"] for r in rows)  # every text label maps to a Disease id
    assert diagnosis_rows(model, report, top_k=2) == rows
    with pytest.raises(ModelError):
        diagnosis_rows(model, report, top_k=0)


def test_normal_label_has_no_disease() -> None:
    img = load_model(kind="image")
    rep = InferenceReport([Prediction("c", "normal", {"normal": 0.9, "pneumonia": 0.1})])
    rows = {r["label"]: r for r in diagnosis_rows(img, rep, top_k=2)}
    assert rows["normal"]["disease_id"] is None and rows["pneumonia"]["disease_id"] == "DOID:552"


def test_one_transaction_with_check_replace_and_link(model: Any, report: InferenceReport) -> None:
    client = FakeClient(model)
    summary = write_diagnoses(client, model, report, top_k=3)
    assert client.transactions == 1
    assert client.ops() == ["predictions.missing", "predictions.delete", "predictions.create"]
    create_params = client.statements[2][1]
    assert create_params["run_id"] == summary.run_id and len(create_params["rows"]) == 6
    assert client.statements[1][1]["targets"] == ["case-1", "case-2"]
    assert client.runs[summary.run_id]["status"] == "succeeded"
    assert client.runs[summary.run_id]["metrics"]["skipped"] == 1
    assert (summary.cases, summary.diagnoses, summary.skipped) == (2, 6, 1)
    nodes = client.of_label("Diagnosis")
    assert len(nodes) == 6 and all(n["object"] in disease_ids(model) for n in nodes.values())
    assert {n["for"] for n in nodes.values()} == {"case-1", "case-2"} and "Case" in client.ids


def test_failed_transaction_marks_run_failed_and_commits_nothing(model: Any, report: InferenceReport) -> None:
    client = FakeClient(model, fail_on="predictions.create")
    with pytest.raises(RuntimeError):
        write_diagnoses(client, model, report)
    assert client.nodes == {} and "Case" not in client.ids
    (run,) = client.runs.values()
    assert run["status"] == "failed"


def test_missing_disease_is_refused_naming_it(model: Any, report: InferenceReport) -> None:
    """A suggested Disease that is not in the graph is an error, never created (as for recommendations)."""
    client = FakeClient(model, diseases=set())
    with pytest.raises(ModelError, match=r"Disease id\(s\) not in the graph: '(DOID|MESH|UMLS)"):
        write_diagnoses(client, model, report, top_k=2)
    assert client.nodes == {} and client.ops() == ["predictions.missing"]
    (run,) = client.runs.values()
    assert run["status"] == "failed" and "not in the graph" in run["metrics"]["error"]


def test_nothing_to_write_is_an_error(model: Any) -> None:
    with pytest.raises(ModelError, match="no predictions"):
        write_diagnoses(FakeClient(model), model, InferenceReport([], [Skipped("x", 1, "empty text")]))


def test_cypher_is_parameterised() -> None:
    for q in (DIAGNOSIS.delete_query(), DIAGNOSIS.create_query(), DIAGNOSIS.missing_query("Disease")):
        assert "$" in q and "{0}" not in q and "%s" not in q
    assert DIAGNOSIS.create_query().startswith("// predictions.create\nUNWIND $rows AS row")
    assert "MERGE (t:`Case`" in DIAGNOSIS.create_query() and "MERGE (o" not in DIAGNOSIS.create_query()
