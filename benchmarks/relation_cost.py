"""Cost of the relation step on the fast path: the configuration before issue 19 item 2 (linked mentions
only, no document-level CID, no DDI types) vs the shipped one, in one process on the same documents
(interleaved, medians of 12), relative to the whole dictionary pipeline's CPU time.

Usage: OMP_NUM_THREADS=1 python benchmarks/relation_cost.py   (BC5CDR train, first 1,000 abstracts)
"""
import itertools
import sys
import time
from pathlib import Path

# benchmarks/ingest.py would shadow the ``ingest`` package when this file is run as a script
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from ingest.text.pipeline import extract_documents, load_pipeline  # noqa: E402
from ingest.text.readers import ReadStats, read_documents  # noqa: E402

nlp = load_pipeline(ner=False, gene_ner=False)
docs = list(itertools.islice(read_documents(str(_HERE.parent / "../shared/data/ner/BC5CDR_TrainingSet.PubTator.txt"), "pubtator", stats=ReadStats()), 1000))
rel = nlp.get_pipe("relations")
new = dict(pair_unlinked=True, doc_model=rel.doc_model, type_model=rel.type_model)
old = dict(pair_unlinked=False, doc_model=None, type_model=None)
rel.cached_ents = False
with nlp.select_pipes(disable=["relations"]):
    pre = list(nlp.pipe(d.text for d in docs))


def run_rel():
    for d in pre:
        rel(d)
cfgs = {"old": old, "new": new, "types only": dict(old, type_model=new["type_model"]), "doc only": dict(old, doc_model=new["doc_model"])}
res = {k: [] for k in cfgs}
for rep in range(12):
    for name, attrs in (list(cfgs.items()) if rep % 2 == 0 else list(cfgs.items())[::-1]):
        for k, v in attrs.items():
            setattr(rel, k, v)
        t = time.process_time()
        run_rel()
        res[name].append(time.process_time() - t)
tot = []
for k, v in old.items():
    setattr(rel, k, v)
rel.cached_ents = True
for rep in range(3):
    t = time.process_time()
    list(extract_documents(nlp, docs))
    tot.append(time.process_time() - t)
mo, mn, T = sorted(res["old"])[6], sorted(res["new"])[6], min(tot)
print("relation step cpu s (median of 12): old", round(mo, 3), "new", round(mn, 3), "; whole fast pipeline (old config, best of 3)", round(T, 3))
print({k: round(sorted(v)[6], 3) for k, v in res.items()})
print("added cost relative to the whole pipeline:", round((mn - mo) / T, 3))
