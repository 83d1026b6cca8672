"""Train and evaluate the sentence-level relation classifiers.

Two binary logistic-regression models over :func:`ingest.text.components.relations.pair_features`:

* ``CAUSES`` (Drug -> Disease) from the BC5CDR chemical-induced-disease (CID)
  relations: a Chemical/Disease pair in one sentence is positive when the
  document lists the pair (by MeSH id) as CID. Document-level relations stated
  across sentences are out of reach of a sentence-level extractor and are not
  counted.
* ``INTERACTS_WITH`` (Drug -- Drug) from the DDI 2013 corpus (any DDI type is
  positive), split 80/20 by document for a held-out estimate.

Only the learned weights are written (a JSON of feature -> weight), never the
corpora. Run ``python -m ingest.text.relation_training --help``.
"""

from __future__ import annotations

import argparse
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterable, Iterator

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import filter_spans

from graph_engine.errors import IngestError
from ingest.text.components.relations import EXTRACTOR_VERSION, LinearModel, pair_features
from ingest.text.corpora import blank_pipeline
from ingest.text.readers import ReadStats, read_documents
from ingest.text.relation_eval import ddi_is_validation as _held_out  # the committed DDI split's rule

Example = tuple[list[str], int]


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


def _pairs(doc: Doc, is_positive, labels: tuple[str, str]) -> Iterator[Example]:
    ents = [e for e in doc.ents if e.kb_id_]
    for i, a in enumerate(ents):
        for b in ents[i + 1 :]:
            if a.sent.start != b.sent.start or a.kb_id_ == b.kb_id_:
                continue
            if {a.label_, b.label_} != set(labels) and not (labels[0] == labels[1] == a.label_ == b.label_):
                continue
            subj, obj = (a, b) if a.label_ == labels[0] else (b, a)
            yield pair_features(doc, a, b), int(bool(is_positive(subj, obj)))


def ddi_files(root: str | Path) -> list[Path]:
    return sorted(Path(root).rglob("*.xml"))


def ddi_examples(files: Iterable[Path], nlp: Language | None = None) -> Iterator[Example]:
    """Drug pairs of DDI-corpus sentences; positive when ``ddi="true"``."""
    nlp = nlp or _blank()
    for f in files:
        try:
            root = ET.parse(f).getroot()
        except ET.ParseError as err:
            raise IngestError(f"broken DDI XML: {err}", str(f)) from err
        for sent in root.iter("sentence"):
            text = sent.get("text") or ""
            doc = nlp.make_doc(text)
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
                yield pair_features(doc, a, b), int(p.get("ddi") == "true")


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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bc5cdr-train", required=True)
    ap.add_argument("--bc5cdr-dev", required=True)
    ap.add_argument("--ddi", required=True, help="DDI corpus Train/ folder")
    ap.add_argument("--output", required=True, help="folder for relations-cid-*.json / relations-ddi-*.json")
    ap.add_argument("--c", type=float, default=0.5)
    args = ap.parse_args(argv)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    nlp = _blank()
    report: dict[str, Any] = {}
    t0 = time.time()
    train = list(cid_examples(args.bc5cdr_train, nlp))
    dev = list(cid_examples(args.bc5cdr_dev, nlp))
    cid = fit(train, args.c, {"type": "CAUSES", "trained_on": "BC5CDR train (CID, sentence level)", "version": EXTRACTOR_VERSION})
    report["CAUSES"] = {"train_pairs": len(train), "train_pos": sum(y for _, y in train), "dev_pairs": len(dev), "dev_pos": sum(y for _, y in dev), "dev": evaluate(cid, dev)}
    cid.meta["held_out"] = report["CAUSES"]
    cid.save(out / f"relations-cid-{EXTRACTOR_VERSION}.json")
    files = ddi_files(args.ddi)
    tr = [f for f in files if not _held_out(f.name)]
    te = [f for f in files if _held_out(f.name)]
    dtrain = list(ddi_examples(tr, nlp))
    dtest = list(ddi_examples(te, nlp))
    ddi = fit(dtrain, args.c, {"type": "INTERACTS_WITH", "trained_on": "DDI 2013 train, 80% of documents", "version": EXTRACTOR_VERSION})
    report["INTERACTS_WITH"] = {"train_docs": len(tr), "test_docs": len(te), "train_pairs": len(dtrain), "train_pos": sum(y for _, y in dtrain), "test_pairs": len(dtest), "test_pos": sum(y for _, y in dtest), "held_out": evaluate(ddi, dtest)}
    ddi.meta["held_out"] = report["INTERACTS_WITH"]
    ddi.save(out / f"relations-ddi-{EXTRACTOR_VERSION}.json")
    report["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
