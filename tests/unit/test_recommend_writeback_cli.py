"""Write-back (against a fake transactional client) and the CLI contracts."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from graph_engine.errors import RecommendError, SchemaError
from recommend import get_recommender
from recommend.cypher import read_recommendations
from recommend.toy import toy_graph
from recommend.writeback import recommendation_kind, recommendation_rows, run_writeback, write_recommendations
from tests.unit.fake_graph import FakeGraph as BaseFakeGraph

pytestmark = pytest.mark.unit


class FakeGraph(BaseFakeGraph):
    """The toy graph's ids, with the prediction write-back interpreted in memory."""

    def __init__(self, tables, fail_after_creates=None):
        super().__init__(tables.nodes, fail=self._fail)
        self.fail_after_creates = fail_after_creates

    def _fail(self, op, creates):
        if op == "predictions.create" and self.fail_after_creates is not None and creates > self.fail_after_creates:
            raise RuntimeError("connection lost")

    @property
    def recs(self):
        return {i: {**n, "target": n["for"], "drug": n["object"]} for i, n in self.of_label("Recommendation").items()}

    def export(self, labels=None, rel_types=None):
        return toy_graph()


@pytest.fixture(scope="module")
def model():
    return get_recommender("metapath").fit(toy_graph())


def test_cypher_is_parameterised_and_label_checked():
    for q in (recommendation_kind("Disease").delete_query(), recommendation_kind("Patient").create_query(),
              read_recommendations("Disease")):
        assert "DOID" not in q and "$" in q
    assert "[:`RECOMMENDS`]->(o)" in recommendation_kind("Disease").create_query()
    with pytest.raises(SchemaError):
        recommendation_kind("Disease) DETACH DELETE (x")


def test_new_run_replaces_old_in_one_transaction(model):
    g = FakeGraph(toy_graph())
    run1, n1 = run_writeback(g, model, ["DOID:A0", "DOID:B0"], k=3)
    assert n1 == 6 and g.runs[run1]["status"] == "succeeded"
    assert {r["run_id"] for r in g.recs.values()} == {run1}
    row = next(iter(g.recs.values()))
    exp = json.loads(row["explanation"])
    assert exp["method"] == "metapath" and row["explanation_paths"]
    run2, _ = run_writeback(g, model, ["DOID:A0"], k=2)
    by_target = {}
    for r in g.recs.values():
        by_target.setdefault(r["target"], set()).add(r["run_id"])
    assert by_target == {"DOID:A0": {run2}, "DOID:B0": {run1}}
    # deletion and creation went through the same transaction, deletion first
    assert g.ops()[-2:] == ["predictions.delete", "predictions.create"]
    assert "CREATE (p:`Recommendation`" in g.statements[-1][0]


def test_failed_run_leaves_previous_recommendations(model):
    g = FakeGraph(toy_graph())
    run1, _ = run_writeback(g, model, ["DOID:A0"], k=3)
    before = dict(g.recs)
    g.fail_after_creates = 1
    with pytest.raises(RuntimeError):
        run_writeback(g, model, ["DOID:A0"], k=3)
    assert g.recs == before
    assert [r["status"] for r in g.runs.values()] == ["succeeded", "failed"]


def test_rows_naming_missing_nodes_roll_back(model):
    g = FakeGraph(toy_graph())
    run_writeback(g, model, ["DOID:A0"], k=2)
    before = dict(g.recs)
    rows = recommendation_rows(model, ["DOID:A0"], 2, "run-x", explain=False)
    rows[0]["drug"] = "DRUGBANK:NOT_IN_GRAPH"
    with pytest.raises(RecommendError, match="not in the graph"):
        write_recommendations(g, rows, model.name)
    assert g.recs == before


# ------------------------------------------------------------------ CLI
@pytest.fixture()
def cli(tmp_path, monkeypatch):
    from jobs.commands import recommend as cmd

    monkeypatch.setenv("MEDKG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEDKG_CONFIG", raising=False)
    monkeypatch.setattr(cmd, "_open_client", lambda: FakeGraph(toy_graph()))
    root = click.Group("medkg")
    cmd.register(root)
    return root


