"""Readers: offsets, formats, bad input (no models, no services)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from graph_engine.errors import IngestError
from ingest.text.readers import ReadStats, decode_bytes, detect_format, read_documents, read_iob, read_pubtator

pytestmark = pytest.mark.unit

PUBTATOR = """\
111|t|Naloxone reverses the effect of clonidine.
111|a|Clonidine-induced hypotension was seen in rats. Lung cancer (LC) was absent.
111\t0\t8\tNaloxone\tChemical\tD009270
111\t32\t41\tclonidine\tChemical\tD003000
111\t43\t52\tClonidine\tChemical\tD003000
111\t61\t72\thypotension\tDisease\tD007022
111\t91\t102\tLung cancer\tDisease\tD008175
111\tCID\tD003000\tD007022

222|t|Second title
222|a|Aspirin and ibuprofen.
222\t13\t20\tAspirin\tChemical\tD001241
222\t0\t5\twrong\tChemical\tD000001
"""


def test_pubtator_offsets_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "x.PubTator.txt"
    p.write_text(PUBTATOR, encoding="utf-8")
    stats = ReadStats()
    docs = list(read_documents(p, stats=stats))
    assert [d.id for d in docs] == ["111", "222"]
    d = docs[0]
    assert d.text.startswith(d.title + " ")  # title + one space + abstract
    assert d.gold_mentions and all(d.text[m.start : m.end] == m.text for m in d.gold_mentions)
    assert {m.label for m in d.gold_mentions} == {"Drug", "Disease"}
    assert d.gold_mentions[0].id == "MESH:D009270"
    assert [(r.type, r.subject, r.object) for r in d.gold_relations] == [("CAUSES", "MESH:D003000", "MESH:D007022")]
    # the mismatching annotation of 222 is dropped with a warning naming its line, the document kept
    assert len(docs[1].gold_mentions) == 1
    assert stats.read == 2 and stats.rejected == 0
    assert stats.warnings and stats.warnings[0].line == 13 and "does not match" in str(stats.warnings[0])


def test_pubtator_without_annotations_and_detection(tmp_path: Path) -> None:
    p = tmp_path / "plain.txt"
    p.write_text("9|t|A title\n9|a|An abstract.\n", encoding="utf-8")
    assert detect_format(p) == "pubtator"
    (d,) = read_pubtator(p)
    assert d.text == "A title An abstract." and d.gold_mentions == []


def test_jsonl_bad_lines_and_encodings(tmp_path: Path) -> None:
    p = tmp_path / "docs.jsonl"
    lines = [
        json.dumps({"id": "a", "title": "T", "text": "Aspirin helps.", "journal": "J"}).encode(),
        b"{not json",
        json.dumps({"title": "no id", "text": "x"}).encode(),
        json.dumps({"id": "c", "text": "caf\u00e9"}, ensure_ascii=False).encode("utf-8").replace("é".encode("utf-8"), b"\xe9"),  # cp1252 byte
        json.dumps({"id": "e", "text": "   "}).encode(),
        json.dumps({"id": "b", "text": "B" * 200}).encode(),
    ]
    p.write_bytes(b"\n".join(lines) + b"\n")
    stats = ReadStats()
    docs = list(read_documents(p, stats=stats, max_chars=100))
    assert [d.id for d in docs] == ["a", "c"]
    assert docs[0].text == "T Aspirin helps." and docs[0].metadata == {"journal": "J"}
    assert docs[1].text == "café" and stats.recoded == 1
    assert (stats.read, stats.accepted, stats.rejected) == (6, 2, 4)  # read = accepted + rejected
    by_line = {e.line: e.reason for e in stats.errors}
    assert "invalid JSON" in by_line[2] and "missing 'id'" in by_line[3]
    assert "empty" in by_line[5] and "limit" in by_line[6]
    assert all(e.path == str(p) for e in stats.errors)


def test_binary_garbage_rejected(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Metformin treats diabetes.", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(bytes(range(256)) * 10)
    stats = ReadStats()
    docs = list(read_documents(tmp_path, "text", stats=stats))
    assert [d.id for d in docs] == ["good"]
    assert stats.rejected == 1 and "binary" in stats.errors[0].reason
    with pytest.raises(IngestError):
        decode_bytes(b"\x00\x01\x02abc")


def test_strict_mode_raises_with_location(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text('{"id": "a", "text": "ok"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(IngestError) as info:
        list(read_documents(p, on_error=None, stats=None))
    assert info.value.line == 2 and info.value.path == str(p)


def test_pubmed_xml_and_broken_xml(tmp_path: Path) -> None:
    xml = """<?xml version="1.0"?>
<PubmedArticleSet>
 <PubmedArticle><MedlineCitation><PMID>123</PMID><Article><Journal><Title>J Test</Title><JournalIssue><PubDate><Year>2015</Year></PubDate></JournalIssue></Journal>
  <ArticleTitle>Warfarin and bleeding.</ArticleTitle>
  <Abstract><AbstractText Label="BACKGROUND">Warfarin causes bleeding.</AbstractText><AbstractText Label="RESULTS">Aspirin too.</AbstractText></Abstract>
 </Article></MedlineCitation></PubmedArticle>
 <PubmedArticle><MedlineCitation><PMID>124</PMID><Article><ArticleTitle>Second</ArticleTitle></Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>
"""
    p = tmp_path / "a.xml.gz"
    with gzip.open(p, "wt", encoding="utf-8") as fh:
        fh.write(xml)
    docs = list(read_documents(p))
    assert [d.id for d in docs] == ["123", "124"]
    assert docs[0].text == "Warfarin and bleeding. Warfarin causes bleeding. Aspirin too."
    assert docs[0].year == 2015 and docs[0].metadata["journal"] == "J Test"
    broken = tmp_path / "b.xml"
    broken.write_text(xml[: xml.index("<PubmedArticle><MedlineCitation><PMID>124")] + "<PubmedArticle><oops></PubmedArticleSet>", encoding="utf-8")
    stats = ReadStats()
    docs = list(read_documents(broken, stats=stats))
    assert [d.id for d in docs] == ["123"]
    assert stats.rejected == 1 and "broken XML" in stats.errors[0].reason and stats.errors[0].line is not None


def test_iob_reader(tmp_path: Path) -> None:
    p = tmp_path / "g.iob.tsv"
    p.write_text("The\tO\nBRCA\tB-GENE\n-\tI-GENE\n1\tI-GENE\ngene\tO\n\nbroken line\n\nTP53\tB-GENE\n", encoding="utf-8")
    stats = ReadStats()
    docs = list(read_documents(p, stats=stats))
    assert [d.id for d in docs] == ["g:1", "g:3"]
    m = docs[0].gold_mentions[0]
    assert (m.label, docs[0].text[m.start : m.end]) == ("Gene", "BRCA - 1")
    assert stats.rejected == 1 and stats.errors[0].line == 7
    assert list(read_iob(p, on_error=lambda e: None))[1].gold_mentions[0].text == "TP53"


def test_missing_input_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="not found"):
        list(read_documents(tmp_path / "nope.txt"))
    (tmp_path / "x.bin").write_bytes(b"\x01\x02")
    with pytest.raises(IngestError, match="--format"):
        list(read_documents(tmp_path / "x.bin"))
