"""Benchmarks of the conditional GAN (issue 25); numbers go to BENCHMARKS.md.

    python -m benchmarks.gan compare  --data FILE.npz [--steps N] [--variants mlp-hinge,mlp-wgan-gp,dcgan-hinge]
    python -m benchmarks.gan augment  --data FILE.npz [--fractions 0.1,0.25] [--seeds 0,1]
    python -m benchmarks.gan speed    [--threads 2]
    python -m benchmarks.gan grid     --data FILE.npz --output docs/real-samples.png

``compare`` trains each variant on ``train_*`` and scores it on ``val_*`` (Fréchet distance on medkg CNN
features, precision / recall, pixel-LR TSTR, near-copies). ``augment`` runs the study pre-registered in
benchmarks/prereg/gan-augmentation.txt. ``speed`` times generation and GAN training steps with
``--threads`` torch threads, as ratios against the shipped CNN's inference in the same process.
Every run uses at most ``--threads`` (default 1) torch threads.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

VARIANTS = {
    "mlp-hinge": {"arch": "mlp", "loss": "hinge"},
    "mlp-hinge-diffaug": {"arch": "mlp", "loss": "hinge", "diffaug": True},
    "mlp-wgan-gp": {"arch": "mlp", "loss": "wgan-gp", "n_critic": 5, "lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0},
    "dcgan-hinge": {"arch": "dcgan", "loss": "hinge", "g_width": 16, "d_width": 16, "diffaug": True},
}


def _default_config(**over: Any) -> Any:
    from models.api import make_config
    from models.artifacts import default_config_path

    return make_config("gan", default_config_path("gan"), {"device": "cpu", **over})


def _records(x: np.ndarray, y: np.ndarray, names: list[str]) -> list[Any]:
    from models.records import ImageRecord

    return [ImageRecord(f"r{i}", x[i], names[int(y[i])]) for i in range(len(x))]


def compare(args: argparse.Namespace) -> None:
    from models import load_model
    from models.gan import train_gan
    from models.gan_eval import evaluate_generator
    from models.synthetic import labelled_arrays

    names = ["normal", "pneumonia"]
    tx, ty, _ = labelled_arrays(args.data, "train", names)
    vx, vy, _ = labelled_arrays(args.data, "val", names)
    cnn = load_model(kind="image", device="cpu")
    rows = []
    for name in args.variants.split(","):
        over = dict(VARIANTS[name])
        if name == "mlp-wgan-gp":  # same wall-clock budget: 5 critic steps per G step
            over["steps"] = max(1, args.steps // 3)
        cfg = _default_config(**{"steps": args.steps, **over})
        res = train_gan(_records(tx, ty, names), cfg)
        ev = evaluate_generator(res.model, vx, vy, tx, ty, cnn, n=6000, seed=0)
        g = ev["generated"]
        row = {"variant": name, "steps": cfg.steps, "train_seconds": round(res.metrics["train_seconds"]),
               "fd": g["frechet_distance"], "precision": g["precision"], "recall": g["recall"],
               "fd_normal": g["per_class"]["normal"]["frechet_distance"],
               "tstr_pixel_lr": ev["tstr_pixel_lr"]["synthetic"]["auroc"],
               "near_copy_share": ev["memorisation"]["near_copy_share"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2) + "\n")


def stratified_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of round(fraction * N) images, stratified by class, numpy default_rng(seed)."""
    rng = np.random.default_rng(seed)
    total = int(round(fraction * len(y)))
    out = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = max(2, int(round(total * len(idx) / len(y))))
        out.append(rng.permutation(idx)[:k])
    return np.sort(np.concatenate(out))


