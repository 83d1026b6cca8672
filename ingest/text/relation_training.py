"""Train and evaluate the relation models.

Two binary logistic-regression models over :func:`ingest.text.components.relations.pair_features`:

* ``CAUSES`` (Drug -> Disease) from the BC5CDR chemical-induced-disease (CID)
  relations: a Chemical/Disease pair in one sentence is positive when the
  document lists the pair (by MeSH id) as CID. Document-level relations stated
  across sentences are out of reach of a sentence-level extractor and are not
  counted.
* ``INTERACTS_WITH`` (Drug -- Drug) from the DDI 2013 corpus (any DDI type is
  positive), split 80/20 by document for a held-out estimate.

and two models on top of them:

* ``INTERACTS_WITH.type``: a multinomial logistic regression over the same pair
  features (no interaction, mechanism, effect, advise, int) on the same DDI
  documents; the binary model decides whether a pair interacts, this one which
  type it is.
* ``CAUSES.doc``: the document-level CID model. Per (chemical, disease) pair of a
  BC5CDR train abstract (gold mentions), the sentence scores of its mention pairs
  are pooled with title / salience / distance features
  (:func:`ingest.text.components.relations.doc_pair_candidates`); the sentence
  scores come from 5-fold cross-fitted sentence models, so the aggregation learns
  from scores like those it meets on unseen text. Its threshold maximises F1 in a
  5-fold cross-validation on train.

Only the learned weights are written (JSON), never the corpora. Run
``python -m ingest.text.relation_training --help``.
"""

from __future__ import annotations

import argparse
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterable, Iterator

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from graph_engine.errors import IngestError
from ingest.text.components.cache import set_ents
from ingest.text.components.relations import (
    DOC_MODEL, EXTRACTOR_VERSION, MODEL_FILES, TYPE_MODEL, LinearModel, RelationExtractor, TypeModel, doc_pair_candidates,
    pair_features,
)
from ingest.text.corpora import blank_pipeline
from ingest.text.readers import ReadStats, read_documents
from ingest.text.relation_eval import ddi_is_validation as _held_out  # the committed DDI split's rule
from ingest.text.relation_eval import read_cid
from ingest.text.tokenizer import TITLE_END_KEY

Example = tuple[list[str], int]
#: classes of the DDI interaction-type model: no interaction, then the four DDI 2013 types
DDI_CLASSES = ("none", "mechanism", "effect", "advise", "int")


def _blank() -> Language:
    nlp = blank_pipeline()
    nlp.add_pipe("medkg_sentences_v1")
    return nlp


def cid_examples(path: str | Path, nlp: Language | None = None) -> Iterator[Example]:
    """Sentence-level Drug/Disease pairs from a BC5CDR PubTator file, labelled by CID."""
    nlp = nlp or _blank()
    for d in read_documents(path, "pubtator", stats=ReadStats()):
        doc = nlp(d.text)
        spans = []
        for m in d.gold_mentions:
            s = doc.char_span(m.start, m.end, label=m.label, kb_id=m.id or "", alignment_mode="expand")
            if s is not None:
                spans.append(s)
        doc.ents = filter_spans(spans)
        positives = {(r.subject, r.object) for r in d.gold_relations}
        yield from _pairs(doc, lambda a, b: (a.kb_id_, b.kb_id_) in positives, ("Drug", "Disease"))


def span_pairs(doc: Doc, labels: tuple[str, str]) -> Iterator[tuple[Span, Span, Span, Span]]:
    """Same-sentence pairs of entities with kb ids that differ, of the two ``labels`` (or both of one label):
    ``(first, second, subject, object)``, first / second in text order, the subject of label ``labels[0]``."""
    ents = [e for e in doc.ents if e.kb_id_]
    for i, a in enumerate(ents):
        for b in ents[i + 1 :]:
            if a.sent.start != b.sent.start or a.kb_id_ == b.kb_id_:
                continue
            if {a.label_, b.label_} != set(labels) and not (labels[0] == labels[1] == a.label_ == b.label_):
                continue
            yield (a, b, a, b) if a.label_ == labels[0] else (a, b, b, a)


def _pairs(doc: Doc, is_positive, labels: tuple[str, str]) -> Iterator[Example]:
    for a, b, subj, obj in span_pairs(doc, labels):
        yield pair_features(doc, a, b), int(bool(is_positive(subj, obj)))


def ddi_files(root: str | Path) -> list[Path]:
    return sorted(Path(root).rglob("*.xml"))


