"""Diagnosis models: training seconds per epoch, inference images/s and notes/s.

Image training runs ``--epochs`` epochs of the shipped image configuration
(``models/configs/image-default.toml``) on PneumoniaMNIST ``train_*`` from
shared/data (synthetic 28x28 images of the same count when it is absent);
text training is one full fit of the shipped text configuration on
Symptom2Disease (5-fold out-of-fold calibration + final fit + baseline).
Inference uses the shipped default models. CPU always; CUDA too when present.
Not a test. Usage::

    .venv/bin/python benchmarks/diagnose.py                      # 1 epoch, 2 threads
    .venv/bin/python benchmarks/diagnose.py --epochs 2 --threads 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from models import ImageRecord, TextRecord, load_model, make_config, train  # noqa: E402
from models.datasets import read_images, read_texts  # noqa: E402
from models.image import train_image  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def image_records(path: Path) -> list[ImageRecord]:
    if path.is_file():
        return read_images(path, split="train").records
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(3882, 28, 28)).astype(np.uint8)
    y = rng.random(3882) < 0.9
    return [ImageRecord(str(i), x[i], "pneumonia" if y[i] else "normal") for i in range(len(x))]


def bench_image(records: list[ImageRecord], device: str, epochs: int) -> dict[str, float]:
    cfg = make_config("image", ROOT / "models" / "configs" / "image-default.toml")
    cfg.epochs, cfg.patience, cfg.device = epochs, epochs + 1, device
    res = train_image(records, cfg)
    model = load_model(kind="image", device=device)
    imgs = np.stack([r.image for r in records])
    reps = max(1, 8192 // len(imgs))
    batch = np.concatenate([imgs] * reps)[:8192]
    model.logits_array(batch[:512])  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    model.logits_array(batch)
    if device == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {
        "train_seconds_per_epoch": float(np.mean([h["seconds"] for h in res.history])),
        "train_images": res.split["n_train"],
        "infer_images_per_s": len(batch) / dt,
        "infer_images": len(batch),
    }


def bench_text(path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    if path.is_file():
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            train("text", path, Path(d) / "m", ROOT / "models" / "configs" / "text-default.toml")
            out["train_seconds_full_fit"] = time.perf_counter() - t0
        notes = [r.text for r in read_texts(path).records]
    else:
        notes = [r["text"] for r in map(json.loads, (ROOT / "models" / "data" / "sample_notes.jsonl").read_text().splitlines())]
    model = load_model(kind="text")
    batch = [TextRecord(str(i), notes[i % len(notes)]) for i in range(5000)]
    model.logits(batch[:100])
    t0 = time.perf_counter()
    model.logits(batch)
    dt = time.perf_counter() - t0
    out.update({"infer_notes_per_s": len(batch) / dt, "infer_notes": len(batch)})
    return out


def text_split_study(path: Path, seeds: int) -> dict[str, dict[str, list[float]]]:
    """Hold-out accuracy of the shipped text config vs the TF-IDF + LR baseline over seeded splits.

    ``near_dup_0.8``: identical and near-identical notes on one side (the shipped protocol);
    ``exact_only``: only identical notes (after normalisation) on one side;
    ``random``: a plain stratified random split, so copies of a note can fall on both sides
    (how a split made without de-duplication looks; not "never seen" for those notes).
    """
    from models.text import train_text

    # the refit on all notes would not change the hold-out numbers; skip it
    cfg = make_config("text", ROOT / "models" / "configs" / "text-default.toml", {"refit_all": False})
    records = read_texts(path).records
    labels = sorted({str(r.label) for r in records})
    out: dict[str, dict[str, list[float]]] = {}
    for name, thr in (("near_dup_0.8", 0.8), ("exact_only", 1.01), ("random", None)):
        ours, base = [], []
        for seed in range(seeds):
            cfg.seed, cfg.near_duplicate_threshold = seed, 0.8 if thr is None else thr
            groups = np.arange(len(records)) if thr is None else None
            m = train_text(records, labels, cfg, groups=groups).metrics
            ours.append(m["holdout"]["accuracy"])
            base.append(m["holdout_baseline_tfidf_logreg"]["accuracy"])
        out[name] = {"ours": ours, "baseline": base}
        print(f"text split {name}: ours {np.mean(ours):.4f} +- {np.std(ours):.4f}, "
              f"baseline {np.mean(base):.4f} +- {np.std(base):.4f} over seeds 0..{seeds - 1}", flush=True)
    return out

def text_learning_curve(path: Path, seeds: int, fractions: tuple[float, ...] = (0.5, 0.75, 1.0)) -> dict[str, list[float]]:
    """Hold-out accuracy of the shipped recipe trained on a fraction of the training groups.

    Same strict split as the shipped protocol (near-duplicates on one side, seeds
    0..N-1); for each fraction a seeded subset of the training *groups* is kept.
    Answers whether refitting on every note (``refit_all``) should help.
    """
    from models.datasets import group_split, text_groups
    from models.text import TextModel, _fit_linear

    cfg = make_config("text", ROOT / "models" / "configs" / "text-default.toml", {"refit_all": False})
    records = read_texts(path).records
    labels = sorted({str(r.label) for r in records})
    index = {lb: k for k, lb in enumerate(labels)}
    texts = np.array([r.text for r in records], dtype=object)
    y = np.array([index[str(r.label)] for r in records])
    groups = text_groups(list(texts), cfg.near_duplicate_threshold)
    out: dict[str, list[float]] = {}
    for frac in fractions:
        accs = []
        for seed in range(seeds):
            keep, hold = group_split([labels[k] for k in y], groups, cfg.holdout_fraction, seed)
            kept = np.random.default_rng(100 + seed).permutation(np.unique(groups[keep]))
            chosen = set(kept[: int(round(frac * len(kept)))].tolist())
            tr = np.array([i for i in keep if groups[i] in chosen])
            vecs, coef, icpt = _fit_linear(list(texts[tr]), y[tr], len(labels), cfg)
            pred = TextModel(vecs, coef, icpt, labels, 1.0, cfg).logits_texts(list(texts[hold])).argmax(1)
            accs.append(float((pred == y[hold]).mean()))
        out[f"{frac:.2f}"] = accs
        print(f"text learning curve: {frac:.0%} of the training groups -> hold-out accuracy "
              f"{np.mean(accs):.4f} +- {np.std(accs):.4f} over seeds 0..{seeds - 1}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, default=DATA / "images" / "pneumoniamnist_train_val.npz")
    p.add_argument("--notes", type=Path, default=DATA / "clinical_text" / "symptom2disease_train.csv")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--devices", default="cpu,cuda", help="devices to try (cuda skipped when absent)")
    p.add_argument("--skip-text", action="store_true")
    p.add_argument("--skip-image", action="store_true")
    p.add_argument("--text-seeds", type=int, default=0, help="also compare with the baseline over N seeded splits")
    p.add_argument("--text-learning-curve", type=int, default=0, metavar="SEEDS",
                   help="hold-out accuracy when training on 50/75/100%% of the training groups, over N seeds")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    report: dict[str, object] = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "threads": args.threads,
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "image": {},
    }
    records = image_records(args.images) if not args.skip_image else []
    for dev in args.devices.split(",") if not args.skip_image else []:
        if dev == "cuda" and not torch.cuda.is_available():
            continue
        r = bench_image(records, dev, args.epochs)
        report["image"][dev] = r  # type: ignore[index]
        print(f"image/{dev}: {r['train_seconds_per_epoch']:.1f} s/epoch ({r['train_images']} images), "
              f"inference {r['infer_images_per_s']:.0f} images/s", flush=True)
    if not args.skip_text:
        t = bench_text(args.notes)
        report["text"] = {"cpu": t}
        print(f"text/cpu: full fit {t.get('train_seconds_full_fit', float('nan')):.1f} s, "
              f"inference {t['infer_notes_per_s']:.0f} notes/s", flush=True)
        if args.text_seeds:
            report["text_splits"] = text_split_study(args.notes, args.text_seeds)
        if args.text_learning_curve:
            report["text_learning_curve"] = text_learning_curve(args.notes, args.text_learning_curve)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
