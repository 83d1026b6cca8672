"""`medkg extract` output schema and the Neo4j writer's rows (with a fake client)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import click
import pytest
from click.testing import CliRunner

from graph_engine.errors import QueryError
from graph_engine.schema import default_schema
from ingest.text import cypher
from ingest.text.records import Document, Evidence, Mention, Relation
from ingest.text.writer import relation_evidence, write_documents
from jobs.commands import nlp as nlp_commands

pytestmark = pytest.mark.unit

PUBTATOR = """\
1|t|Cisplatin in non-small cell lung cancer.
1|a|Non-small cell lung cancer (NSCLC) was treated with cisplatin. Nephrotoxicity was induced by cisplatin.
1\t0\t9\tCisplatin\tChemical\tD002945

2|t|Isoniazid and hepatitis
2|a|Isoniazid did not cause hepatitis.

3|t|
3|a|
"""

MENTION_KEYS = {"doc_id", "start", "end", "text", "label", "id", "score"}
RELATION_KEYS = {"doc_id", "type", "subject", "object", "negated", "sentence", "score"}


def _root() -> click.Group:
    root = click.Group("medkg")
    root.add_command(click.Group("ingest"))
    nlp_commands.register(root)
    return root


def test_register_adds_commands() -> None:
    root = _root()
    assert {"extract", "ner"} <= set(root.commands)
    assert set(root.commands["ner"].commands) == {"train", "evaluate", "pretrain"}  # type: ignore[attr-defined]
    assert "text" in root.commands["ingest"].commands  # type: ignore[attr-defined]


def test_extract_cli_schema_and_offsets(tmp_path: Path) -> None:
    src = tmp_path / "in.PubTator.txt"
    src.write_text(PUBTATOR, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(_root(), ["extract", "--input", str(src), "--format", "pubtator", "--output", str(out), "--no-ner"])
    assert result.exit_code == 0, result.output
    assert "read 3 = written 2 + rejected 1" in result.output  # the empty document 3 is read, then rejected
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["doc_id"] for x in lines] == ["1", "2"]
    texts = {
        "1": "Cisplatin in non-small cell lung cancer. Non-small cell lung cancer (NSCLC) was treated with cisplatin. Nephrotoxicity was induced by cisplatin.",
        "2": "Isoniazid and hepatitis Isoniazid did not cause hepatitis.",
    }
    for line in lines:
        assert line["mentions"], line
        for m in line["mentions"]:
            assert MENTION_KEYS <= set(m)
            assert m["label"] in {"Disease", "Drug", "Gene"}
            assert texts[m["doc_id"]][m["start"] : m["end"]] == m["text"]
            assert m["id"] is None or ":" in m["id"]
        for r in line["relations"]:
            assert RELATION_KEYS <= set(r) and r["sentence"] in texts[r["doc_id"]]
    rels = {(r["type"], r["negated"]) for line in lines for r in line["relations"]}
    assert ("TREATS", False) in rels and ("CAUSES", True) in rels
    rejects = (tmp_path / "out.jsonl.rejects.tsv").read_text(encoding="utf-8")
    assert "empty" in rejects


class FakeClient:
    """Records write_batches calls; read returns canned rows."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []

    def write_batches(self, cypher_text: str, rows: Iterable[dict[str, Any]], batch_size: int | None = None) -> int:
        rows = list(rows)
        self.calls.append((cypher_text, rows))
        return len(rows)

    def read(self, cypher_text: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.calls.append((cypher_text, [params or {}]))
        return []


def _doc(doc_id: str) -> Document:
    text = "Cisplatin treats lung cancer. Cisplatin may cause hepatitis."
    ms = [
        Mention(doc_id, 0, 9, "Cisplatin", "Drug", "DRUGBANK:DB00515", 1.0, "dictionary"),
        Mention(doc_id, 17, 28, "lung cancer", "Disease", "DOID:1324", 1.0, "dictionary"),
        Mention(doc_id, 30, 39, "Cisplatin", "Drug", "DRUGBANK:DB00515", 1.0, "dictionary"),
        Mention(doc_id, 50, 59, "hepatitis", "Disease", "MESH:D056486", 1.0, "dictionary", speculative=True),
        Mention(doc_id, 0, 9, "Cisplatin", "Drug", None, 0.5, "ner"),
    ]
    ev1 = Evidence(doc_id, text[:29], 0, 29, 0, 9, 17, 28, "medkg.relations", "0.1.0")
    ev2 = Evidence(doc_id, text[30:], 30, 60, 30, 39, 50, 59, "medkg.relations", "0.1.0")
    rs = [
        Relation(doc_id, "TREATS", "DRUGBANK:DB00515", "DOID:1324", "Drug", "Disease", "Cisplatin", "lung cancer", False, False, 0.8, ev1),
        Relation(doc_id, "CAUSES", "DRUGBANK:DB00515", "MESH:D056486", "Drug", "Disease", "Cisplatin", "hepatitis", False, True, 0.7, ev2),
    ]
    return Document(doc_id, text, title="T", year=2020, source="pubtator", mentions=ms, relations=rs)


def test_writer_rows_are_keyed_and_idempotent() -> None:
    client = FakeClient()
    summary = write_documents(client, [_doc("42")])
    assert summary.articles == 1 and summary.relations == 1 and summary.skipped_relations == 1
    by_query = {q: rows for q, rows in client.calls}
    assert by_query[cypher.MERGE_ARTICLES] == [{"id": "42", "title": "T", "year": 2020, "source": "pubtator", "extractor": "medkg.text@0.1.0"}]
    drug_rows = by_query[cypher.MERGE_MENTIONS["Drug"]]
    assert drug_rows == [{"article": "42", "id": "DRUGBANK:DB00515", "name": "Cisplatin", "count": 2, "texts": ["Cisplatin"]}]
    (rel_row,) = by_query[cypher.MERGE_RELATIONS[("TREATS", "Drug", "Disease")]]
    assert rel_row["key"] == "42:0-9:17-28" and rel_row["pmid"] == "42" and rel_row["sentence"] == "Cisplatin treats lung cancer."
    assert ("CAUSES", "Drug", "Disease") not in {k for k, q in cypher.MERGE_RELATIONS.items() if q in by_query}  # speculative: not asserted
    # a second run produces exactly the same rows: MERGE on ids + evidence keys make it a no-op in Neo4j
    again = FakeClient()
    write_documents(again, [_doc("42")])
    assert again.calls == client.calls


def test_writer_summary_counts_written_relations_by_type_and_why_others_were_not() -> None:
    d = _doc("42")
    ev = d.relations[0].evidence
    d.relations.append(Relation("42", "TREATS", None, "DOID:1324", "Drug", "Disease", "cis", "lung cancer",
                                False, False, 0.9, ev))  # an end the linker could not normalise
    summary = write_documents(FakeClient(), [d])
    assert summary.relations == 1 and summary.relations_by_type == {"TREATS": 1}
    assert (summary.not_asserted, summary.unlinked, summary.unsupported, summary.skipped_relations) == (1, 1, 0, 2)
    line = summary.line()
    assert "1 new relation evidences (TREATS 1)" in line and "1 negated/speculative" in line
    assert "1 with an end not linked to a graph id" in line
    assert summary.as_dict()["relation_evidence_written_by_type"] == {"TREATS": 1}


def test_cypher_uses_only_schema_names() -> None:
    schema = default_schema()
    for rel, s, o in cypher.RELATION_KEYS:
        assert schema.check_relationship_type(rel) and schema.check_entity_label(s) and schema.check_entity_label(o)
        q = cypher.MERGE_RELATIONS[(rel, s, o)]
        assert q.lstrip().startswith("UNWIND $rows AS row") and "NOT row.key IN" in q
    for label, q in cypher.MERGE_MENTIONS.items():
        assert f":{label} {{id: row.id}}" in q and "SET m.count = row.count" in q


def test_relation_evidence_api() -> None:
    client = FakeClient()
    assert relation_evidence(client, "DRUGBANK:DB00515", "DOID:1324", "TREATS") == []
    assert client.calls[0][1] == [{"subject": "DRUGBANK:DB00515", "object": "DOID:1324"}]
    with pytest.raises(QueryError):
        relation_evidence(client, "a", "b", "LOVES")


def _tiny_pubtator(tmp_path: Path) -> Path:
    """Four copies of a two-sentence abstract with one Chemical and one Disease mention."""
    corpus = tmp_path / "tiny.PubTator.txt"
    corpus.write_text(
        "".join(
            f"{i}|t|Cisplatin induced nephrotoxicity.\n{i}|a|Nephrotoxicity after cisplatin was severe.\n"
            f"{i}\t0\t9\tCisplatin\tChemical\tD002945\n{i}\t18\t32\tnephrotoxicity\tDisease\tD007674\n\n"
            for i in range(4)
        ),
        encoding="utf-8",
    )
    return corpus


def test_ner_train_and_evaluate_cli(tmp_path: Path) -> None:
    corpus = _tiny_pubtator(tmp_path)
    out = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(_root(), ["ner", "train", "--train", str(corpus), "--dev", str(corpus), "--output", str(out), "--max-steps", "3"])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "model-best" / "meta.json").read_text())
    assert meta["labels"]["ner"] == ["Disease", "Drug"] and "tiny.PubTator.txt" in meta["medkg"]["train_data"]
    assert (out / "model-best" / "training.cfg").exists()
    result = runner.invoke(_root(), ["ner", "evaluate", "--data", str(corpus), "--model", str(out / "model-best"), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert set(scores["per_label"]) == {"Disease", "Drug"} and 0.0 <= scores["micro"]["f1"] <= 1.0


def test_parse_overrides_types_and_errors() -> None:
    from ingest.text.training import parse_overrides

    got = parse_overrides(["training.patience=4000", "components.ner.model.tok2vec.embed.include_static_vectors=true",
                           "training.optimizer.learn_rate=0.002", "paths.vectors=runs/v"])
    assert got == {"training.patience": 4000, "components.ner.model.tok2vec.embed.include_static_vectors": True,
                   "training.optimizer.learn_rate": 0.002, "paths.vectors": "runs/v"}
    for bad in ("patience=3", "training.patience", "training.pat ience=3", "x.y;drop=1"):
        with pytest.raises(ValueError, match="section.key=value"):
            parse_overrides([bad])


def test_ner_train_with_static_vectors(tmp_path: Path) -> None:
    import numpy as np

    from ingest.text.corpora import blank_pipeline

    corpus = _tiny_pubtator(tmp_path)
    vec_nlp = blank_pipeline()
    rng = np.random.default_rng(0)
    for word in ("Cisplatin", "cisplatin", "nephrotoxicity", "Nephrotoxicity", "induced"):
        vec_nlp.vocab.set_vector(word, rng.normal(size=8).astype("float32"))
    vec_dir = tmp_path / "vectors"
    vec_nlp.to_disk(vec_dir)
    (vec_dir / "vectors_info.json").write_text(json.dumps({"method": "test", "dim": 8}))
    out = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(_root(), ["ner", "train", "--train", str(corpus), "--dev", str(corpus), "--output", str(out),
                                     "--max-steps", "3", "--vectors", str(vec_dir), "--set", "training.eval_frequency=1"])
    assert result.exit_code == 0, result.output
    best = out / "model-best"
    meta = json.loads((best / "meta.json").read_text())
    assert meta["vectors"]["width"] == 8 and meta["vectors"]["keys"] == 5
    assert meta["medkg"]["vectors"] == {"method": "test", "dim": 8}
    assert meta["medkg"]["overrides"]["components.ner.model.tok2vec.embed.include_static_vectors"] is True
    assert meta["medkg"]["overrides"]["training.eval_frequency"] == 1
    import spacy

    nlp = spacy.load(best)
    assert nlp.vocab.vectors.n_keys == 5 and nlp.vocab.vectors.shape[1] == 8 and nlp.get_pipe("ner").model.get_ref("tok2vec") is not None
    result = runner.invoke(_root(), ["ner", "train", "--train", str(corpus), "--dev", str(corpus), "--output",
                                     str(tmp_path / "bad"), "--set", "patience"])
    assert result.exit_code == 2 and "section.key=value" in result.output
    # the extraction pipeline sources the NER and must bring its vectors along (else StaticVectors fails)
    from graph_engine.errors import ModelError
    from ingest.text.pipeline import load_pipeline

    nlp_full = load_pipeline(ner=best, gene_ner=False)
    assert nlp_full.vocab.vectors.n_keys == 5
    doc = nlp_full("Cisplatin induced nephrotoxicity in rats.")
    assert all(e.label_ in {"Drug", "Disease", "Gene"} for e in doc.ents)
    # a second model trained with other vectors cannot share the pipeline
    other_vec = blank_pipeline()
    other_vec.vocab.set_vector("cisplatin", rng.normal(size=8).astype("float32"))
    other_vec.to_disk(tmp_path / "vectors2")
    result = runner.invoke(_root(), ["ner", "train", "--train", str(corpus), "--dev", str(corpus), "--output", str(tmp_path / "run2"),
                                     "--max-steps", "2", "--vectors", str(tmp_path / "vectors2")])
    assert result.exit_code == 0, result.output
    with pytest.raises(ModelError, match="different word vectors"):
        load_pipeline(ner=best, gene_ner=tmp_path / "run2" / "model-best")


def test_ner_pretrain_weights_are_what_training_starts_from(tmp_path: Path) -> None:
    from spacy.training.initialize import init_nlp
    from spacy.util import load_config

    from ingest.text.training import default_config_path

    corpus = _tiny_pubtator(tmp_path)
    raw = tmp_path / "raw.txt"
    raw.write_text("Cisplatin nephrotoxicity was dose dependent in all treated rats and mice.\n", encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "pre"
    result = runner.invoke(_root(), ["ner", "pretrain", "--text", str(corpus), "--text", str(raw), "--output", str(out),
                                     "--epochs", "2"])
    assert result.exit_code == 0, result.output
    weights = out / "model1.bin"
    assert result.output.strip().endswith(str(weights)) and (out / "model0.bin").exists()
    meta = json.loads((out / "pretrain_meta.json").read_text())
    # 4 PubTator documents (text only, annotations ignored) + the plain-text file
    assert meta["documents"] == 5 and meta["epochs"] == 2 and set(meta["text_data"]) == {"tiny.PubTator.txt", "raw.txt"}
    assert len((out / "log.jsonl").read_text().splitlines()) == 2  # one line per epoch

    # what `medkg ner train --init-tok2vec` initialises is exactly the pretrained layer
    def tok2vec_bytes(init: Path | None) -> bytes:
        cfg = load_config(default_config_path(), overrides={"paths.train": str(tmp_path / "run" / "corpus" / "train.spacy"),
                                                            "paths.dev": str(tmp_path / "run" / "corpus" / "dev.spacy"),
                                                            "paths.init_tok2vec": str(init) if init else None})
        return init_nlp(cfg).get_pipe("ner").model.get_ref("tok2vec").to_bytes()

    result = runner.invoke(_root(), ["ner", "train", "--train", str(corpus), "--dev", str(corpus), "--output", str(tmp_path / "run"),
                                     "--max-steps", "2", "--init-tok2vec", str(weights)])
    assert result.exit_code == 0, result.output
    trained = json.loads((tmp_path / "run" / "model-best" / "meta.json").read_text())["medkg"]["init_tok2vec"]
    assert set(trained) == {"model1.bin", "pretraining"} and trained["pretraining"]["documents"] == 5
    assert tok2vec_bytes(weights) == weights.read_bytes()
    assert tok2vec_bytes(None) != weights.read_bytes()
    assert tok2vec_bytes(out / "model0.bin") != weights.read_bytes()  # the second epoch changed the weights

    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    result = runner.invoke(_root(), ["ner", "pretrain", "--text", str(empty), "--output", str(tmp_path / "pre2")])
    assert result.exit_code != 0 and "no text to pretrain on" in result.output and "empty.txt" in result.output


def _ncbi_like(tmp_path: Path) -> Path:
    """A disease-only corpus (NCBI-disease style types) whose text also names a drug."""
    text_t, text_a = "Aspirin and tumour.", "APC gene carriers had colon cancer."
    corpus = tmp_path / "ncbi_like.txt"
    corpus.write_text(
        f"7|t|{text_t}\n7|a|{text_a}\n"
        "7\t12\t18\ttumour\tDiseaseClass\tD009369\n"
        "7\t20\t23\tAPC\tModifier\tD011125\n"
        "7\t42\t54\tcolon cancer\tSpecificDisease\tD003110\n\n",
        encoding="utf-8",
    )
    return corpus


def test_partial_corpus_marks_what_it_does_not_annotate_missing(tmp_path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    from ingest.text.corpora import PartialCorpus, corpus_to_docbin

    main, partial = _tiny_pubtator(tmp_path), _ncbi_like(tmp_path)
    others = spacy.blank("en")
    others.add_pipe("entity_ruler").add_patterns([{"label": "Drug", "pattern": "Aspirin"},
                                                  {"label": "Disease", "pattern": "tumour"}])
    corpus = PartialCorpus(partial, frozenset({"Disease"}), frozenset({"Modifier"}))
    out = tmp_path / "train.spacy"
    stats = corpus_to_docbin(main, out, repeat=2, partial=[corpus], others=others)
    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(out).get_docs(nlp.vocab))
    assert len(docs) == 4 * 2 + 1 and stats["repeat"] == 2 and stats["partial_docs"] == 1
    doc = docs[-1]
    iob = {t.text: t.ent_iob_ for t in doc}
    assert [(e.text, e.label_) for e in doc.ents] == [("tumour", "Disease"), ("colon cancer", "Disease")]
    assert iob["Aspirin"] == "" and iob["APC"] == ""  # another label / a dropped type: missing, no loss
    assert iob["carriers"] == "O" and iob["gene"] == "O"  # the rest: outside
    assert stats["partial_missing_tokens"] == 2
    # without a recogniser for the other labels the drug would be taught as "no entity"
    corpus_to_docbin(main, out, partial=[corpus])
    doc = list(DocBin().from_disk(out).get_docs(nlp.vocab))[-1]
    assert {t.text: t.ent_iob_ for t in doc}["Aspirin"] == "O"

    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(_root(), ["ner", "train", "--train", str(main), "--dev", str(main), "--output", str(run), "--max-steps", "2",
                                     "--partial", str(partial), "--partial-drop-types", "Modifier", "--train-repeat", "3"])
    assert result.exit_code == 0, result.output
    meta = json.loads((run / "model-best" / "meta.json").read_text())["medkg"]
    assert meta["train_corpus"]["repeat"] == 3 and meta["train_corpus"]["partial_docs"] == 1
    assert meta["partial_corpora"] == [{"labels": ["Disease"], "drop_types": ["Modifier"],
                                        "ncbi_like.txt": meta["partial_corpora"][0]["ncbi_like.txt"]}]
    assert any(p.startswith("ner") for p in meta["partial_others"]["pipes"]) and "dictionary" in meta["partial_others"]["pipes"]
    result = runner.invoke(_root(), ["ner", "train", "--train", str(main), "--dev", str(main), "--output", str(tmp_path / "bad"),
                                     "--partial", str(partial), "--partial-labels", "Disease,Species"])
    assert result.exit_code == 2 and "expected labels among Disease, Drug, Gene" in result.output


def test_extract_accepts_documents_up_to_max_chars_beyond_spacys_limit(tmp_path: Path) -> None:
    # spaCy refuses texts over nlp.max_length (1,000,000) with a ValueError that would end the
    # run; documents the reader accepts (--max-chars) must be extracted, longer ones rejected
    big = "Cisplatin caused nephrotoxicity in rats. " * 27_000  # ~1.1M characters
    src = tmp_path / "docs.jsonl"
    src.write_text(json.dumps({"id": "big", "text": big}) + "\n" + json.dumps({"id": "small", "text": "Aspirin."}) + "\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(_root(), ["extract", "--input", str(src), "--output", str(out), "--no-ner",
                                          "--max-chars", "1200000"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["doc_id"] for r in rows] == ["big", "small"]
    assert sum(m["text"] == "Cisplatin" for m in rows[0]["mentions"]) == 27_000
    result = CliRunner().invoke(_root(), ["extract", "--input", str(src), "--output", str(out), "--no-ner",
                                          "--max-chars", "1000000"])
    assert result.exit_code == 0, result.output
    assert "rejected 1" in result.output and len(out.read_text().splitlines()) == 1
