"""Write-back (against a fake transactional client) and the CLI contracts."""

from __future__ import annotations

import copy
import json
import re

import click
import pytest
from click.testing import CliRunner

from graph_engine.errors import RecommendError, SchemaError
from recommend import get_recommender
from recommend.cypher import create_recommendations, delete_recommendations, read_recommendations
from recommend.toy import toy_graph
from recommend.writeback import recommendation_rows, run_writeback, write_recommendations

pytestmark = pytest.mark.unit


class FakeResult:
    def __init__(self, n):
        self.n = n

    def single(self):
        return {"created": self.n}


class FakeGraph:
    """Recommendation nodes in a dict; transactions commit all-or-nothing like Neo4j's."""

    def __init__(self, tables, fail_after_creates=None):
        self.ids = {label: set(map(str, v)) for label, v in tables.nodes.items()}
        self.recs = {}  # id -> row
        self.runs = {}
        self.fail_after_creates = fail_after_creates
        self.statements = []

    # --- client API used by write-back
    def create_run(self, kind, algorithm, params):
        rid = f"run-{len(self.runs) + 1}"
        self.runs[rid] = {"status": "running", "params": params}
        return rid

    def finish_run(self, run_id, metrics, status="succeeded"):
        self.runs[run_id].update(status=status, metrics=metrics)

    def run_in_transaction(self, fn):
        snapshot = copy.deepcopy(self.recs)
        tx = FakeTx(self)
        try:
            return fn(tx)
        except Exception:
            self.recs = snapshot  # rollback
            raise

    def export(self, labels=None, rel_types=None):
        return toy_graph()

    def read(self, cypher, params):
        return []

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


class FakeTx:
    def __init__(self, g):
        self.g = g
        self.creates = 0

    def run(self, cypher, params):
        self.g.statements.append((cypher, params))
        if cypher.strip().startswith("UNWIND $targets"):
            for rid, r in list(self.g.recs.items()):
                if r["target"] in params["targets"] and r["method"] == params["method"]:
                    del self.g.recs[rid]
            return FakeResult(0)
        label = re.search(r"MATCH \(t:(\w+)", cypher).group(1)
        n = 0
        for row in params["rows"]:
            self.creates += 1
            if self.g.fail_after_creates is not None and self.creates > self.g.fail_after_creates:
                raise RuntimeError("connection lost")
            if row["target"] in self.g.ids[label] and row["drug"] in self.g.ids["Drug"]:
                self.g.recs[row["id"]] = row
                n += 1
        return FakeResult(n)


@pytest.fixture(scope="module")
def model():
    return get_recommender("metapath").fit(toy_graph())


def test_cypher_is_parameterised_and_label_checked():
    for q in (delete_recommendations("Disease"), create_recommendations("Patient"), read_recommendations("Disease")):
        assert "DOID" not in q and "$" in q
    assert "[:RECOMMENDS]->(d)" in create_recommendations("Disease")
    with pytest.raises(SchemaError):
        create_recommendations("Disease) DETACH DELETE (x")


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
    last = [c for c, _ in g.statements[-2:]]
    assert last[0].strip().startswith("UNWIND $targets") and "CREATE (r:Recommendation" in last[1]


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
