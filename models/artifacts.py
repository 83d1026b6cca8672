"""Versioned model directories: save, load, integrity check, model card.

Layout of an artifact directory::

    model.json       manifest: format_version, name, kind, model_version,
                     medkg_version, created_at, labels, label_map (label ->
                     Disease id), temperature, model config, data fingerprint,
                     file hashes
    weights.pt | weights.npz (+ vocab.json)   the parameters (no pickled code)
    label_map.tsv    label -> graph Disease id, as used by this model
    metrics.json     training / validation / hold-out metrics
    MODEL_CARD.md    intended use (research only, not a medical device), data, limits
    holdout.csv      (text models) the held-out notes, for ``medkg models evaluate``;
                     absent when the final weights were refit on them
    train_fingerprints.txt  (text models) hashes of the normalised training notes,
                     so ``evaluate`` can count evaluation notes the model has seen
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from graph_engine.errors import ModelError
from models.datasets import LabelInfo, sha256_file
from models.records import TextRecord

FORMAT_VERSION = 1
MANIFEST = "model.json"
KINDS = ("image", "text", "sequence", "gan")
TRAIN_FINGERPRINTS = "train_fingerprints.txt"

#: this package's folder (see graph_engine.schema._PACKAGE_DIR)
_PACKAGE_DIR = Path(__file__).resolve().parent


def medkg_version() -> str:
    """The installed medkg version (package metadata, else ``graph_engine.__version__``)."""
    try:
        from importlib.metadata import version

        return version("medkg")
    except Exception:  # PackageNotFoundError or a broken install
        from graph_engine import __version__

        return __version__


def default_artifact_dir(kind: str) -> Path:
    """The shipped default model of ``kind`` (``models/artifacts/<kind>-default``)."""
    if kind not in KINDS:
        raise ModelError(f"unknown model kind {kind!r}; expected one of {list(KINDS)}")
    return _PACKAGE_DIR.joinpath("artifacts", f"{kind}-default")


def default_config_path(kind: str) -> Path:
    """The TOML of hyper-parameters the shipped default of ``kind`` was trained with."""
    if kind not in KINDS:
        raise ModelError(f"unknown model kind {kind!r}; expected one of {list(KINDS)}")
    return _PACKAGE_DIR.joinpath("configs", f"{kind}-default.toml")


def sample_data_path(kind: str) -> Path:
    """The tiny sample input shipped for ``kind`` (20 images ``.npz`` / 20 notes ``.jsonl``)."""
    names = {"image": "sample_images.npz", "text": "sample_notes.jsonl"}
    if kind not in names:
        raise ModelError(f"unknown model kind {kind!r}; expected one of {list(KINDS)}")
    return _PACKAGE_DIR.joinpath("data", names[kind])


def write_artifact(
    directory: str | Path,
    model: Any,
    name: str,
    label_info: dict[str, LabelInfo],
    metrics: dict[str, Any],
    data: dict[str, Any],
    holdout: Sequence[TextRecord] = (),
    train_fingerprints: Sequence[str] = (),
) -> dict[str, Any]:
    """Write ``model`` and everything needed to reuse and judge it to ``directory``.

    Returns:
        The manifest written to ``model.json``.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if any(d.iterdir()) and not (d / MANIFEST).exists():
        # never mix a model's files into an unrelated folder; retraining over a model is fine
        raise ModelError(f"{d} exists, is not empty and holds no model; choose a new --output directory")
    for stale in ("holdout.csv", "weights.pt", "weights.npz", "vocab.json", "generator.pt", TRAIN_FINGERPRINTS):
        (d / stale).unlink(missing_ok=True)
    files = model.save_weights(d)
    with open(d / "label_map.tsv", "w", encoding="utf-8", newline="") as fh:
        fh.write("label\tdisease_id\tdisease_name\n")
        for lb in model.labels:
            info = label_info[lb]
            fh.write(f"{lb}\t{info.disease_id or ''}\t{info.disease_name or ''}\n")
    if holdout:
        with open(d / "holdout.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "label", "text"])
            for r in holdout:
                w.writerow([r.id, r.label, r.text])
        files.append("holdout.csv")
    if train_fingerprints:
        (d / TRAIN_FINGERPRINTS).write_text("".join(f"{h}\n" for h in train_fingerprints), encoding="utf-8")
        files.append(TRAIN_FINGERPRINTS)
    (d / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    files += ["label_map.tsv", "metrics.json"]
    hashes = {f: sha256_file(d / f) for f in files}
    weights_sha = hashes[files[0]]
    created = datetime.now(timezone.utc).replace(microsecond=0)
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "kind": model.kind,
        "model_version": f"{created:%Y%m%d}-{weights_sha[:8]}",
        "medkg_version": medkg_version(),
        "created_at": created.isoformat(),
        "labels": list(model.labels),
        "label_map": {lb: {"disease_id": label_info[lb].disease_id, "disease_name": label_info[lb].disease_name}
                      for lb in model.labels},
        "temperature": model.temperature,
        "model": model.state(),
        "data": data,
        "files": hashes,
    }
    (d / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    (d / "MODEL_CARD.md").write_text(model_card(manifest, metrics), encoding="utf-8")
    return manifest


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """Read and check ``model.json`` (format version, kind, file hashes).

    Raises:
        ModelError: the directory is not a model artifact, is from a newer
            format, or a file does not match its recorded hash.
    """
    d = Path(directory)
    p = d / MANIFEST
    if not p.is_file():
        raise ModelError(f"{d}: not a model directory (no {MANIFEST}); train one with 'medkg models train'")
    try:
        manifest = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelError(f"{p}: invalid JSON ({e})") from e
    fv = manifest.get("format_version")
    if fv != FORMAT_VERSION:
        raise ModelError(f"{p}: format_version {fv!r}; this medkg reads format {FORMAT_VERSION}")
    if manifest.get("kind") not in KINDS:
        raise ModelError(f"{p}: unknown kind {manifest.get('kind')!r}")
    for f, digest in manifest.get("files", {}).items():
        fp = d / f
        if not fp.is_file():
            raise ModelError(f"{d}: {f} is missing")
        if sha256_file(fp) != digest:
            raise ModelError(f"{d}: {f} does not match its sha256 in {MANIFEST} (modified or corrupt)")
    return manifest


def _fmt(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def model_card(manifest: dict[str, Any], metrics: dict[str, Any]) -> str:
    """A Markdown model card for the artifact."""
    kind = manifest["kind"]
    if kind == "gan":
        return gan_model_card(manifest, metrics)
    data = manifest["data"]
    lines = [
        f"# Model card: {manifest['name']} {manifest['model_version']}",
        "",
        "## Intended use",
        "Research and demonstration inside medkg only. **Not a medical device**: not validated for",
        "diagnosis, triage or any clinical decision, and must not be used on patients. Predictions are",
        "written to the graph as `(:Diagnosis)` suggestions to be explored next to curated knowledge.",
        "",
        "## Model",
        f"- kind: {kind}; architecture: `{manifest['model']['architecture']}`",
        "- labels -> graph Disease ids: "
        + ", ".join(f"{lb} -> {v['disease_id'] or '(none)'}" for lb, v in manifest["label_map"].items()),
        f"- calibration: temperature scaling, T = {manifest['temperature']:.4f}",
        f"- medkg {manifest['medkg_version']}, created {manifest['created_at']}",
        "",
        "## Data",
        f"- source file: `{data.get('source')}` (sha256 `{data.get('sha256')}`)",
        f"- records read {data.get('n_read')}, used {data.get('n_used')}, skipped {data.get('n_skipped')}",
        f"- split: {json.dumps(data.get('split', {}))}",
    ]
    if kind == "image":
        lines += [
            "- PneumoniaMNIST (MedMNIST v2, CC BY 4.0): 28x28 pediatric chest X-rays, normal vs pneumonia.",
            "  Yang et al., *MedMNIST v2*, Scientific Data 10, 41 (2023).",
        ]
    else:
        lines += ["- Symptom2Disease: first-person symptom descriptions, 24 diseases (as published; no licence stated)."]
    lines += ["", "## Metrics", ""]
    if data.get("split", {}).get("holdout_in_final_training"):
        lines += [
            "The hold-out metrics below were measured with the same recipe fitted on the training portion only;",
            f"the shipped weights were then refit on all {data['split']['final_weights_fitted_on']} notes, hold-out included.",
            "",
        ]
    names = {"n": "n", "accuracy": "accuracy", "auroc": "AUROC", "ece": "ECE", "nll": "NLL",
             "nll_uncalibrated": "NLL (T=1)", "nll_calibrated": "NLL (calibrated)", "folds": "folds"}
    for section, vals in metrics.items():
        if isinstance(vals, dict) and "accuracy" in vals:
            shown = ", ".join(f"{label} {_fmt(vals[k])}" for k, label in names.items() if vals.get(k) is not None)
            lines.append(f"- {section}: {shown}")
    lines += [
        "",
        "Validation metrics on the internal split are optimistic (it chose the epoch and the temperature);",
        "see BENCHMARKS.md for numbers on data the model never saw.",
        "",
        "## Limits",
        "- Small, single-source training sets; performance on other hospitals, devices, populations,",
        "  languages or writing styles is unknown and likely worse.",
        "- Images must be grayscale at the training size; notes must be English free text.",
        "- Probabilities are calibrated on data like the training data only; class priors differ elsewhere.",
        "- A label is only as good as its mapping to a Disease id (see label_map.tsv).",
        "",
    ]
    return "\n".join(lines)


def gan_model_card(manifest: dict[str, Any], metrics: dict[str, Any]) -> str:
    """The model card of a generator: what its images are for and what they must not be used for."""
    data = manifest["data"]
    cfg = manifest["model"]["config"]
    ev = metrics.get("evaluation", {})
    lines = [
        f"# Model card: {manifest['name']} {manifest['model_version']}",
        "",
        "## What it is",
        f"A class-conditional GAN (`{manifest['model']['architecture']}`, arch `{cfg.get('arch')}`, loss "
        f"`{cfg.get('loss')}`) that draws 28x28 grayscale chest-X-ray-like images for the labels "
        + ", ".join(f"`{lb}`" for lb in manifest["labels"]) + ".",
        "Every generated file carries `synthetic: true`; `medkg enrich diagnose` on it marks the Case nodes",
        "`synthetic: true`.",
        "",
        "## Intended use",
        "- Research inside medkg: testing pipelines and the graph with data that is not a patient's;",
        "  studying augmentation of small training sets (pre-registered study and results: BENCHMARKS.md).",
        "- Demonstrations and teaching about generative models and their evaluation.",
        "",
        "## Must not be used for",
        "- Anything clinical: diagnosis, triage, training or validating a model meant for patients, or",
        "  as evidence about disease. The images are not real patients and may carry artefacts that no",
        "  X-ray has; their labels are the label the generator was asked for, not a diagnosis.",
        "- Passing generated images off as real, mixing them into a dataset without the `synthetic` flag,",
        "  or counting them as cases in any statistic about patients.",
        "- Privacy guarantees: the generator was trained without differential privacy. Near-copies of",
        "  training images are rare (measured below) but not impossible; do not treat its output as",
        "  anonymised release of the training set.",
        "",
        "## Data",
        f"- source file: `{data.get('source')}` (sha256 `{data.get('sha256')}`)",
        f"- records read {data.get('n_read')}, used {data.get('n_used')}, skipped {data.get('n_skipped')}",
        f"- split: {json.dumps(data.get('split', {}))}",
        "- PneumoniaMNIST (MedMNIST v2, CC BY 4.0): 28x28 pediatric chest X-rays, normal vs pneumonia.",
        "  Yang et al., *MedMNIST v2*, Scientific Data 10, 41 (2023).",
        "",
        "## Training",
        f"- config: {json.dumps(cfg)}",
        f"- {metrics.get('train_seconds', float('nan')):.0f} s on {metrics.get('device')} "
        f"with {metrics.get('torch_threads')} torch threads",
        "",
        "## Evaluation",
    ]
    if ev:
        g, tstr, mem = ev["generated"], ev["tstr_pixel_lr"], ev["memorisation"]
        lines += [
            f"On {ev.get('split')} split `{ev.get('data')}` ({ev['n_real']} real images), {ev['n_generated']} generated:",
            f"- Fréchet distance on medkg CNN features (not Inception FID): {g['frechet_distance']:.3f} "
            f"(real training sample: {ev['reference_real_train_sample']['frechet_distance']:.3f})",
            f"- precision / recall (k={g['k']}): {g['precision']:.3f} / {g['recall']:.3f}",
            f"- pixel-LR trained on generated images, AUROC on real: {tstr['synthetic']['auroc']:.4f} "
            f"(trained on real: {tstr['reference_real_train']['auroc']:.4f})",
            f"- near-copies (RMS < {mem['threshold_rms']}): {100 * mem['near_copy_share']:.2f} % "
            f"(real held-out images: {100 * mem.get('reference_near_copy_share', float('nan')):.2f} %)",
        ]
    else:
        lines.append("Run `medkg models evaluate --kind gan` (numbers in BENCHMARKS.md).")
    lines += [
        "",
        "## Limits",
        "- 28x28 only; one source dataset (one hospital's pediatric X-rays); few training normals.",
        "- Quality is judged with medkg's own CNN features, not with radiologists.",
        "",
    ]
    return "\n".join(lines)
