"""NLP components on crafted sentences, the shipped model, and relation flags."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import spacy

from graph_engine.errors import IngestError
from graph_engine.records import NodeRecord
from ingest.text.components.abbreviations import AbbreviationResolver, find_abbreviations
from ingest.text.components.cache import doc_text, fast_ents, filter_ents, write_ents
from ingest.text.components.dictionary import DictionaryRecognizer
from ingest.text.components.linker import Linker
from ingest.text.components.negation import Cue, CueDetector, cue_coverage, span_flags
from ingest.text.components.relations import (
    TYPE_MODEL, LinearModel, PairScorer, RelationExtractor, _pair_features, default_relation_models, entity_masks,
    load_relation_models,
)
from ingest.text.relation_training import DDI_CLASSES
from ingest.text.components.span_repair import SpanRepair, balanced_range
from ingest.text.corpora import blank_pipeline
from ingest.text.pipeline import doc_records, extract_text, load_pipeline, shipped_model
from ingest.text.records import Document
from ingest.text.vocabulary import Vocabulary, build_vocabulary

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return build_vocabulary(
        [
            NodeRecord("Disease", "DOID:1324", "lung cancer"),
            NodeRecord("Disease", "DOID:3908", "non-small cell lung carcinoma", ("non-small cell lung cancer",)),
            NodeRecord("Disease", "DOID:10652", "Alzheimer's disease"),
            NodeRecord("Disease", "MESH:D056486", "hepatitis"),
            NodeRecord("Drug", "DRUGBANK:DB00515", "Cisplatin"),
            NodeRecord("Drug", "DRUGBANK:DB00951", "Isoniazid"),
            NodeRecord("Drug", "DRUGBANK:DB00682", "Warfarin"),
            NodeRecord("Drug", "DRUGBANK:DB00945", "Acetylsalicylic acid", ("aspirin",)),
            NodeRecord("Drug", "DRUGBANK:DB00619", "Imatinib"),
            NodeRecord("Gene", "NCBIGene:25", "ABL1"),
            NodeRecord("Gene", "NCBIGene:847", "CAT"),
            NodeRecord("Anatomy", "UBERON:0002048", "lung"),  # not a text label: ignored
        ]
    )


@pytest.fixture(scope="module")
def nlp(vocab: Vocabulary) -> spacy.Language:
    """A small rule pipeline over the test vocabulary (no statistical model)."""
    nlp = blank_pipeline()
    nlp.add_pipe("medkg_sentences_v1")
    nlp.add_pipe("medkg_negation_v1")
    _add(nlp, "dictionary", DictionaryRecognizer(vocab), before="medkg_negation_v1")
    _add(nlp, "abbreviations", AbbreviationResolver(vocab), before="medkg_negation_v1")
    _add(nlp, "linker", Linker(vocab), before="medkg_negation_v1")
    _add(nlp, "relations", RelationExtractor({}))
    return nlp


def _add(nlp: spacy.Language, name: str, component: object, before: str | None = None) -> None:
    factory = f"_medkg_test_{name}"
    if not spacy.Language.has_factory(factory):
        spacy.Language.factory(factory, func=lambda nlp, name, c=component: c)
    nlp.add_pipe(factory, name=name, before=before)


def ents(doc: spacy.tokens.Doc) -> list[tuple[str, str, str]]:
    return [(e.text, e.label_, e.kb_id_) for e in doc.ents]


def test_dictionary_longest_match_case_and_punctuation(nlp: spacy.Language) -> None:
    doc = nlp("Patients with Non-Small-Cell Lung Cancer and lung cancers; alzheimer disease; a cat and CAT.")
    got = ents(doc)
    assert ("Non-Small-Cell Lung Cancer", "Disease", "DOID:3908") in got  # longest match beats "lung cancer"
    assert ("lung cancers", "Disease", "DOID:1324") in got  # plural
    assert ("alzheimer disease", "Disease", "DOID:10652") in got  # case + possessive dropped
    assert ("CAT", "Gene", "NCBIGene:847") in got and not any(t == "cat" for t, _, _ in got)  # symbols are case-sensitive
    assert all(label != "Anatomy" for _, label, _ in got)


def test_adjacent_short_form_without_letter_match_takes_the_entity_label(nlp: spacy.Language) -> None:
    # Schwartz-Hearst finds no long form for IFX ("ifosfamide" has no x): the adjacent rule does
    doc = nlp("Patients received Isoniazid (IFX) daily. IFX was stopped; isoniazid (n = 2) and warfarin (P<0.05).")
    ifx = [e for e in doc.ents if e.text == "IFX"]
    assert len(ifx) == 2 and {(e.label_, e.kb_id_) for e in ifx} == {("Drug", "DRUGBANK:DB00951")}
    assert not [e for e in doc.ents if e.text in {"n = 2", "P<0.05", "n"}]  # statistics are not short forms
    assert find_abbreviations(nlp("Toxicity in patients with lung cancer (n = 2).")) == []


@pytest.mark.parametrize("text", [
    "Naloxone  reverses\tthe (IFX) effect.\n\nNew paragraph  ",
    "", "   ", "  leading spaces", "a\u00a0b \u2013 c-d/e", "5-HT(6) [3H]-naloxone 10 mg/kg",
])
def test_doc_text_rebuilds_the_text_exactly(nlp: spacy.Language, text: str) -> None:
    # components slice the cached rebuild instead of spaCy's Doc.text (a Token per token per call)
    doc = nlp(text)
    assert doc_text(doc) == doc.text == text
    assert doc_text(doc) is doc_text(doc)  # computed once per document


def test_cue_coverage_agrees_with_span_flags_on_random_cues() -> None:
    # doc_records reads mention flags from per-token coverage (linear) instead of scanning every cue
    import random

    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 40)
        cues = []
        for _ in range(rng.randint(0, 5)):
            a = rng.randrange(n)
            b = rng.randint(a, n)  # empty scopes happen (a backward cue at a sentence start)
            cues.append(Cue(rng.choice(["negation", "speculation"]), a, a, b))
        neg, spec = cue_coverage(cues, n)
        for start in range(n):
            for end in range(start + 1, n + 1):
                assert span_flags(cues, start, end) == (bool(neg[start] or neg[end - 1]),
                                                        bool(spec[start] or spec[end - 1]))


def _random_pair_case(rng: random.Random, words: list[str]):
    n = rng.randint(2, 45)
    lowers = [rng.choice(words) for _ in range(n)]
    ents, i = [], 0
    while i < n:  # non-overlapping entities, some adjacent, some with equal labels side by side
        if rng.random() < 0.3:
            j = min(n, i + rng.randint(1, 3))
            ents.append((i, j, rng.choice(["Drug", "Disease", "Gene"]), rng.choice(["", "X:1", "X:2"])))
            i = j
        else:
            i += 1
    s0 = rng.randint(0, min(3, n - 1))
    return lowers, ents, (s0, rng.randint(s0 + 1, n))


def test_pair_scorer_is_bit_identical_to_the_model_over_feature_strings() -> None:
    # the relation step scores pairs from weights regrouped by feature family; it must give
    # exactly LinearModel.prob(_pair_features(...)) for any words, masks and boundaries
    rng = random.Random(0)
    loaded = load_relation_models(default_relation_models())
    # the sentence-level models and each class table of the interaction-type model (the
    # document-level CID model has no pair features)
    models = [m for k, m in loaded.items() if k in ("CAUSES", "INTERACTS_WITH")]
    models += list(loaded[TYPE_MODEL].models.values())
    assert len(models) == 2 + len(DDI_CLASSES), "the shipped relation models are missing"
    vocab_words = sorted({k.partition("=")[2] for m in models for k in m.weights if k[:2] in ("b=", "l=", "r=")})
    special = ["a_b", "a", "b", "c", "b_c", "x=y", "=", "_", "<Drug>", "unknownword"]
    # a model whose word pairs hold "_" and "=" (every split of "bb=a_b_c" is a distinct pair)
    odd = {"bb=a_b_c": 0.7, "bb=a_b": -0.2, "bb=b_c": 0.3, "bb=x=y_=": 1.1, "b=a_b": 0.4, "b==": -0.6,
           "adjacent=a_b": 0.25, "adjacent=": -0.1, "l=a": 0.05, "r=_": 0.02, "order=Drug>Disease": 0.3,
           "dist=0": 0.11, "dist=3": -0.3, "n_ents_between=1": 0.2, "b=zero": 0.0}
    cases = [(m, vocab_words[:300] + special) for m in models] + [(LinearModel(odd, -0.4), special)]
    for model, words in cases:
        scorer = PairScorer(model)
        checked = 0
        for _ in range(1500):
            lowers, ents, sent = _random_pair_case(rng, words)
            inside = [e for e in ents if sent[0] <= e[0] and e[1] <= sent[1]]
            masks = entity_masks(ents)
            for k, a in enumerate(inside):
                for b in inside[k + 1:]:
                    want = model.prob(_pair_features(lowers, ents, a, b, sent, masks))
                    assert scorer.prob(lowers, ents, a, b, sent, masks) == want, (lowers, ents, a, b, sent)
                    assert scorer.prob(lowers, ents, a, b, sent) == want
                    checked += 1
        assert checked > 500
    with pytest.raises(ValueError, match="unknown family"):
        PairScorer(LinearModel({"pos=NN": 1.0}, 0.0))


def test_balanced_range_trims_stray_brackets() -> None:
    toks = ["serotonin", "type", "6", "(", "5", "-", "HT", "(", "6", ")", ")", "x"]
    assert balanced_range(toks, 0, 7) == (0, 3)  # unclosed "(" cuts before it
    assert balanced_range(toks, 4, 10) == (4, 10)  # "5-HT(6)" is balanced
    assert balanced_range(toks, 4, 11) == (4, 10)  # stray ")" at the end dropped
    assert balanced_range(toks, 3, 4) == (4, 4)  # nothing left
    assert balanced_range(["]", "a", "b"], 0, 3) == (1, 3)


def test_span_repair_extends_codes_and_balances_brackets() -> None:
    nlp = blank_pipeline()
    text = "The effects of PG-9 and thallium-201 and MK-801 and 3alpha-hydroxy-pregnan-20-one) were studied."
    doc = nlp.make_doc(text)

    def span(sub: str, label: str) -> spacy.tokens.Span:
        i = text.index(sub)
        return doc.char_span(i, i + len(sub), label=label)

    doc.ents = [span("PG", "Drug"), span("thallium", "Drug"), span("MK-801", "Drug"),
                span("3alpha-hydroxy-pregnan-20-one)", "Drug")]
    got = [(e.text, e.label_) for e in SpanRepair()(doc).ents]
    assert got == [("PG-9", "Drug"), ("thallium", "Drug"), ("MK-801", "Drug"), ("3alpha-hydroxy-pregnan-20-one", "Drug")]
    doc2 = nlp.make_doc("Patients with PG-9 disease.")
    doc2.ents = [doc2.char_span(14, 16, label="Disease")]  # only Drug codes are extended
    assert [e.text for e in SpanRepair()(doc2).ents] == ["PG"]


def test_abbreviation_gets_long_form_id(nlp: spacy.Language) -> None:
    doc = nlp("Non-small cell lung cancer (NSCLC) is common. Most NSCLC patients smoke.")
    pairs = [(lf.text, sf.text) for lf, sf in find_abbreviations(doc)]
    assert pairs == [("Non-small cell lung cancer", "NSCLC")]
    nsclc = [e for e in doc.ents if e.text == "NSCLC"]
    assert len(nsclc) == 2 and {e.kb_id_ for e in nsclc} == {"DOID:3908"}


def test_linker_keeps_unlinked_mentions(nlp: spacy.Language, vocab: Vocabulary) -> None:
    doc = nlp.make_doc("Aspirin and foobarazole were given.")
    doc.ents = [spacy.tokens.Span(doc, 0, 1, "Drug"), spacy.tokens.Span(doc, 2, 3, "Drug")]
    Linker(vocab)(doc)
    rec = doc_records(doc, Document("d", doc.text))
    by_text = {m.text: m for m in rec.mentions}
    assert by_text["Aspirin"].id == "DRUGBANK:DB00945" and 0.8 < by_text["Aspirin"].score <= 1.0
    assert by_text["foobarazole"].id is None and by_text["foobarazole"].label == "Drug"
    assert all(rec.text[m.start : m.end] == m.text for m in rec.mentions)


def test_negation_and_speculation_cues(nlp: spacy.Language) -> None:
    doc = nlp("Isoniazid did not cause hepatitis. Warfarin may interact with aspirin, but cisplatin treats lung cancer.")
    CueDetector()(doc)
    rec = doc_records(doc, Document("d", doc.text))
    by_text = {m.text: m for m in rec.mentions}
    assert by_text["hepatitis"].negated and not by_text["Isoniazid"].negated
    assert by_text["aspirin"].speculative
    assert not by_text["cisplatin"].speculative  # "but" closes the scope


def test_relations_on_crafted_sentences(nlp: spacy.Language) -> None:
    text = (
        "Cisplatin is effective in the treatment of lung cancer. "
        "Hepatitis induced by isoniazid was reported. "
        "Isoniazid did not cause hepatitis in this cohort. "
        "Cisplatin may induce hepatitis. "
        "Imatinib inhibits ABL1. "
        "Warfarin interacts with aspirin."
    )
    rec = doc_records(nlp(text), Document("pmid1", text))
    got = {(r.type, r.subject, r.object, r.negated, r.speculative) for r in rec.relations}
    assert ("TREATS", "DRUGBANK:DB00515", "DOID:1324", False, False) in got
    assert ("CAUSES", "DRUGBANK:DB00951", "MESH:D056486", False, False) in got  # subject is the drug even when it comes second
    assert ("CAUSES", "DRUGBANK:DB00951", "MESH:D056486", True, False) in got
    assert ("CAUSES", "DRUGBANK:DB00515", "MESH:D056486", False, True) in got
    assert ("TARGETS", "DRUGBANK:DB00619", "NCBIGene:25", False, False) in got
    assert any(r[0] == "INTERACTS_WITH" for r in got)
    for r in rec.relations:
        ev = r.evidence
        assert rec.text[ev.sentence_start : ev.sentence_end] == ev.sentence
        assert rec.text[ev.subject_start : ev.subject_end] == r.subject_text
        assert ev.extractor == "medkg.relations" and ev.extractor_version
        assert 0.0 < r.score <= 1.0
        assert r.asserted == (not r.negated and not r.speculative)


def test_filter_ents_and_write_ents_match_spacy_filter_spans_and_the_ents_setter() -> None:
    """The tuple entity layer leaves a doc exactly as ``doc.ents = filter_spans(spans)`` does."""
    from spacy.attrs import ENT_IOB, ENT_KB_ID, ENT_TYPE
    from spacy.tokens import Span
    from spacy.util import filter_spans

    nlp = spacy.blank("en")
    rng = random.Random(0)
    words = "a b c d e f g h i j k l m n o p q r s t".split()
    for _ in range(300):
        n = rng.randint(1, 20)
        cands = []
        for _ in range(rng.randint(0, 12)):
            a = rng.randrange(n)
            b = min(n, a + rng.randint(1, 4))
            cands.append((a, b, rng.choice(["Drug", "Disease", "Gene"]), rng.choice(["", "MESH:D1", "DOID:2"])))
        ref = nlp.make_doc(" ".join(words[:n]))
        ref.ents = filter_spans([Span(ref, a, b, label=lab, kb_id=kb) for a, b, lab, kb in cands])
        doc = nlp.make_doc(" ".join(words[:n]))
        kept = filter_ents(cands)
        assert kept == [(e.start, e.end, e.label_, e.kb_id_) for e in ref.ents]
        write_ents(doc, kept)
        attrs = [ENT_IOB, ENT_TYPE, ENT_KB_ID]
        assert doc.to_array(attrs).tolist() == ref.to_array(attrs).tolist()
        assert fast_ents(doc) == kept


@pytest.fixture(scope="module")
def full_nlp() -> spacy.Language:
    return load_pipeline()


def test_shipped_model_is_versioned_and_finds_unseen_entities(full_nlp: spacy.Language) -> None:
    path = shipped_model("ner")
    assert path is not None
    import json

    meta = json.loads((path / "meta.json").read_text())
    assert meta["version"] and meta["medkg"]["train_data"] and "performance" in meta
    assert sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) < 40 * 2**20
    # a sentence written for this test; the drug name is not in any vocabulary
    text = "Severe rhabdomyolysis developed after treatment with zorvastatinib in two patients with chronic kidney disease."
    rec = extract_text(full_nlp, text)
    labels = {(m.text, m.label) for m in rec.mentions}
    assert ("rhabdomyolysis", "Disease") in labels
    assert any(m.label == "Drug" and "zorvastatinib" in m.text for m in rec.mentions)
    assert all(text[m.start : m.end] == m.text for m in rec.mentions)
    assert any(m.id is None for m in rec.mentions)  # the unknown drug stays unlinked, not dropped


def test_worker_processes_give_identical_output(nlp: spacy.Language) -> None:
    from ingest.text.pipeline import extract_documents

    texts = [
        "Cisplatin is effective in the treatment of lung cancer.",
        "Isoniazid did not cause hepatitis. Imatinib inhibits ABL1.",
        "Warfarin interacts with aspirin.",
    ] * 3
    docs = [Document(f"d{i}", t, title=t.split(".")[0] if i % 2 else None) for i, t in enumerate(texts)]
    serial = [d.to_json() for d in extract_documents(nlp, [Document(d.id, d.text, title=d.title) for d in docs])]
    forked = [d.to_json() for d in extract_documents(nlp, docs, n_process=2, batch_size=2)]
    assert serial == forked and [d["doc_id"] for d in forked] == [f"d{i}" for i in range(9)]


def test_entity_cache_is_used_only_when_no_other_component_follows_and_changes_nothing() -> None:
    from ingest.text.pipeline import _enable_entity_cache, extract_documents

    nlp = load_pipeline(ner=False, gene_ner=False)
    readers = ["span_repair", "abbreviations", "linker", "relations"]
    assert nlp.medkg_cached_ents and all(nlp.get_pipe(n).cached_ents for n in readers)
    text = ("Non-small cell lung cancer (NSCLC) was treated with cisplatin. Cisplatin-induced nephrotoxicity "
            "and hepatitis were seen in NSCLC patients; aspirin did not cause bleeding. Warfarin interacts with aspirin.")
    docs = [Document(f"d{i}", text) for i in range(3)]
    cached = [d.to_json() for d in extract_documents(nlp, [Document(d.id, d.text) for d in docs])]
    assert cached[0]["mentions"] and cached[0]["relations"]
    for name in readers:
        nlp.get_pipe(name).cached_ents = False
    nlp.medkg_cached_ents = False
    assert [d.to_json() for d in extract_documents(nlp, docs)] == cached
    # a foreign component after the medkg ones could change doc.ents behind the cache: no cache
    nlp.add_pipe("entity_ruler", name="late_ruler")
    _enable_entity_cache(nlp)
    assert not nlp.medkg_cached_ents and not any(nlp.get_pipe(n).cached_ents for n in readers)


def test_pipeline_computes_the_lexical_attributes_its_models_read_exactly_as_spacy_does() -> None:
    from ingest.text.pipeline import USED_LEXICAL_ATTRIBUTES

    nlp = load_pipeline(ner=False, gene_ner=False)
    assert set(nlp.vocab.lex_attr_getters) == USED_LEXICAL_ATTRIBUTES
    ref = spacy.blank("en")
    for w in ["Qzcisplatin", "zqwxyz-9", "12mgq", "\u2019S", "\n\n", "TNF-\u03b1q", "Parkinsonq's", "\u00a0", "IL-2Rq"]:
        a, b = nlp.vocab[w], ref.vocab[w]
        assert (a.lower_, a.norm_, a.prefix_, a.suffix_, a.shape_, a.is_space) == (
            b.lower_, b.norm_, b.prefix_, b.suffix_, b.shape_, b.is_space), w


def test_memory_zones_after_the_warm_up_free_new_strings_and_change_no_output(
    nlp: spacy.Language, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.text import pipeline as P

    texts = [f"Cisplatin (CDDP) with qzv{i}xk treats lung cancer; CDDP did not cause hepatitis in wkr{i}pt mice." for i in range(48)]
    docs = [Document(f"d{i}", t) for i, t in enumerate(texts)]
    monkeypatch.setattr(nlp, "medkg_docs_seen", 0, raising=False)
    monkeypatch.setattr(P, "WARM_UP_DOCS", 8)  # the first batch of 8 builds the vocabulary, the other 5 run in zones
    zoned = [d.to_json() for d in P.extract_documents(nlp, [Document(d.id, d.text) for d in docs], batch_size=8)]
    # every document brings two new words: with zones only the warm-up batch's stay
    assert {"qzv7xk", "wkr7pt"} <= set(nlp.vocab.strings)
    assert not {f"qzv{i}xk" for i in range(8, 48)} & set(nlp.vocab.strings)
    monkeypatch.setattr(P, "WARM_UP_DOCS", 10**9)
    plain = [d.to_json() for d in P.extract_documents(nlp, docs, batch_size=8)]
    assert {f"qzv{i}xk" for i in range(48)} <= set(nlp.vocab.strings)  # without zones all stay
    assert zoned == plain and any(d["relations"] for d in plain)
    # forked workers go on from the parent's count: here every worker batch runs in a zone
    monkeypatch.setattr(P, "WARM_UP_DOCS", 0)
    forked = [d.to_json() for d in P.extract_documents(nlp, [Document(d.id, d.text) for d in docs], n_process=2, batch_size=8)]
    assert forked == plain
    # inside the caller's own zone no zone is nested (spaCy forbids it)
    with nlp.memory_zone():
        inside = [d.to_json() for d in P.extract_documents(nlp, [Document(d.id, d.text) for d in docs], batch_size=8)]
        assert nlp.vocab.in_memory_zone  # a nested zone's exit would have ended the caller's
    assert inside == plain


def test_process_wide_word_caches_stay_bounded_on_endless_new_words_and_change_no_output(
    nlp: spacy.Language, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.text.components import cache as C
    from ingest.text import pipeline as P
    from ingest.text import tokenizer as T

    texts = [f"Cisplatin (CDDP) with qzv{i}xk and wkr{i}pt treats lung cancer; CDDP did not cause hepatitis "
             f"in mice.\n\nAspirin zq{i}a{i} was given." for i in range(120)]
    monkeypatch.setattr(P, "WARM_UP_DOCS", 10**9)  # no memory zones: only the caps bound the caches
    plain = [d.to_json() for d in P.extract_documents(nlp, [Document(f"d{i}", t) for i, t in enumerate(texts)])]
    limit = 40
    monkeypatch.setattr(C, "CACHE_LIMIT", limit)
    dictionary = next(p for _, p in nlp.pipeline if isinstance(p, DictionaryRecognizer))
    caches = {"cache._TEXT_CACHE": C._TEXT_CACHE, "cache._LOWER_CACHE": C._LOWER_CACHE,
              "dictionary._norm_cache": dictionary._norm_cache}
    # the sentence splitter keeps no per-word state (it once kept a blank-line flag for every word)
    assert not [k for k, v in vars(T).items() if isinstance(v, dict) and k.startswith("_") and k.isupper()]
    per_doc = max(len(nlp.make_doc(t)) for t in texts)
    peak = dict.fromkeys(caches, 0)
    capped = []
    for d in P.extract_documents(nlp, [Document(f"d{i}", t) for i, t in enumerate(texts)], batch_size=1):
        capped.append(d.to_json())
        for name, cache in caches.items():
            peak[name] = max(peak[name], len(cache))
    # each cache is emptied once past the limit, so it never holds more than one document's words beyond it
    assert all(0 < n <= limit + per_doc for n in peak.values()), peak
    assert capped == plain  # emptying a cache changes no output


def test_vocabulary_pruning_blocks_names_annotated_text_disagrees_with(tmp_path: Path) -> None:
    from ingest.text.build_vocabulary import name_precision, prune

    vocab = build_vocabulary([
        NodeRecord("Disease", "MESH:D1", "sudden death", ("SD",)),
        NodeRecord("Disease", "MESH:D2", "hepatitis", ("acute hepatitis",)),
        NodeRecord("Drug", "MESH:C1", "cisplatin"),
    ])
    # PubTator: "SD" here means Sprague-Dawley (never gold), cisplatin is always gold,
    # "acute hepatitis" is annotated as "hepatitis" only
    title = "SD rats given cisplatin"
    abstract = "Male SD rats. SD rats got cisplatin and developed acute hepatitis; SD again."
    text = f"{title} {abstract}"
    gold = [(m.start(), m.end(), "Chemical") for m in re.finditer("cisplatin", text)]
    gold.append((text.index("hepatitis"), text.index("hepatitis") + 9, "Disease"))
    lines = [f"1|t|{title}", f"1|a|{abstract}"] + [f"1\t{s}\t{e}\t{text[s:e]}\t{lab}\tX" for s, e, lab in gold]
    corpus = tmp_path / "c.PubTator.txt"
    corpus.write_text("\n".join(lines) + "\n\n")
    stats = name_precision(vocab, [corpus])
    assert stats[("Disease", True, ("SD",))] == [4, 0]
    assert stats[("Drug", False, ("cisplatin",))] == [2, 2]
    assert stats[("Disease", False, ("acute", "hepatitis"))] == [1, 0]
    pruned, dropped = prune(vocab, stats, min_matches=3, min_precision=0.3)
    assert [k for k, _, _ in dropped] == [("Disease", True, ("SD",))]  # "acute hepatitis": too few matches to judge
    assert pruned.lookup("SD") is None and pruned.lookup("sudden death")[0].id == "MESH:D1"
    assert vocab.lookup("SD")[0].id == "MESH:D1"  # the original is untouched
    pruned.save(tmp_path / "v.tsv.gz")
    again = Vocabulary.load(tmp_path / "v.tsv.gz")
    assert again.blocked == pruned.blocked and again.lookup("SD") is None
    (tmp_path / "bad.tsv").write_text("#blocked\tDisease\tmaybe\tSD\n")
    with pytest.raises(IngestError, match="expected '#blocked"):
        Vocabulary.load(tmp_path / "bad.tsv")


def test_side_effect_terms_become_disease_names_without_shadowing_known_names(tmp_path: Path) -> None:
    from ingest.text.vocabulary import build_default_vocabulary

    nodes = tmp_path / "nodes.tsv"
    nodes.write_text(
        "id\tname\tkind\n"
        "Disease::DOID:2841\tasthma\tDisease\n"
        "Side Effect::C0014742\tErythema multiforme\tSide Effect\n"
        "Side Effect::C0004096\tAsthma\tSide Effect\n"
        "Compound::DB00945\tAspirin\tCompound\n"
    )
    plain = build_default_vocabulary(nodes, [], "t")
    assert plain.lookup("erythema multiforme") is None
    v = build_default_vocabulary(nodes, [], "t", side_effects=True)
    entry, _ = v.lookup("erythema multiforme")
    assert (entry.id, entry.label) == ("UMLS:C0014742", "Disease")
    assert v.lookup("asthma")[0].id == "DOID:2841"  # the graph's Disease keeps its name


def test_symptom_names_become_disease_names_in_running_text_order_too(tmp_path: Path) -> None:
    from ingest.text.vocabulary import build_default_vocabulary

    nodes = tmp_path / "nodes.tsv"
    nodes.write_text(
        "id\tname\tkind\n"
        "Disease::DOID:2841\tasthma\tDisease\n"
        "Symptom::D003371\tCough\tSymptom\n"
        "Symptom::D000006\tAbdomen, Acute\tSymptom\n"
        "Symptom::D001249\tAsthma\tSymptom\n"
    )
    assert build_default_vocabulary(nodes, [], "t").lookup("cough") is None
    v = build_default_vocabulary(nodes, [], "t", symptoms=True)
    assert (v.lookup("cough")[0].id, v.lookup("cough")[0].label) == ("MESH:D003371", "Disease")
    assert v.lookup("acute abdomen")[0].id == v.lookup("abdomen, acute")[0].id == "MESH:D000006"
    assert v.lookup("asthma")[0].id == "DOID:2841"  # a name the graph already has keeps its entity


def test_the_accurate_pipeline_decides_interactions_with_the_neural_model(full_nlp: spacy.Language) -> None:
    from graph_engine.errors import ModelError
    from ingest.text.components.pair_cnn import PairCnnModel

    rel = full_nlp.get_pipe("relations")
    assert isinstance(rel.neural, PairCnnModel) and 0.0 < rel.neural.threshold < 1.0
    # the fast path keeps the linear model; asking for the neural model without the NER is an error
    assert load_pipeline(ner=False, gene_ner=False).get_pipe("relations").neural is None
    with pytest.raises(ModelError, match="word vectors"):
        load_pipeline(ner=False, gene_ner=False, neural_relations=True)
    assert load_pipeline(neural_relations=False).get_pipe("relations").neural is None


def test_the_accurate_pipeline_mixes_targets_with_the_shipped_companion(full_nlp: spacy.Language, tmp_path, monkeypatch,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    from ingest.text import pipeline as pl
    from ingest.text.components.pair_cnn import PairCnnModel

    rel = full_nlp.get_pipe("relations")
    comp = rel.targets_neural
    assert isinstance(comp, PairCnnModel) and comp.config.directed and 0.0 < comp.config.mix_weight < 1.0
    assert len(comp.networks) == comp.config.members >= 2 and comp.classes == rel.targets.classes
    # the fast path has no companion (no word vectors); the neural choice off keeps the linear model alone
    assert load_pipeline(ner=False, gene_ner=False).get_pipe("relations").targets_neural is None
    assert load_pipeline(neural_relations=False).get_pipe("relations").targets_neural is None
    # next to another linear TARGETS model than the one it was fitted with, the companion is not used
    other = tmp_path / "other.json"
    other.write_text("{}")
    monkeypatch.setattr("ingest.text.components.targets.default_targets_model", lambda: str(other))
    rel.use_neural_targets(None)
    ner = pl.shipped_model("ner")
    assert ner is not None
    with caplog.at_level("WARNING"):
        pl._attach_neural_targets(rel, ner, "auto")
    assert rel.targets_neural is None and "another linear TARGETS model" in caplog.text
    rel.use_neural_targets(comp)


def test_the_shipped_interaction_ensemble_decides_with_its_own_linear_model(full_nlp: spacy.Language, tmp_path, monkeypatch,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    import hashlib

    from graph_engine.errors import ModelError
    from ingest.text import pipeline as pl

    model = full_nlp.get_pipe("relations").neural
    assert model is not None and len(model.networks) == model.config.members >= 2
    assert 0.0 < model.config.mix_weight < 1.0
    assert model.config.meta["linear_sha256"] == hashlib.sha256(pl.shipped_linear_ddi().read_bytes()).hexdigest()
    # a linear model other than the one it was fitted with: not used (auto), refused (asked for)
    other = tmp_path / "other.json"
    other.write_text("{}")
    monkeypatch.setattr(pl, "shipped_linear_ddi", lambda: other)
    with caplog.at_level("WARNING"):
        assert load_pipeline().get_pipe("relations").neural is None
    assert "decides together with the shipped linear INTERACTS_WITH model" in caplog.text
    with pytest.raises(ModelError, match="linear INTERACTS_WITH"):
        load_pipeline(neural_relations=True)