def test_cli_fit_then_recommend_json(cli):
    r = CliRunner()
    out = r.invoke(cli, ["recommend", "fit", "--method", "cf"])
    assert out.exit_code == 0, out.output
    out = r.invoke(cli, ["recommend", "--disease", "DOID:A0", "-k", "3", "--json"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.output.strip().splitlines()]
    assert [set(x) for x in rows] == [{"target", "drug", "score", "rank"}] * 3
    assert [x["rank"] for x in rows] == [1, 2, 3] and rows[0]["target"] == "DOID:A0"
    out = r.invoke(cli, ["recommend", "--disease", "DOID:A0", "--all", "--json"])
    assert len(out.output.strip().splitlines()) == len(toy_graph().nodes["Drug"])
    out = r.invoke(cli, ["recommend", "--disease", "DOID:NOPE"])
    assert out.exit_code != 0 and "unknown target" in out.output


def test_cli_patient_from_file(cli, tmp_path):
    from recommend.patients import Patient, write_patients

    f = write_patients(tmp_path / "p.jsonl", [Patient("PAT:1", ["DOID:A0"], ["DRUGBANK:DBA00"])])
    r = CliRunner()
    assert r.invoke(cli, ["recommend", "fit", "--method", "content"]).exit_code == 0
    out = r.invoke(cli, ["recommend", "--patient", "PAT:1", "--patients-file", str(f), "--json", "-k", "4"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.output.strip().splitlines() if line.startswith("{")]
    assert len(rows) == 4 and all(x["target"] == "PAT:1" and x["drug"] != "DRUGBANK:DBA00" for x in rows)


def test_cli_evaluate_and_enrich(cli, tmp_path):
    r = CliRunner()
    out = r.invoke(cli, ["evaluate", "recommend", "--source", "neo4j", "--methods", "random,popularity",
                         "--seeds", "0,1,2", "--out", str(tmp_path / "t.md")])
    assert out.exit_code == 0, out.output
    table = (tmp_path / "t.md").read_text()
    assert table.count("| random-edge |") == 2 and table.count("| held-out-disease |") == 2
    assert r.invoke(cli, ["recommend", "fit", "--method", "popularity"]).exit_code == 0
    out = r.invoke(cli, ["enrich", "recommend", "-k", "2", "--no-explain"])
    assert out.exit_code == 0, out.output
    assert "recommendations for" in out.output


def test_cli_evaluate_trains_gnn_embeddings_per_split(cli, tmp_path):
    r = CliRunner()
    cfg = json.dumps({"dim": 8, "epochs": 1, "num_neighbors": [3, 2], "batch_size": 256, "device": "cpu"})
    out = r.invoke(cli, ["evaluate", "recommend", "--source", "neo4j", "--methods", "gnn", "--splits",
                         "held-out-disease", "--seeds", "0", "--embeddings", "train", "--embedding-config", cfg,
                         "--json-out", str(tmp_path / "rows.json")])
    assert out.exit_code == 0, out.output
    (row,) = json.loads((tmp_path / "rows.json").read_text())
    assert row["method"] == "gnn" and row["status"] == "ok" and 0.0 <= row["metrics"]["auroc"] <= 1.0
    # without embeddings the same row is reported as skipped, so the flag is what made it run
    out = r.invoke(cli, ["evaluate", "recommend", "--source", "neo4j", "--methods", "gnn", "--splits",
                         "held-out-disease", "--seeds", "0", "--json-out", str(tmp_path / "rows0.json")])
    (row0,) = json.loads((tmp_path / "rows0.json").read_text())
    assert row0["status"].startswith("skipped")


@pytest.mark.parametrize("args, message", [
    (["--embeddings", "train", "--embedding-config", '{"dimm": 8}'], "unknown embedding config keys"),
    (["--embeddings", "train", "--embedding-config", "{dim: 8}"], "not valid JSON"),
    (["--embeddings", "train", "--embedding-config", "[8]"], "must be a JSON object"),
    (["--embedding-config", '{"dim": 8}'], "only applies with --embeddings train"),
    (["--embeddings", "missing.npz"], "is not a file"),
])
def test_cli_evaluate_rejects_bad_embedding_options(cli, args, message):
    out = CliRunner().invoke(cli, ["evaluate", "recommend", "--source", "neo4j", "--methods", "gnn", *args])
    assert out.exit_code == 2 and message in out.output, out.output


def test_cli_fit_gnn_with_trained_embeddings(cli):
    r = CliRunner()
    assert r.invoke(cli, ["recommend", "fit", "--method", "gnn"]).exit_code != 0  # no embeddings: says how
    cfg = json.dumps({"dim": 8, "epochs": 1, "num_neighbors": [3, 2], "batch_size": 256, "device": "cpu"})
    out = r.invoke(cli, ["recommend", "fit", "--method", "gnn", "--embeddings", "train", "--embedding-config", cfg])
    assert out.exit_code == 0, out.output
    out = r.invoke(cli, ["recommend", "--disease", "DOID:A0", "-k", "3", "--json"])
    rows = [json.loads(line) for line in out.output.strip().splitlines()]
    assert out.exit_code == 0 and [x["rank"] for x in rows] == [1, 2, 3]
    out = r.invoke(cli, ["recommend", "fit", "--method", "cf", "--embeddings", "train"])
    assert out.exit_code == 2 and "applies to the gnn and hybrid" in out.output
