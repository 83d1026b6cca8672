"""Train the neural companion of the ``TARGETS {action}`` model on ChemProt (an ensemble of pair CNNs).

The linear TARGETS model (:mod:`ingest.text.chemprot_training`) stays; this trains a small ensemble
of the pair CNN of :mod:`ingest.text.components.pair_cnn` on the same pairs, in the directed
encoding (``DRUG1`` marks the chemical, the gene is its head word when the vectors know it), and
**averages its class probabilities with the linear model's**: ``(1 - w) P_linear + w P_cnn``. The
CNN alone is weaker than the linear model on ChemProt (its pair features see the gene's words and
trigger stems the blinded CNN does not), the mixture is better than either (BENCHMARKS.md).

Protocol (as the linear model's): training pairs from the ChemProt **training** split with the gold
mentions and with the shipped pipeline's own mentions; every choice (each member's epoch, the
weight ``w``, the Platt calibration and the threshold of the mixture) on the *select* half of
**development** (``sha256(pmid) % 2 == 0``), on the pipeline's mentions, five-group F1 with the gold
pairs no candidate stands for counted as misses; the *held* half is scored once, at the end.

The artifact records the sha256 of the linear model it was mixed with: the pipeline uses it only
next to that model. Only weights are written, never the corpus.
``python -m ingest.text.chemprot_cnn_training --help``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy

from ingest.text.chemprot import read_chemprot
from ingest.text.chemprot_training import (
    CLASSES, Example, PairRef, ScoredRow, _blank, examples, is_select, pair_scores, pipeline_examples, row_reliability,
    row_scores,
)
from ingest.text.components.pair_cnn import ARTIFACT_VERSION, Encoded, PairCnnConfig, PairCnnModel, calibrate, file_sha256
from ingest.text.components.targets import TARGETS_MODEL_FILE, TargetsModel, mixed_probs
from ingest.text.pair_cnn_training import add_network_arguments, files_fingerprint, fit_calibration, predict, train

#: the shipped ensemble (relative to ``ingest/text/models``)
TARGETS_CNN_FILE = "relations-chemprot-cnn-0.1.0.pt"
#: weights of the CNN tried in the mixture
WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6)


def rows(lin: numpy.ndarray, cnn: numpy.ndarray, w: float, calibration: Sequence[float], labels: Sequence[int]) -> list[ScoredRow]:
    """Scored rows of the mixture with weight ``w`` and calibration ``(a, b)``."""
    p = mixed_probs(lin, cnn, w)
    conf = calibrate(1.0 - p[:, 0], calibration)
    return [(list(map(float, pi)), float(ci), int(y)) for pi, ci, y in zip(p, conf, labels)]


def choose(lin: numpy.ndarray, cnn: numpy.ndarray, labels: Sequence[int], missed: int,
           weights: Sequence[float] = WEIGHTS) -> tuple[float, float, dict[str, Any]]:
    """The weight and raw threshold (0.05-0.80 step 0.01) with the best five-group F1, and the table."""
    tried: dict[str, Any] = {}
    best = (-1.0, 0.5, 0.5)
    for w in weights:
        r = rows(lin, cnn, w, (1.0, 0.0), labels)
        top = max((row_scores(r, t / 100, missed) for t in range(5, 81)), key=lambda s: s["groups"]["f1"])
        tried[str(w)] = top
        if top["groups"]["f1"] > best[0]:
            best = (top["groups"]["f1"], w, top["threshold"])
    return best[1], best[2], tried


def main(argv: list[str] | None = None) -> None:
    import torch

    from ingest.text.pipeline import SHIPPED_MODELS, load_pipeline, models_dir, shipped_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, help="ChemProt training folder")
    ap.add_argument("--dev", required=True, help="ChemProt development folder (cut into select / held halves)")
    ap.add_argument("--linear", default=str(models_dir() / TARGETS_MODEL_FILE), help="the linear TARGETS model to mix with")
    ap.add_argument("--output", default=str(models_dir() / TARGETS_CNN_FILE))
    ap.add_argument("--members", type=int, default=3, help="CNNs in the ensemble (seeds SEED, SEED+1, ...)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    add_network_arguments(ap, encoder="cnn")
    args = ap.parse_args(argv)
    if args.members < 1:
        ap.error("--members must be >= 1")
    torch.set_num_threads(1)
    t0 = time.time()
    vocab = (shipped_model("ner") or models_dir() / SHIPPED_MODELS["ner"]) / "vocab"
    linear = TargetsModel.load(args.linear)
    nlp, full = _blank(), load_pipeline(relation_models="none")
    train_docs, dev_docs = read_chemprot(args.train), read_chemprot(args.dev)
    refs: dict[str, list[PairRef]] = {k: [] for k in ("train", "ptrain", "dev", "pdev")}
    data: dict[str, list[Example]] = {"train": examples(train_docs, nlp, pairs=refs["train"]),
                                      "ptrain": pipeline_examples(train_docs, full, pairs=refs["ptrain"])[0],
                                      "dev": examples(dev_docs, nlp, pairs=refs["dev"])}
    data["pdev"], missed = pipeline_examples(dev_docs, full, pairs=refs["pdev"])
    miss = {"select": sum(v for k, v in missed.items() if is_select(k)), "held": sum(v for k, v in missed.items() if not is_select(k))}

    def config() -> PairCnnConfig:
        return PairCnnConfig(classes=list(CLASSES), directed=True, object_head=True, encoder=args.encoder, filters=args.filters,
                             tune_vectors=args.tune_vectors)

    members = [PairCnnModel.new(config(), vocab, seed=args.seed + m) for m in range(args.members)]
    first = members[0]

    def enc(refs_: list[PairRef]) -> list[Encoded]:
        return [first.encode(texts, ents, c, g, sent) for texts, ents, c, g, sent in refs_]

    x_train = enc(refs["train"] + refs["ptrain"])
    y_train = [e[1] for e in data["train"] + data["ptrain"]]
    sel = [k for k, e in enumerate(data["pdev"]) if is_select(e[2])]
    x_sel, y_sel = enc([refs["pdev"][k] for k in sel]), [data["pdev"][k][1] for k in sel]
    runs = [train(m, x_train, y_train, x_sel, y_sel, epochs=args.epochs, seed=args.seed + k) for k, m in enumerate(members)]
    model = PairCnnModel.ensemble(members, config()) if len(members) > 1 else first
    cfg = model.config
    scored: dict[tuple[str, bool], tuple[list[Example], numpy.ndarray, numpy.ndarray, list[int]]] = {}

    def parts(name: str, want_select: bool) -> tuple[list[Example], numpy.ndarray, numpy.ndarray, list[int]]:
        """One half's examples, the linear and the CNN class probabilities, the gold classes (scored once)."""
        if (name, want_select) not in scored:
            ks = [k for k, e in enumerate(data[name]) if is_select(e[2]) == want_select]
            ex = [data[name][k] for k in ks]
            lin = numpy.asarray([linear.probs(e[0]) for e in ex])
            scored[name, want_select] = ex, lin, predict(model, enc([refs[name][k] for k in ks])), [e[1] for e in ex]
        return scored[name, want_select]

    _, lin_s, cnn_s, y_s = parts("pdev", True)
    w, raw_threshold, tried = choose(lin_s, cnn_s, y_s, miss["select"])
    cfg.mix_weight = w
    cfg.calibration = fit_calibration(1.0 - mixed_probs(lin_s, cnn_s, w)[:, 0], numpy.asarray(y_s))
    model.threshold = cfg.threshold = round(float(calibrate(numpy.asarray([raw_threshold]), cfg.calibration)[0]), 6)
    report: dict[str, Any] = {"mix_weight": w, "raw_threshold": raw_threshold, "threshold": cfg.threshold,
                              "calibration": cfg.calibration, "select_tried": tried}
    for name, part, key in (("pdev", True, "select_end_to_end"), ("pdev", False, "held_end_to_end"),
                            ("dev", True, "select_gold_mentions"), ("dev", False, "held_gold_mentions")):
        ex, lin, cnn, y = parts(name, part)
        m = miss["select" if part else "held"] if name == "pdev" else 0
        mixed = rows(lin, cnn, w, cfg.calibration, y)
        report[key] = {"mixture": row_scores(mixed, cfg.threshold, m), "linear_alone": pair_scores(linear, ex, None, m)}
        if key == "held_end_to_end":
            report["reliability_held_end_to_end"] = row_reliability(mixed)
    cfg.meta = {"type": "TARGETS", "companion_of": Path(args.linear).name, "linear_sha256": file_sha256(args.linear),
                "trained_on": "ChemProt training split: chemical-gene pairs of one sentence, gold mentions and the shipped "
                "pipeline's mentions", "train_sha256": files_fingerprint(sorted(Path(args.train).iterdir())),
                "selection": "each member's epoch, the mixture weight, its Platt calibration and threshold on the "
                "sha256(pmid) % 2 == 0 half of ChemProt development (pipeline mentions)",
                "members": args.members, "seed": args.seed, "epochs": args.epochs, "best_epochs": [r["best_epoch"] for r in runs],
                "history": [r["history"] for r in runs], "version": ARTIFACT_VERSION, "report": report,
                "seconds": round(time.time() - t0, 1)}
    model.save(args.output)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