def ddi_sentences(files: Iterable[Path], nlp: Language | None = None) -> Iterator[tuple[Path, ET.Element, Doc, dict[str | None, Span]]]:
    """Each ``<sentence>`` of the DDI XML ``files``: its file, element, tokenized text and its entities as
    ``Drug`` spans by entity id (the first part of a discontinuous one, widened to tokens; entities
    without valid offsets are skipped).

    Raises:
        IngestError: broken XML (naming the file).
    """
    nlp = nlp or _blank()
    for f in files:
        try:
            root = ET.parse(f).getroot()
        except ET.ParseError as err:
            raise IngestError(f"broken DDI XML: {err}", str(f)) from err
        for sent in root.iter("sentence"):
            doc = nlp.make_doc(sent.get("text") or "")
            ents = {}
            for e in sent.iter("entity"):
                first = (e.get("charOffset") or "").split(";")[0]
                try:
                    s, t = (int(x) for x in first.split("-"))
                except ValueError:
                    continue
                span = doc.char_span(s, t + 1, label="Drug", kb_id=e.get("id") or "", alignment_mode="expand")
                if span is not None:
                    ents[e.get("id")] = span
            yield f, sent, doc, ents


def ddi_examples(files: Iterable[Path], nlp: Language | None = None, typed: bool = False) -> Iterator[Example]:
    """Drug pairs of DDI-corpus sentences; positive when ``ddi="true"``.

    ``typed``: the label is the class index in :data:`DDI_CLASSES` (0 = no interaction,
    then mechanism, effect, advise, int) instead of 0 / 1.
    """
    for f, sent, doc, ents in ddi_sentences(files, nlp):
        kept = filter_spans(list(ents.values()))
        doc.ents = kept
        for tok in doc:
            tok.is_sent_start = tok.i == 0
        kept_ids = {s.kb_id_ for s in doc.ents}
        for p in sent.iter("pair"):
            e1, e2 = p.get("e1"), p.get("e2")
            if e1 not in kept_ids or e2 not in kept_ids:
                continue
            a, b = sorted((ents[e1], ents[e2]), key=lambda s: s.start)
            if a.end > b.start:
                continue
            positive = p.get("ddi") == "true"
            if typed:
                kind = (p.get("type") or "int").lower() if positive else "none"
                if kind not in DDI_CLASSES:
                    raise IngestError(f"<pair id={p.get('id')!r}> has type {p.get('type')!r}, expected one of {', '.join(DDI_CLASSES[1:])}", str(f))
                yield pair_features(doc, a, b), DDI_CLASSES.index(kind)
            else:
                yield pair_features(doc, a, b), int(positive)


