"""Relation pairing of unlinked mentions, document-level CID aggregation, DDI interaction types (issue 19)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import spacy

from ingest.text.components.cache import set_ents
from ingest.text.components.relations import (
    DOC_MODEL, TEXT_KEY, TYPE_MODEL, LinearModel, RelationExtractor, TypeModel, _pair_features, doc_pair_candidates,
    doc_pair_features, pairing_keys, sigmoid,
)
from ingest.text.corpora import blank_pipeline
from ingest.text.pipeline import doc_records
from ingest.text.records import Document, Evidence, Relation
from ingest.text.writer import relation_rows

pytestmark = pytest.mark.unit

#: a sentence model that calls every Drug/Disease pair CAUSES, whatever the words
ALWAYS = LinearModel({}, 3.0)
NEVER = LinearModel({}, -3.0)


@pytest.fixture(scope="module")
def nlp() -> spacy.Language:
    nlp = blank_pipeline()
    nlp.add_pipe("medkg_sentences_v1")
    nlp.add_pipe("medkg_negation_v1")
    return nlp


def _doc(nlp: spacy.Language, text: str, ents: list[tuple[str, str, str]]) -> spacy.tokens.Doc:
    """``text`` through sentences and cues, with ``ents`` = (surface, label, id) set at their first occurrence."""
    doc = nlp(text)
    spans = []
    pos = 0
    for surface, label, ident in ents:
        start = text.index(surface, pos)
        pos = start + len(surface)
        span = doc.char_span(start, pos)
        assert span is not None, surface
        spans.append((span.start, span.end, label, ident))
    set_ents(doc, spans)
    return doc


def _relations(doc: spacy.tokens.Doc, ext: RelationExtractor) -> list[Relation]:
    ext(doc)
    return doc_records(doc, Document(id="d1", text=doc.text)).relations


# --------------------------------------------------------------------------- unlinked mentions


def test_pairing_keys_fall_back_to_the_mention_text() -> None:
    ents = [(0, 1, "Drug", "MESH:D1"), (2, 4, "Disease", ""), (5, 6, "Drug", "")]
    lowers = ["aspirin", "and", "renal", "failure", ",", "foo"]
    assert pairing_keys(ents, lowers) == ["MESH:D1", TEXT_KEY + "renal failure", TEXT_KEY + "foo"]


def test_an_unlinked_mention_is_paired_and_its_relation_has_no_id(nlp: spacy.Language) -> None:
    doc = _doc(nlp, "Zorbatin caused hepatitis in two patients.", [("Zorbatin", "Drug", ""), ("hepatitis", "Disease", "MESH:D056486")])
    rels = _relations(doc, RelationExtractor({"CAUSES": ALWAYS}))
    assert [(r.type, r.subject, r.object, r.subject_text) for r in rels] == [("CAUSES", None, "MESH:D056486", "Zorbatin")]
    # the old behaviour (linked mentions only) is still there when asked for
    assert _relations(doc, RelationExtractor({"CAUSES": ALWAYS}, pair_unlinked=False)) == []


def test_two_unlinked_mentions_of_one_name_are_not_paired(nlp: spacy.Language) -> None:
    doc = _doc(nlp, "Zorbatin and zorbatin with Quixil.", [("Zorbatin", "Drug", ""), ("zorbatin", "Drug", ""), ("Quixil", "Drug", "")])
    rels = _relations(doc, RelationExtractor({"INTERACTS_WITH": ALWAYS}))
    pairs = sorted((r.subject_text, r.object_text) for r in rels)
    assert pairs == [("Zorbatin", "Quixil"), ("zorbatin", "Quixil")]


def test_relations_with_an_unlinked_end_are_never_written() -> None:
    ev = Evidence("d1", "s", 0, 1, 0, 1, 2, 3, "x", "1")
    rels = [Relation("d1", "CAUSES", None, "MESH:D1", "Drug", "Disease", "a", "b", False, False, 0.9, ev),
            Relation("d1", "CAUSES", "MESH:C1", "MESH:D1", "Drug", "Disease", "c", "b", False, False, 0.9, ev)]
    rows, skipped = relation_rows([Document("d1", "text", relations=rels)])
    assert skipped == 1
    assert [r["s"] for r in rows[("CAUSES", "Drug", "Disease")]] == ["MESH:C1"]


# --------------------------------------------------------------------------- DDI: speculation, types


def _rel(rel_type: str, negated: bool, speculative: bool) -> Relation:
    ev = Evidence("d1", "s", 0, 1, 0, 1, 2, 3, "x", "1")
    return Relation("d1", rel_type, "A", "B", "Drug", "Drug", "a", "b", negated, speculative, 0.9, ev, "advise")


def test_speculation_does_not_veto_an_interaction_but_negation_does() -> None:
    assert _rel("INTERACTS_WITH", False, True).asserted
    assert not _rel("INTERACTS_WITH", True, False).asserted
    assert not _rel("CAUSES", False, True).asserted
    assert _rel("INTERACTS_WITH", False, True).to_json()["interaction_type"] == "advise"


def _type_model() -> TypeModel:
    return TypeModel(["none", "mechanism", "advise"], {
        "none": LinearModel({"b=with": 5.0}, 0.0),
        "mechanism": LinearModel({"b=levels": 2.0}, 0.0),
        "advise": LinearModel({"b=caution": 2.0, "l=use": 0.5}, 0.1),
    })


def test_type_model_picks_the_best_type_other_than_none(nlp: spacy.Language, tmp_path: Path) -> None:
    doc = _doc(nlp, "Use Zorbatin with caution with Quixil.", [("Zorbatin", "Drug", "X:1"), ("Quixil", "Drug", "X:2")])
    model = _type_model()
    ext = RelationExtractor({"INTERACTS_WITH": ALWAYS, TYPE_MODEL: model})
    rels = _relations(doc, ext)
    assert [(r.type, r.interaction_type, r.speculative) for r in rels] == [("INTERACTS_WITH", "advise", False)]
    # the table-driven scorer and the string features agree
    model.save(tmp_path / "t.json")
    loaded = TypeModel.load(tmp_path / "t.json")
    lowers = [t.lower_ for t in doc]
    ents = [(e.start, e.end, e.label_, e.kb_id_) for e in doc.ents]
    feats = _pair_features(lowers, ents, ents[0], ents[1], (0, len(doc)))
    for c in loaded.classes:
        assert loaded.scorers[c].logit(lowers, ents, ents[0], ents[1], (0, len(doc))) == pytest.approx(loaded.models[c].logit(feats))
    # without the type model: no type (as before)
    assert [r.interaction_type for r in _relations(doc, RelationExtractor({"INTERACTS_WITH": ALWAYS}))] == [None]


def test_typed_ddi_training_examples(tmp_path: Path) -> None:
    from graph_engine.errors import IngestError
    from ingest.text.relation_training import DDI_CLASSES, ddi_examples

    xml = ('<document id="D1"><sentence id="D1.s0" text="Zorbatin increases Quixil levels and Lomax.">'
           '<entity id="e0" charOffset="0-7" type="drug" text="Zorbatin"/>'
           '<entity id="e1" charOffset="19-24" type="drug" text="Quixil"/>'
           '<entity id="e2" charOffset="37-41" type="drug" text="Lomax"/>'
           '<pair id="p0" e1="e0" e2="e1" ddi="true" type="mechanism"/>'
           '<pair id="p1" e1="e0" e2="e2" ddi="false"/>'
           '<pair id="p2" e1="e1" e2="e2" ddi="true" type="{kind}"/></sentence></document>')
    f = tmp_path / "D1.xml"
    f.write_text(xml.format(kind="effect"))
    labels = [y for _, y in ddi_examples([f], typed=True)]
    assert [DDI_CLASSES[y] for y in labels] == ["mechanism", "none", "effect"]
    assert [y for _, y in ddi_examples([f])] == [1, 0, 1]
    f.write_text(xml.format(kind="synergy"))
    with pytest.raises(IngestError, match="p2.*synergy"):
        list(ddi_examples([f], typed=True))


# --------------------------------------------------------------------------- document-level CID


def test_doc_pair_features_pool_the_mention_pairs() -> None:
    f = doc_pair_features([0, 2], [2, 2, 4], [1.0, -1.0, 0.5], True, False, 2, 3, 4)
    assert f["max_p"] == pytest.approx(sigmoid(1.0))
    assert f["lse"] == pytest.approx(math.log(math.exp(1.0) + math.exp(-1.0) + math.exp(0.5)))
    assert f["n_pos"] == pytest.approx(math.log1p(2))
    assert f["n_sent"] == pytest.approx(math.log1p(1))
    assert (f["s_title"], f["o_title"], f["both_title"], f["s_top"], f["o_top"]) == (1.0, 0.0, 0.0, 1.0, 0.0)
    assert (f["s_last"], f["o_last"], f["both_last"]) == (0.0, 1.0, 0.0)
    assert f["s_count"] == pytest.approx(math.log1p(2)) and f["o_count"] == pytest.approx(math.log1p(3))
    cross = doc_pair_features([0], [3, 5], [], False, True, 1, 1)
    assert cross["cross=3+"] == 1.0 and "max_p" not in cross and "s_last" not in cross


def test_doc_pair_candidates_keep_cross_sentence_pairs_of_salient_entities_only() -> None:
    drug_a, drug_b = (0, 1, "Drug", "A"), (10, 11, "Drug", "B")
    dis_x, dis_y = (20, 21, "Disease", "X"), (30, 31, "Disease", "Y")
    # A is in the title (sentence 0) and mentioned twice; B once, in sentence 2; X in 3, Y in 4 (twice)
    mentions = [(drug_a, "A", 0), ((5, 6, "Drug", "A"), "A", 1), (drug_b, "B", 2), (dis_x, "X", 3), (dis_y, "Y", 4), ((32, 33, "Disease", "Y"), "Y", 4)]
    got = {(ks, ko): (f, best) for ks, ko, f, best in doc_pair_candidates(mentions, {}, "Drug", "Disease")}
    # B-X: neither salient, no shared sentence: no candidate; B-Y: Y is the most mentioned disease
    assert set(got) == {("A", "X"), ("A", "Y"), ("B", "Y")}
    assert got[("A", "X")][0]["cross=2"] == 1.0 and got[("A", "X")][0]["s_id=A"] == 1.0 and got[("A", "X")][1] is None
    scored = {("B", "X"): [(0.3, drug_b, dis_x, 2), (1.2, drug_b, dis_x, 2)]}
    got = {(ks, ko): (f, best) for ks, ko, f, best in doc_pair_candidates(mentions, scored, "Drug", "Disease")}
    assert got[("B", "X")][1] == (drug_b, dis_x)
    assert got[("B", "X")][0]["max_p"] == pytest.approx(sigmoid(1.2))


def test_document_level_causes_across_sentences(nlp: spacy.Language) -> None:
    text = "Zorbatin in elderly patients. We studied 40 cases. Hepatitis developed in 12."
    doc = _doc(nlp, text, [("Zorbatin", "Drug", "C:1"), ("Hepatitis", "Disease", "D:1")])
    # the sentence-level extractor cannot see it (no shared sentence) ...
    assert _relations(doc, RelationExtractor({"CAUSES": ALWAYS})) == []
    # ... the document-level model can: it likes a title chemical two sentences from a disease
    doc_model = LinearModel({"cross=2": 2.0, "s_title": 1.0}, -1.0, 0.5)
    rels = _relations(doc, RelationExtractor({"CAUSES": ALWAYS, DOC_MODEL: doc_model}))
    assert [(r.type, r.subject, r.object) for r in rels] == [("CAUSES", "C:1", "D:1")]
    r = rels[0]
    assert r.score == pytest.approx(sigmoid(2.0), abs=1e-4)
    assert r.evidence.sentence == text  # from the first mention's sentence to the last one's
    assert (r.evidence.subject_start, r.evidence.object_start) == (0, text.index("Hepatitis"))
    assert r.asserted


def test_document_level_causes_pools_repeated_mention_pairs(nlp: spacy.Language) -> None:
    text = "Zorbatin and hepatitis. Zorbatin and hepatitis again."
    doc = _doc(nlp, text, [("Zorbatin", "Drug", "C:1"), ("hepatitis", "Disease", "D:1"), ("Zorbatin", "Drug", "C:1"), ("hepatitis", "Disease", "D:1")])
    # a weak sentence score on each of two sentences: the sentence-level extractor says no ...
    weak = LinearModel({}, -0.5)
    assert _relations(doc, RelationExtractor({"CAUSES": weak})) == []
    # ... the pooled evidence of two sentences is enough for a model that counts them, once per pair
    doc_model = LinearModel({"n_sent": 4.0}, -2.0, 0.5)
    rels = _relations(doc, RelationExtractor({"CAUSES": weak, DOC_MODEL: doc_model}))
    assert [(r.type, r.subject, r.object) for r in rels] == [("CAUSES", "C:1", "D:1")]
    assert rels[0].score == pytest.approx(sigmoid(-2.0 + 4.0 * math.log1p(2)), abs=1e-4)
    # a doc model that refuses: no CAUSES, and TREATS rules are not let in by the missing CAUSES
    assert [r.type for r in _relations(doc, RelationExtractor({"CAUSES": weak, DOC_MODEL: LinearModel({}, -5.0)}))] == []


def test_negated_disease_flags_a_cross_sentence_relation(nlp: spacy.Language) -> None:
    text = "Zorbatin in elderly patients. We studied 40 cases. No hepatitis was seen."
    doc = _doc(nlp, text, [("Zorbatin", "Drug", "C:1"), ("hepatitis", "Disease", "D:1")])
    rels = _relations(doc, RelationExtractor({"CAUSES": NEVER, DOC_MODEL: LinearModel({"cross=2": 3.0}, 0.0, 0.5)}))
    assert len(rels) == 1 and rels[0].negated and not rels[0].asserted


@pytest.mark.parametrize(("sentence", "negated"), [
    ("Zorbatin should not be combined with Quixil.", False),
    ("Do not use Zorbatin with Quixil.", False),
    ("Zorbatin is not recommended with Quixil.", False),
    ("Zorbatin did not alter the levels of Quixil.", True),
])
def test_a_prohibition_is_no_negation_of_an_interaction(nlp: spacy.Language, sentence: str, negated: bool) -> None:
    doc = _doc(nlp, sentence, [("Zorbatin", "Drug", "X:1"), ("Quixil", "Drug", "X:2")])
    rels = _relations(doc, RelationExtractor({"INTERACTS_WITH": ALWAYS}))
    assert [(r.negated, r.asserted) for r in rels] == [(negated, not negated)]
    # a CAUSES statement keeps its negation: "should not cause" is no claim that it causes
    doc = _doc(nlp, "Zorbatin should not cause hepatitis.", [("Zorbatin", "Drug", "X:1"), ("hepatitis", "Disease", "D:1")])
    assert [r.negated for r in _relations(doc, RelationExtractor({"CAUSES": ALWAYS}))] == [True]


def test_doc_scorer_matches_the_model_over_the_features() -> None:
    import random

    from ingest.text.components.relations import DocScorer

    rng = random.Random(0)
    shipped = LinearModel.load(Path(__file__).resolve().parents[2] / "ingest/text/models/relations-cid-doc-0.2.0.json")
    keys = ["A", "B", "C", "X", "Y", "Z", "text:foo"]
    checked = 0
    for _ in range(300):
        mentions = []
        for i in range(rng.randint(2, 9)):
            label = rng.choice(["Drug", "Disease"])
            k = rng.choice(keys[:3] + ["text:foo"]) if label == "Drug" else rng.choice(keys[3:6])
            mentions.append(((i * 3, i * 3 + 1, label, k), k, rng.randint(0, 6)))
        scored: dict = {}
        for e, k, s_no in mentions:
            for e2, k2, s2 in mentions:
                if e[2] == "Drug" and e2[2] == "Disease" and s_no == s2 and rng.random() < 0.7:
                    scored.setdefault((k, k2), []).append((rng.uniform(-4, 4), e, e2, s_no))
        last = rng.choice([None, 6, 0])
        for model in (shipped, LinearModel({"cross=2": 1.5, "both_last": 0.7, "s_id=A": 2.0, "shared_unscored": 1.0, "lse": 0.4}, -0.3, 0.3)):
            want = {(ks, ko): (model.prob_values(f), best) for ks, ko, f, best in doc_pair_candidates(mentions, scored, "Drug", "Disease", last)}
            got = {(ks, ko): (p, best) for ks, ko, p, best in DocScorer(model).accepted(mentions, scored, "Drug", "Disease", last)}
            assert set(got) == {k for k, (p, _) in want.items() if p >= model.threshold}
            for k, (p, best) in got.items():
                assert p == pytest.approx(want[k][0], abs=1e-9) and best == want[k][1]
                checked += 1
    assert checked > 100


def test_merged_type_tables_give_each_class_its_own_log_odds_bit_for_bit() -> None:
    import random

    from ingest.text.components.relations import _pair_parts, default_relation_models, load_relation_models

    model = load_relation_models(default_relation_models())[TYPE_MODEL]
    assert model.vector is not None
    rng = random.Random(1)
    words = sorted({k.partition("=")[2] for m in model.models.values() for k in m.weights if k[:2] in ("b=", "l=", "r=")})[:400]
    words += ["<Drug>", "unknownword", "with"]
    for _ in range(2000):
        n = rng.randint(4, 30)
        lowers = [rng.choice(words) for _ in range(n)]
        a0 = rng.randint(0, n - 3)
        b0 = rng.randint(a0 + 1, n - 1)
        ents = [(a0, a0 + 1, "Drug", "X"), (b0, b0 + 1, "Drug", "Y")]
        parts = _pair_parts(lowers, ents, ents[0], ents[1], (0, n))
        got = model.vector.logits(parts, "Drug", "Drug")
        want = [model.scorers[c].logit_parts(parts, "Drug", "Drug") for c in model.classes[1:]]
        assert got == want


def test_cid_reliability_table_by_hand() -> None:
    import numpy

    from benchmarks.cid_reliability import expected_calibration_error
    from ingest.text.pair_cnn_training import reliability

    rows = reliability(numpy.asarray([0.05, 0.15, 0.12, 0.95]), numpy.asarray([0, 1, 0, 1]))
    assert [(r["bin"], r["pairs"]) for r in rows if r["pairs"]] == [("0.0-0.1", 1), ("0.1-0.2", 2), ("0.9-1.0", 1)]
    assert rows[1]["mean_confidence"] == 0.135 and rows[1]["observed"] == 0.5
    # |0.05 - 0| * 1/4 + |0.135 - 0.5| * 2/4 + |0.95 - 1| * 1/4
    assert expected_calibration_error(rows) == round(0.05 / 4 + 0.365 / 2 + 0.05 / 4, 4)
    assert reliability(numpy.asarray([1.0]), numpy.asarray([1]))[-1]["pairs"] == 1  # p = 1 falls in the last bin
