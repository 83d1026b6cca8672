"""The patient safety filter uses text-mined interactions from a real Neo4j (issue 19, item 5).

On the demo graph, two interactions are written from text with the shipped pipeline and writer: one stated
strongly (confidence above the default threshold) and one weakly (below it). The safety index built from the
graph (the parameterised READ_INTERACTIONS statement) flags / removes the drug of the strong one with its
evidence (PMID, sentence, confidence, interaction type) and ignores the weak one; a curated interaction counts
whatever its confidence. `medkg recommend fit` builds the same index from the graph and `medkg recommend
--patient` prints the evidence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.curated import load_graph
from ingest.text.pipeline import extract_documents, load_pipeline
from ingest.text.records import Document
from ingest.text.vocabulary import Vocabulary, default_vocabulary_path
from ingest.text.writer import relation_evidence, write_documents
from recommend import get_recommender
from recommend.api import export_for_recommend
from recommend.patients import DEFAULT_MIN_TEXT_CONFIDENCE, Patient, SafetyIndex, recommend_for_patient, write_patients

pytestmark = pytest.mark.neo4j

REPO = Path(__file__).resolve().parents[2]
STRONG = "{a} may increase the plasma concentrations of {b}."  # the shipped model: well above the threshold
WEAK = "{a} combined with {b} was well tolerated."  # just below it


K = 100


def _evidence(g, a: str, b: str) -> list[dict]:
    """The INTERACTS_WITH between two drugs, whichever way the writer stored it."""
    return relation_evidence(g, a, b, "INTERACTS_WITH") or relation_evidence(g, b, a, "INTERACTS_WITH")


@pytest.fixture()
def setting(demo):
    """The demo graph, a model fitted on it, a patient, and two candidate drugs with text-mined interactions."""
    tables = export_for_recommend(demo)
    model = get_recommender("popularity", seed=0).fit(tables)
    vocab = Vocabulary.load(default_vocabulary_path())
    nlp = load_pipeline(ner=False)  # dictionary-only: deterministic and fast

    def linked(ident: str) -> str | None:
        """The vocabulary name of ``ident`` when the pipeline links it back to ``ident``."""
        e = vocab.get(ident)
        if e is None or not e.name.isalpha():
            return None
        (doc,) = extract_documents(nlp, [Document(id="probe", text=f"Patients received {e.name}.")])
        return e.name if [m.id for m in doc.mentions] == [ident] else None

    disease = str(model.target_ids[0])
    ranked = [str(d) for d in model.recommend([disease], k=None)[0][0]]
    named = [(d, n) for d, n in ((d, linked(d)) for d in ranked[:60]) if n]
    assert len(named) >= 4, "the demo graph's top drugs should have vocabulary names"
    (strong_drug, s_name), (weak_drug, w_name), (taken_1, t1_name), (taken_2, t2_name) = named[:4]
    texts = {"PMID:9000001": STRONG.format(a=s_name.capitalize(), b=t1_name),
             "PMID:9000002": WEAK.format(a=w_name.capitalize(), b=t2_name)}
    docs = list(extract_documents(nlp, [Document(id=k, text=v, source="test") for k, v in texts.items()]))
    summary = write_documents(demo, docs)
    assert summary.relations == 2, [r.to_json() for d in docs for r in d.relations]
    (strong,) = _evidence(demo, strong_drug, taken_1)
    (weak,) = _evidence(demo, weak_drug, taken_2)
    assert weak["confidence"] < DEFAULT_MIN_TEXT_CONFIDENCE <= strong["confidence"], (
        "the shipped relation model's scores moved: pick new STRONG / WEAK sentences", strong, weak)
    patient = Patient("SYNTH:P0001", conditions=[disease], current_drugs=[taken_1, taken_2], synthetic=True)
    return {"graph": demo, "model": model, "patient": patient, "strong": strong_drug, "weak": weak_drug,
            "taken_1": taken_1, "taken_2": taken_2, "texts": texts, "strong_row": strong}


def test_text_interaction_above_the_threshold_flags_with_its_evidence(setting, tmp_path) -> None:
    g, model, pat = setting["graph"], setting["model"], setting["patient"]
    safety = SafetyIndex.from_graph(g)  # the default threshold
    free = recommend_for_patient(model, Patient("SYNTH:P0002", conditions=pat.conditions), safety, k=K)
    assert {setting["strong"], setting["weak"]} <= {i.drug for i in free.items}  # both would be recommended

    flagged = recommend_for_patient(model, pat, safety, k=K, on_conflict="flag")
    by_drug = {i.drug: i for i in flagged.items}
    flag = f"interacts_with:{setting['taken_1']}"
    hit = by_drug[setting["strong"]]
    assert hit.flags == [flag]
    (ev,) = hit.flag_evidence[flag]
    assert ev["source"] == "text" and ev["pmid"] == "PMID:9000001" and ev["sentence"] == setting["texts"]["PMID:9000001"]
    assert ev["confidence"] == pytest.approx(setting["strong_row"]["confidence"])
    assert ev["interaction_type"] == setting["strong_row"]["interaction_type"] is not None
    assert by_drug[setting["weak"]].flags == [] and by_drug[setting["weak"]].flag_evidence == {}  # below: not counted

    removed = recommend_for_patient(model, pat, safety, k=K)
    assert setting["strong"] not in {i.drug for i in removed.items} and setting["weak"] in {i.drug for i in removed.items}
    (gone,) = [i for i in removed.removed_items if i.drug == setting["strong"]]
    assert gone.flag_evidence[flag][0]["pmid"] == "PMID:9000001"

    # a lower threshold lets the weak one count too; a curated interaction counts whatever its confidence
    assert SafetyIndex.from_graph(g, min_text_confidence=0.0).flags(setting["weak"], pat) == \
        [f"interacts_with:{setting['taken_2']}"]
    # the curated list goes through the generic loader, in the direction the text writer stored the pair
    (stored,) = g.read("MATCH (a:Drug)-[:INTERACTS_WITH]->(b:Drug) WHERE (a.id = $x AND b.id = $y) "
                       "OR (a.id = $y AND b.id = $x) RETURN a.id AS a, b.id AS b",
                       {"x": setting["weak"], "y": setting["taken_2"]})
    nodes, edges = tmp_path / "nodes.csv", tmp_path / "edges.csv"
    nodes.write_text("id,label\n" + "".join(f"{d},Drug\n" for d in (stored["a"], stored["b"])), encoding="utf-8")
    edges.write_text(f"source,type,target\n{stored['a']},INTERACTS_WITH,{stored['b']}\n", encoding="utf-8")
    load_graph(g, "generic", nodes, edges, source="curated-list", progress=False)
    curated = SafetyIndex.from_graph(g, min_text_confidence=1.0)
    assert curated.flags(setting["weak"], pat) == [f"interacts_with:{setting['taken_2']}"]
    assert curated.flags(setting["strong"], pat) == []  # text-only, below 1.0
    assert [e["source"] for e in curated.interaction_evidence(setting["weak"], setting["taken_2"])] == ["curated-list", "text"]


def test_recommend_fit_builds_the_index_from_the_graph(setting, neo4j_env, tmp_path) -> None:
    pat = setting["patient"]
    env = dict(neo4j_env, MEDKG_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    cli = [sys.executable, "-m", "jobs.cli"]
    fit = subprocess.run(cli + ["recommend", "fit", "--method", "popularity"], env=env, capture_output=True, text=True)
    assert fit.returncode == 0, fit.stderr
    assert f"text-mined only with confidence >= {DEFAULT_MIN_TEXT_CONFIDENCE:g}" in fit.stdout
    write_patients(tmp_path / "p.jsonl", [pat])
    out = subprocess.run(cli + ["recommend", "--patient", pat.id, "--patients-file", str(tmp_path / "p.jsonl"),
                                "-k", str(K), "--on-conflict", "flag", "--json"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = {r["drug"]: r for r in map(json.loads, out.stdout.splitlines())}
    flag = f"interacts_with:{setting['taken_1']}"
    assert rows[setting["strong"]]["flags"] == [flag]
    assert rows[setting["strong"]]["flag_evidence"][flag][0]["sentence"] == setting["texts"]["PMID:9000001"]
    assert rows[setting["weak"]]["flags"] == []
    text = subprocess.run(cli + ["recommend", "--patient", pat.id, "--patients-file", str(tmp_path / "p.jsonl"),
                                 "-k", str(K)], env=env, capture_output=True, text=True)
    assert text.returncode == 0, text.stderr
    assert f"removed {setting['strong']}: {flag}" in text.stderr and "PMID:9000001" in text.stderr
