"""Multi-task NER: one shared tok2vec, one head per label, each head trained on the corpora that annotate its label."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import spacy
from click.testing import CliRunner
from spacy.tokens import Doc, Span
from spacy.training import Example

from ingest.text.corpora import blank_pipeline
from ingest.text.multitask import TaskCorpus, annotated_labels, mark_annotated
from ingest.text.training import default_multitask_config_path
from tests.unit.test_text_cli_writer import _ncbi_like, _root, _tiny_pubtator


def _doc(nlp: spacy.Language, words: list[str], ents: list[tuple[int, int, str]], missing: list[int] = (),
         annotated: set[str] | None = None) -> Doc:
    doc = Doc(nlp.vocab, words=words)
    doc.set_ents([Span(doc, s, e, label=label) for s, e, label in ents], missing=[doc[i:i + 1] for i in missing], default="outside")
    if annotated is not None:
        mark_annotated(doc, annotated)
    return doc


def _iob(eg: Example) -> list[str]:
    return [t.ent_iob_ + ("-" + t.ent_type_ if t.ent_type_ else "") for t in eg.reference]


def test_each_head_sees_its_own_labels_or_nothing() -> None:
    nlp = blank_pipeline()
    drug = nlp.add_pipe("medkg_ner_head", name="ner_drug", config={"labels": ["Drug"]})
    disease = nlp.add_pipe("medkg_ner_head", name="ner_disease", config={"labels": ["Disease"]})
    words = ["Aspirin", "caused", "asthma", "in", "BRCA1", "carriers"]
    bc5 = _doc(nlp, words, [(0, 1, "Drug"), (2, 3, "Disease")], annotated={"Drug", "Disease"})
    ncbi = _doc(nlp, words, [(2, 3, "Disease")], missing=[4], annotated={"Disease"})
    gene = _doc(nlp, words, [(4, 5, "Gene")], annotated={"Gene"})
    plain = _doc(nlp, words, [(0, 1, "Drug"), (2, 3, "Disease")])  # no record: a fully annotated corpus
    egs = {name: Example(nlp.make_doc(" ".join(words)), d) for name, d in
           {"bc5": bc5, "ncbi": ncbi, "gene": gene, "plain": plain}.items()}
    assert annotated_labels(ncbi) == {"Disease"} and annotated_labels(plain) is None

    # the other label's entity becomes outside; the corpus's missing tokens stay missing
    assert _iob(disease.view(egs["bc5"])) == ["O", "O", "B-Disease", "O", "O", "O"]
    assert _iob(drug.view(egs["bc5"])) == ["B-Drug", "O", "O", "O", "O", "O"]
    assert _iob(disease.view(egs["ncbi"])) == ["O", "O", "B-Disease", "O", "", "O"]
    assert _iob(drug.view(egs["plain"])) == ["B-Drug", "O", "O", "O", "O", "O"]
    # a corpus that never annotated the head's label: every token missing, no gold at all
    for head, name in ((drug, "ncbi"), (drug, "gene"), (disease, "gene")):
        view = head.view(egs[name])
        assert _iob(view) == [""] * len(words)
        assert not head.moves.has_gold(view)
    assert disease.moves.has_gold(disease.view(egs["ncbi"]))
    # the view keeps the predicted doc (the shared tok2vec identifies a batch by it)
    assert disease.view(egs["ncbi"]).predicted is egs["ncbi"].predicted
    with pytest.raises(ValueError, match="needs its labels"):
        nlp.add_pipe("medkg_ner_head", name="ner_none")


def _multitask_nlp() -> tuple[spacy.Language, list[Example]]:
    from spacy.util import load_config, load_model_from_config

    cfg = load_config(default_multitask_config_path(), overrides={"components.tok2vec.model.encode.width": 16,
                                                                   "components.tok2vec.model.encode.depth": 1})
    nlp = load_model_from_config(cfg, auto_fill=True)
    words = ["Aspirin", "caused", "asthma", "in", "BRCA1", "carriers", "."]
    examples = [
        Example(nlp.make_doc(" ".join(words)), _doc(nlp, words, [(0, 1, "Drug"), (2, 3, "Disease")], annotated={"Drug", "Disease"})),
        Example(nlp.make_doc(" ".join(words)), _doc(nlp, words, [(4, 5, "Gene")], annotated={"Gene"})),
    ]
    nlp.initialize(lambda: examples)
    return nlp, examples


def _pending_gradient(model) -> float:  # type: ignore[no-untyped-def]
    return sum(float(np.abs(node.get_grad(name)).sum()) for node in model.walk() for name in node.param_names if node.has_grad(name))


def test_shared_tok2vec_learns_from_a_batch_its_last_head_has_no_gold_for() -> None:
    # The tok2vec's backward pass runs when its *last* listener (ner_gene) answers; the
    # optimizer applies it at the next update. A batch without genes must still leave
    # the Drug and Disease heads' gradient in the tok2vec.
    nlp, examples = _multitask_nlp()
    assert nlp.pipe_names == ["tok2vec", "ner_drug", "ner_disease", "ner_gene"]
    tok2vec = nlp.get_pipe("tok2vec")
    assert tok2vec.listeners[-1] is nlp.get_pipe("ner_gene").model.get_ref("tok2vec").layers[0]
    optimizer = nlp.resume_training()
    for _ in range(3):  # the heads' input layers start at zero, so the first updates pass no gradient down
        nlp.update(examples, sgd=optimizer)
    losses: dict[str, float] = {}
    nlp.update([examples[0]], sgd=optimizer, losses=losses)  # Drug and Disease only
    assert losses["ner_drug"] > 0 and losses["ner_gene"] == 0.0 and losses["tok2vec"] > 0
    assert _pending_gradient(tok2vec.model) > 0
    nlp.update([examples[1]], sgd=optimizer, losses=losses)  # genes only: the first two heads answer with nothing
    assert _pending_gradient(tok2vec.model) > 0


def test_task_corpus_spec() -> None:
    t = TaskCorpus.parse("data/NCBI_trainset_corpus.txt:Disease:x2:drop=Modifier+CompositeMention")
    assert (t.path, t.labels, t.repeat, t.drop_types) == (Path("data/NCBI_trainset_corpus.txt"), {"Disease"}, 2,
                                                          {"Modifier", "CompositeMention"})
    assert TaskCorpus.parse("g.iob.tsv:Gene") == TaskCorpus(Path("g.iob.tsv"), frozenset({"Gene"}), frozenset(), repeat=1)
    for bad in ("g.iob.tsv", "g.iob.tsv:Gene:x0", "g.iob.tsv:Gene:twice"):
        with pytest.raises(ValueError, match="g.iob.tsv"):
            TaskCorpus.parse(bad)


def _gene_iob(tmp_path: Path) -> Path:
    path = tmp_path / "genes.iob.tsv"
    rows = [("BRCA1", "B-GENE"), ("mutations", "O"), ("raise", "O"), ("risk", "O"), (".", "O")]
    path.write_text(("\n".join(f"{w}\t{t}" for w, t in rows) + "\n\n") * 3, encoding="utf-8")
    return path


def test_multitask_train_cli_and_extraction_pipeline(tmp_path: Path) -> None:
    from ingest.text.pipeline import load_pipeline, multitask_heads

    main, ncbi, genes = _tiny_pubtator(tmp_path), _ncbi_like(tmp_path), _gene_iob(tmp_path)
    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(_root(), ["ner", "train", "--train", str(main), "--dev", str(main), "--output", str(run), "--max-steps", "2",
                                     "--train-repeat", "2", "--corpus", f"{ncbi}:Disease:drop=Modifier", "--corpus", f"{genes}:Gene",
                                     "--set", "components.tok2vec.model.encode.width=16"])
    assert result.exit_code == 0, result.output
    best = run / "model-best"
    meta = json.loads((best / "meta.json").read_text())
    tasks = meta["medkg"]["train_corpus"]["tasks"]
    assert tasks["tiny.PubTator.txt"]["labels"] == ["Disease", "Drug"] and tasks["tiny.PubTator.txt"]["docs"] == 4
    assert tasks["tiny.PubTator.txt"]["repeat"] == 2
    assert tasks["ncbi_like.txt"] == {**tasks["ncbi_like.txt"], "labels": ["Disease"], "mentions": 2, "missing_tokens": 1}
    assert tasks["genes.iob.tsv"]["labels"] == ["Gene"] and tasks["genes.iob.tsv"]["mentions"] == 3
    assert [c["labels"] for c in meta["medkg"]["task_corpora"]] == [["Disease"], ["Gene"]]
    assert multitask_heads(best) == {"ner_drug": ["Drug"], "ner_disease": ["Disease"], "ner_gene": ["Gene"]}

    nlp = load_pipeline(ner=best, relation_models="none")
    assert nlp.pipe_names[:5] == ["sentences", "tok2vec", "ner_drug", "ner_disease", "ner_gene"]
    assert len(nlp.get_pipe("tok2vec").listeners) == 3
    assert all(e.label_ in {"Drug", "Disease", "Gene"} for e in nlp("Cisplatin induced nephrotoxicity.").ents)
    assert "ner_gene" not in load_pipeline(ner=best, gene_ner=False, relation_models="none").pipe_names
    result = runner.invoke(_root(), ["ner", "evaluate", "--data", str(main), "--model", str(best), "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)["per_label"]) == {"Disease", "Drug"}

    # no corpus annotates genes: the Gene head is left out of the model
    result = runner.invoke(_root(), ["ner", "train", "--train", str(main), "--dev", str(main), "--output", str(tmp_path / "run2"),
                                     "--max-steps", "1", "--corpus", f"{ncbi}:Disease", "--set", "components.tok2vec.model.encode.width=16"])
    assert result.exit_code == 0, result.output
    assert multitask_heads(tmp_path / "run2" / "model-best") == {"ner_drug": ["Drug"], "ner_disease": ["Disease"]}

    # --init-model continues a trained model: with zero learning rate, weight decay and averaging it comes back unchanged
    # (a model trained from scratch would not), and its meta names where it started
    result = runner.invoke(_root(), ["ner", "train", "--train", str(main), "--dev", str(main), "--output", str(tmp_path / "cont"),
                                     "--max-steps", "2", "--corpus", f"{ncbi}:Disease", "--corpus", f"{genes}:Gene",
                                     "--init-model", str(best), "--set", "training.optimizer.learn_rate=0.0",
                                     "--set", "training.optimizer.L2=0.0", "--set", "training.optimizer.use_averages=false"])
    assert result.exit_code == 0, result.output
    cont = tmp_path / "cont" / "model-last"
    for checkpoint in ("model-best", "model-last"):
        medkg_meta = json.loads((tmp_path / "cont" / checkpoint / "meta.json").read_text())["medkg"]
        assert medkg_meta["init_model"]["path"] == "model-best" and medkg_meta["checkpoint"] == checkpoint
    text = "Cisplatin induced nephrotoxicity in BRCA1 carriers."
    before, after = spacy.load(best)(text), spacy.load(cont)(text)
    assert np.allclose(before.tensor, after.tensor)
    assert [(e.text, e.label_) for e in before.ents] == [(e.text, e.label_) for e in after.ents]
    # the model lacks a head the corpora need (run2 has no Gene head)
    result = runner.invoke(_root(), ["ner", "train", "--train", str(main), "--dev", str(main), "--output", str(tmp_path / "bad"),
                                     "--max-steps", "1", "--corpus", f"{genes}:Gene", "--init-model", str(tmp_path / "run2" / "model-best")])
    assert result.exit_code != 0 and "no component ner_gene" in result.output, result.output
    for extra, message in (([], "give its corpora with --corpus"), (["--corpus", f"{genes}:Gene", "--vectors", str(best)], "own static vectors")):
        result = runner.invoke(_root(), ["ner", "train", "--train", str(main), "--dev", str(main), "--output", str(tmp_path / "bad"),
                                         "--init-model", str(best), *extra])
        assert result.exit_code == 2 and message in result.output, result.output

    for spec, message in ((f"{genes}:Species", "expected labels among"), (f"{tmp_path}/nope.txt:Gene", "no such file"),
                          (f"{genes}:Gene:x0", "xN")):
        result = runner.invoke(_root(), ["ner", "train", "--train", str(main), "--dev", str(main), "--output", str(tmp_path / "bad"),
                                         "--corpus", spec])
        assert result.exit_code == 2 and message in result.output, result.output
    result = runner.invoke(_root(), ["ner", "train", "--train", str(main), "--dev", str(main), "--output", str(tmp_path / "bad"),
                                     "--corpus", f"{genes}:Gene", "--partial", str(ncbi)])
    assert result.exit_code == 2 and "do not combine" in result.output
