"""Train in-domain static word vectors for the NER from *training* text only.

Corpora (licence-clean for shipping a derived model, and never a dev/test set):
BC5CDR training abstracts, NCBI-disease training abstracts, BC2GM training
sentences, and Hetionet node names. Texts are tokenized with the medkg
biomedical tokenizer so the vector keys match the NER's tokens; word2vec
(skip-gram, gensim, one worker and a fixed seed: reproducible) is trained on
them and written as a spaCy pipeline directory whose vocab holds the vectors
(pass it as ``paths.vectors`` to ``medkg ner train``).

Usage::

    python tools/train_ner_vectors.py --shared ../shared/data --out runs/ner_vectors
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def texts(shared: Path):
    from ingest.text.readers import read_documents

    ner = shared / "ner"
    for name in ("BC5CDR_TrainingSet.PubTator.txt", "NCBI_trainset_corpus.txt", "BC2GM_train.iob.tsv"):
        for doc in read_documents(ner / name):
            yield doc.text
    with open(shared / "hetionet" / "hetionet-v1.0-nodes.tsv", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                yield parts[1]


def main() -> None:
    from gensim.models import Word2Vec

    from ingest.text.corpora import blank_pipeline

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default="../shared/data", type=Path)
    ap.add_argument("--out", default="runs/ner_vectors", type=Path)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--min-count", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    nlp = blank_pipeline()
    started = time.time()
    sentences = []
    for text in texts(a.shared):
        sentences.append([t.text for t in nlp.make_doc(text) if not t.is_space])
    words = sum(len(s) for s in sentences)
    print(f"{len(sentences):,} texts, {words:,} tokens ({time.time() - started:.0f} s)")
    model = Word2Vec(sentences, vector_size=a.dim, window=5, min_count=a.min_count, sg=1, negative=10,
                     epochs=a.epochs, seed=a.seed, workers=1)
    kv = model.wv
    print(f"{len(kv.index_to_key):,} vectors of {a.dim} dims ({time.time() - started:.0f} s)")
    # spaCy's StaticVectors look tokens up by ORTH: store each word as is.
    out_nlp = blank_pipeline()
    table = np.asarray(kv.vectors, dtype=np.float32)
    from spacy.vectors import Vectors

    out_nlp.vocab.vectors = Vectors(strings=out_nlp.vocab.strings, data=table, keys=[out_nlp.vocab.strings.add(w) for w in kv.index_to_key])
    a.out.mkdir(parents=True, exist_ok=True)
    out_nlp.to_disk(a.out)
    (a.out / "vectors_info.json").write_text(json.dumps({
        "method": "gensim word2vec skip-gram", "dim": a.dim, "epochs": a.epochs, "min_count": a.min_count,
        "seed": a.seed, "texts": len(sentences), "tokens": words, "keys": len(kv.index_to_key),
        "corpora": ["BC5CDR_TrainingSet", "NCBI_trainset_corpus", "BC2GM_train", "hetionet-v1.0-nodes names"],
    }, indent=2))
    print("wrote", a.out)


if __name__ == "__main__":
    main()
