"""Public API of the models package: ``train``, ``load_model``, ``predict``,
``predict_file``, ``evaluate``.

Example:
    >>> from models import load_model, predict
    >>> model = load_model(kind="text")            # the shipped default
    >>> [p.label for p in predict(model, ["I have a fever, chills and sweating every other day"])]
    ['Malaria']
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence, Union

import numpy as np

from graph_engine.errors import ModelError
from graph_engine.registry import Registry
from models.artifacts import KINDS, TRAIN_FINGERPRINTS, default_artifact_dir, read_manifest, write_artifact
from models.calibration import calibrated_probabilities
from models.datasets import (
    LabelInfo, load_label_map, read_images, read_texts, resolve_labels,
)
from models.gan import GANConfig, GANModel, train_gan
from models.image import ImageConfig, ImageModel, train_image
from models.metrics import classification_metrics
from models.records import ImageRecord, InferenceReport, Loaded, Prediction, Skipped, TextRecord
from models.text import TextConfig, TextModel, note_fingerprint, train_text

MODEL_NAMES = {"image": "medkg-image-cnn", "text": "medkg-text-linear", "gan": "medkg-image-cgan"}
_CONFIGS: dict[str, type] = {"image": ImageConfig, "text": TextConfig, "gan": GANConfig}

#: Model classes by kind (:class:`graph_engine.registry.Registry`); each has
#: ``from_directory(path, manifest, device)``. ``image`` and ``text`` satisfy :class:`DiagnosisModel`;
#: ``gan`` is the conditional image generator (``medkg models generate``).
MODEL_KINDS: Registry[Any] = Registry("model kind", ModelError)
MODEL_KINDS.register("image")(ImageModel)
MODEL_KINDS.register("text")(TextModel)
MODEL_KINDS.register("gan")(GANModel)


class DiagnosisModel(Protocol):
    """What every loaded model offers (image and text)."""

    kind: str
    labels: list[str]
    temperature: float
    manifest: dict[str, Any]
    path: Path | None
    label_info: dict[str, LabelInfo]

    def check(self, records: Sequence[Any]) -> None: ...

    def logits(self, records: Sequence[Any]) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class Artifact:
    """A trained model directory and what it holds."""

    path: Path
    kind: str
    name: str
    model_version: str
    metrics: dict[str, Any]
    model: Any


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ModelError(f"unknown model kind {kind!r}; expected one of {list(KINDS)}")
    return kind


def make_config(
    kind: str,
    config: Union[None, str, Path, Mapping[str, Any], ImageConfig, TextConfig],
    overrides: Mapping[str, Any] | None = None,
) -> Any:
    """Build the config of ``kind`` from ``None`` (defaults), a mapping, a TOML file or a config object.

    Args:
        kind: ``"image"`` or ``"text"``.
        config: the base configuration.
        overrides: keys replacing those of ``config`` (``medkg models train --set``).

    Raises:
        ModelError: unknown keys (listed with the known ones) or bad values.
    """
    cls = _CONFIGS[_check_kind(kind)]
    if config is None:
        config = {}
    if isinstance(config, (ImageConfig, TextConfig, GANConfig)) and isinstance(config, cls):
        if not overrides:
            return config
        config = dataclasses.asdict(config)
    if isinstance(config, (str, Path)):
        p = Path(config)
        try:
            config = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ModelError(f"{p}: cannot read config TOML ({e})") from e
        config = config.get(kind, config)  # a [image] / [text] table or top-level keys
    if not isinstance(config, Mapping):
        raise ModelError(f"config must be a mapping, a TOML path or {cls.__name__}, got {type(config).__name__}")
    config = {**config, **(overrides or {})}
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ModelError(f"unknown {kind} config keys {unknown}; known: {sorted(known)}")
    try:
        return cls(**dict(config))
    except TypeError as e:
        raise ModelError(f"bad {kind} config: {e}") from e


def train(
    kind: str,
    data: str | Path,
    output: str | Path,
    config: Any = None,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> Artifact:
    """Train a model of ``kind`` on ``data`` and write an artifact directory to ``output``.

    Args:
        kind: ``"image"``, ``"text"`` or ``"gan"`` (conditional image generator).
        data: image ``.npz`` (``images`` + ``labels``, or MedMNIST ``train_images`` ...;
            ``config.split`` chooses) or folder; text CSV/JSONL with ``text`` and ``label``.
        output: the artifact directory (new, or one holding an older model).
        config: ``None``, a mapping, a TOML path, or an :class:`ImageConfig` / :class:`TextConfig`.
        progress: per-epoch callback for image training ``(epoch, max_epochs, stats)``.

    Returns:
        The :class:`Artifact` written.

    Raises:
        ModelError: bad data (unlabelled records, labels missing from the label map ...).

    Example:
        >>> art = train("text", "symptom2disease_train.csv", "runs/text-v1")
        >>> art.metrics["holdout"]["accuracy"]
    """
    _check_kind(kind)
    cfg = make_config(kind, config)
    label_map = load_label_map(cfg.label_map)
    if kind in ("image", "gan"):
        loaded = read_images(data, split=cfg.split, class_names=cfg.label_names)
    else:
        loaded = read_texts(data)
    unlabelled = [r for r in loaded.records if r.label is None]
    if unlabelled:
        r = unlabelled[0]
        raise ModelError(f"{data}: record {r.id!r} (line {r.line}) has no label; training needs labelled data")
    if not loaded.records:
        raise ModelError(f"{data}: no usable records ({len(loaded.skipped)} skipped)")
    if kind in ("image", "gan"):
        labels = list(cfg.label_names)
        unknown = sorted({str(r.label) for r in loaded.records} - set(labels))
        if unknown:
            raise ModelError(f"{data}: labels {unknown} are not in label_names {labels} (set label_names in the config)")
        info = resolve_labels(labels, label_map, str(data))
        trainer = train_image if kind == "image" else train_gan
        result: Any = trainer(loaded.records, cfg, progress)
        holdout: list[TextRecord] = []
        fingerprints: list[str] = []
    else:
        labels = sorted({str(r.label) for r in loaded.records})
        info = resolve_labels(labels, label_map, str(data))
        result = train_text(loaded.records, labels, cfg)  # type: ignore[assignment]
        holdout = result.holdout  # type: ignore[attr-defined]
        fingerprints = result.train_fingerprints  # type: ignore[attr-defined]
    data_info = {
        "source": Path(str(data)).name,
        "sha256": loaded.sha256,
        "n_read": loaded.read,
        "n_used": len(loaded.records),
        "n_skipped": len(loaded.skipped),
        "skipped_by_reason": _count_reasons(loaded.skipped),
        "split": result.split,
    }
    manifest = write_artifact(
        output, result.model, MODEL_NAMES[kind], info, result.metrics, data_info, holdout, fingerprints
    )
    model = load_model(output, kind)
    return Artifact(Path(output), kind, manifest["name"], manifest["model_version"], result.metrics, model)


def _count_reasons(skipped: Sequence[Skipped]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in skipped:
        out[s.reason] = out.get(s.reason, 0) + 1
    return out


def load_model(path: str | Path | None = None, kind: str | None = None, device: str = "auto") -> DiagnosisModel:
    """Load a model artifact; without ``path``, the shipped default of ``kind``.

    Args:
        path: an artifact directory, or ``None``.
        kind: ``"image"`` / ``"text"``; required without ``path``, checked against the artifact otherwise.
        device: for image models, ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Returns:
        An :class:`~models.image.ImageModel` or :class:`~models.text.TextModel`
        with ``manifest``, ``path`` and ``label_info`` attributes.

    Raises:
        ModelError: not an artifact, wrong kind, corrupt files.
    """
    if path is None:
        if kind is None:
            raise ModelError("load_model needs a model directory or a kind ('image' or 'text')")
        path = default_artifact_dir(_check_kind(kind))
    d = Path(path)
    manifest = read_manifest(d)
    if kind is not None and manifest["kind"] != _check_kind(kind):
        raise ModelError(f"{d} holds a {manifest['kind']} model, not a {kind} model")
    model = MODEL_KINDS.get(manifest["kind"]).from_directory(d, manifest, device)
    model.manifest = manifest
    model.path = d
    model.label_info = {
        lb: LabelInfo(lb, v.get("disease_id"), v.get("disease_name")) for lb, v in manifest["label_map"].items()
    }
    return model


def _as_records(model: Any, records: Any) -> list[Any]:
    """Accept records, an ``(N, H, W)`` array (image) or strings (text)."""
    if model.kind == "gan":
        raise ModelError("this is an image generator (kind gan); predicting and diagnosing need an image or text "
                         "model; use 'medkg models generate' with it")
    if model.kind == "image":
        if isinstance(records, np.ndarray):
            if records.ndim == 4 and records.shape[1] == 1:
                records = records[:, 0]
            if records.ndim != 3:
                raise ModelError(f"expected images of shape (N, H, W), got {records.shape}")
            return [ImageRecord(f"img-{i}", records[i]) for i in range(len(records))]
        out = list(records)
        for i, r in enumerate(out):
            if not isinstance(r, ImageRecord):
                raise ModelError(f"record {i}: expected ImageRecord or an (N, H, W) array, got {type(r).__name__}")
        return out
    if isinstance(records, str):
        raise ModelError("expected a sequence of notes, got one string; wrap it in a list")
    out = []
    for i, r in enumerate(records):
        if isinstance(r, str):
            out.append(TextRecord(f"note-{i}", r))
        elif isinstance(r, TextRecord):
            out.append(r)
        else:
            raise ModelError(f"record {i}: expected TextRecord or str, got {type(r).__name__}")
    return out


def _predictions(model: Any, records: Sequence[Any]) -> list[Prediction]:
    if not records:
        return []
    probs = calibrated_probabilities(model.logits(records), model.temperature)
    info = getattr(model, "label_info", {})
    out = []
    for r, p in zip(records, probs):
        k = int(np.argmax(p))
        label = model.labels[k]
        li = info.get(label)
        out.append(
            Prediction(
                r.id, label, {lb: float(v) for lb, v in zip(model.labels, p)}, li.disease_id if li else None,
            )
        )
    return out


def predict(model: Any, records: Any, on_error: str = "raise") -> list[Prediction]:
    """Calibrated predictions, one per record, in input order.

    Args:
        model: from :func:`load_model`.
        records: :class:`ImageRecord` s or an ``(N, H, W)`` array (image models);
            :class:`TextRecord` s or strings (text models).
        on_error: ``"raise"`` (first bad record raises) or ``"skip"`` (bad records
            are left out; use :func:`predict_records` to get the reasons).

    Raises:
        ModelError: a record has the wrong type, shape or dtype, or is empty.
    """
    if on_error not in ("raise", "skip"):
        raise ModelError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    recs = _as_records(model, records)
    if on_error == "raise":
        return _predictions(model, recs)
    return predict_records(model, recs).predictions


def predict_records(model: Any, records: Any, skipped: Sequence[Skipped] = ()) -> InferenceReport:
    """Predict what can be predicted, and say why the rest was skipped.

    ``report.read == len(records) + len(skipped)``.
    """
    recs = _as_records(model, records)
    good, bad = [], list(skipped)
    for r in recs:
        try:
            model.check([r])
        except ModelError as e:
            bad.append(Skipped(r.id, r.line, str(e).split(": ", 1)[-1]))
            continue
        good.append(r)
    return InferenceReport(_predictions(model, good), bad)


def read_input(kind: str, path: str | Path, split: str | None = None) -> Loaded:
    """Read an inference or evaluation file for ``kind`` (npz/folder or CSV/JSONL)."""
    if _check_kind(kind) == "image":
        return read_images(path, split=split)
    return read_texts(path)


def predict_file(model: Any, path: str | Path) -> InferenceReport:
    """Read ``path`` and predict every usable record; bad records are counted with reasons."""
    if model.kind == "gan":
        _as_records(model, [])  # raises: a generator does not predict
    loaded = read_input(model.kind, path)
    return predict_records(model, loaded.records, loaded.skipped)


def evaluate(model: Any, data: Any, split: str = "val") -> dict[str, Any]:
    """Metrics of ``model`` on labelled ``data``.

    Args:
        model: from :func:`load_model`.
        data: a file (image ``.npz``/folder, text CSV/JSONL) or labelled records.
        split: for MedMNIST-style ``.npz`` files without ``images``: which split
            (default the official ``val``).

    Returns:
        ``accuracy``, ``auroc``, ``per_class`` precision/recall/F1, ``ece``,
        ``nll``, ``brier``, ``n``, plus ``read`` / ``skipped`` counts and the model id;
        for text models that list their training notes, ``in_training_data``: how
        many evaluated notes (after normalisation) the model was fitted on.
        Records without a label or with a label the model does not know are skipped.
    """
    if isinstance(data, (str, Path)):
        if model.kind == "image":
            names = model.labels
            loaded = read_images(data, split=split, class_names=names)
        else:
            loaded = read_texts(data)
        records, skipped = loaded.records, list(loaded.skipped)
    else:
        records, skipped = _as_records(model, data), []
    index = {lb: k for k, lb in enumerate(model.labels)}
    usable = []
    for r in records:
        if r.label is None:
            skipped.append(Skipped(r.id, r.line, "no label"))
        elif r.label not in index:
            skipped.append(Skipped(r.id, r.line, f"unknown label {r.label!r}"))
        else:
            usable.append(r)
    report = predict_records(model, usable, skipped)
    by_id = {r.id: r for r in usable}
    if not report.predictions:
        raise ModelError(f"no usable labelled records to evaluate ({len(report.skipped)} skipped)")
    probs = np.array([[p.probabilities[lb] for lb in model.labels] for p in report.predictions])
    y = np.array([index[by_id[p.id].label] for p in report.predictions])
    out = classification_metrics(probs, y, model.labels)
    out["read"] = report.read
    out["skipped"] = report.skipped_by_reason()
    man = getattr(model, "manifest", {})
    out["model"] = man.get("name")
    out["model_version"] = man.get("model_version")
    seen = _training_fingerprints(model)
    if seen is not None:
        out["in_training_data"] = sum(note_fingerprint(by_id[p.id].text) in seen for p in report.predictions)
    return out


def _training_fingerprints(model: Any) -> set[str] | None:
    """Fingerprints of the notes a text model was fitted on, or ``None`` when unknown."""
    path = getattr(model, "path", None)
    if model.kind != "text" or path is None or not (Path(path) / TRAIN_FINGERPRINTS).exists():
        return None
    return set((Path(path) / TRAIN_FINGERPRINTS).read_text(encoding="utf-8").split())
