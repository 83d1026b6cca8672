"""The relation step before / after issue 19 item 2 on one NER run over the dev data (BC5CDR dev or the DDI
validation part), scored like ``medkg evaluate extraction``.

Usage: OMP_NUM_THREADS=1 python benchmarks/relation_variants.py cid|ddi full|fast
"""
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from ingest.text import relation_eval as RE  # noqa: E402
from ingest.text.pipeline import doc_records, load_pipeline  # noqa: E402
from ingest.text.records import Document  # noqa: E402

task, mode = sys.argv[1], sys.argv[2]
t0 = time.time()
nlp = load_pipeline(ner=mode == "full", gene_ner="auto" if mode == "full" else False)
if task == "cid":
    units = RE.read_cid(str(_HERE.parent / "../shared/data/ner/BC5CDR_DevelopmentSet.PubTator.txt"))
else:
    units = [RE.read_ddi_file(f) for f in RE.select_ddi(RE.ddi_files(str(_HERE.parent / "../shared/data/ddi_corpus/Train")), "validation")]
rel = nlp.get_pipe("relations")
cached = getattr(nlp, "medkg_cached_ents", False)
with nlp.select_pipes(disable=["relations"]):
    docs = list(nlp.pipe((RE._as_input(nlp, u.doc) for u in units), batch_size=32))
print("ner", round(time.time() - t0), file=sys.stderr)
doc_model, type_model = rel.doc_model, rel.type_model
variants = {"before (linked only, sentence-level CID, no types)": dict(pair_unlinked=False, doc_model=None, type_model=None),
            "+ unlinked pairing": dict(pair_unlinked=True, doc_model=None, type_model=None),
            "+ unlinked + doc-level CID + types": dict(pair_unlinked=True, doc_model=doc_model, type_model=type_model)}
for name, attrs in variants.items():
    for k, v in attrs.items():
        setattr(rel, k, v)
    e2e = []
    for u, doc in zip(units, docs):
        doc = rel(doc)
        sents = RE._sentence_chars(doc)
        rec = doc_records(doc, Document(id=u.doc.id, text=u.doc.text), False)
        e2e.append(RE.Predicted(rec.mentions, rec.relations, sents))
    gold = RE.run_relations_on_gold(nlp, units, progress=False)
    sc = (RE._score_cid if task == "cid" else RE._score_ddi)("dev", units, e2e, gold)
    print("==", name, mode)
    print(sc.table())
    sys.stdout.flush()
