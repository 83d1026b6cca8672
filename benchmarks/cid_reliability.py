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
from typing import Any

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy  # noqa: E402

from ingest.text.components.relations import DOC_MODEL, default_relation_models, load_relation_models  # noqa: E402
from ingest.text.pair_cnn_training import reliability  # noqa: E402
from ingest.text.pipeline import load_pipeline  # noqa: E402
from ingest.text.relation_training import _blank, cid_doc_examples, cid_docs  # noqa: E402


def expected_calibration_error(rows: list[dict[str, Any]]) -> float:
    """Bin-weighted |mean confidence - observed| of a :func:`~ingest.text.pair_cnn_training.reliability` table."""
    n = sum(r["pairs"] for r in rows)
    return round(sum(abs(r["mean_confidence"] - r["observed"]) * r["pairs"] for r in rows if r["pairs"]) / n, 4) if n else 0.0


def print_table(rows: list[dict[str, Any]], what: str, count: str) -> None:
    """Print a :func:`~ingest.text.pair_cnn_training.reliability` table (non-empty bins) and its ECE."""
    print(f"{what:<10} {count:>10} {'confidence':>11} {'observed':>9}")
    for r in rows:
        if r["pairs"]:
            print(f"{r['bin']:<10} {r['pairs']:>10} {r['mean_confidence']:>11.3f} {r['observed']:>9.3f}")
    print(f"expected calibration error {expected_calibration_error(rows)}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="PubTator file with CID lines (BC5CDR development)")
    ap.add_argument("--mentions", choices=["full", "fast", "gold"], default="full")
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args(argv)
    models = load_relation_models(default_relation_models())
    doc_model = models[DOC_MODEL]
    full = args.mentions == "full"  # the pipelines of `medkg evaluate extraction --pipeline full|fast`
    pipeline = None if args.mentions == "gold" else load_pipeline(ner=full, gene_ner="auto" if full else False)
    # the candidates and features of the pipeline's document step, under the shipped CID sentence model
    examples, _ = cid_doc_examples(cid_docs(args.data, _blank(), pipeline=pipeline), models["CAUSES"])
    probs = numpy.asarray([doc_model.prob_values(f) for f, _ in examples])
    right = numpy.asarray([y for _, y in examples])
    rows = reliability(probs, right)
    ece = expected_calibration_error(rows)
    print(f"{args.data}: {len(probs)} candidates ({int(right.sum())} right), mentions={args.mentions}, "
          f"model threshold {doc_model.threshold}")
    print_table(rows, "P(CAUSES)", "candidates")
    if args.json:
        Path(args.json).write_text(json.dumps({"data": args.data, "mentions": args.mentions, "rows": rows, "ece": ece}, indent=2))


if __name__ == "__main__":
    main()
