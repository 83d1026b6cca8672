"""Reliability of the document-level ``CAUSES`` confidence (the one written on the relationship) on a
BC5CDR-style PubTator file the models never saw (BC5CDR development).

Every (chemical, disease) candidate pair of every document gets the shipped document model's probability,
computed as the pipeline does (sentence scores of the shipped CID sentence model pooled per pair, entity
priors, salience; ``doc_pair_candidates``), on the pipeline's own mentions (``full`` / ``fast``) or the gold
mentions (``gold``). A candidate is right when its two entities stand for a gold CID pair (a pipeline
mention stands for the gold mentions its span overlaps, as ``medkg evaluate extraction`` maps them).
Printed per probability decile: candidates, mean confidence, observed share right; then the expected
calibration error (bin-weighted |confidence - observed|). Candidates below the model's threshold are
included (the table is about the probability, not the decision).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/cid_reliability.py --data ../shared/data/ner/BC5CDR_DevelopmentSet.PubTator.txt \
        --mentions full [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from ingest.text.components.relations import DOC_MODEL, RelationExtractor, default_relation_models, doc_pair_candidates, load_relation_models  # noqa: E402
from ingest.text.pipeline import load_pipeline  # noqa: E402
from ingest.text.relation_training import _blank, _is_cid, cid_docs  # noqa: E402


def reliability(probs: list[float], right: list[bool], bins: int = 10) -> tuple[list[dict[str, float]], float]:
    """Per equal-width probability bin: candidates, mean confidence, observed share right; and the ECE."""
    rows = []
    ece = 0.0
    for b in range(bins):
        idx = [i for i, p in enumerate(probs) if min(int(p * bins), bins - 1) == b]
        if not idx:
            continue
        conf = sum(probs[i] for i in idx) / len(idx)
        obs = sum(right[i] for i in idx) / len(idx)
        ece += abs(conf - obs) * len(idx) / len(probs)
        rows.append({"bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "candidates": len(idx), "confidence": round(conf, 3), "observed": round(obs, 3)})
    return rows, round(ece, 4)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="PubTator file with CID lines (BC5CDR development)")
    ap.add_argument("--mentions", choices=["full", "fast", "gold"], default="full")
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args(argv)
    models = load_relation_models(default_relation_models())
    ext = RelationExtractor({"CAUSES": models["CAUSES"]})
    ext.collect_scores = True
    doc_model = models[DOC_MODEL]
    nlp = _blank()
    full = args.mentions == "full"  # the pipelines of `medkg evaluate extraction --pipeline full|fast`
    pipeline = None if args.mentions == "gold" else load_pipeline(ner=full, gene_ner="auto" if full else False)
    probs: list[float] = []
    right: list[bool] = []
    for doc, gold, ids in cid_docs(args.data, nlp, pipeline=pipeline):
        state = ext.sentence_pass(doc, [])
        if state is None:
            continue
        cand, keys, sid, scored, _ = state
        mentions = [(e, k, sid[e[0]]) for e, k in zip(cand, keys)]
        for ks, ko, feats, _ in doc_pair_candidates(mentions, scored, "Drug", "Disease", sid[-1]):
            probs.append(doc_model.prob_values(feats))
            right.append(_is_cid(gold, ks, ko, ids))
    rows, ece = reliability(probs, right)
    print(f"{args.data}: {len(probs)} candidates ({sum(right)} right), mentions={args.mentions}, "
          f"model threshold {doc_model.threshold}")
    print(f"{'P(CAUSES)':<10} {'candidates':>10} {'confidence':>11} {'observed':>9}")
    for r in rows:
        print(f"{r['bin']:<10} {r['candidates']:>10} {r['confidence']:>11.3f} {r['observed']:>9.3f}")
    print(f"expected calibration error {ece}")
    if args.json:
        Path(args.json).write_text(json.dumps({"data": args.data, "mentions": args.mentions, "rows": rows, "ece": ece}, indent=2))


if __name__ == "__main__":
    main()
