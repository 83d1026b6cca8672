"""Structures and toxicity Prediction nodes against a real Neo4j: bad SMILES handled, one set of
Prediction nodes per run, replaced atomically, a failed run leaves the previous set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graph_engine.errors import IngestError, ModelError
from graph_engine.records import NodeRecord

pytestmark = pytest.mark.neo4j
REPO = Path(__file__).resolve().parents[2]


def tox_state(graph: Any) -> list[dict[str, Any]]:
    return graph.read(
        "MATCH (p:Prediction {kind: 'toxicity'})-[:FOR]->(d:Drug) OPTIONAL MATCH (p)-[:PRODUCED_BY]->(r:Run) "
        "RETURN p.id AS id, d.id AS drug, p.task AS task, p.probability AS p, p.run_id AS run_id, r.id AS run, "
        "p.out_of_domain AS ood, p.model AS model, p.model_version AS mv, p.created_at IS NOT NULL AS dated "
        "ORDER BY id")


def test_ingest_structures_bad_smiles_fail_and_skip(graph: Any, tmp_path: Path) -> None:
    from ingest.structures import load_structures

    p = tmp_path / "mine.csv"
    p.write_text("id,smiles,name\nMY:1,CC(=O)Oc1ccccc1C(=O)O,aspirin-like\nMY:2,C1CC(,bad\nMY:3,CCN(CC)CC,\n",
                 encoding="utf-8")
    with pytest.raises(IngestError, match="line 3"):
        load_structures(graph, p)
    assert graph.read("MATCH (d:Drug) RETURN count(d) AS n")[0]["n"] == 0  # nothing written
    s = load_structures(graph, p, on_error="skip")
    assert (s.read, s.written, len(s.rejected)) == (3, 2, 1) and s.read == s.written + len(s.rejected)
    rows = graph.read("MATCH (d:Drug) RETURN d.id AS id, d.smiles AS smi, d.inchikey AS key, d.name AS name ORDER BY id")
    assert [r["id"] for r in rows] == ["MY:1", "MY:3"]
    assert rows[0]["key"] == "BSYNRYMUTXBXSQ-UHFFFAOYSA-N" and rows[0]["name"] == "aspirin-like"
    assert rows[1]["smi"] == "CCN(CC)CC"


def test_attach_drugbank_structures_updates_only_existing(graph: Any) -> None:
    from ingest.structures import attach_drugbank_structures

    graph.upsert_nodes([NodeRecord("Drug", "DRUGBANK:DB00945", "Aspirin"), NodeRecord("Drug", "DRUGBANK:DB99999", "x")])
    s = attach_drugbank_structures(graph)
    assert s.written == 1 and s.read == s.written + len(s.rejected) + s.not_in_graph
    rows = graph.read("MATCH (d:Drug) RETURN d.id AS id, d.inchikey AS key ORDER BY id")
    assert rows == [{"id": "DRUGBANK:DB00945", "key": "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"}, {"id": "DRUGBANK:DB99999", "key": None}]


def test_toxicity_predictions_once_per_run_replaced_and_atomic(graph: Any) -> None:
    import torch

    torch.set_num_threads(1)
    from graph_engine.chem import structure
    from models.prediction_writeback import write_toxicity
    from models.toxicity import load_toxicity_model, predict_structures

    drugs = {"DRUGBANK:DB00945": "CC(=O)Oc1ccccc1C(=O)O", "DRUGBANK:DB00342": "CC(C)(C)c1ccc(cc1)C(O)CCCN1CCC(CC1)C(O)(c1ccccc1)c1ccccc1"}
    graph.upsert_nodes([NodeRecord("Drug", k, properties={"smiles": v}) for k, v in drugs.items()])
    model = load_toxicity_model()
    preds = predict_structures(model, [structure(k, v) for k, v in drugs.items()])
    tasks = ("hERG", "DILI")
    run1, n1 = write_toxicity(graph, preds, model.name, model.model_version, tasks)
    first = tox_state(graph)
    assert n1 == 4 and len(first) == 4 and all(r["run"] == r["run_id"] == run1 and r["dated"] for r in first)
    by = {(r["drug"], r["task"]): r["p"] for r in first}
    assert by[("DRUGBANK:DB00342", "hERG")] == pytest.approx(preds[1].predictions["hERG"])
    assert by[("DRUGBANK:DB00342", "hERG")] > by[("DRUGBANK:DB00945", "hERG")]  # terfenadine vs aspirin
    assert {r["mv"] for r in first} == {model.model_version}

    run2, _ = write_toxicity(graph, preds, model.name, model.model_version, tasks)
    second = tox_state(graph)
    assert len(second) == 4 and {r["run_id"] for r in second} == {run2}
    assert graph.read("MATCH (r:Run {id: $id}) RETURN r.status AS s", {"id": run2})[0]["s"] == "succeeded"

    ghost = structure("DRUGBANK:DB00000", "CCO")
    bad = predict_structures(model, [ghost]) + preds
    with pytest.raises(ModelError, match="'DRUGBANK:DB00000'"):
        write_toxicity(graph, bad, model.name, model.model_version, tasks)
    assert tox_state(graph) == second  # refused run changed nothing
    failed = graph.read("MATCH (r:Run) WHERE r.status = 'failed' RETURN count(r) AS n")[0]["n"]
    assert failed == 1


def test_cli_ingest_structures_and_enrich_toxicity(graph: Any, neo4j_env: dict[str, str], tmp_path: Path) -> None:
    p = tmp_path / "mine.jsonl"
    p.write_text('{"id": "MY:1", "smiles": "CCOC(=O)c1ccccc1"}\n{"id": "MY:2", "smiles": "C1CC("}\n', encoding="utf-8")
    env = {**neo4j_env, "PYTHONPATH": str(REPO), "MEDKG_THREADS": "1"}
    cli = [sys.executable, "-m", "jobs.cli"]
    bad = subprocess.run(cli + ["ingest", "structures", "--input", str(p)], env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "line 2" in bad.stderr and "Traceback" not in bad.stderr
    ok = subprocess.run(cli + ["ingest", "structures", "--input", str(p), "--on-error", "skip"], env=env,
                        capture_output=True, text=True, check=True)
    assert "read 2, written 1, rejected 1" in ok.stdout
    for _ in range(2):
        r = subprocess.run(cli + ["enrich", "toxicity", "--tasks", "hERG,AMES"], env=env, capture_output=True,
                           text=True, check=True)
        assert "drugs 1, predictions 2" in r.stdout
    assert len(tox_state(graph)) == 2
    assert graph.read("MATCH (r:Run {kind: 'predict'}) RETURN count(r) AS n")[0]["n"] == 2


def test_side_effect_predictions_replace_per_run(graph: Any) -> None:
    """SIDER-trained side-effect predictions (SIDER read from ../shared/data) for a known and a new drug."""
    from tests.conftest import shared_data

    shared_data("sider4", "meddra_all_se.tsv.gz")
    from models.knowledge import knowledge_from_files
    from models.prediction_writeback import write_side_effects
    from models.side_effects import MODEL_NAME, MODEL_VERSION, fit_and_rank

    kn = knowledge_from_files()
    queries = [("DRUGBANK:DB00502", "O=C(CCCN1CCC(O)(CC1)c1ccc(Cl)cc1)c1ccc(F)cc1"), ("MY:NEW", "CCN(CC)CCNC(=O)c1ccc(N)cc1")]
    ranked, cfg = fit_and_rank(kn, queries, top_k=5)
    assert all(len(v) == 5 for v in ranked.values())
    assert not ({s for s, _ in ranked["DRUGBANK:DB00502"]} & kn.side_effects["DRUGBANK:DB00502"])  # only new ones
    ses = sorted({s for v in ranked.values() for s, _ in v})
    graph.upsert_nodes([NodeRecord("Drug", d, properties={"smiles": s}) for d, s in queries]
                       + [NodeRecord("SideEffect", s, kn.side_effect_names.get(s)) for s in ses])
    run1, n = write_side_effects(graph, [q[0] for q in queries], ranked, MODEL_NAME, MODEL_VERSION)
    q = ("MATCH (p:Prediction {kind: 'side_effect'})-[:FOR]->(d:Drug), (p)-[:PREDICTS]->(s:SideEffect) "
         "RETURN d.id AS d, s.id AS s, p.rank AS rank, p.run_id AS run ORDER BY d, rank")
    rows = graph.read(q)
    assert n == 10 and len(rows) == 10 and {r["run"] for r in rows} == {run1}
    assert [r["s"] for r in rows if r["d"] == "MY:NEW"] == [s for s, _ in ranked["MY:NEW"]]
    fewer = {d: v[:2] for d, v in ranked.items()}
    run2, n2 = write_side_effects(graph, [q[0] for q in queries], fewer, MODEL_NAME, MODEL_VERSION)
    rows = graph.read(q)
    assert n2 == 4 and len(rows) == 4 and {r["run"] for r in rows} == {run2}


def test_structure_recommender_reads_graph_smiles_for_a_compound_without_edges(demo: Any, tmp_path: Path) -> None:
    """A user's compound loaded with `ingest structures` (no edges at all) is ranked for the diseases
    its structural neighbours treat, once the recommender is fitted from the graph."""
    from graph_engine.chem import read_drugbank_approved
    from ingest.structures import load_structures
    from recommend import api, get_recommender

    approved = {rid: smi for _, rid, smi, _ in read_drugbank_approved() if smi}
    treats = demo.read("MATCH (c:Drug)-[:TREATS]->(d:Disease) RETURN c.id AS c, collect(d.id) AS ds "
                       "ORDER BY size(ds) DESC, c")
    drug, diseases = next((r["c"], r["ds"]) for r in treats if r["c"] in approved)
    analog = approved[drug] + "C"  # one more carbon: a new compound, structurally next to `drug`
    p = tmp_path / "mine.csv"
    p.write_text(f"id,smiles,name\nCHEMBL:MEDKG_TEST1,{analog},test analog\n", encoding="utf-8")
    assert load_structures(demo, p).written == 1
    assert demo.read("MATCH (c:Drug {id: 'CHEMBL:MEDKG_TEST1'})--() RETURN count(*) AS n")[0]["n"] == 0

    tables = api.export_for_recommend(demo)
    params = api.graph_params(demo, "structure")
    assert params["structures"]["CHEMBL:MEDKG_TEST1"] == demo.read(
        "MATCH (c:Drug {id: 'CHEMBL:MEDKG_TEST1'}) RETURN c.smiles AS s")[0]["s"]
    rec = get_recommender("structure", **params).fit(tables)
    col = rec.col_of("CHEMBL:MEDKG_TEST1")
    scores = rec.score(diseases)[:, col]
    assert (scores > 0).all()  # every indication of its neighbour reaches it
    ranks = [int(np.sum(rec.score([d])[0] > rec.score([d])[0][col])) for d in diseases]
    assert min(ranks) < 10  # and it is in the top 10 of at least one of those diseases
    # without the graph's structures (the old behaviour) it is a zero row
    plain = get_recommender("structure").fit(tables)
    assert not plain.score(diseases)[:, plain.col_of("CHEMBL:MEDKG_TEST1")].any()
