"""Reliability of the ``TREATS`` confidence (the sentence model's probability, written on the relationship) on the
held-out LabeledIn labels (``sha256(label id) % 100 < 20``, never trained on).

Every same-sentence Drug - Disease pair of the accurate pipeline's mentions in the held-out labels' INDICATIONS
sections (``ingest.text.indication_training.treats_examples``: positive when the disease is an annotated indication)
gets the shipped ``TREATS`` model's probability, computed as the relation step does. Printed per probability
decile: pairs, mean confidence, observed share right; then the expected calibration error. The pairs are those of
drug labels (about 60 % positive), so the table says how the confidence reads on label text, not on abstracts.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/treats_reliability.py --labeledin ../shared/data/relations/labeledin [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))  # the checkout, for benchmarks.cid_reliability

import numpy  # noqa: E402

from benchmarks.cid_reliability import expected_calibration_error, print_table  # noqa: E402
from ingest.text.components.relations import entity_masks, sigmoid  # noqa: E402
from ingest.text.indication_training import held_out, label_doc, read_labeledin, treats_examples  # noqa: E402
from ingest.text.pair_cnn_training import reliability  # noqa: E402
from ingest.text.pipeline import load_pipeline  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labeledin", required=True, help="the LabeledIn folder")
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args(argv)
    nlp = load_pipeline(ner=True)
    ext = nlp.get_pipe("relations")
    docs = [label_doc(nlp, d) for d in read_labeledin(args.labeledin) if held_out(d.id)]
    probs, right = [], []
    for doc, s, o, y in treats_examples(docs):
        ents = [(e.start, e.end, e.label_, e.kb_id_) for e in doc.ents]
        a, b = sorted([(s.start, s.end, s.label_, s.kb_id_), (o.start, o.end, o.label_, o.kb_id_)])
        z = ext._logit("TREATS", [t.lower_ for t in doc], ents, a, b, (s.sent.start, s.sent.end), entity_masks(ents))
        probs.append(sigmoid(z))
        right.append(y)
    p, g = numpy.asarray(probs), numpy.asarray(right)
    rows = reliability(p, g)
    ece = expected_calibration_error(rows)
    print(f"{args.labeledin}: {len(p)} held-out pairs ({int(g.sum())} indications), mean confidence {p.mean():.3f}")
    print_table(rows, "P(TREATS)", "pairs")
    if args.json:
        Path(args.json).write_text(json.dumps({"data": args.labeledin, "rows": rows, "ece": ece}, indent=2))


if __name__ == "__main__":
    main()
