"""CLI commands for the models capability.

``medkg models train|predict|evaluate`` and, when the ``enrich`` group exists,
``medkg enrich diagnose``. Each command calls one public function of
:mod:`models` (or :mod:`models.writeback`); errors from medkg become
``click.ClickException`` (exit code 1, message on stderr).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from graph_engine.errors import MedkgError
from jobs.errors import fail
from jobs.groups import subgroup

KIND = click.Choice(["image", "text", "sequence"])
TRAIN_KIND = click.Choice(["image", "text", "sequence", "gan"])
PREDICT_KIND = click.Choice(["image", "text", "toxicity", "sequence"])


def _print_metrics(metrics: dict[str, Any]) -> None:
    for key in ("model", "model_version", "n", "read", "in_training_data", "accuracy", "auroc", "macro_f1", "ece", "nll", "brier"):
        if key in metrics:
            v = metrics[key]
            click.echo(f"{key:>16}: {v:.4f}" if isinstance(v, float) else f"{key:>16}: {v}")
    if metrics.get("skipped"):
        click.echo(f"{'skipped':>16}: {json.dumps(metrics['skipped'])}")
    click.echo("per class (precision / recall / support):")
    for name, pc in metrics.get("per_class", {}).items():
        click.echo(f"  {name:<34} {pc['precision']:.3f} / {pc['recall']:.3f} / {pc['support']}")


@click.group("models")
def models_group() -> None:
    """Diagnosis models (research use only; not a medical device)."""


@models_group.command("train")
@click.option("--kind", type=TRAIN_KIND, required=True,
              help="image (CNN), text (clinical notes) or gan (conditional image generator)")
@click.option("--data", "data", type=click.Path(exists=True, path_type=Path), required=True, multiple=True,
              help="image .npz (images+labels, or MedMNIST train_* keys) / folder; text CSV or JSONL with text,label; "
                   "sequence: a Synthea export folder (repeat --data to train on several exports as one cohort)")
@click.option("--output", type=click.Path(path_type=Path), required=True, help="new artifact directory")
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="TOML file of hyper-parameters (keys of ImageConfig / TextConfig)")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="override one config key (value parsed as JSON, else a string); repeatable")
def train_cmd(kind: str, data: tuple[Path, ...], output: Path, config: Path | None, overrides: tuple[str, ...]) -> None:
    """Train a model and write a versioned artifact directory."""
    if kind == "sequence":
        from jobs.commands.sequence import train_sequence_cmd

        return train_sequence_cmd(list(data), output, config, overrides)
    if len(data) != 1:
        raise click.UsageError(f"--kind {kind} takes one --data (got {len(data)}); only --kind sequence takes several")
    data_path = data[0]
    from tqdm import tqdm

    from graph_engine.settings import parse_assignments
    from models import make_config, train

    try:
        settings = parse_assignments(overrides)
    except ValueError as e:
        raise click.UsageError(f"--set {e}, e.g. --set refit_all=false") from None
    try:
        cfg = make_config(kind, config, settings)
    except MedkgError as e:
        fail(e)
    if kind == "gan":
        bar = tqdm(total=cfg.steps, desc="train gan", unit="step")
    else:
        bar = tqdm(total=cfg.epochs, desc=f"train {kind}", unit="epoch") if kind == "image" else None

    def progress(epoch: int, total: int, stats: dict[str, float]) -> None:
        if bar is not None and kind == "gan":
            bar.update(epoch - bar.n)
            bar.set_postfix(d_loss=f"{stats['d_loss']:.3f}", g_loss=f"{stats['g_loss']:.3f}")
        elif bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{stats['train_loss']:.3f}", val_loss=f"{stats['val_loss']:.3f}",
                            val_acc=f"{stats['val_accuracy']:.3f}")

    try:
        art = train(kind, data_path, output, cfg, progress=progress)
    except MedkgError as e:
        fail(e)
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"wrote {art.path} ({art.name} {art.model_version})")
    if kind == "gan":
        click.echo(f"trained {cfg.steps} steps in {art.metrics['train_seconds']:.0f} s "
                   f"({art.metrics['torch_threads']} torch threads, {art.metrics['device']}); "
                   "judge it with 'medkg models evaluate --kind gan'")
        return
    for section in ("validation", "holdout", "holdout_baseline_tfidf_logreg"):
        m = art.metrics.get(section)
        if m:
            click.echo(f"{section}: n={m['n']} accuracy={m['accuracy']:.4f} auroc={m['auroc'] if m['auroc'] is None else round(m['auroc'], 4)} ece={m['ece']:.4f}")
    split = art.model.manifest["data"].get("split", {})
    if split.get("holdout_in_final_training"):
        click.echo(f"hold-out scored with the training-portion fit; shipped weights refit on all "
                   f"{split['final_weights_fitted_on']} notes (hold-out included)")


@models_group.command("predict")
@click.option("--kind", type=PREDICT_KIND, required=True, help="image, text, or toxicity (id,smiles[,name] -> ADMET)")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="artifact directory; default: the shipped model of --kind")
@click.option("--input", "input_path", type=click.Path(exists=True, path_type=Path), required=True,
              help="image .npz with 'images' (+ 'ids'); text JSONL or CSV with id,text; toxicity CSV/JSONL id,smiles")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="predictions .jsonl")
@click.option("--knowledge", type=click.Choice(["auto", "files", "graph", "none"]), default="auto", show_default=True,
              help="toxicity only: graph evidence for hERG (auto: Hetionet + SIDER files when present)")
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="skip", show_default=True,
              help="toxicity only: invalid SMILES stop the run (fail) or are skipped with the reason")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="sequence: use only records that start before this date (required for --kind sequence)")
def predict_cmd(kind: str, model_dir: Path | None, input_path: Path, output: Path, knowledge: str,
                on_error: str, as_of: str | None) -> None:
    """Write one JSON line per usable input record with calibrated probabilities."""
    if kind == "toxicity":
        from jobs.commands.chem import predict_toxicity_file

        return predict_toxicity_file(model_dir, input_path, output, on_error=on_error, knowledge=knowledge)
    if kind == "sequence":
        from jobs.commands.sequence import predict_sequence_cmd

        return predict_sequence_cmd(model_dir, input_path, output, as_of)
    from models import load_model, predict_file

    try:
        model = load_model(model_dir, kind)
        report = predict_file(model, input_path)
    except MedkgError as e:
        fail(e)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for p in report.predictions:
            fh.write(json.dumps(p.to_json()) + "\n")
    tmp.replace(output)  # never leave a half-written file under the final name
    click.echo(
        f"read {report.read}, predicted {len(report.predictions)}, skipped {len(report.skipped)} -> {output}"
    )
    for s in report.skipped:
        click.echo(f"  skipped {s.id or ''} (line {s.line}): {s.reason}", err=True)


@models_group.command("evaluate")
@click.option("--kind", type=TRAIN_KIND, default=None,
              help="sequence: next-condition evaluation with baselines; gan: score a generator (Frechet "
                   "distance, precision/recall, TSTR, memorisation); default: the kind of --model")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="artifact directory (required for image/text; sequence and gan default to the shipped model)")
@click.option("--data", "data", type=click.Path(exists=True, path_type=Path), required=True,
              help="labelled data; MedMNIST .npz files are read from their official 'val' split; sequence: a Synthea folder")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="sequence: cut date (default: the export's last date minus 365 days)")
@click.option("--json", "as_json", is_flag=True, help="print the metrics as JSON")
@click.option("--split", default="val", show_default=True, help="--kind gan: the real split of --data to compare with")
@click.option("--train-data", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="--kind gan: the generator's training images (default: --data), 'train' split")
@click.option("--n", "n", type=int, default=6000, show_default=True, help="--kind gan: generated images")
@click.option("--seed", type=int, default=0, show_default=True, help="--kind gan: generation seed")
@click.option("--cnn-epochs", type=int, default=0, show_default=True,
              help="--kind gan: epochs of the train-on-synthetic run of medkg's CNN (0 skips; slow on a CPU)")
@click.option("--output", "report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="--kind gan: also write the report as JSON here")
def evaluate_cmd(kind: str | None, model_dir: Path | None, data: Path, as_of: str | None, as_json: bool, split: str,
                 train_data: Path | None, n: int, seed: int, cnn_epochs: int, report: Path | None) -> None:
    """Print accuracy, AUROC, per-class precision/recall, ECE on labelled data (--kind sequence:
    next-condition metrics with baselines; --kind gan: generator scores)."""
    if kind == "sequence":
        from jobs.commands.sequence import evaluate_sequence_cmd

        return evaluate_sequence_cmd(model_dir, data, as_of, as_json)
    from models import evaluate, load_model

    if kind is None and model_dir is not None:
        from models.artifacts import read_manifest

        try:
            kind = read_manifest(model_dir)["kind"]
        except MedkgError as e:
            fail(e)
    if kind == "gan":
        from jobs.commands.gan import evaluate_gan_cmd

        evaluate_gan_cmd(model_dir, data, split, train_data, n, seed, cnn_epochs, report, as_json)
        return
    if model_dir is None:
        raise click.UsageError("--model DIR is required (except with --kind gan)")
    try:
        model = load_model(model_dir, kind)
        metrics = evaluate(model, data)
    except MedkgError as e:
        fail(e)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
    else:
        _print_metrics(metrics)
    if metrics.get("in_training_data"):
        click.echo(
            f"warning: {metrics['in_training_data']} of the {metrics['n']} evaluated notes are in this model's "
            "training data; these metrics are optimistic",
            err=True,
        )


@click.command("diagnose")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="artifact directory; default: the shipped model of --kind")
@click.option("--kind", type=click.Choice(["image", "text"]), default=None, help="needed only without --model")
@click.option("--input", "input_path", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--top-k", type=int, default=3, show_default=True, help="Diagnosis nodes per case")
@click.option("--add-label-diseases", is_flag=True,
              help="first add the Disease nodes the model's label map names and the graph lacks "
                   "(without it, a suggested Disease that is not in the graph is refused)")
def diagnose_cmd(model_dir: Path | None, kind: str | None, input_path: Path, top_k: int,
                 add_label_diseases: bool) -> None:
    """Write (:Diagnosis)-[:OF]->(:Case) and -[:SUGGESTS]->(:Disease) for every input record.

    All-or-nothing per run; re-running replaces the previous run's Diagnosis nodes
    of the same model for the same cases. Cases from a generated file
    (``medkg models generate``) are marked ``synthetic: true``.
    """
    from models import load_model, predict_file
    from models.synthetic import is_synthetic_file
    from models.writeback import label_disease_records, write_diagnoses

    if model_dir is None and kind is None:
        raise click.UsageError("give --model DIR or --kind image|text")
    from jobs.context import open_client
    try:
        model = load_model(model_dir, kind)
        report = predict_file(model, input_path)
        with open_client() as client:
            if add_label_diseases:
                labels = label_disease_records(model)
                absent = client.missing_ids("Disease", [r.id for r in labels])
                client.upsert_nodes([r for r in labels if r.id in absent])
            summary = write_diagnoses(client, model, report, top_k=top_k, source=str(input_path),
                                      synthetic=is_synthetic_file(input_path))
    except MedkgError as e:
        if "not in the graph" in str(e) and not add_label_diseases:
            fail(type(e)(f"{e} (load them, or pass --add-label-diseases to add the model's label diseases)"))
        fail(e)
    click.echo(
        f"run {summary.run_id}: read {report.read}, cases {summary.cases}, diagnoses {summary.diagnoses}, "
        f"skipped {len(report.skipped)}"
    )
    for reason, n in report.skipped_by_reason().items():
        click.echo(f"  skipped {n}: {reason}", err=True)


def register(root: click.Group) -> None:
    """Add ``models`` (train, predict, evaluate) and ``enrich diagnose``."""
    root.add_command(models_group)
    subgroup(root, "enrich").add_command(diagnose_cmd)
