"""Train the neural ``INTERACTS_WITH`` pair model (:mod:`ingest.text.components.pair_cnn`) on DDI 2013.

Training data: the *train* part of the committed document-level split of the DDI 2013
``Train/`` folder (``ingest/text/data/ddi_train_split.tsv``); every choice (the epoch, the
threshold) is made on its *validation* part, which ``medkg evaluate extraction --data
.../ddi_corpus/Train`` then scores end to end. Pairs of the same name (case-insensitive) are
left out of training and never predicted (the DDI literature's negative-instance filter).

Everything random is seeded; the run uses one thread. Only weights are written, never the
corpus. Run ``python -m ingest.text.pair_cnn_training --help``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy

from graph_engine.errors import IngestError
from ingest.text.components.cache import EntTuple
from ingest.text.components.pair_cnn import (
    ARCHITECTURE, ARTIFACT_VERSION, ENCODERS, Encoded, PairCnnConfig, PairCnnModel, batch_arrays, calibrate, file_sha256, mixed_relation, same_name,
)
from ingest.text.relation_eval import ddi_is_validation
from ingest.text.relation_training import DDI_CLASSES as _LINEAR_DDI_CLASSES
from ingest.text.relation_training import ddi_sentences

#: classes of the DDI model: no interaction, then the four DDI 2013 types
DDI_CLASSES = list(_LINEAR_DDI_CLASSES)

#: one labelled pair: token texts of its sentence, the sentence's mentions, the ordered pair, the sentence span, class index
Instance = tuple[list[str], list[EntTuple], EntTuple, EntTuple, tuple[int, int], int]


def ddi_instances(files: Iterable[Path], nlp: Any = None) -> list[Instance]:
    """The drug pairs of the DDI XML ``files`` (one sentence each), labelled by class index in
    :data:`DDI_CLASSES`; overlapping mentions keep the longest (first part of a discontinuous one),
    pairs of one name are dropped.

    Raises:
        IngestError: broken XML, or a pair with an unknown type (naming the file and pair).
    """
    from spacy.util import filter_spans

    out: list[Instance] = []
    for f, sent, doc, spans in ddi_sentences(files, nlp):
        kept = {sp.kb_id_: sp for sp in filter_spans(list(spans.values()))}
        ents = sorted((sp.start, sp.end, "Drug", sp.kb_id_) for sp in kept.values())
        texts = [t.text for t in doc]
        for p in sent.iter("pair"):
            e1, e2 = p.get("e1"), p.get("e2")
            if e1 not in kept or e2 not in kept:
                continue
            a, b = sorted(((kept[e1].start, kept[e1].end, "Drug", e1), (kept[e2].start, kept[e2].end, "Drug", e2)))
            if a[1] > b[0] or same_name(texts, a, b):
                continue
            label = 0
            if p.get("ddi") == "true":
                kind = (p.get("type") or "int").lower()
                if kind not in DDI_CLASSES[1:]:
                    raise IngestError(f"<pair id={p.get('id')!r}> has type {p.get('type')!r}, expected one of "
                                      f"{', '.join(DDI_CLASSES[1:])}", str(f))
                label = DDI_CLASSES.index(kind)
            out.append((texts, ents, a, b, (0, len(doc)), label))
    return out


def pipeline_instances(files: Sequence[Path], nlp: Any, max_distance: int = 40) -> list[Instance]:
    """Drug-Drug pairs of the *pipeline's own* mentions on the DDI documents ``files`` (what the model
    meets end to end), labelled as ``medkg evaluate extraction`` scores them: a pair is of a type when
    its mentions overlap the two gold entities of a gold pair of that type in one gold sentence; a
    mention overlapping no gold entity makes a negative. Pairs as the relation step forms them:
    one sentence, different pairing keys, not one name, at most ``max_distance`` tokens apart."""
    from ingest.text.components.cache import char_offsets, fast_ents, sentence_bounds, token_lowers, token_texts
    from ingest.text.components.relations import pairing_keys
    from ingest.text.relation_eval import _as_input, _ddi_keys, read_ddi_file

    units = [read_ddi_file(f) for f in files]
    out: list[Instance] = []
    disabled = [n for n in ("relations",) if n in nlp.pipe_names]
    with nlp.select_pipes(disable=disabled):
        for u, doc in zip(units, nlp.pipe((_as_input(nlp, u.doc) for u in units), batch_size=32)):
            ents = fast_ents(doc)
            drugs = [e for e in ents if e[2] == "Drug"]
            if len(drugs) < 2:
                continue
            texts, keys = token_texts(doc), pairing_keys(drugs, token_lowers(doc))
            idx, length = char_offsets(doc)
            gold = [_ddi_keys(u, idx[e[0]], idx[e[1] - 1] + length[e[1] - 1], k) for e, k in zip(drugs, keys)]
            bounds = sentence_bounds(doc)
            for s0, s1 in bounds:
                members = [k for k, e in enumerate(drugs) if s0 <= e[0] < s1]
                for i, x in enumerate(members):
                    for y in members[i + 1 :]:
                        a, b = drugs[x], drugs[y]
                        if keys[x] == keys[y] or b[0] - a[1] > max_distance or same_name(texts, a, b):
                            continue
                        label = 0
                        (sa, ia), (sb, ib) = gold[x], gold[y]
                        if sa == sb:  # a mention over several gold entities: the first gold pair (by ids) names the type
                            kinds = [u.pair_types.get((sa, frozenset((g1, g2)))) for g1 in sorted(ia) for g2 in sorted(ib) if g1 != g2]
                            kind = next((k for k in kinds if k), None)
                            if kind:
                                label = DDI_CLASSES.index(kind) if kind in DDI_CLASSES else DDI_CLASSES.index("int")
                        out.append((texts, drugs, a, b, (s0, s1), label))
    return out


def files_fingerprint(files: Sequence[Path]) -> str:
    """sha256 over the files' names and contents (which training data a model saw)."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda p: p.name):
        h.update(f.name.encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def detection_scores(p_rel: numpy.ndarray, gold: numpy.ndarray, threshold: float) -> dict[str, float]:
    pred = p_rel >= threshold
    pos = gold > 0
    tp, fp, fn = int((pred & pos).sum()), int((pred & ~pos).sum()), int((~pred & pos).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4), "tp": tp, "fp": fp, "fn": fn}


