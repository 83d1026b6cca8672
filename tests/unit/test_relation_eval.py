"""``medkg evaluate extraction``: scoring on tiny hand-made corpora (P/R/F1 computed by hand below), bad input, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from graph_engine.errors import IngestError
from ingest.text import relation_eval as rv
from ingest.text.evaluation import LabelScore
from ingest.text.records import Evidence, Mention, Relation
from jobs.commands import extraction_eval

# ---------------------------------------------------------------- crafted corpora

CID_TITLE = "Cocaine induced seizures."
CID_ABSTRACT = "Aspirin caused hepatitis and seizures."


def pubtator(pmid: str, title: str, abstract: str, mentions: list[tuple[str, str, str, int]], cids: list[tuple[str, str]]) -> str:
    """A PubTator block; mentions are (surface, type, id, occurrence) located by search."""
    text = f"{title} {abstract}"
    lines = [f"{pmid}|t|{title}", f"{pmid}|a|{abstract}"]
    for surface, kind, ident, nth in mentions:
        at = -1
        for _ in range(nth + 1):
            at = text.index(surface, at + 1)
        lines.append(f"{pmid}\t{at}\t{at + len(surface)}\t{surface}\t{kind}\t{ident}")
    lines += [f"{pmid}\tCID\t{c}\t{d}" for c, d in cids]
    return "\n".join(lines) + "\n\n"


def cid_corpus(tmp_path: Path, cids: list[tuple[str, str]] | None = None, extra: str = "") -> Path:
    mentions = [("Cocaine", "Chemical", "D1", 0), ("seizures", "Disease", "D2", 0), ("Aspirin", "Chemical", "D3", 0),
                ("hepatitis", "Disease", "D4", 0), ("seizures", "Disease", "D2", 1)]
    p = tmp_path / "cid.pubtator"
    p.write_text(pubtator("100", CID_TITLE, CID_ABSTRACT, mentions, [("D1", "D2"), ("D3", "D4")] if cids is None else cids) + extra)
    return p


def relation(doc: str, text: str, subj: tuple[int, int], obj: tuple[int, int], rel_type: str = "CAUSES",
             ids: tuple[str, str] = ("MESH:X", "MESH:Y"), negated: bool = False) -> Relation:
    ev = Evidence(doc, text, 0, len(text), subj[0], subj[1], obj[0], obj[1], "test", "0")
    labels = ("Drug", "Disease") if rel_type == "CAUSES" else ("Drug", "Drug")
    return Relation(doc, rel_type, ids[0], ids[1], *labels, text[subj[0]:subj[1]], text[obj[0]:obj[1]], negated, False, 0.9, ev)


def span(text: str, surface: str, nth: int = 0) -> tuple[int, int]:
    at = -1
    for _ in range(nth + 1):
        at = text.index(surface, at + 1)
    return at, at + len(surface)


# ---------------------------------------------------------------- scoring


def test_score_pairs_counts_sets() -> None:
    s = rv.score_pairs({(1,), (2,), (3,)}, {(1,), (2,), (4,), (5,)})
    # tp 2, fp 2, fn 1: P = 2/4, R = 2/3, F1 = 2PR/(P+R) = 4/7
    assert (s.tp, s.fp, s.fn) == (2, 2, 1)
    assert s.precision == pytest.approx(0.5) and s.recall == pytest.approx(2 / 3) and s.f1 == pytest.approx(4 / 7)


def test_cid_scores_by_hand(tmp_path: Path) -> None:
    units = rv.read_cid(cid_corpus(tmp_path))
    (u,) = units
    text = u.doc.text
    assert u.pairs == {("100", "MESH:D1", "MESH:D2"), ("100", "MESH:D3", "MESH:D4")}
    sentences = [(0, len(CID_TITLE)), (len(CID_TITLE) + 1, len(text))]
    rels = [
        # right pair, wrong ids from the linker: the span overlap maps it to D1 -> D2 (tp)
        relation("100", text, span(text, "Cocaine"), span(text, "seizures")),
        # partial overlap ("hepatitis and" covers "hepatitis"), negated: D3 -> D4 (tp; not asserted)
        relation("100", text, span(text, "Aspirin"), (span(text, "hepatitis")[0], span(text, "and")[1]), negated=True),
        # a subject that is no gold mention: an unmatched pair (fp)
        relation("100", text, span(text, "caused"), span(text, "seizures", 1)),
    ]
    preds = [rv.Predicted([Mention("100", *span(text, "Cocaine"), "Cocaine", "Drug", "MESH:X"),
                           Mention("100", *span(text, "seizures"), "seizures", "Disease", "MESH:Y"),
                           Mention("100", *span(text, "hepatitis"), "hepatitis", "Disease", "MESH:Z")], rels, sentences)]
    gold_run = [rv.Predicted([], rels[:1], sentences)]
    scores = rv._score_cid("x", units, preds, gold_run)
    rows = {r.method: r.score for r in scores.rows}

    def prf(s: LabelScore) -> tuple[int, int, int]:
        return s.tp, s.fp, s.fn

    assert prf(rows["pipeline (end to end)"]) == (2, 1, 0)           # P 2/3, R 1
    assert rows["pipeline (end to end)"].f1 == pytest.approx(0.8)
    assert prf(rows["pipeline, asserted only"]) == (1, 1, 1)         # P 1/2, R 1/2
    assert prf(rows["relation step on gold mentions"]) == (1, 0, 1)  # P 1, R 1/2, F1 2/3
    assert rows["relation step on gold mentions"].f1 == pytest.approx(2 / 3)
    # gold, same sentence: sentence 1 (D1, D2), sentence 2 (D3, D4) and (D3, D2): tp 2, fp 1
    assert prf(rows["ref: gold mentions, same sentence"]) == (2, 1, 0)
    # gold, same document: {D1, D3} x {D2, D4}: tp 2, fp 2; P 1/2, R 1, F1 2/3
    assert prf(rows["ref: gold mentions, same document"]) == (2, 2, 0)
    assert rows["ref: gold mentions, same document"].f1 == pytest.approx(2 / 3)
    # pipeline mentions: Cocaine-seizures (sentence 1) only; the Disease of sentence 2 has no Drug mention
    assert prf(rows["ref: pipeline mentions, same sentence"]) == (1, 0, 1)


def test_cid_composite_mentions_stand_for_each_id(tmp_path: Path) -> None:
    title, abstract = "Tamoxifen and breast and ovarian cancer.", "None."
    p = tmp_path / "c.pubtator"
    p.write_text(pubtator("7", title, abstract, [("Tamoxifen", "Chemical", "D9", 0), ("breast and ovarian cancer", "Disease", "D5|D6", 0)], [("D9", "D6")]))
    (u,) = rv.read_cid(p)
    text = u.doc.text
    pairs = rv.cid_pairs_from_relations(u, [relation("7", text, span(text, "Tamoxifen"), span(text, "ovarian cancer"))])
    assert pairs == {("7", "MESH:D9", "MESH:D5"), ("7", "MESH:D9", "MESH:D6")}
    assert rv.score_pairs(u.pairs, pairs).as_dict()["precision"] == 0.5


DDI_XML = """<?xml version="1.0" encoding="UTF-8"?>
<document id="DDI-T.d1">
  <sentence id="DDI-T.d1.s0" text="Warfarin and aspirin interact with heparin.">
    <entity id="DDI-T.d1.s0.e0" charOffset="0-7" type="drug" text="Warfarin"/>
    <entity id="DDI-T.d1.s0.e1" charOffset="13-19" type="drug" text="aspirin"/>
    <entity id="DDI-T.d1.s0.e2" charOffset="35-41" type="drug" text="heparin"/>
    <pair id="DDI-T.d1.s0.p0" e1="DDI-T.d1.s0.e0" e2="DDI-T.d1.s0.e1" ddi="true" type="effect"/>
    <pair id="DDI-T.d1.s0.p1" e1="DDI-T.d1.s0.e0" e2="DDI-T.d1.s0.e2" ddi="false"/>
    <pair id="DDI-T.d1.s0.p2" e1="DDI-T.d1.s0.e1" e2="DDI-T.d1.s0.e2" ddi="true" type="mechanism"/>
  </sentence>
  <sentence id="DDI-T.d1.s1" text="Lithium is safe with digoxin.">
    <entity id="DDI-T.d1.s1.e0" charOffset="0-6" type="drug" text="Lithium"/>
    <entity id="DDI-T.d1.s1.e1" charOffset="21-27" type="drug" text="digoxin"/>
    <pair id="DDI-T.d1.s1.p0" e1="DDI-T.d1.s1.e0" e2="DDI-T.d1.s1.e1" ddi="false"/>
  </sentence>