def augment(args: argparse.Namespace) -> None:
    from models.api import make_config
    from models.artifacts import default_config_path
    from models.calibration import calibrated_probabilities
    from models.gan import train_gan
    from models.image import train_image
    from models.metrics import classification_metrics
    from models.synthetic import labelled_arrays

    names = ["normal", "pneumonia"]
    tx, ty, _ = labelled_arrays(args.data, "train", names)
    vx, vy, _ = labelled_arrays(args.data, "val", names)
    out_path = Path(args.output)
    done = json.loads(out_path.read_text()) if out_path.exists() else []

    def cnn_auroc(x: np.ndarray, y: np.ndarray, seed: int) -> float:
        cfg = make_config("image", default_config_path("image"), {"epochs": 8, "patience": 3, "seed": seed})
        res = train_image(_records(x, y, names), cfg)
        probs = calibrated_probabilities(res.model.logits_array(vx), res.model.temperature)
        return float(classification_metrics(probs, vy, names)["auroc"])

    for fraction in [float(f) for f in args.fractions.split(",")]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            if any(r["fraction"] == fraction and r["seed"] == seed for r in done):
                continue
            idx = stratified_subset(ty, fraction, seed)
            sx, sy = tx[idx], ty[idx]
            t0 = time.perf_counter()
            gan = train_gan(_records(sx, sy, names), _default_config(seed=seed)).model
            gx, gy = gan.generate(len(idx), 1000 + seed)
            base = cnn_auroc(sx, sy, seed)
            aug = cnn_auroc(np.concatenate([sx, gx]), np.concatenate([sy, gy]), seed)
            row = {"fraction": fraction, "seed": seed, "n_real": int(len(idx)),
                   "n_real_normal": int((sy == 0).sum()), "n_generated": int(len(gx)),
                   "auroc_base": base, "auroc_augmented": aug, "diff": aug - base,
                   "seconds": round(time.perf_counter() - t0)}
            done.append(row)
            out_path.write_text(json.dumps(done, indent=2) + "\n")
            print(json.dumps(row), flush=True)
    for fraction in sorted({r["fraction"] for r in done}):
        rs = [r for r in done if r["fraction"] == fraction]
        d = np.array([r["diff"] for r in rs])
        print(f"fraction {fraction}: base {np.mean([r['auroc_base'] for r in rs]):.4f} "
              f"augmented {np.mean([r['auroc_augmented'] for r in rs]):.4f} diff {d.mean():+.4f} "
              f"wins {(d > 0).sum()}/{len(d)} rule met: {bool(d.mean() >= 0.005 and (d > 0).all())}")


def speed(args: argparse.Namespace) -> None:
    from models import load_model
    from models.gan import train_gan

    torch.set_num_threads(args.threads)
    gan = load_model(kind="gan", device="cpu")
    cnn = load_model(kind="image", device="cpu")
    gan.generate(2000, 0)
    t0 = time.perf_counter()
    imgs, labels = gan.generate(args.n, 1)
    gen_s = time.perf_counter() - t0
    cnn.logits_array(imgs[:2000])
    t0 = time.perf_counter()
    cnn.logits_array(imgs)
    cnn_s = time.perf_counter() - t0
    names = gan.labels
    per_1000 = float("nan")
    if args.steps > 0:  # --steps 0: generation only
        res = train_gan(_records(imgs[:2000], labels[:2000], names), _default_config(steps=args.steps))
        per_1000 = res.metrics["seconds_per_1000_steps"]
    shipped = _default_config().steps
    print(json.dumps({
        "threads": args.threads, "generate_images_per_s": args.n / gen_s, "cnn_inference_images_per_s": args.n / cnn_s,
        "generate_vs_cnn_inference": cnn_s / gen_s, "train_seconds_per_1000_steps": per_1000,
        "shipped_steps": shipped, "projected_train_minutes": per_1000 * shipped / 1000 / 60,
        "load_average": open("/proc/loadavg").read().split()[:3],
    }, indent=2))


def grid(args: argparse.Namespace) -> None:
    """A PNG grid of real validation images (one row per class), to set beside the generated grid."""
    from models.synthetic import image_grid, labelled_arrays, write_png

    names = ["normal", "pneumonia"]
    x, y, _ = labelled_arrays(args.data, args.split, names)
    order = np.random.default_rng(args.seed).permutation(len(y))
    write_png(args.output, image_grid(x[order], y[order], args.columns, names))
    print(f"wrote {args.output}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--data", required=True)
    c.add_argument("--steps", type=int, default=3000)
    c.add_argument("--variants", default="mlp-hinge,mlp-wgan-gp,dcgan-hinge")
    c.add_argument("--output", default=None)
    a = sub.add_parser("augment")
    a.add_argument("--data", required=True)
    a.add_argument("--fractions", default="0.1,0.25")
    a.add_argument("--seeds", default="0,1")
    a.add_argument("--output", default="runs/gan-augment.json")
    s = sub.add_parser("speed")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--n", type=int, default=20000)
    s.add_argument("--steps", type=int, default=200)
    g = sub.add_parser("grid")
    g.add_argument("--data", required=True)
    g.add_argument("--split", default="val")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--columns", type=int, default=12)
    g.add_argument("--output", required=True)
    for p in (c, a, g):
        p.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    {"compare": compare, "augment": augment, "speed": speed, "grid": grid}[args.cmd](args)


if __name__ == "__main__":
    main()
