"""TREATS / ASSOCIATES training (``ingest.text.indication_training``): readers, bad input, the model in the relation step."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph_engine.errors import IngestError
from ingest.text.components.relations import MODEL_FILES, RelationExtractor, default_relation_models, load_relation_models
from ingest.text.indication_training import (
    _features, held_out, label_doc, read_euadr, read_indications, read_labeledin, score_step,
    step_decides, treats_examples,
)
from ingest.text.relation_training import _blank, fit

LABEL = ('10004|9c98|Pantoprazole tablets are indicated for <br> <div> Short Term Treatment of '
         '<annotation cui="C0267055">Erosive Esophagitis</annotation> </div> Pantoprazole heals patients with '
         '<annotation cui="C0017168;C0000001">Gastroesophageal Reflux Disease</annotation> &amp; others.|0809;189b\n')


def _labeledin(tmp_path: Path, xml: str = LABEL) -> Path:
    (tmp_path / "LabeledIn_annotated_XML.txt").write_text(xml, encoding="utf-8")
    (tmp_path / "LabeledIn_Structured_Results.txt").write_text("10004|9c98|C0267055;|40790|373222;|\n", encoding="utf-8")
    (tmp_path / "indications_rxnorm_umls_mesh.tsv").write_text(
        "rxnorm_id\tdisease_cui\tn_labels\texpert\tcrowd\tdisease_mesh_name\trxnorm_name\n40790\tC0267055\t1\t1\t0\tX\tPantoprazole\n",
        encoding="utf-8")
    return tmp_path


def test_read_labeledin_keeps_annotation_offsets_and_breaks_blocks(tmp_path: Path) -> None:
    (doc,) = read_labeledin(_labeledin(tmp_path))
    assert doc.id == "10004" and doc.drugs == ["Pantoprazole"]
    assert [doc.text[a:b] for a, b, _ in doc.indications] == ["Erosive Esophagitis", "Gastroesophageal Reflux Disease"]
    assert [c for _, _, c in doc.indications] == ["C0267055", "C0017168;C0000001"]
    assert "<" not in doc.text and "&amp;" not in doc.text and "& others" in doc.text
    assert "\n\n" in doc.text  # <br> / <div> end a block: a sentence break
    assert "0809" not in doc.text  # the trailing other-set-ids field is not text


@pytest.mark.parametrize("xml, message", [
    ("10004 no fields here\n", "line 1"),
    ('1|x|a <annotation cui="X12">b</annotation>|\n', "expected UMLS CUIs"),
])
def test_read_labeledin_bad_input(tmp_path: Path, xml: str, message: str) -> None:
    with pytest.raises(IngestError, match=message):
        read_labeledin(_labeledin(tmp_path, xml))


def test_read_labeledin_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="LabeledIn_annotated_XML.txt"):
        read_labeledin(tmp_path)


HEADER = '"ASSOCIATION_TYPE"\t"PMID"\t"NUM_SENTENCE"\t"E1"\t"I1"\t"E1E"\t"T1"\t"E2"\t"I2"\t"E2E"\t"T2"\t"SENTENCE"\n'


def _row(kind: str, gene: str, disease: str, sentence: str, shift: int = 0) -> str:
    g, d = sentence.index(gene) + shift, sentence.index(disease)
    return (f'"{kind}"\t1\t0\t"{gene}"\t{g}\t{g + len(gene)}\t"Genes & Molecular Sequences"\t"{disease}"\t{d}\t{d + len(disease)}'
            f'\t"Diseases & Disorders"\t"{sentence}"\n')


def test_read_euadr_labels_latin1_and_offset_repair(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    text = HEADER + _row("PA", "BRCA1", "breast cancer", "BRCA1 mutations cause breast cancer in Zürich.") \
        + _row("FA", "TNF", "asthma", "TNF was measured in asthma.", shift=3) + _row("NA", "APOE", "gout", "APOE is not associated with gout.")
    f.write_bytes(text.encode("latin-1"))
    pairs = read_euadr(f)
    assert [p.label for p in pairs] == [1, 0, 0]
    assert "Zürich" in pairs[0].sentence
    assert pairs[1].sentence[slice(*pairs[1].first)] == "TNF"  # wrong offsets: found by its text


@pytest.mark.parametrize("row, message", [
    ('"XX"\t1\t0\t"a"\t0\t1\tGenes\t"b"\t2\t3\tDiseases\t"a b"\n', "association type 'XX'"),
    ('"PA"\t1\t0\t"a"\n', "expected 12"),
    ('"PA"\t1\t0\t"zz"\t0\t2\tGenes\t"b"\t2\t3\tDiseases\t"a b"\n', "not at 0-2"),
])
def test_read_euadr_bad_input(tmp_path: Path, row: str, message: str) -> None:
    f = tmp_path / "t.csv"
    f.write_text(HEADER + row, encoding="utf-8")
    with pytest.raises(IngestError, match=message) as err:
        read_euadr(f)
    assert "line 2" in str(err.value)


def test_read_indications(tmp_path: Path) -> None:
    f = tmp_path / "i.tsv"
    f.write_text("doid_id\tdrugbank_id\tdisease\tdrug\tcategory\nDOID:1\tDB1\ta\tb\tDM\nDOID:2\tDB2\ta\tb\tNOT\n", encoding="utf-8")
    assert read_indications(f) == {("DRUGBANK:DB1", "DOID:1"): "DM", ("DRUGBANK:DB2", "DOID:2"): "NOT"}
    f.write_text("doid_id\tdrugbank_id\tdisease\tdrug\tcategory\nDOID:1\tDB1\ta\tb\tMAYBE\n", encoding="utf-8")
    with pytest.raises(IngestError, match="category 'MAYBE'") as err:
        read_indications(f)
    assert "line 2" in str(err.value)
    f.write_text("doid\tdrug\n", encoding="utf-8")
    with pytest.raises(IngestError, match="missing column"):
        read_indications(f)


def _crafted(nlp, pattern: str, drug: str, disease: str, label: int):
    text = pattern.format(drug=drug, disease=disease)
    doc = nlp(text)
    a, b = text.index(drug), text.index(disease)
    s = doc.char_span(a, a + len(drug), label="Drug", kb_id=f"TEXT:{drug}")
    o = doc.char_span(b, b + len(disease), label="Disease", kb_id=f"TEXT:{disease}")
    doc.ents = sorted([s, o], key=lambda x: x.start)
    return doc, s, o, label


def test_a_trained_treats_model_replaces_the_trigger_rule() -> None:
    nlp = _blank()
    drugs = [f"drug{k}" for k in range(30)]
    diseases = [f"illness{k}" for k in range(30)]
    pos = "{drug} is approved for patients suffering from {disease}."
    neg = "{drug} made patients suffer from {disease}."  # no trigger word of either rule in either pattern
    train = [_crafted(nlp, pos, d, z, 1) for d, z in zip(drugs[:20], diseases[:20])]
    train += [_crafted(nlp, neg, d, z, 0) for d, z in zip(drugs[:20], diseases[10:30])]
    model = fit(_features(train), 1.0)
    test = [_crafted(nlp, pos, "drug25", "illness3", 1), _crafted(nlp, neg, "drug26", "illness4", 0)]
    ext = RelationExtractor({})
    assert score_step(ext, test, "TREATS")["tp"] == 0  # the trigger rule has no trigger to go on
    ext.set_model("TREATS", model)
    assert step_decides(ext, *test[0][:3], "TREATS") and not step_decides(ext, *test[1][:3], "TREATS")
    ext.set_model("TREATS", None)
    assert "TREATS" not in ext.models and not step_decides(ext, *test[0][:3], "TREATS")


def test_label_doc_marks_indications_and_adds_the_ingredient(tmp_path: Path) -> None:
    (d,) = read_labeledin(_labeledin(tmp_path))
    nlp = _blank()
    doc = label_doc(nlp, d)
    ents = {(e.text, e.label_, e.kb_id_) for e in doc.ents}
    assert sum(1 for e in doc.ents if e.label_ == "Drug") == 2 and ("Pantoprazole", "Drug", "TEXT:pantoprazole") in ents
    assert ("Erosive Esophagitis", "Disease", "UMLS:C0267055") in ents
    labels = {(s.text, o.text, y) for _, s, o, y in treats_examples([doc])}
    assert labels == {("Pantoprazole", "Gastroesophageal Reflux Disease", 1)}  # the header sentence has no drug


def test_held_out_split_is_stable_and_about_a_fifth() -> None:
    keys = [str(k) for k in range(2000)]
    share = sum(held_out(k) for k in keys) / len(keys)
    assert 0.15 < share < 0.25 and held_out("10004") == held_out("10004")


def test_shipped_treats_and_associates_models_are_loaded() -> None:
    paths = default_relation_models()
    assert {"TREATS", "ASSOCIATES"} <= set(paths)
    assert Path(paths["TREATS"]).name == MODEL_FILES["TREATS"]
    models = load_relation_models(paths)
    ext = RelationExtractor(models)
    assert "TREATS" in ext.scorers and "ASSOCIATES" in ext.scorers  # the fast bit-identical scorer takes them
    meta = models["TREATS"].meta
    assert meta["type"] == "TREATS" and meta["held_out"]["held_out_pair_level"]["model"]["f1"] > 0


def test_causes_and_treats_share_one_feature_pass_bit_identically() -> None:
    """Drug - Disease pairs get CAUSES and TREATS log-odds from one merged scorer; they equal each model's own."""
    from ingest.text.components.relations import entity_masks

    ext = RelationExtractor(load_relation_models(default_relation_models()))
    nlp = _blank()
    cases = [("Cisplatin induced nephrotoxicity, and cisplatin is indicated for testicular cancer.",
              [("Cisplatin", "Drug"), ("nephrotoxicity", "Disease"), ("cisplatin", "Drug"), ("testicular cancer", "Disease")]),
             ("Patients with hypertension received lisinopril but not aspirin; asthma worsened after propranolol.",
              [("hypertension", "Disease"), ("lisinopril", "Drug"), ("aspirin", "Drug"), ("asthma", "Disease"), ("propranolol", "Drug")])]
    checked = 0
    for text, mentions in cases:
        doc = nlp(text)
        doc.ents = [doc.char_span(text.index(w), text.index(w) + len(w), label=label, kb_id=f"TEXT:{w.lower()}") for w, label in mentions]
        ents = [(e.start, e.end, e.label_, e.kb_id_) for e in doc.ents]
        lowers, masks, sent = [t.lower_ for t in doc], entity_masks(ents), (0, len(doc))
        for x in ents:
            for y in ents:
                if x[0] < y[0] and {x[2], y[2]} == {"Drug", "Disease"}:
                    shared = ext._shared_logits(["CAUSES", "TREATS"], lowers, ents, x, y, sent, masks)
                    for rel in ("CAUSES", "TREATS"):
                        assert shared[rel] == ext._logit(rel, lowers, ents, x, y, sent, masks)
                        checked += 1
    assert checked >= 16
    ext.set_model("TREATS", None)  # the TREATS model removed: nothing merged is left to reuse
    assert ext._shared_logits(["CAUSES", "TREATS"], lowers, ents, ents[0], ents[1], sent, masks) == {}


