"""``medkg models train|predict|evaluate --kind sequence`` and ``medkg enrich predict-conditions``.

    medkg models train --kind sequence --data SYNTHEA_DIR [--data SYNTHEA_DIR ...] --output DIR [--set KEY=VALUE ...]
    medkg models predict --kind sequence [--model DIR] --input SYNTHEA_DIR --as-of YYYY-MM-DD --output FILE.jsonl
    medkg models evaluate --kind sequence [--model DIR] --data SYNTHEA_DIR [--as-of YYYY-MM-DD] [--json]
    medkg enrich predict-conditions [--model DIR] --input SYNTHEA_DIR --as-of YYYY-MM-DD [--top N]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from graph_engine.errors import MedkgError
from jobs.errors import fail, handle_errors
from jobs.groups import subgroup


def train_sequence_cmd(data: list[Path], output: Path, config: Path | None, overrides: tuple[str, ...]) -> None:
    import tomllib

    from tqdm import tqdm

    from graph_engine.settings import parse_assignments
    from jobs.patient_recs import default_linker
    from models.sequence.api import train_sequence
    from models.sequence.model import SequenceConfig

    try:
        values: dict[str, Any] = tomllib.loads(config.read_text(encoding="utf-8")) if config else {}
        values.update(parse_assignments(overrides))
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise click.UsageError(f"bad config: {e}") from None
    cohort = values.pop("cohort", None)
    try:
        cfg = SequenceConfig(**values)
    except TypeError as e:
        raise click.UsageError(f"unknown sequence config key: {e}") from None
    bar = tqdm(total=cfg.epochs, desc="train sequence", unit="epoch")

    def progress(epoch: int, total: int, stats: dict[str, float]) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{stats['train_loss']:.4f}", val_loss=f"{stats['val_loss']:.4f}")

    try:
        model = train_sequence(data, output, cfg, cohort=cohort, linker=default_linker(), progress=progress)
    except MedkgError as e:
        fail(e)
    finally:
        bar.close()
    m = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    click.echo(f"wrote {output} ({model.name} {model.model_version}) in {m['train_seconds']:.0f} s")
    for name, v in m["internal_validation"].items():
        if "recall@10" in v:
            click.echo(f"internal validation {name}: recall@10 {v['recall@10']:.4f}, macro AUROC "
                       f"{v['macro_auroc'] if v['macro_auroc'] is None else round(v['macro_auroc'], 4)}")


def predict_sequence_cmd(model_dir: Path | None, input_path: Path, output: Path, as_of: str | None) -> None:
    from models.sequence.api import load_sequence_model, predict_sequence

    if not as_of:
        raise click.UsageError("--as-of YYYY-MM-DD is required for --kind sequence")
    try:
        model = load_sequence_model(model_dir)
        rows, _ = predict_sequence(model, input_path, as_of)
    except MedkgError as e:
        fail(e)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    tmp.replace(output)
    click.echo(f"{len(rows)} patients with history before {as_of} -> {output} ({model.name} {model.model_version})")


def evaluate_sequence_cmd(model_dir: Path | None, data: Path, as_of: str | None, as_json: bool) -> None:
    from models.sequence.api import evaluate_sequence, load_sequence_model

    try:
        metrics = evaluate_sequence(load_sequence_model(model_dir), data, as_of)
    except MedkgError as e:
        fail(e)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    click.echo(f"{metrics['model_name']} {metrics['model_version']} on {data} as of {metrics['as_of']}: "
               f"{metrics['patients']} patients")
    click.echo(f"{'method':<12} {'recall@10':>10} {'macro AUROC':>12} {'disorders':>10} {'onsets':>7} "
               f"{'chronic AUROC':>14} {'acute AUROC':>12}")

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.4f}"

    for name in ("model", "population", "age_sex", "markov"):
        m = metrics[name]
        chronic = f"{fmt(m.get('macro_auroc_chronic'))} ({m.get('auroc_disorders_chronic', 0)})"
        acute = f"{fmt(m.get('macro_auroc_acute'))} ({m.get('auroc_disorders_acute', 0)})"
        click.echo(f"{name:<12} {fmt(m['recall@10']):>10} {fmt(m['macro_auroc']):>12} {m['auroc_disorders']:>10} "
                   f"{m['onsets']:>7} {chronic:>14} {acute:>12}")
    click.echo("chronic / acute: disorders whose description names an infection, injury or acute episode are acute "
               "(models.sequence.data.ACUTE_KEYWORDS); AUROC over those with >= 5 onsets (count in brackets)")
    c = metrics["calibration"]
    click.echo(f"calibration: mean predicted {c['mean_predicted']:.4f} vs observed {c['observed_rate']:.4f}, "
               f"ECE {c['ece_quantile_bins']:.4f}, Brier {c['brier']:.5f}")


@click.command("predict-conditions")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="sequence artifact (default: the shipped model)")
@click.option("--input", "input_path", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="the Synthea export the patients were imported from")
@click.option("--as-of", "as_of", required=True, metavar="YYYY-MM-DD")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Prediction nodes per patient")
@handle_errors
def predict_conditions_cmd(model_dir: Path | None, input_path: Path, as_of: str, top: int) -> None:
    """Write (:Prediction {kind: "next_condition"})-[:FOR]->(:Patient), -[:PREDICTS]->(:Disease); one run replaces the last."""
    from jobs.context import open_client
    from models.sequence.api import load_sequence_model
    from models.sequence.writeback import write_condition_predictions

    model = load_sequence_model(model_dir)
    with open_client() as client:
        s = write_condition_predictions(client, model, input_path, as_of, top=top)
    click.echo(f"run {s['run_id']}: {s['written']} predictions for {s['patients']} patients "
               f"({s['skipped_patients']} not in the graph, {s['skipped_predictions']} with no Disease node)")


def register(root: click.Group) -> None:
    subgroup(root, "enrich").add_command(predict_conditions_cmd)
