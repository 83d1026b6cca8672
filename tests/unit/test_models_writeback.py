"""Write-back logic against a fake client: one transaction per run, only the
Cypher constants of models.cypher, deterministic ids, failed runs marked."""

from __future__ import annotations

from typing import Any

import pytest

from graph_engine.errors import ModelError
from models import cypher, load_model, predict_records
from models.records import InferenceReport, Prediction, Skipped, TextRecord
from models.writeback import diagnosis_rows, write_diagnoses

pytestmark = pytest.mark.unit


class FakeResult:
    def consume(self) -> None:
        return None


class FakeTx:
    def __init__(self, fail_on: str | None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_on = fail_on

    def run(self, query: str, params: dict[str, Any]) -> FakeResult:
        if self.fail_on is not None and query == self.fail_on:
            raise RuntimeError("transient failure")
        self.calls.append((query, params))
        return FakeResult()


class FakeClient:
    def __init__(self, fail_on: str | None = None) -> None:
        self.transactions: list[FakeTx] = []
        self.committed: list[tuple[str, dict[str, Any]]] = []
        self.runs: dict[str, dict[str, Any]] = {}
        self.fail_on = fail_on

    def run_in_transaction(self, fn: Any) -> Any:
        tx = FakeTx(self.fail_on)
        self.transactions.append(tx)
        out = fn(tx)  # an exception here means nothing is committed
        self.committed.extend(tx.calls)
        return out

    def create_run(self, kind: str, algorithm: str, params: dict[str, Any]) -> str:
        run_id = f"run-{len(self.runs) + 1}"
        self.runs[run_id] = {"kind": kind, "algorithm": algorithm, "params": params, "status": "running"}
        return run_id

    def finish_run(self, run_id: str, metrics: dict[str, Any], status: str = "succeeded") -> None:
        self.runs[run_id].update(status=status, metrics=metrics)


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


def test_one_transaction_with_merge_replace_and_link(model: Any, report: InferenceReport) -> None:
    client = FakeClient()
    summary = write_diagnoses(client, model, report, top_k=3)
    assert len(client.transactions) == 1
    queries = [q for q, _ in client.committed]
    assert queries == [cypher.MERGE_DIAGNOSES, cypher.DELETE_STALE_DIAGNOSES, cypher.LINK_RUN]
    merge_params = client.committed[0][1]
    assert merge_params["run_id"] == summary.run_id and len(merge_params["rows"]) == 6
    assert client.committed[1][1]["case_ids"] == ["case-1", "case-2"]
    assert client.runs[summary.run_id]["status"] == "succeeded"
    assert client.runs[summary.run_id]["metrics"]["skipped"] == 1
    assert (summary.cases, summary.diagnoses, summary.skipped) == (2, 6, 1)


def test_failed_transaction_marks_run_failed_and_commits_nothing(model: Any, report: InferenceReport) -> None:
    client = FakeClient(fail_on=cypher.LINK_RUN)
    with pytest.raises(RuntimeError):
        write_diagnoses(client, model, report)
    assert client.committed == []
    (run,) = client.runs.values()
    assert run["status"] == "failed"


def test_nothing_to_write_is_an_error(model: Any) -> None:
    with pytest.raises(ModelError, match="no predictions"):
        write_diagnoses(FakeClient(), model, InferenceReport([], [Skipped("x", 1, "empty text")]))


def test_cypher_is_parameterised() -> None:
    for q in (cypher.MERGE_DIAGNOSES, cypher.DELETE_STALE_DIAGNOSES, cypher.LINK_RUN):
        assert "$" in q and "{0}" not in q and "%s" not in q
    assert cypher.MERGE_DIAGNOSES.lstrip().startswith("UNWIND $rows AS row")
