"""The DDI relation step with the linear and the neural INTERACTS_WITH model on one NER run over the DDI
validation part (or BC5CDR dev), scored like ``medkg evaluate extraction``.

Usage: OMP_NUM_THREADS=1 python benchmarks/neural_variants.py [full|fast] [model.pt ...]
"""
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from ingest.text import relation_eval as RE  # noqa: E402
from ingest.text.components.pair_cnn import PairCnnModel  # noqa: E402
from ingest.text.pipeline import NEURAL_DDI_MODEL, doc_records, load_pipeline, models_dir, shipped_model  # noqa: E402
from ingest.text.records import Document  # noqa: E402

mode = sys.argv[1] if len(sys.argv) > 1 else "full"
paths = [Path(p) for p in sys.argv[2:]] or [models_dir() / NEURAL_DDI_MODEL]
t0 = time.time()
nlp = load_pipeline(ner=mode == "full", gene_ner="auto" if mode == "full" else False, neural_relations=False)
ner_dir = shipped_model("ner")
assert ner_dir is not None
models = [PairCnnModel.load(p, ner_dir / "vocab") for p in paths]
units = [RE.read_ddi_file(f) for f in RE.select_ddi(RE.ddi_files(str(_HERE.parent / "../shared/data/ddi_corpus/Train")), "validation")]
rel = nlp.get_pipe("relations")
with nlp.select_pipes(disable=["relations"]):
    docs = list(nlp.pipe((RE._as_input(nlp, u.doc) for u in units), batch_size=32))
print("ner", round(time.time() - t0), file=sys.stderr)
variants = {"linear (shipped before)": (None, True, None), "neural, linear type model": (models[0], False, None)}
for p, m in zip(paths, models):
    variants[f"neural {p.name}, its types"] = (m, True, None)
for name, (m, types, dist) in variants.items():
    rel.use_neural(m, types, dist)
    e2e = []
    t1 = time.process_time()
    for u, doc in zip(units, docs):
        doc = rel(doc)
        sents = RE._sentence_chars(doc)
        rec = doc_records(doc, Document(id=u.doc.id, text=u.doc.text), False)
        e2e.append(RE.Predicted(rec.mentions, rec.relations, sents))
    cpu = time.process_time() - t1
    gold = RE.run_relations_on_gold(nlp, units, progress=False)
    sc = RE._score_ddi("validation", units, e2e, gold)
    print("==", name, mode, f"relation step {cpu:.2f} CPU-s on {len(units)} documents")
    print(sc.table())
    sys.stdout.flush()