</document>
"""


def ddi_folder(tmp_path: Path, xml: str = DDI_XML) -> Path:
    d = tmp_path / "ddi"
    d.mkdir(exist_ok=True)
    (d / "T_ddi.xml").write_text(xml)
    return d


def test_ddi_reader_offsets_and_pairs(tmp_path: Path) -> None:
    u = rv.read_ddi_file(ddi_folder(tmp_path) / "T_ddi.xml")
    text = u.doc.text
    assert [text[m.start:m.end] for m in u.mentions] == ["Warfarin", "aspirin", "heparin", "Lithium", "digoxin"]
    assert u.pair_types == {("DDI-T.d1.s0", frozenset({"DDI-T.d1.s0.e0", "DDI-T.d1.s0.e1"})): "effect",
                            ("DDI-T.d1.s0", frozenset({"DDI-T.d1.s0.e1", "DDI-T.d1.s0.e2"})): "mechanism"}


def test_ddi_scores_by_hand(tmp_path: Path) -> None:
    u = rv.read_ddi_file(ddi_folder(tmp_path) / "T_ddi.xml")
    text = u.doc.text
    rels = [
        relation("DDI-T.d1", text, span(text, "Warfarin"), span(text, "aspirin"), "INTERACTS_WITH"),   # tp
        relation("DDI-T.d1", text, span(text, "Lithium"), span(text, "digoxin"), "INTERACTS_WITH"),    # fp
        # across the two gold sentences: never a gold pair (fp)
        relation("DDI-T.d1", text, span(text, "heparin"), span(text, "Lithium"), "INTERACTS_WITH"),
    ]
    mentions = [Mention("DDI-T.d1", *span(text, w), w, "Drug", None) for w in ("Warfarin", "aspirin", "Lithium", "digoxin")]
    scores = rv._score_ddi("x", [u], [rv.Predicted(mentions, rels, [])], [rv.Predicted([], rels[:1], [])])
    rows = {r.method: (r.score.tp, r.score.fp, r.score.fn) for r in scores.rows}
    assert scores.gold_pairs == {"detection": 2, "mechanism": 1, "effect": 1, "advise": 0, "int": 0}
    assert rows["pipeline (end to end)"] == (1, 2, 1)                    # P 1/3, R 1/2
    assert rows["relation step on gold mentions"] == (1, 0, 1)
    # gold: 3 pairs in s0 (2 true) + 1 pair in s1: tp 2, fp 2, fn 0
    assert rows["ref: gold mentions, every pair in the sentence"] == (2, 2, 0)
    # pipeline mentions: Warfarin-aspirin (s0), Lithium-digoxin (s1): tp 1, fp 1, fn 1
    assert rows["ref: pipeline mentions, same sentence"] == (1, 1, 1)
    assert all(r.relation == "INTERACTS_WITH" for r in scores.rows)
    assert any("detection only" in n for n in scores.notes)


def test_ddi_types_are_scored_when_predicted(tmp_path: Path) -> None:
    u = rv.read_ddi_file(ddi_folder(tmp_path) / "T_ddi.xml")
    text = u.doc.text

    class Typed:  # a relation record of a future typed model
        def __init__(self, r: Relation, kind: str) -> None:
            self.type, self.subject, self.object, self.evidence, self.asserted = r.type, r.subject, r.object, r.evidence, True
            self.interaction_type = kind

    rels = [Typed(relation("DDI-T.d1", text, span(text, "Warfarin"), span(text, "aspirin"), "INTERACTS_WITH"), "mechanism"),
            Typed(relation("DDI-T.d1", text, span(text, "aspirin"), span(text, "heparin"), "INTERACTS_WITH"), "mechanism")]
    scores = rv._score_ddi("x", [u], [rv.Predicted([], rels, [])], [rv.Predicted([], [], [])])
    rows = {(r.relation, r.method): (r.score.tp, r.score.fp, r.score.fn) for r in scores.rows}
    assert rows[("INTERACTS_WITH", "pipeline (end to end)")] == (2, 0, 0)
    assert rows[("DDI mechanism", "pipeline (end to end)")] == (1, 1, 0)
    assert rows[("DDI effect", "pipeline (end to end)")] == (0, 0, 1)


# ---------------------------------------------------------------- bad input


def test_pubtator_without_cid_lines_is_refused(tmp_path: Path) -> None:
    p = cid_corpus(tmp_path, cids=[])
    with pytest.raises(IngestError, match="no CID relation lines") as err:
        rv.read_cid(p)
    assert str(p) in str(err.value)


def test_cid_line_with_unknown_id_names_the_line(tmp_path: Path) -> None:
    p = cid_corpus(tmp_path, cids=[("D1", "D2"), ("D1", "D77")])
    with pytest.raises(IngestError) as err:
        rv.read_cid(p)
    # title, abstract, 5 mentions, then the CID lines: the second is line 9
    assert str(err.value).startswith(f"{p}, line 9: ") and "MESH:D77" in str(err.value)


def test_broken_ddi_xml_names_file_and_line(tmp_path: Path) -> None:
    d = ddi_folder(tmp_path, DDI_XML.replace('type="drug" text="aspirin"/>', 'type="drug" text="aspirin">'))
    with pytest.raises(IngestError, match="broken DDI XML") as err:
        rv.read_ddi_file(d / "T_ddi.xml")
    assert f"{d / 'T_ddi.xml'}, line " in str(err.value)


def test_ddi_pair_with_unknown_entity_names_the_element(tmp_path: Path) -> None:
    d = ddi_folder(tmp_path, DDI_XML.replace('e2="DDI-T.d1.s1.e1"', 'e2="DDI-T.d1.s1.e9"'))
    with pytest.raises(IngestError, match=r"<pair id='DDI-T.d1.s1.p0'> names entity 'DDI-T.d1.s1.e9'"):
        rv.read_ddi_file(d / "T_ddi.xml")


def test_ddi_bad_offset_and_empty_folder(tmp_path: Path) -> None:
    d = ddi_folder(tmp_path, DDI_XML.replace('charOffset="0-7"', 'charOffset="0to7"'))
    with pytest.raises(IngestError, match=r"<entity id='DDI-T.d1.s0.e0'>: charOffset '0to7'"):
        rv.read_ddi_file(d / "T_ddi.xml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestError, match="no DDI XML files"):
        rv.ddi_files(tmp_path / "empty")


def test_committed_ddi_split_is_the_hash_rule() -> None:
    split = rv.ddi_split()
    assert len(split) == 714 and sum(v == "validation" for v in split.values()) == 132
    assert all((v == "validation") == rv.ddi_is_validation(name) for name, v in split.items())


def test_ddi_folder_outside_the_split_needs_split_all(tmp_path: Path) -> None:
    files = rv.ddi_files(ddi_folder(tmp_path))
    with pytest.raises(IngestError, match="--split all"):
        rv.select_ddi(files, "validation")
    assert rv.select_ddi(files, "all") == files


# ---------------------------------------------------------------- CLI (real dictionary-only pipeline)


def _root() -> click.Group:
    root = click.Group("medkg")
    extraction_eval.register(root)
    return root


def test_cli_cid_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(_root(), ["evaluate", "extraction", "--data", str(cid_corpus(tmp_path)), "--pipeline", "fast",
                                          "--json-out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "CID, 1 documents, pipeline=fast, gold pairs: CAUSES 2" in result.output
    data = json.loads(out.read_text())
    rows = {r["method"]: r for r in data["rows"]}
    # the references do not depend on the pipeline: same numbers as computed by hand above
    assert (rows["ref: gold mentions, same document"]["tp"], rows["ref: gold mentions, same document"]["fp"]) == (2, 2)
    for r in data["rows"]:
        assert r["tp"] + r["fn"] == 2 and f"{r['method']}" in result.output
    # the relation step on gold mentions only ever pairs gold ids (never an 'unmatched' id): fp counts pairs of gold ids
    assert rows["relation step on gold mentions"]["tp"] + rows["relation step on gold mentions"]["fp"] <= 4


def test_cli_gold_mode_relations_sit_on_gold_mentions(tmp_path: Path) -> None:
    from ingest.text.pipeline import load_pipeline

    units = rv.read_cid(cid_corpus(tmp_path))
    (pred,) = rv.run_relations_on_gold(load_pipeline(ner=False, gene_ner=False), units, progress=False)
    gold_spans = {(m.start, m.end) for m in units[0].mentions}
    assert pred.relations, "the shipped relation step finds no relation in 'Cocaine induced seizures'"
    for r in pred.relations:
        ev = r.evidence
        assert (ev.subject_start, ev.subject_end) in gold_spans and (ev.object_start, ev.object_end) in gold_spans


def test_cli_bad_input_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(_root(), ["evaluate", "extraction", "--data", str(cid_corpus(tmp_path, cids=[])), "--pipeline", "fast"])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "CID lines" in result.output
    assert "Traceback" not in result.output
    d = ddi_folder(tmp_path, DDI_XML[:300])
    result = CliRunner().invoke(_root(), ["evaluate", "extraction", "--data", str(d), "--split", "all", "--pipeline", "fast"])
    assert result.exit_code == 1 and "broken DDI XML" in result.output


def test_cli_ddi_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(_root(), ["evaluate", "extraction", "--data", str(ddi_folder(tmp_path)), "--split", "all",
                                          "--pipeline", "fast", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "DDI, 1 documents, 2 sentences" in result.output and "detection 2" in result.output
    line = next(x for x in result.output.splitlines() if "ref: gold mentions, every pair in the sentence" in x)
    assert line.split()[-3:] == ["2", "2", "0"]


def test_cli_model_option_scores_the_given_ner(tmp_path: Path) -> None:
    from ingest.text.pipeline import shipped_model

    shipped = shipped_model("ner")
    assert shipped is not None
    data = cid_corpus(tmp_path)
    result = CliRunner().invoke(_root(), ["evaluate", "extraction", "--data", str(data), "--pipeline", "fast", "--model", str(shipped)])
    assert result.exit_code == 2 and "--pipeline fast has none" in result.output
    outs = []
    for extra in ([], ["--model", str(shipped)]):
        out = tmp_path / f"s{len(outs)}.json"
        result = CliRunner().invoke(_root(), ["evaluate", "extraction", "--data", str(data), "--json-out", str(out), "--no-progress", *extra])
        assert result.exit_code == 0, result.output
        outs.append(json.loads(out.read_text()))
    # the shipped model given explicitly scores exactly as the default full pipeline, and is recorded
    assert outs[0]["rows"] == outs[1]["rows"] and outs[1]["model"] == str(shipped) and "model" not in outs[0]