def test_evaluate_extraction_scores_a_labeledin_folder(tmp_path: Path) -> None:
    """`medkg evaluate extraction --data LABELEDIN_DIR`: TREATS per label against the annotated indications, with
    the co-occurrence reference; the held-out split by label id; an empty split is an error naming the input."""
    import json

    from click.testing import CliRunner

    from ingest.text.relation_eval import detect_task
    from jobs.cli import main as cli

    lines = []
    for k in range(40):
        lines.append(f'{k}|s{k}|Cisplatin is indicated for the treatment of <annotation cui="C0007097">lung cancer</annotation>. '
                     f'Cisplatin may cause nephrotoxicity.|\n')
    folder = _labeledin(tmp_path, "".join(lines))
    assert detect_task(folder) == "labeledin" and detect_task(folder / "LabeledIn_annotated_XML.txt") == "labeledin"
    held = [str(k) for k in range(40) if held_out(str(k))]
    out = tmp_path / "s.json"
    r = CliRunner().invoke(cli, ["evaluate", "extraction", "--data", str(folder), "--pipeline", "fast", "--json-out", str(out)])
    assert r.exit_code == 0, r.output
    scores = json.loads(out.read_text(encoding="utf-8"))
    assert scores["task"] == "labeledin" and scores["documents"] == len(held) > 0
    rows = {row["method"]: row for row in scores["rows"]}
    ref = rows["ref: pipeline mentions, same sentence"]
    assert ref["tp"] == len(held) and ref["fp"] == len(held)   # lung cancer found; nephrotoxicity: once per label
    e2e = rows["pipeline (end to end)"]
    assert e2e["tp"] + e2e["fn"] == len(held) and e2e["fp"] <= ref["fp"]
    r = CliRunner().invoke(cli, ["evaluate", "extraction", "--data", str(folder), "--split", "train", "--limit", "1"])
    assert r.exit_code == 0 and "1 labels" in r.output
    train_only = next(str(k) for k in range(100) if not held_out(str(k)))
    (folder / "LabeledIn_annotated_XML.txt").write_text(f"{train_only}|s|no held-out label here|\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["evaluate", "extraction", "--data", str(folder), "--pipeline", "fast"])
    assert r.exit_code != 0 and "no labels to evaluate" in r.output and str(folder) in r.output


def test_relation_training_points_to_the_trainer_of_other_models(capsys: pytest.CaptureFixture[str]) -> None:
    from ingest.text.relation_training import main

    with pytest.raises(SystemExit):
        main(["--bc5cdr-train", "x", "--bc5cdr-dev", "y", "--ddi", "z", "--output", "o", "--only", "CAUSES,TREATS"])
    assert "TREATS are trained by python -m ingest.text.indication_training" in capsys.readouterr().err
