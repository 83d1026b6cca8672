"""Issue 21 items 8 and 11 for text input (`medkg extract`, the readers behind `medkg ingest text`):
oversized and duplicate document ids are rejected with their line, and read = written + rejected."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from graph_engine.limits import INDEX_KEY_MAX_BYTES
from ingest.text.readers import ReadStats, read_documents
from ingest.text.records import Document, Mention
from ingest.text.writer import mention_rows
from jobs.commands import nlp as nlp_commands

pytestmark = pytest.mark.unit

BIG_ID = "P" * 20_000


def jsonl(path: Path, *objs: dict) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def test_oversized_and_duplicate_ids_are_rejected_with_their_lines(tmp_path):
    p = jsonl(tmp_path / "docs.jsonl",
              {"id": "a", "text": "Aspirin helps."},
              {"id": BIG_ID, "text": "A document whose id is far too long."},          # line 2
              {"id": "b", "text": "Metformin treats diabetes."},
              {"id": "a", "text": "A second document with the first one's id."},    # line 4
              {"id": "é" * (INDEX_KEY_MAX_BYTES // 2 + 1), "text": "Wide id."})      # line 5: over in bytes only
    stats = ReadStats()
    docs = list(read_documents(p, stats=stats))
    assert [(d.id, d.text) for d in docs] == [("a", "Aspirin helps."), ("b", "Metformin treats diabetes.")]
    assert (stats.read, stats.accepted, stats.rejected) == (5, 2, 3)
    by_line = {e.line: e.reason for e in stats.errors}
    assert set(by_line) == {2, 4, 5}
    assert by_line[2].startswith("document 'PPPP") and "(20,000 characters): its id is 20,000 bytes" in by_line[2]
    assert f"the limit is {INDEX_KEY_MAX_BYTES:,} bytes" in by_line[2] and len(by_line[2]) < 300  # never the whole id
    assert by_line[4] == "duplicate document id 'a': the first one, at line 1, is kept and this one is rejected"
    assert f"its id is {INDEX_KEY_MAX_BYTES + 2:,} bytes" in by_line[5]


def test_duplicates_across_files_name_the_first_file(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    (tmp_path / "x" / "note.txt").write_text("Aspirin helps.", encoding="utf-8")
    (tmp_path / "y" / "note.txt").write_text("Another note.", encoding="utf-8")
    stats = ReadStats()
    assert [d.path for d in read_documents(tmp_path, "text", stats=stats)] == [str(tmp_path / "x" / "note.txt")]
    (err,) = stats.errors
    assert err.path == str(tmp_path / "y" / "note.txt") and f"{tmp_path / 'x' / 'note.txt'}, line 1" in err.reason
    # a library caller that wants every document can have them
    assert len(list(read_documents(tmp_path, "text", stats=ReadStats(), unique_ids=False))) == 2


def test_a_rejected_first_document_does_not_shadow_a_later_one(tmp_path):
    p = jsonl(tmp_path / "docs.jsonl", {"id": "a", "text": "   "}, {"id": "a", "text": "Now with text."})
    stats = ReadStats()
    assert [d.text for d in read_documents(p, stats=stats)] == ["Now with text."]
    assert stats.rejected == 1 and "empty" in stats.errors[0].reason


def test_pubmed_duplicates_without_lines(tmp_path):
    art = "<PubmedArticle><MedlineCitation><PMID>7</PMID><Article><ArticleTitle>{}</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
    p = tmp_path / "a.xml"
    p.write_text(f"<PubmedArticleSet>{art.format('One')}{art.format('Two')}</PubmedArticleSet>", encoding="utf-8")
    stats = ReadStats()
    assert [d.text for d in read_documents(p, stats=stats)] == ["One"]
    assert "the first one, at document 1 of the input, is kept" in stats.errors[0].reason


def _root() -> click.Group:
    root = click.Group("medkg")
    root.add_command(click.Group("ingest"))
    nlp_commands.register(root)
    return root


def test_extract_counts_rejects_in_read(tmp_path):
    src = jsonl(tmp_path / "in.jsonl",
                {"id": "1", "text": "Cisplatin causes nephrotoxicity."},
                {"id": BIG_ID, "text": "Too long an id."},
                {"id": "1", "text": "Duplicate."},
                {"id": "3", "text": ""},
                {"id": "4", "text": "Metformin treats type 2 diabetes."})
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(_root(), ["extract", "--input", str(src), "--output", str(out), "--no-ner", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.splitlines()[0])
    assert (summary["read"], summary["written"], summary["rejected"]) == (5, 2, 3)
    assert summary["read"] == summary["written"] + summary["rejected"]
    assert [json.loads(line)["doc_id"] for line in out.read_text(encoding="utf-8").splitlines()] == ["1", "4"]
    rejects = (tmp_path / "out.jsonl.rejects.tsv").read_text(encoding="utf-8").splitlines()
    assert [r.split("\t")[1] for r in rejects[1:]] == ["2", "3", "4"]
    plain = CliRunner().invoke(_root(), ["extract", "--input", str(src), "--output", str(out), "--no-ner"])
    assert plain.output.startswith("read 5 = written 2 + rejected 3 · ")


def test_entity_names_from_text_fit_the_index():
    long = "x" * (INDEX_KEY_MAX_BYTES + 1)
    doc = Document(id="d", text=f"{long} aspirin")
    doc.mentions = [Mention("d", 0, len(long), long, "Drug", "DRUGBANK:DB00945", 1.0, "ner"),
                    Mention("d", len(long) + 1, len(long) + 8, "aspirin", "Drug", "DRUGBANK:DB00945", 1.0, "dictionary"),
                    Mention("d", 0, len(long), long, "Drug", "DRUGBANK:DB99999", 1.0, "ner")]
    rows, _ = mention_rows([doc])
    names = {r["id"]: r["name"] for r in rows["Drug"]}
    assert names == {"DRUGBANK:DB00945": "aspirin", "DRUGBANK:DB99999": None}
