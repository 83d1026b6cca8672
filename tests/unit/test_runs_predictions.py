"""The one Run lifecycle and the one prediction write-back, against the in-memory fake."""

from __future__ import annotations

import pytest

from graph_engine.errors import QueryError, SchemaError
from graph_engine.predictions import PredictionKind, replace_predictions
from graph_engine.runs import open_run
from tests.unit.fake_graph import FakeGraph

pytestmark = pytest.mark.unit

TOX = PredictionKind(label="Prediction", kind="toxicity", for_label="Drug", object_label=None, scope=("model",))
SE = PredictionKind(label="Prediction", kind="side_effect", for_label="Drug", object_label="SideEffect",
                    scope=("model",))


def rows(model, drugs, task="hERG", p=0.5):
    return [{"id": f"{model}:{d}:{task}", "for": d, "props": {"model": model, "task": task, "probability": p}}
            for d in drugs]


def test_open_run_finishes_succeeded_with_metrics_and_status():
    g = FakeGraph({})
    with open_run(g, "score", "pagerank", {"damping": 0.85}) as run:
        run.metrics["iterations"] = 12
    r = g.runs[run.id]
    assert r["status"] == "succeeded" and r["metrics"]["iterations"] == 12 and r["metrics"]["seconds"] >= 0
    with open_run(g, "score", "pagerank", {}) as run2:
        run2.status = "unconverged"
    assert g.runs[run2.id]["status"] == "unconverged"


def test_open_run_marks_failed_and_reraises_even_when_finishing_fails():
    g = FakeGraph({})
    with pytest.raises(KeyError, match="DOID:NOPE"):
        with open_run(g, "score", "ppr", {}) as run:
            raise KeyError("DOID:NOPE")
    assert g.runs[run.id]["status"] == "failed" and g.runs[run.id]["metrics"]["error"].startswith("KeyError")

    def broken_finish(*a, **k):
        raise ConnectionError("server gone")

    g.finish_run = broken_finish
    with pytest.raises(ValueError, match="the real error"):
        with open_run(g, "score", "ppr", {}):
            raise ValueError("the real error")


def test_replace_is_per_target_scope_and_kind():
    g = FakeGraph({"Drug": {"D1", "D2"}})
    replace_predictions(g, "r1", TOX, ["D1", "D2"], rows("m1", ["D1", "D2"]))
    replace_predictions(g, "r2", TOX, ["D1", "D2"], rows("m2", ["D1"]))  # another model: kept apart
    replace_predictions(g, "r3", TOX, ["D1"], rows("m1", ["D1"], task="DILI"))
    got = {(n["model"], n["for"], n["task"], n["run_id"]) for n in g.nodes.values()}
    assert got == {("m1", "D2", "hERG", "r1"), ("m2", "D1", "hERG", "r2"), ("m1", "D1", "DILI", "r3")}
    assert all(n["kind"] == "toxicity" for n in g.nodes.values())
    # a target given without rows is cleared
    replace_predictions(g, "r4", TOX, ["D2"], [], scope_values={"model": "m1"})
    assert ("m1", "D2") not in {(n["model"], n["for"]) for n in g.nodes.values()}


def test_missing_target_or_object_is_refused_by_name_and_nothing_changes():
    g = FakeGraph({"Drug": {"D1"}, "SideEffect": {"S1"}})
    replace_predictions(g, "r1", SE, ["D1"], [{**r, "object": "S1"} for r in rows("m", ["D1"])])
    before = dict(g.nodes)
    with pytest.raises(QueryError, match=r"Drug id\(s\) not in the graph: 'D9'"):
        replace_predictions(g, "r2", SE, ["D1"], rows("m", ["D1", "D9"]))
    with pytest.raises(QueryError, match=r"SideEffect id\(s\) not in the graph: 'S9'"):
        replace_predictions(g, "r2", SE, ["D1"], [{**r, "object": "S9"} for r in rows("m", ["D1"])])
    assert g.nodes == before


def test_ambiguous_scope_and_bad_names_are_refused():
    g = FakeGraph({"Drug": {"D1", "D2"}})
    with pytest.raises(QueryError, match="pass scope_values"):
        replace_predictions(g, "r", TOX, ["D1"], rows("m1", ["D1"]) + rows("m2", ["D2"]))
    with pytest.raises(QueryError, match="pass scope_values"):
        replace_predictions(g, "r", TOX, ["D1"], [])
    with pytest.raises(QueryError, match="no object label"):
        replace_predictions(g, "r", TOX, ["D1"], [{**r, "object": "S1"} for r in rows("m", ["D1"])])
    with pytest.raises(SchemaError):
        replace_predictions(g, "r", PredictionKind(for_label="Drug) DETACH DELETE (x"), ["D1"], [])
    with pytest.raises(SchemaError):
        replace_predictions(g, "r", TOX, ["D1"], [{"id": "x", "for": "D1", "props": {"model": "m", "bad key": 1}}])
    assert g.nodes == {}


def test_failure_mid_write_rolls_back_all():
    def fail(op, creates):
        if op == "predictions.create" and creates > 1:
            raise RuntimeError("connection lost")

    g = FakeGraph({"Drug": {"D1", "D2"}})
    replace_predictions(g, "r1", TOX, ["D1", "D2"], rows("m", ["D1", "D2"]))
    before = dict(g.nodes)
    g.fail = fail
    with pytest.raises(RuntimeError, match="connection lost"):
        replace_predictions(g, "r2", TOX, ["D1", "D2"], rows("m", ["D1", "D2"], p=0.9))
    assert g.nodes == before