def best_threshold(p_rel: numpy.ndarray, gold: numpy.ndarray) -> tuple[float, dict[str, float]]:
    """The F1-best threshold in 0.10, 0.12, ..., 0.90 (ties: the lowest)."""
    best = (0.5, {"f1": -1.0})
    for t in [x / 100 for x in range(10, 91, 2)]:
        s = detection_scores(p_rel, gold, t)
        if s["f1"] > best[1]["f1"]:
            best = (t, s)
    return best


def type_scores(probs: numpy.ndarray, gold: numpy.ndarray, threshold: float, classes: Sequence[str],
                p_rel: numpy.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Per type P/R/F1 of detected-and-typed-right pairs (detected: ``p_rel``, by default ``1 - P(none)``,
    at ``threshold``)."""
    detected = (1.0 - probs[:, 0] if p_rel is None else p_rel) >= threshold
    kind = numpy.where(detected, 1 + probs[:, 1:].argmax(axis=1), 0)
    out = {}
    for k, name in enumerate(classes[1:], 1):
        tp, fp, fn = int(((kind == k) & (gold == k)).sum()), int(((kind == k) & (gold != k)).sum()), int(((kind != k) & (gold == k)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        out[name] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4)}
    return out


def reliability(p_rel: numpy.ndarray, gold: numpy.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Reliability table of ``P(relation)``: per probability bin, pairs, mean confidence, observed rate."""
    rows = []
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        m = (p_rel >= lo) & ((p_rel < hi) if k < bins - 1 else (p_rel <= hi))
        n = int(m.sum())
        rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "pairs": n, "mean_confidence": round(float(p_rel[m].mean()), 3) if n else None,
                     "observed": round(float((gold[m] > 0).mean()), 3) if n else None})
    return rows


def fit_calibration(p_rel: numpy.ndarray, gold: numpy.ndarray) -> list[float]:
    """Platt scaling ``(a, b)`` of ``P(relation)`` against the gold labels (maximum likelihood)."""
    from sklearn.linear_model import LogisticRegression

    q = numpy.clip(p_rel, 1e-6, 1 - 1e-6)
    x = numpy.log(q / (1 - q)).reshape(-1, 1)
    y = (gold > 0).astype(int)
    if y.min() == y.max():
        return [1.0, 0.0]
    clf = LogisticRegression(C=1e4, max_iter=1000).fit(x, y)
    return [round(float(clf.coef_[0][0]), 5), round(float(clf.intercept_[0]), 5)]


def cross_fitted(p_rel: numpy.ndarray, gold: numpy.ndarray, groups: numpy.ndarray) -> numpy.ndarray:
    """Calibrated ``p_rel`` where each half of the documents (``groups``: a document number per pair, even /
    odd) is scaled by the calibration fitted on the other half: an honest reliability table."""
    out = numpy.empty_like(p_rel)
    for half in (0, 1):
        m = groups % 2 == half
        out[m] = calibrate(p_rel[m], fit_calibration(p_rel[~m], gold[~m]))
    return out