def fit(examples: list[Example], c: float = 1.0, meta: dict | None = None) -> LinearModel:
    """Logistic regression (scikit-learn, liblinear) -> sparse :class:`LinearModel`."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = DictVectorizer()
    x = vec.fit_transform([{f: 1.0 for f in feats} for feats, _ in examples]).tocsr()
    x.indices = x.indices.astype("int32")  # liblinear refuses 64-bit sparse indices
    x.indptr = x.indptr.astype("int32")
    y = [label for _, label in examples]
    clf = LogisticRegression(C=c, max_iter=2000, solver="liblinear", class_weight="balanced")
    clf.fit(x, y)
    weights = {name: round(float(w), 5) for name, w in zip(vec.get_feature_names_out(), clf.coef_[0]) if abs(w) >= 1e-3}
    return LinearModel(weights, float(clf.intercept_[0]), 0.5, meta)


def _matrix(rows: list[dict[str, float]], vec: Any = None) -> tuple[Any, Any]:
    from sklearn.feature_extraction import DictVectorizer

    if vec is None:
        vec = DictVectorizer()
        x = vec.fit_transform(rows).tocsr()
    else:
        x = vec.transform(rows).tocsr()
    x.indices = x.indices.astype("int32")  # liblinear / lbfgs refuse 64-bit sparse indices
    x.indptr = x.indptr.astype("int32")
    return x, vec


def fit_types(examples: list[Example], c: float = 0.5, meta: dict | None = None, min_weight: float = 0.05) -> TypeModel:
    """Multinomial logistic regression over the pair features (labels: index in :data:`DDI_CLASSES`);
    weights below ``min_weight`` in magnitude are dropped (the shipped file stays small)."""
    from sklearn.linear_model import LogisticRegression

    x, vec = _matrix([{f: 1.0 for f in feats} for feats, _ in examples])
    y = [label for _, label in examples]
    clf = LogisticRegression(C=c, max_iter=3000, solver="lbfgs")
    clf.fit(x, y)
    names = vec.get_feature_names_out()
    models = {}
    for row, k in zip(clf.coef_, clf.classes_):
        weights = {n: round(float(w), 4) for n, w in zip(names, row) if abs(w) >= min_weight}
        models[DDI_CLASSES[int(k)]] = LinearModel(weights, round(float(clf.intercept_[list(clf.classes_).index(k)]), 5))
    return TypeModel([DDI_CLASSES[int(k)] for k in clf.classes_], models, meta)


def evaluate_types(detector: LinearModel, types: TypeModel, examples: list[Example]) -> dict[str, Any]:
    """Pair-level detection (the binary model) and per-type P/R/F1 (detected and typed right)."""
    counts = {k: [0, 0, 0] for k in DDI_CLASSES[1:]}
    for feats, y in examples:
        pred = 0
        if detector.prob(feats) >= detector.threshold:
            pred = max(range(1, len(DDI_CLASSES)), key=lambda k: types.models[DDI_CLASSES[k]].logit(feats))
        for k, name in enumerate(DDI_CLASSES[1:], 1):
            counts[name][0] += pred == k and y == k
            counts[name][1] += pred == k and y != k
            counts[name][2] += pred != k and y == k
    return {name: _prf(*c) for name, c in counts.items()}


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4), "tp": tp, "fp": fp, "fn": fn}


#: a document with entities, its CID id pairs, and (pipeline mentions) the gold ids each pairing key stands for
CidDoc = tuple[Doc, set[tuple[str, str]], dict[str, set[str]] | None]


def cid_docs(path: str | Path, nlp: Language | None = None, pipeline: Language | None = None) -> list[CidDoc]:
    """BC5CDR documents as the pipeline sees them (title marked as its own sentence) with their CID id pairs.

    The entities are the gold Drug / Disease mentions (id: the mention's ids joined by ``|``), or,
    with ``pipeline``, that pipeline's own mentions; each pairing key then stands for the gold ids
    of the gold mentions its mentions overlap (as ``medkg evaluate extraction`` maps them).
    """
    from ingest.text.components.cache import char_offsets, fast_ents
    from ingest.text.components.relations import pairing_keys
    from ingest.text.components.cache import token_lowers
    from ingest.text.relation_eval import _as_input, overlapping

    nlp = nlp or _blank()
    sentences = nlp.get_pipe("medkg_sentences_v1") if "medkg_sentences_v1" in nlp.pipe_names else None
    units = read_cid(path)
    out: list[CidDoc] = []
    if pipeline is not None:
        with pipeline.select_pipes(disable=[n for n in ("relations",) if n in pipeline.pipe_names]):
            for u, doc in zip(units, pipeline.pipe(_as_input(pipeline, u.doc) for u in units)):
                ents = fast_ents(doc)
                keys = pairing_keys(ents, token_lowers(doc))
                idx, length = char_offsets(doc)
                ids: dict[str, set[str]] = {}
                for e, k in zip(ents, keys):
                    s0, s1 = idx[e[0]], idx[e[1] - 1] + length[e[1] - 1]
                    ids.setdefault(k, set()).update(i for m in overlapping(u.mentions, s0, s1, e[2]) for i in m.ids)
                out.append((doc, {(c, d) for _, c, d in u.pairs}, ids))
        return out
    for u in units:
        doc = nlp.make_doc(u.doc.text)
        if u.doc.title and u.doc.text.startswith(u.doc.title) and len(u.doc.text) > len(u.doc.title):
            doc.user_data[TITLE_END_KEY] = len(u.doc.title) + 1
        if sentences is not None:
            doc = sentences(doc)
        gold_ents = []
        for m in u.mentions:
            span = doc.char_span(m.start, m.end, alignment_mode="expand") if m.ids else None
            if span is not None and len(span):
                gold_ents.append((span.start, span.end, m.label, "|".join(m.ids)))
        set_ents(doc, gold_ents)
        out.append((doc, {(c, d) for _, c, d in u.pairs}, None))
    return out


def _gold_ids(key: str, ids: dict[str, set[str]] | None) -> Iterable[str]:
    return ids.get(key, ()) if ids is not None else key.split("|")


def _is_cid(gold: set[tuple[str, str]], chem_key: str, disease_key: str, ids: dict[str, set[str]] | None = None) -> bool:
    return any((c, d) in gold for c in _gold_ids(chem_key, ids) for d in _gold_ids(disease_key, ids))


def cid_sentence_examples(docs: Iterable[CidDoc]) -> Iterator[Example]:
    """Same-sentence Drug/Disease mention pairs of ``docs``, positive when their ids are a CID pair."""
    for doc, gold, ids in docs:
        yield from _pairs(doc, lambda a, b: _is_cid(gold, a.kb_id_, b.kb_id_, ids), ("Drug", "Disease"))


def cid_doc_examples(docs: list[CidDoc], sentence_model: LinearModel) -> tuple[list[tuple[dict[str, float], int]], int]:
    """Document-level candidates of ``docs`` (features, CID or not) under ``sentence_model``, and the
    number of gold pairs no candidate covers (the aggregation's misses before it scores anything)."""
    ext = RelationExtractor({"CAUSES": sentence_model})
    ext.collect_scores = True
    out = []
    missed = 0
    for doc, gold, ids in docs:
        state = ext.sentence_pass(doc, [])
        found: set[tuple[str, str]] = set()
        if state is not None:
            cand, keys, sid, scored = state[:4]
            mentions = [(e, k, sid[e[0]]) for e, k in zip(cand, keys)]
            for ks, ko, feats, _ in doc_pair_candidates(mentions, scored, "Drug", "Disease", sid[-1]):
                y = _is_cid(gold, ks, ko, ids)
                out.append((feats, int(y)))
                if y:
                    found.update((c, d) for c in _gold_ids(ks, ids) for d in _gold_ids(ko, ids) if (c, d) in gold)
        missed += len(gold - found)
    return out, missed


def fit_cid_doc(docs: list[CidDoc], c_sentence: float = 0.5, c: float = 1.0, folds: int = 5, meta: dict | None = None,
                sentence_docs: list[CidDoc] | None = None) -> tuple[LinearModel, dict[str, Any]]:
    """The document-level CID model (see the module docstring), with its cross-validated report.

    ``sentence_docs``: the same documents with gold mentions, to train the cross-fitted sentence
    models on when ``docs`` carry pipeline mentions (default: ``docs``).
    """
    sentence_docs = sentence_docs if sentence_docs is not None else docs
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    examples: list[tuple[dict[str, float], int]] = []
    missed = 0
    for k in range(folds):
        held = [d for i, d in enumerate(docs) if i % folds == k]
        rest = [d for i, d in enumerate(sentence_docs) if i % folds != k]
        sent_model = fit(list(cid_sentence_examples(rest)), c_sentence)
        ex, m = cid_doc_examples(held, sent_model)
        examples.extend(ex)
        missed += m
    x, vec = _matrix([f for f, _ in examples])
    y = [label for _, label in examples]
    clf = LogisticRegression(C=c, max_iter=3000, solver="lbfgs")
    p = cross_val_predict(clf, x, y, cv=folds, method="predict_proba")[:, 1]
    n_gold = sum(y) + missed
    best: tuple[float, float, dict[str, float]] = (0.0, 0.5, {})
    for th in [t / 100 for t in range(10, 91, 2)]:
        tp = sum(1 for pi, yi in zip(p, y) if pi >= th and yi)
        fp = sum(1 for pi, yi in zip(p, y) if pi >= th and not yi)
        score = _prf(tp, fp, n_gold - tp)
        if score["f1"] > best[0]:
            best = (score["f1"], th, score)
    clf.fit(x, y)
    weights = {n: round(float(w), 5) for n, w in zip(vec.get_feature_names_out(), clf.coef_[0])}
    report = {"train_docs": len(docs), "candidates": len(examples), "positive_candidates": sum(y), "gold_pairs_not_candidates": missed,
              "threshold": best[1], "cv_train": best[2]}
    return LinearModel(weights, round(float(clf.intercept_[0]), 5), best[1], {**(meta or {}), "cv": report}), report


def evaluate(model: LinearModel, examples: Iterable[Example]) -> dict[str, float]:
    """Precision, recall, F1 of the positive class at the model's threshold."""
    tp = fp = fn = tn = 0
    for feats, y in examples:
        pred = int(model.prob(feats) >= model.threshold)
        tp += pred and y
        fp += pred and not y
        fn += (not pred) and y
        tn += (not pred) and (not y)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


#: relation models of :data:`MODEL_FILES` that another module trains
OTHER_TRAINERS = {"TREATS": "python -m ingest.text.indication_training", "ASSOCIATES": "python -m ingest.text.indication_training",
                  "TARGETS": "python -m ingest.text.chemprot_training"}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bc5cdr-train", required=True)
    ap.add_argument("--bc5cdr-dev", required=True)
    ap.add_argument("--ddi", required=True, help="DDI corpus Train/ folder")
    ap.add_argument("--output", required=True, help="folder for relations-cid-*.json / relations-ddi-*.json")
    ap.add_argument("--c", type=float, default=0.5)
    ap.add_argument("--doc-c", type=float, default=1.0, help="C of the document-level CID model")
    ap.add_argument("--only", default="all", help="comma-separated models to (re)train: CAUSES, INTERACTS_WITH, "
                    f"{TYPE_MODEL}, {DOC_MODEL} (default all)")
    args = ap.parse_args(argv)
    mine = [k for k in MODEL_FILES if k not in OTHER_TRAINERS]
    only = set(mine) if args.only == "all" else set(args.only.split(","))
    elsewhere = sorted(only & set(OTHER_TRAINERS))
    if elsewhere:
        ap.error(f"--only: {', '.join(elsewhere)} are trained by {', '.join(sorted({OTHER_TRAINERS[k] for k in elsewhere}))}")
    unknown = only - set(mine)
    if unknown:
        ap.error(f"--only: unknown model(s) {sorted(unknown)}; expected {', '.join(mine)}")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    nlp = _blank()
    report: dict[str, Any] = {}
    t0 = time.time()
    files = ddi_files(args.ddi)
    tr = [f for f in files if not _held_out(f.name)]
    te = [f for f in files if _held_out(f.name)]
    # the sentence models first: the type model's report reads the detector trained here
    if "CAUSES" in only:
        train = list(cid_examples(args.bc5cdr_train, nlp))
        dev = list(cid_examples(args.bc5cdr_dev, nlp))
        cid = fit(train, args.c, {"type": "CAUSES", "trained_on": "BC5CDR train (CID, sentence level)", "version": EXTRACTOR_VERSION})
        report["CAUSES"] = {"train_pairs": len(train), "train_pos": sum(y for _, y in train), "dev_pairs": len(dev), "dev_pos": sum(y for _, y in dev), "dev": evaluate(cid, dev)}
        cid.meta["held_out"] = report["CAUSES"]
        cid.save(out / MODEL_FILES["CAUSES"])
    if "INTERACTS_WITH" in only:
        dtrain = list(ddi_examples(tr, nlp))
        dtest = list(ddi_examples(te, nlp))
        ddi = fit(dtrain, args.c, {"type": "INTERACTS_WITH", "trained_on": "DDI 2013 train, 80% of documents", "version": EXTRACTOR_VERSION})
        report["INTERACTS_WITH"] = {"train_docs": len(tr), "test_docs": len(te), "train_pairs": len(dtrain), "train_pos": sum(y for _, y in dtrain), "test_pairs": len(dtest), "test_pos": sum(y for _, y in dtest), "held_out": evaluate(ddi, dtest)}
        ddi.meta["held_out"] = report["INTERACTS_WITH"]
        ddi.save(out / MODEL_FILES["INTERACTS_WITH"])
    if DOC_MODEL in only:
        from ingest.text.pipeline import load_pipeline

        gold_docs = cid_docs(args.bc5cdr_train, nlp)
        # the dictionary pipeline's own mentions (it never saw BC5CDR): entity keys and noise as at run time
        pipe_docs = cid_docs(args.bc5cdr_train, nlp, pipeline=load_pipeline(ner=False, gene_ner=False))
        doc_model, report[DOC_MODEL] = fit_cid_doc(pipe_docs, args.c, args.doc_c, sentence_docs=gold_docs, meta={
            "type": DOC_MODEL, "trained_on": "BC5CDR train: the dictionary pipeline's mentions, labelled by overlap with the gold "
            "mentions; sentence scores from 5-fold cross-fitted sentence models (gold mentions)",
            "sentence_c": args.c, "c": args.doc_c, "version": "0.2.0"})
        doc_model.save(out / MODEL_FILES[DOC_MODEL])
    if TYPE_MODEL in only:
        dtrain_t = list(ddi_examples(tr, nlp, typed=True))
        dtest_t = list(ddi_examples(te, nlp, typed=True))
        types = fit_types(dtrain_t, args.c, {"type": TYPE_MODEL, "trained_on": "DDI 2013 train, the 'train' part of ddi_train_split.tsv",
                                              "c": args.c, "version": "0.2.0"})
        detector_path = out / MODEL_FILES["INTERACTS_WITH"]
        if detector_path.exists():
            report[TYPE_MODEL] = {"train_pairs": len(dtrain_t), "validation_pairs": len(dtest_t),
                                  "validation": evaluate_types(LinearModel.load(detector_path), types, dtest_t)}
            types.meta["held_out"] = report[TYPE_MODEL]
        types.save(out / MODEL_FILES[TYPE_MODEL])
    report["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
