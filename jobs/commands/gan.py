"""CLI for the conditional image generator: ``medkg models generate`` and the body of
``medkg models evaluate --kind gan`` (training is ``medkg models train --kind gan``).

Generated files carry ``synthetic: true``; ``medkg enrich diagnose`` on them marks the
Case nodes ``synthetic: true``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from graph_engine.errors import MedkgError


@click.command("generate")
@click.option("--kind", type=click.Choice(["image"]), required=True, help="what to generate (image)")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="generator artifact directory; default: the shipped generator")
@click.option("--n", "n", type=int, required=True, help="number of images")
@click.option("--seed", type=int, required=True, help="seed (same seed, model and n -> same images)")
@click.option("--label", type=click.Choice(["normal", "pneumonia"]), default=None,
              help="generate only this class (default: balanced)")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help=".npz with images (N,28,28) uint8, labels (N,) 0=normal 1=pneumonia, ids, synthetic=True, "
                   "model, version, seed")
@click.option("--grid", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write a PNG grid of the first images (one row per class)")
@click.option("--grid-columns", type=click.IntRange(1, 64), default=12, show_default=True)
def generate_cmd(model_dir: Path | None, kind: str, n: int, seed: int, label: str | None, output: Path,
                 grid: Path | None, grid_columns: int) -> None:
    """Generate labelled synthetic 28x28 chest-X-ray-like images (research use; not patient data)."""
    import numpy as np

    from models import load_model
    from models.synthetic import generate_file, image_grid, write_png

    try:
        model = load_model(model_dir, "gan", device="cpu")
        info = generate_file(model, n, seed, output, label)
        if grid is not None:
            with np.load(output, allow_pickle=False) as npz:
                images, labels = npz["images"], npz["labels"]
            names = model.labels if label is None else [label]
            lab = labels if label is None else np.zeros_like(labels)
            write_png(grid, image_grid(images, lab, grid_columns, names))
    except MedkgError as e:
        raise click.ClickException(str(e)) from e
    counts = ", ".join(f"{k} {v}" for k, v in info["labels"].items() if v)
    click.echo(f"wrote {n} synthetic images ({counts}) -> {output} "
               f"[{model.manifest['name']} {model.manifest['model_version']}, seed {seed}, "
               f"{info['images_per_second']:.0f} images/s]")
    if grid is not None:
        click.echo(f"grid -> {grid}")


def evaluate_gan_cmd(model_dir: Path | None, data: Path, split: str, train_data: Path | None, n: int, seed: int,
                     cnn_epochs: int, report: Path | None, as_json: bool) -> None:
    """``medkg models evaluate --kind gan``: print (and optionally write) the generator's scores."""
    from models import load_model
    from models.synthetic import evaluate_gan

    try:
        model = load_model(model_dir, "gan", device="cpu")
        out = evaluate_gan(model, data, split, train_data, n=n, seed=seed, cnn_epochs=cnn_epochs)
    except MedkgError as e:
        raise click.ClickException(str(e)) from e
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    g, ref, mem = out["generated"], out["reference_real_train_sample"], out["memorisation"]
    click.echo(f"generator {out['model']} {out['model_version']} vs {out['data']}:{out['split']} "
               f"({out['n_real']} real images); features: {out['features']}")
    click.echo(f"  Frechet distance (medkg CNN features, not Inception FID): {g['frechet_distance']:.3f} "
               f"(real train sample: {ref['frechet_distance']:.3f})")
    click.echo(f"  precision / recall (k={g['k']}): {g['precision']:.3f} / {g['recall']:.3f} "
               f"(real train sample: {ref['precision']:.3f} / {ref['recall']:.3f})")
    for name, pc in g["per_class"].items():
        click.echo(f"    {name:<10} FD {pc['frechet_distance']:.3f}  P {pc['precision']:.3f}  R {pc['recall']:.3f}")
    for key, title in (("tstr_pixel_lr", "pixel LR"), ("tstr_cnn", "medkg CNN")):
        if key in out:
            for arm, m in out[key].items():
                rec = " ".join(f"{c}:{v:.3f}" for c, v in m["recall_per_class"].items())
                click.echo(f"  {title} trained on {arm} ({m['n_train']}): AUROC {m['auroc']:.4f}, recall per class {rec}")
    click.echo(f"  memorisation: {100 * mem['near_copy_share']:.2f} % near-copies (RMS < {mem['threshold_rms']}) of "
               f"{mem['n']} generated; real held-out images: {100 * mem['reference_near_copy_share']:.2f} %; "
               f"median NN distance {mem['nn_distance_percentiles']['50']:.4f} "
               f"(real held-out {mem['reference_nn_distance_percentiles']['50']:.4f})")
    if not out["train_data_matches_model"]:
        click.echo("warning: the training file differs from the one this generator was trained on; "
                   "memorisation numbers refer to the given file", err=True)


def register(root: click.Group) -> None:
    """Add ``generate`` to the ``models`` group (registered by jobs.commands.models)."""
    models = root.commands.get("models") if isinstance(root, click.Group) else None
    if not isinstance(models, click.Group):
        raise RuntimeError("jobs.commands.gan must be registered after jobs.commands.models")
    models.add_command(generate_cmd)
