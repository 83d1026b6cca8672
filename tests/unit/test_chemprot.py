"""ChemProt: the reader, the ``TARGETS {action}`` scores (hand-computed), the classifier and its place in the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graph_engine.errors import IngestError, ModelError
from ingest.text import chemprot as cp
from ingest.text import relation_eval as rv
from ingest.text.components.cache import set_ents
from ingest.text.components.relations import TARGETS_MODEL, RelationExtractor, make_relations
from ingest.text.components.targets import TargetsModel, default_targets_model, nested_genes, targets_features
from ingest.text.corpora import blank_pipeline
from ingest.text.evaluation import LabelScore
from ingest.text.pipeline import doc_records
from ingest.text.records import Document, Evidence, Mention, Relation
from ingest.text.writer import relation_rows

TITLE = "Aspirin inhibits COX-2."
ABSTRACT = "Dopamine activates DRD2 but not DRD1. Caffeine is safe."


def text() -> str:
    return f"{TITLE} {ABSTRACT}"


def at(surface: str, nth: int = 0) -> tuple[int, int]:
    t, i = text(), -1
    for _ in range(nth + 1):
        i = t.index(surface, i + 1)
    return i, i + len(surface)


ENTITIES = [("T1", "CHEMICAL", "Aspirin"), ("T2", "GENE-Y", "COX-2"), ("T3", "CHEMICAL", "Dopamine"),
            ("T4", "GENE-Y", "DRD2"), ("T5", "GENE-N", "DRD1"), ("T6", "CHEMICAL", "Caffeine")]
GOLD = [("CPR:4", "T1", "T2"), ("CPR:3", "T3", "T4")]


def corpus(tmp_path: Path, entities: list[str] | None = None, gold: list[str] | None = None, abstracts: str | None = None) -> Path:
    d = tmp_path / "cp"
    d.mkdir(parents=True, exist_ok=True)
    (d / "x_abstracts.tsv").write_text(abstracts if abstracts is not None else f"9\t{TITLE}\t{ABSTRACT}\n")
    ents = entities if entities is not None else [f"9\t{t}\t{k}\t{at(s)[0]}\t{at(s)[1]}\t{s}" for t, k, s in ENTITIES]
    (d / "x_entities.tsv").write_text("\n".join(ents) + "\n")
    golds = gold if gold is not None else [f"9\t{g}\tArg1:{a}\tArg2:{b}" for g, a, b in GOLD]
    (d / "x_gold_standard.tsv").write_text("\n".join(golds) + "\n")
    return d


# ---------------------------------------------------------------- reader


def test_reader_gives_labels_ids_and_typed_pairs(tmp_path: Path) -> None:
    (u,) = cp.read_chemprot(corpus(tmp_path))
    assert u.doc.id == "9" and u.doc.text == text()
    by_id = {m.ids[0]: m for m in u.mentions}
    assert {k: m.label for k, m in by_id.items()} == {"T1": "Drug", "T2": "Gene", "T3": "Drug", "T4": "Gene", "T5": "Gene", "T6": "Drug"}
    assert u.doc.text[by_id["T2"].start:by_id["T2"].end] == "COX-2"
    assert u.pairs == {("9", "CPR:4", "T1", "T2"), ("9", "CPR:3", "T3", "T4")}
    # a folder or any one of its files; detect_task tells it from DDI folders and PubTator files
    assert rv.detect_task(corpus(tmp_path)) == "chemprot"
    assert rv.detect_task(corpus(tmp_path) / "x_entities.tsv") == "chemprot"


@pytest.mark.parametrize("entities,gold,message", [
    (["9\tT1\tCHEMICAL\t0\t5\tAspir"] + [f"9\tT2\tGENE-Y\t{at('COX-2')[0]}\t{at('COX-2')[1]}\tCOX-2"], ["9\tCPR:4\tArg1:T1\tArg2:T2"], None),
    (["9\tT1\tCHEMICAL\t1\t8\tAspirin"], ["9\tCPR:4\tArg1:T1\tArg2:T1"], "do not give its text"),
    (["9\tT1\tPROTEIN\t0\t7\tAspirin"], [], "unknown type"),
    (["9\tT1\tCHEMICAL\t0\t7"], [], "6"),
    (None, ["9\tCPR:4\tArg1:T1\tArg2:T9"], "names no entity"),
    (None, ["9\tCPR:4\tArg1:T2\tArg2:T1"], "expected a chemical"),
    (None, ["9\tCPR:2\tArg1:T1\tArg2:T2"], "not one of the evaluated groups"),
    (None, [], "no gold relations"),
])
def test_bad_input_names_file_and_line(tmp_path: Path, entities: list[str] | None, gold: list[str], message: str | None) -> None:
    folder = corpus(tmp_path, entities, gold)
    if message is None:  # a valid, partial mention is fine
        assert cp.read_chemprot(folder)[0].pairs == {("9", "CPR:4", "T1", "T2")}
        return
    with pytest.raises(IngestError, match=message) as err:
        cp.read_chemprot(folder)
    if "no gold" not in message:
        assert ":1" in str(err.value) or "line 1" in str(err.value)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    folder = corpus(tmp_path)
    (folder / "x_gold_standard.tsv").unlink()
    with pytest.raises(IngestError, match="gold_standard"):
        cp.read_chemprot(folder)


# ---------------------------------------------------------------- scoring


def targets(pmid: str, subj: tuple[int, int], obj: tuple[int, int], action: str | None, ids: tuple[str, str] = ("MESH:X", "HGNC:Y"),
            negated: bool = False) -> Relation:
    t = text()
    ev = Evidence(pmid, t, 0, len(t), subj[0], subj[1], obj[0], obj[1], "test", "0")
    return Relation(pmid, "TARGETS", ids[0], ids[1], "Drug", "Gene", t[subj[0]:subj[1]], t[obj[0]:obj[1]], negated, False, 0.8, ev, action)


def test_scores_by_hand(tmp_path: Path) -> None:
    units = cp.read_chemprot(corpus(tmp_path))
    sentences = [(0, len(TITLE)), (len(TITLE) + 1, len(TITLE) + 1 + ABSTRACT.index(".") + 1), (text().index("Caffeine"), len(text()))]
    rels = [
        targets("9", at("Aspirin"), at("COX"), "inhibitor"),                   # partial overlap of COX-2: T1-T2 CPR:4, right
        targets("9", at("Dopamine"), at("DRD2"), "inhibitor", negated=True),   # right pair, wrong group
        targets("9", at("Dopamine"), at("DRD1"), "activator", ids=("MESH:X", "")),  # no such gold pair; gene unlinked
    ]
    mentions = [Mention("9", *at("Aspirin"), "Aspirin", "Drug", "MESH:X"), Mention("9", *at("COX"), "COX", "Gene", None),
                Mention("9", *at("Dopamine"), "Dopamine", "Drug", "MESH:Z"), Mention("9", *at("DRD1"), "DRD1", "Gene", None),
                Mention("9", *at("safe"), "safe", "Gene", None)]
    e2e = [rv.Predicted(mentions, rels, sentences)]
    gold_run = [rv.Predicted([], rels[:1], sentences)]
    scores = cp.score_chemprot("x", units, e2e, gold_run)
    rows = {(r.relation, r.method): r.score for r in scores.rows}

    def prf(s: LabelScore) -> tuple[int, int, int]:
        return s.tp, s.fp, s.fn

    e2e_name = "pipeline (end to end)"
    assert prf(rows[("TARGETS (5 groups)", e2e_name)]) == (1, 2, 1)       # P 1/3, R 1/2
    assert rows[("TARGETS (5 groups)", e2e_name)].f1 == pytest.approx(0.4)
    assert prf(rows[("TARGETS detection", e2e_name)]) == (2, 1, 0)        # the wrong group still detects the pair
    assert prf(rows[("CPR:4 inhibitor", e2e_name)]) == (1, 1, 0)
    assert prf(rows[("CPR:3 activator", e2e_name)]) == (0, 1, 1)
    assert prf(rows[("TARGETS detection", "pipeline, both ends linked")]) == (2, 0, 0)  # the unlinked one is left out
    assert prf(rows[("TARGETS detection", "pipeline, linked + asserted (graph)")]) == (1, 0, 1)
    assert prf(rows[("TARGETS (5 groups)", "relation step on gold mentions")]) == (1, 0, 1)
    # gold same sentence: (T1,T2), (T3,T4), (T3,T5): detection tp 2 fp 1; all guessed CPR:4: tp 1 (T1-T2) fp 2 fn 1
    assert prf(rows[("TARGETS detection", "ref: gold mentions, same sentence")]) == (2, 1, 0)
    assert prf(rows[("TARGETS (5 groups)", "ref: gold mentions, same sentence, all CPR:4")]) == (1, 2, 1)
    # pipeline mentions: (Aspirin, COX) -> T1-T2 tp; (Dopamine, DRD1) -> T3-T5 fp; "safe" is no gold gene and
    # shares no sentence with a chemical mention of the pipeline's
    assert prf(rows[("TARGETS detection", "ref: pipeline mentions, same sentence")]) == (1, 1, 1)
    assert scores.gold_pairs["TARGETS"] == 2 and scores.gold_pairs["CPR:3 activator"] == 1
    assert "TARGETS (5 groups)" in scores.table()


def test_relation_without_action_counts_for_detection_only(tmp_path: Path) -> None:
    (u,) = cp.read_chemprot(corpus(tmp_path))
    pairs = cp.typed_pairs_from_relations(u, [targets("9", at("Aspirin"), at("COX-2"), None)])
    assert pairs == {("9", "?", "T1", "T2")}
    rows = {r.relation: r.score for r in cp.method_rows("m", u.pairs, pairs)}
    assert (rows["TARGETS detection"].tp, rows["TARGETS (5 groups)"].tp, rows["TARGETS (5 groups)"].fn) == (1, 0, 2)


# ---------------------------------------------------------------- the classifier in the pipeline


def tiny_model(threshold: float = 0.5) -> TargetsModel:
    classes = ["none", "activator", "inhibitor", "agonist", "antagonist", "substrate"]
    return TargetsModel(classes, {"b=inhibits": [0.0, 0.0, 4.0, 0.0, 0.0, 0.0], "b=activates": [0.0, 4.0, 0.0, 0.0, 0.0, 0.0]},
                        [2.0, 0.0, 0.0, 0.0, 0.0, 0.0], threshold=threshold)


def test_targets_model_predicts_calibrates_and_round_trips(tmp_path: Path) -> None:
    m = tiny_model()
    p = m.probs(["b=inhibits", "unknown"])
    assert p[2] == pytest.approx(max(p)) and sum(p) == pytest.approx(1.0)
    assert m.predict(["b=inhibits"])[0] == "inhibitor"
    assert m.predict(["b=other"]) is None  # P(none) = e^2 / (e^2 + 5)
    m.calibration = (1.0, -10.0)  # a calibration that says "never"
    assert m.predict(["b=inhibits"]) is None
    m.save(tmp_path / "m.json")
    back = TargetsModel.load(tmp_path / "m.json")
    assert back.calibration == (1.0, -10.0) and back.weights == m.weights
    (tmp_path / "bad.json").write_text(json.dumps({"classes": ["inhibitor"], "weights": {}, "bias": [0.0]}))
    with pytest.raises(ModelError, match="none"):
        TargetsModel.load(tmp_path / "bad.json")


def test_targets_features_mask_other_mentions_and_mark_triggers() -> None:
    lowers = "aspirin strongly inhibits cox-1 and cox-2 .".split()
    masked = {0: "<Drug>", 3: "<Gene>", 5: "<Gene>"}
    f = targets_features(lowers, masked, (0, 1, "Drug", ""), (5, 6, "Gene", ""), (0, 7))
    assert "b=<Gene>" in f and "b=cox-1" not in f and "tB=inhibitor" in f and "o=c" in f and "n=1" in f


def test_extractor_reads_targets_with_action_on_unlinked_genes_and_the_writer_keeps_linked_ones() -> None:
    nlp = blank_pipeline()
    nlp.add_pipe("medkg_sentences_v1")
    doc = nlp("Aspirin inhibits PTGS2. Dopamine activates DRD2.")
    set_ents(doc, [(0, 1, "Drug", "MESH:D001241"), (2, 3, "Gene", ""), (4, 5, "Drug", "MESH:D004298"), (6, 7, "Gene", "NCBIGene:1813")])
    ex = RelationExtractor({TARGETS_MODEL: tiny_model()})
    doc = ex(doc)
    d = doc_records(doc, Document(id="1", text=doc.text))
    got = sorted((r.subject_text, r.object_text, r.action) for r in d.relations)
    assert got == [("Aspirin", "PTGS2", "inhibitor"), ("Dopamine", "DRD2", "activator")]
    assert all(r.type == "TARGETS" and 0 < r.score <= 1 for r in d.relations)
    assert [r.to_json()["action"] for r in d.relations if r.object_text == "DRD2"] == ["activator"]
    rows, skipped = relation_rows([d])
    assert skipped == 1  # PTGS2 has no id: not written to the graph
    assert [(r["o"], r["action"]) for r in rows[("TARGETS", "Drug", "Gene")]] == [("NCBIGene:1813", "activator")]
    # without the model, the trigger rule reads the pairs (unlinked ones too, unless pair_unlinked=False)
    # and gives no action
    plain = RelationExtractor({})(doc)
    d2 = doc_records(plain, Document(id="1", text=doc.text))
    assert [(r.object_text, r.action) for r in d2.relations] == [("PTGS2", None), ("DRD2", None)]
    linked = doc_records(RelationExtractor({}, pair_unlinked=False)(doc), Document(id="1", text=doc.text))
    assert [(r.object_text, r.action) for r in linked.relations] == [("DRD2", None)]
    # the model still reads unlinked genes when unlinked pairing is off
    d3 = doc_records(RelationExtractor({TARGETS_MODEL: tiny_model()}, pair_unlinked=False)(doc), Document(id="1", text=doc.text))
    assert sorted((r.object_text, r.action) for r in d3.relations) == [("DRD2", "activator"), ("PTGS2", "inhibitor")]


@pytest.mark.parametrize("sentence, drug, gene", [
    ("ketamine blocks nmda receptors .", (2, 3), (2, 4)),
    ("losartan blocks the angiotensin ii type 1 receptor .", (3, 5), (3, 8)),
    ("cocaine binds the dopamine transporter .", (3, 4), (3, 5)),
    ("l-name inhibits nitric oxide synthase .", (2, 4), (2, 5)),
    ("buspirone is a 5-ht ( 1a ) agonist .", (3, 4), (3, 7)),
])
def test_a_chemical_opening_a_protein_name_is_that_protein_for_targets(sentence: str, drug: tuple[int, int],
                                                                        gene: tuple[int, int]) -> None:
    lowers = sentence.split()
    ents = [(0, 1, "Drug", "D1"), (drug[0], drug[1], "Drug", "D2")]
    if lowers[drug[1]:drug[1] + 3] == ["(", "1a", ")"]:
        ents.append((drug[1] + 1, drug[1] + 2, "Drug", ""))  # "1A" taken for a drug: absorbed into the receptor
    assert nested_genes(lowers, ents) == [(0, 1, "Drug", "D1"), (gene[0], gene[1], "Gene", "")]


@pytest.mark.parametrize("sentence, ents, want", [
    # the class mention names its target: the target alone is the gene
    ("enalapril , an ACE inhibitor", [(0, 1, "Drug", "D1"), (3, 5, "Drug", "D2")], [(0, 1, "Drug", "D1"), (3, 4, "Gene", "")]),
    ("nifedipine , a calcium channel blocker", [(0, 1, "Drug", "D1"), (3, 6, "Drug", "D2")], [(0, 1, "Drug", "D1"), (3, 5, "Gene", "")]),
    ("ACE-inhibitors", [(0, 3, "Drug", "D1")], [(0, 1, "Gene", "")]),
    # a symbol followed by a class word outside the mention
    ("ondansetron , a 5-HT3 antagonist", [(0, 1, "Drug", "D1"), (3, 4, "Drug", "D2")], [(0, 1, "Drug", "D1"), (3, 4, "Gene", "")]),
    # classes named after a chemical or a mechanism stay chemicals
    ("dopamine agonists and beta-blockers", [(0, 2, "Drug", "D1"), (3, 4, "Drug", "D2")], [(0, 2, "Drug", "D1"), (3, 4, "Drug", "D2")]),
    ("selective serotonin reuptake inhibitors", [(0, 4, "Drug", "D1")], [(0, 4, "Drug", "D1")]),
    ("dopamine antagonist", [(0, 1, "Drug", "D1")], [(0, 1, "Drug", "D1")]),
])
def test_a_drug_class_named_after_its_target_stands_for_the_target(sentence: str, ents: list, want: list) -> None:
    texts = sentence.split()
    if texts == ["ACE-inhibitors"]:
        texts = ["ACE", "-", "inhibitors"]
    assert nested_genes([t.lower() for t in texts], ents, texts=texts) == want
    assert nested_genes([t.lower() for t in texts], ents) == ents  # the class rules need the token texts


@pytest.mark.parametrize("sentence, ents", [
    ("dopamine and serotonin ( 5-ht ) rose .", [(0, 1, "Drug", "D1"), (2, 3, "Drug", "D2"), (4, 5, "Drug", "D3")]),
    ("pge ( 2 ) and ca ( 2+ ) rose .", [(0, 1, "Drug", "D1"), (5, 6, "Drug", "D2")]),
    ("nmda receptor antagonists", [(0, 2, "Gene", "")]),                       # already a gene
    ("dopamine d2 receptor agonists", [(0, 1, "Drug", "D1"), (1, 3, "Gene", "G")]),  # the receptor is its own mention
    ("insulin receptor substrate", [(0, 1, "Disease", "X")]),                  # only Drug mentions open a protein name
])
def test_chemicals_that_open_no_protein_name_stay_chemicals(sentence: str, ents: list) -> None:
    assert nested_genes(sentence.split(), ents) == ents


def test_the_targets_step_pairs_a_chemical_with_a_nested_receptor_and_leaves_the_entities_alone() -> None:
    nlp = blank_pipeline()
    nlp.add_pipe("medkg_sentences_v1")
    doc = nlp("Ketamine inhibits NMDA receptors.")
    set_ents(doc, [(0, 1, "Drug", "MESH:D007649"), (2, 3, "Drug", "MESH:D016202")])
    ex = RelationExtractor({TARGETS_MODEL: tiny_model()})
    d = doc_records(ex(doc), Document(id="1", text=doc.text))
    assert [(r.subject_text, r.object_text, r.action) for r in d.relations if r.type == "TARGETS"] == [
        ("Ketamine", "NMDA receptors", "inhibitor")]
    assert [(e.text, e.label_) for e in doc.ents] == [("Ketamine", "Drug"), ("NMDA", "Drug")]
    ex.nested_genes = False
    assert [r for r in doc_records(ex(doc), Document(id="1", text=doc.text)).relations if r.type == "TARGETS"] == []


def test_shipped_targets_model_is_loaded_by_default_and_not_in_trigger_mode() -> None:
    path = default_targets_model()
    assert path is not None
    meta = TargetsModel.load(path).meta
    assert meta["type"] == "TARGETS" and "ChemProt" in meta["trained_on"]
    nlp = blank_pipeline()
    assert make_relations(nlp, "relations", "default", 0.5, 40, True).targets is not None
    assert make_relations(nlp, "relations", "none", 0.5, 40, True).targets is None


def test_cli_chemprot_folder_table_json_and_bad_input(tmp_path: Path) -> None:
    import click
    from click.testing import CliRunner

    from jobs.commands import extraction_eval

    root = click.Group("medkg")
    extraction_eval.register(root)
    out = tmp_path / "cp.json"
    result = CliRunner().invoke(root, ["evaluate", "extraction", "--data", str(corpus(tmp_path)), "--pipeline", "fast",
                                       "--json-out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "CHEMPROT, 1 documents, pipeline=fast, gold pairs: TARGETS 2" in result.output
    rows = {(r["relation"], r["method"]): r for r in json.loads(out.read_text())["rows"]}
    ref = rows[("TARGETS detection", "ref: gold mentions, same sentence")]
    assert (ref["tp"], ref["fp"], ref["fn"]) == (2, 1, 0)  # as by hand above: the pipeline does not change it
    # the relation step on gold mentions (the shipped classifier) only ever pairs gold mentions
    gold_step = rows[("TARGETS detection", "relation step on gold mentions")]
    assert gold_step["tp"] + gold_step["fp"] <= 3 and gold_step["tp"] + gold_step["fn"] == 2
    bad = CliRunner().invoke(root, ["evaluate", "extraction", "--data", str(corpus(tmp_path / "b", gold=["9\tCPR:4\tArg1:T1\tArg2:T9"])),
                                    "--pipeline", "fast"])
    assert bad.exit_code == 1 and bad.output.startswith("Error: ") and "names no entity" in bad.output and "Traceback" not in bad.output
    with pytest.raises(IngestError, match="evaluate_chemprot"):
        rv.evaluate_extraction(corpus(tmp_path), None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the neural companion (CNN ensemble averaged with the linear model)


def _companion(tmp_path: Path, bias: list[float], weight: float, threshold: float = 0.5) -> object:
    """A pair CNN whose output ignores its input (zero output weights): its class probabilities are softmax(bias)."""
    torch = pytest.importorskip("torch")
    from ingest.text.components.pair_cnn import PairCnnConfig, PairCnnModel
    from tests.unit.test_pair_cnn import _vocab

    cfg = PairCnnConfig(classes=list(tiny_model().classes), filters=8, dim_pos=3, directed=True, object_head=True,
                        mix_weight=weight, threshold=threshold)
    model = PairCnnModel.new(cfg, _vocab(tmp_path / "vocab"))
    with torch.no_grad():
        model.network.out.weight.zero_()
        model.network.out.bias.copy_(torch.tensor(bias))
    return model


def test_the_companion_averages_class_probabilities_with_the_linear_model(tmp_path: Path) -> None:
    import math

    from ingest.text.components.relations import entity_masks
    from ingest.text.components.cache import token_lowers, token_texts

    nlp = blank_pipeline()
    nlp.add_pipe("medkg_sentences_v1")
    doc = nlp("Aspirin inhibits PTGS2. Dopamine activates DRD2.")
    ents = [(0, 1, "Drug", "MESH:D001241"), (2, 3, "Gene", ""), (4, 5, "Drug", "MESH:D004298"), (6, 7, "Gene", "NCBIGene:1813")]
    set_ents(doc, ents)
    bias = [0.0, 0.0, 0.0, 0.0, 3.0, 0.0]  # the CNN says "antagonist" for every pair
    cnn_p = [math.exp(b) / sum(math.exp(v) for v in bias) for b in bias]
    lin = tiny_model()
    ex = RelationExtractor({TARGETS_MODEL: tiny_model()})
    for weight, want in ((0.2, ["inhibitor", "activator"]), (0.8, ["antagonist", "antagonist"])):
        ex.use_neural_targets(_companion(tmp_path / str(weight), bias, weight))
        d = doc_records(ex(doc), Document(id="1", text=doc.text))
        got = sorted(d.relations, key=lambda r: r.subject_text != "Aspirin")
        assert [r.action for r in got] == want
        lowers, masked = token_lowers(doc), entity_masks(ents)[0]
        for r, (c, g, sent) in zip(got, ((ents[0], ents[1], (0, 4)), (ents[2], ents[3], (4, 8)))):
            p_lin = lin.probs(targets_features(lowers, masked, c, g, sent))
            mix = [(1 - weight) * a + weight * b for a, b in zip(p_lin, cnn_p)]
            assert r.score == pytest.approx(1 - mix[0], abs=1e-4)  # calibration (1, 0): the mixture's P(relation)
    # a companion threshold above every pair: nothing, whatever the linear model alone would say
    ex.use_neural_targets(_companion(tmp_path / "high", bias, 0.5, threshold=0.999))
    assert doc_records(ex(doc), Document(id="1", text=doc.text)).relations == []
    ex.use_neural_targets(None)
    assert len(doc_records(ex(doc), Document(id="1", text=doc.text)).relations) == 2
    with pytest.raises(ModelError, match="linear TARGETS"):
        RelationExtractor({}).use_neural_targets(_companion(tmp_path / "x", bias, 0.5))
    from ingest.text.components.targets import targets_relations

    with pytest.raises(ValueError, match="token texts"):
        targets_relations(lin, token_lowers(doc), ents, entity_masks(ents)[0], ents[:2], (0, 4), 100, _companion(tmp_path / "y", bias, 0.5))
    assert token_texts(doc)[0] == "Aspirin"


def test_chemprot_companion_choice_prefers_the_better_mixture() -> None:
    import numpy

    from ingest.text.chemprot_cnn_training import choose, rows

    rng = numpy.random.RandomState(0)
    y = rng.randint(0, 3, size=400) * (rng.rand(400) < 0.5)  # classes 0..2 of 6
    good = numpy.full((400, 6), 0.02)
    good[numpy.arange(400), y] = 0.9  # the "CNN" knows the answer
    noise = rng.dirichlet(numpy.ones(6), size=400)  # the "linear model" does not
    w, th, tried = choose(noise, good, y.tolist(), missed=0, weights=(0.2, 0.6))
    assert w == 0.6 and tried["0.6"]["groups"]["f1"] > tried["0.2"]["groups"]["f1"]
    r = rows(noise, good, 0.6, (1.0, 0.0), y.tolist())
    assert numpy.allclose([p for p, _, _ in r], 0.4 * noise + 0.6 * good) and [t for _, _, t in r] == y.tolist()
    # missed gold pairs count against recall
    assert choose(noise, good, y.tolist(), missed=1000, weights=(0.6,))[2]["0.6"]["groups"]["r"] < tried["0.6"]["groups"]["r"]