#: weights of the CNN tried when it decides together with the linear INTERACTS_WITH model (``--mix-linear``)
MIX_WEIGHTS = (1.0, 0.9, 0.8, 0.7)


def linear_relation_probs(linear: Any, instances: Sequence[Instance]) -> numpy.ndarray:
    """The linear pair model's ``P(relation)`` of ``instances`` (as the relation step computes it next to the
    pair CNN: the sentence's Drug mentions masked, lower-cased tokens)."""
    from ingest.text.components.relations import PairScorer, entity_masks

    scorer = PairScorer(linear)
    z = [scorer.logit([w.lower() for w in t], e, a, b, s, entity_masks(e)) for t, e, a, b, s, _ in instances]
    return 1.0 / (1.0 + numpy.exp(-numpy.clip(numpy.asarray(z, dtype=numpy.float64), -30.0, 30.0)))  # as relations.sigmoid


def predict(model: PairCnnModel, encoded: Sequence[Encoded], batch: int = 256) -> numpy.ndarray:
    model.network.eval()
    return numpy.concatenate([model.probs(encoded[k : k + batch]) for k in range(0, len(encoded), batch)]) if encoded else numpy.zeros((0, len(model.classes)))


def train(model: PairCnnModel, train_x: Sequence[Encoded], train_y: Sequence[int], val_x: Sequence[Encoded], val_y: Sequence[int],
          epochs: int = 10, batch: int = 32, lr: float = 1e-3, seed: int = 0, log: Any = print) -> dict[str, Any]:
    """Adam on cross-entropy; after each epoch the validation detection F1 at its best threshold; the
    best epoch's weights and threshold are kept (in ``model``). Returns the training history."""
    import torch

    torch.manual_seed(seed)
    rng = numpy.random.RandomState(seed)
    net = model.network
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    y_all = numpy.asarray(train_y, dtype=numpy.int64)
    val_gold = numpy.asarray(val_y, dtype=numpy.int64)
    history = []
    best: tuple[float, int, float, dict[str, Any]] = (-1.0, -1, 0.5, {})
    for epoch in range(1, epochs + 1):
        net.train()
        t0 = time.process_time()
        order = rng.permutation(len(train_x))
        total = 0.0
        for k in range(0, len(order), batch):
            idx = order[k : k + batch]
            arrays = {n: torch.from_numpy(v) for n, v in batch_arrays([train_x[i] for i in idx]).items()}
            loss = torch.nn.functional.cross_entropy(net(**arrays), torch.from_numpy(y_all[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        probs = predict(model, val_x)
        th, score = best_threshold(1.0 - probs[:, 0], val_gold)
        row = {"epoch": epoch, "loss": round(total / len(order), 4), "threshold": th, "validation": score,
               "cpu_s": round(time.process_time() - t0, 1)}
        history.append(row)
        log(json.dumps(row))
        if score["f1"] > best[0]:
            best = (score["f1"], epoch, th, {k: v.detach().clone() for k, v in net.state_dict().items()})
    net.load_state_dict(best[3])
    net.eval()
    model.threshold = model.config.threshold = best[2]
    return {"history": history, "best_epoch": best[1], "threshold": best[2]}


def add_network_arguments(ap: argparse.ArgumentParser, encoder: str) -> None:
    """The pair network's options shared by the training commands: ``--encoder`` (default ``encoder``),
    ``--filters``, ``--tune-vectors``."""
    ap.add_argument("--encoder", choices=ENCODERS, default=encoder, help=f"sentence encoder of the members (default {encoder})")
    ap.add_argument("--filters", type=int, default=200, help="feature maps of the encoder (bilstm: units in both directions together)")
    ap.add_argument("--tune-vectors", action="store_true", help="learn a correction of the word vectors (stored for the rows that move)")


def main(argv: list[str] | None = None) -> None:
    import torch

    from ingest.text.pipeline import SHIPPED_MODELS, models_dir, shipped_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ddi", required=True, help="DDI corpus Train/ folder")
    ap.add_argument("--output", default=str(models_dir() / "relations-ddi-lstm-0.5.0.pt"))
    ap.add_argument("--vectors", default=None, help="a spaCy vocab folder with the word vectors (default: the shipped NER model's)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    add_network_arguments(ap, encoder="bilstm")
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mix-linear", nargs="?", const="default", default=None, metavar="MODEL",
                    help="decide together with a linear INTERACTS_WITH model (default: the shipped one): P(relation) is "
                    "w P_cnn + (1 - w) P_linear, w chosen among 1.0 / 0.9 / 0.8 / 0.7 on the selection pairs")
    ap.add_argument("--members", type=int, default=1,
                    help="train this many models (seeds SEED, SEED+1, ...) and ship their average (an ensemble)")
    ap.add_argument("--combine", nargs="+", default=None, metavar="MODEL",
                    help="train nothing: average the networks of these artifacts (trained by this command with the same "
                    "architecture options, e.g. in parallel with other seeds), then choose the linear weight, threshold and "
                    "calibration on the selection pairs as after training")
    ap.add_argument("--pipeline-mentions", action="store_true",
                    help="also train on the accurate pipeline's own mentions of the train documents, and choose the epoch "
                    "and threshold on its mentions of the validation documents (the end-to-end setting)")
    args = ap.parse_args(argv)
    if args.members < 1:
        ap.error("--members must be >= 1")
    torch.set_num_threads(1)
    vocab = Path(args.vectors) if args.vectors else (shipped_model("ner") or models_dir() / SHIPPED_MODELS["ner"]) / "vocab"
    files = sorted(Path(args.ddi).rglob("*.xml"))
    if not files:
        raise IngestError(f"no DDI XML files under {args.ddi}")
    tr = [f for f in files if not ddi_is_validation(f.name)]
    va = [f for f in files if ddi_is_validation(f.name)]
    t0 = time.time()
    train_i = ddi_instances(tr)
    val_by_doc = [ddi_instances([f]) for f in va]
    val_i = [x for d in val_by_doc for x in d]
    val_groups = numpy.asarray([k for k, d in enumerate(val_by_doc) for _ in d])
    def new_config() -> PairCnnConfig:
        return PairCnnConfig(classes=list(DDI_CLASSES), filters=args.filters, dropout=args.dropout, tune_vectors=args.tune_vectors,
                             encoder=args.encoder)

    config = new_config()
    model = PairCnnModel.new(config, vocab, seed=args.seed)
    enc = [model.encode(t, e, a, b, s) for t, e, a, b, s, _ in train_i]
    venc = [model.encode(t, e, a, b, s) for t, e, a, b, s, _ in val_i]
    ytr, yva = [i[5] for i in train_i], [i[5] for i in val_i]
    sel_x, sel_y, sel_groups, sel_i = venc, yva, val_groups, val_i
    if args.pipeline_mentions:
        from ingest.text.pipeline import load_pipeline

        nlp = load_pipeline(neural_relations=False)
        ptrain = pipeline_instances(tr, nlp)
        pval_by_doc = [pipeline_instances([f], nlp) for f in va]
        pval = [x for d in pval_by_doc for x in d]
        enc += [model.encode(t, e, a, b, s) for t, e, a, b, s, _ in ptrain]
        ytr += [i[5] for i in ptrain]
        sel_x = [model.encode(t, e, a, b, s) for t, e, a, b, s, _ in pval]
        sel_y = [i[5] for i in pval]
        sel_groups = numpy.asarray([k for k, d in enumerate(pval_by_doc) for _ in d])
        sel_i = pval
        print(json.dumps({"pipeline_train_pairs": len(ptrain), "pipeline_train_pos": sum(1 for i in ptrain if i[5]),
                          "pipeline_validation_pairs": len(pval), "pipeline_validation_pos": sum(1 for i in pval if i[5])}))
    print(json.dumps({"train_pairs": len(enc), "train_pos": sum(1 for y in ytr if y), "validation_pairs": len(venc),
                      "validation_pos": sum(1 for y in yva if y)}))
    runs, members = [], []
    if args.combine:  # members trained elsewhere (e.g. in parallel processes): their networks, as trained
        for path in args.combine:
            part = PairCnnModel.load(path, vocab)
            if not all(getattr(part.config, k) == getattr(config, k) for k in ARCHITECTURE):
                raise IngestError(f"{path} was trained with another architecture than this command's "
                                  f"({', '.join(f'{k}={getattr(config, k)!r}' for k in ARCHITECTURE)})")
            meta, n = part.config.meta, len(part.networks)
            seeds = meta.get("member_seeds") or [meta.get("seed", 0) + j for j in range(n)]
            for k in range(n):
                runs.append({"best_epoch": meta["best_epoch"][k] if n > 1 else meta["best_epoch"],
                             "history": meta["history"][k] if n > 1 else meta["history"], "seed": seeds[k]})
            members.append(part)
    for m in range(0 if args.combine else args.members):  # member m: the same training with seed + m, its own best epoch
        member = model if m == 0 else PairCnnModel.new(new_config(), vocab, seed=args.seed + m)
        runs.append({**train(member, enc, ytr, sel_x, sel_y, epochs=args.epochs, batch=args.batch, lr=args.lr, seed=args.seed + m),
                     "seed": args.seed + m})
        members.append(member)
    if len(members) > 1 or args.combine:  # average the members' class probabilities; threshold chosen again on the average
        model = PairCnnModel.ensemble(members, config)
        th, _ = best_threshold(1.0 - predict(model, sel_x)[:, 0], numpy.asarray(sel_y))
        model.threshold = config.threshold = th
    run = {"seeds": [r["seed"] for r in runs], "best_epoch": runs[0]["best_epoch"] if len(runs) == 1 else [r["best_epoch"] for r in runs],
           "history": runs[0]["history"] if len(runs) == 1 else [r["history"] for r in runs]}
    sel_probs = predict(model, sel_x)
    sel_gold = numpy.asarray(sel_y)
    lin_sel = lin_val = None
    mix: dict[str, Any] = {}
    if args.mix_linear:  # the CNN's weight next to the linear model, threshold again on the mixture
        from ingest.text.components.relations import LinearModel
        from ingest.text.pipeline import shipped_linear_ddi

        lin_path = shipped_linear_ddi() if args.mix_linear == "default" else Path(args.mix_linear)
        linear = LinearModel.load(lin_path)
        lin_sel, lin_val = linear_relation_probs(linear, sel_i), linear_relation_probs(linear, val_i)
        tried = {w: best_threshold(mixed_relation(sel_probs, lin_sel, w), sel_gold) for w in MIX_WEIGHTS}
        w = max(MIX_WEIGHTS, key=lambda v: (tried[v][1]["f1"], v))  # ties: the larger CNN weight
        config.mix_weight = w
        model.threshold = config.threshold = tried[w][0]
        mix = {"linear": lin_path.name, "linear_sha256": file_sha256(lin_path),
               "tried": {str(v): tried[v][1] for v in MIX_WEIGHTS}}
    # Platt scaling on the selection data; the reliability tables are cross-fitted over its documents
    sel_raw = mixed_relation(sel_probs, lin_sel, config.mix_weight)
    config.calibration = fit_calibration(sel_raw, sel_gold)
    raw_threshold = model.threshold
    model.threshold = config.threshold = round(float(calibrate(numpy.asarray([raw_threshold]), config.calibration)[0]), 6)
    probs = predict(model, venc)
    gold = numpy.asarray(yva)
    p_rel = model.relation_probs(probs, lin_val)
    val_raw = mixed_relation(probs, lin_val, config.mix_weight)
    honest = cross_fitted(val_raw, gold, val_groups)
    extra: dict[str, Any] = {}
    if args.pipeline_mentions:
        honest_sel = cross_fitted(sel_raw, sel_gold, sel_groups)
        extra = {"pipeline_mentions": {"pairs": len(sel_x), "detection": detection_scores(model.relation_probs(sel_probs, lin_sel), sel_gold, model.threshold),
                                       "reliability_uncalibrated": reliability(sel_raw, sel_gold),
                                       "reliability_cross_fitted": reliability(honest_sel, sel_gold)}}
    config.meta = {
        "type": "INTERACTS_WITH", "trained_on": "DDI 2013 Train/, the 'train' part of ingest/text/data/ddi_train_split.tsv",
        "train_files": len(tr), "train_sha256": files_fingerprint(tr), "validation_files": len(va),
        "validation_sha256": files_fingerprint(va), "seed": args.seed, "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
        "members": len(model.networks), "member_seeds": run["seeds"], **({"combined": [Path(p).name for p in args.combine]} if args.combine else {}), **({"mix": mix, "linear_sha256": mix["linear_sha256"]} if mix else {}),
        "best_epoch": run["best_epoch"], "history": run["history"], "raw_threshold": raw_threshold, "version": ARTIFACT_VERSION,
        "validation": {"pairs": len(venc), "detection": detection_scores(p_rel, gold, model.threshold),
                       "types": type_scores(probs, gold, raw_threshold, DDI_CLASSES, val_raw),
                       "reliability_uncalibrated": reliability(val_raw, gold),
                       "reliability_cross_fitted": reliability(honest, gold), **extra},
        "pipeline_mentions": bool(args.pipeline_mentions),
        "seconds": round(time.time() - t0, 1),
    }
    model.save(args.output)
    print(json.dumps(config.meta["validation"], indent=1))


if __name__ == "__main__":
    main()
