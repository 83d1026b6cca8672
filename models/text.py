"""Clinical-text classifier: free-text symptom descriptions -> disease.

A linear model on two TF-IDF views of the note, concatenated:

* word 1-2-grams (sublinear tf), which carry the symptom vocabulary;
* character 2-5-grams inside word boundaries (sublinear tf, ``min_df=2``),
  which survive misspellings and inflections ("scurrying", "itchiness").

The classifier is a one-vs-rest linear SVM (default) or a multinomial logistic
regression; its decision values are the logits. Calibration: the temperature is
fitted on out-of-fold decision values from a grouped k-fold over the training
portion, so no held-out note is used for it.

Weights are stored as plain arrays (``weights.npz``, ``vocab.json``); loading an
artifact never unpickles code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy import sparse

from graph_engine.errors import ModelError
from models.calibration import calibrated_probabilities, fit_temperature, nll
from models.datasets import group_split, normalize_text, text_groups
from models.metrics import classification_metrics
from models.records import TextRecord

ARCHITECTURE = "medkg-tfidf-linear-v1"


@dataclass
class TextConfig:
    """Hyper-parameters of the text model.

    Attributes:
        classifier: ``"svm"`` (one-vs-rest linear SVM) or ``"logreg"`` (multinomial).
        C: inverse regularisation strength.
        word_ngrams: word n-gram range.
        char_ngrams: character (``char_wb``) n-gram range; ``None`` disables the view.
        char_min_df: minimum document frequency of character n-grams.
        holdout_fraction: share of notes held out for the honest test (0 = none).
        near_duplicate_threshold: char-n-gram cosine above which two notes are
            kept on the same side of every split.
        cv_folds: grouped folds for the out-of-fold calibration logits.
        refit_all: after the hold-out has been scored, refit the weights and the
            temperature on every note (hold-out included) and ship those. The
            hold-out metrics then estimate the protocol, not the shipped weights,
            so no ``holdout.csv`` is written and ``evaluate`` flags training notes.
        seed: seed of the splits.
        label_map: a label map TSV; ``None`` uses the packaged one.
    """

    classifier: str = "svm"
    C: float = 1.0
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] | None = (2, 5)
    char_min_df: int = 2
    holdout_fraction: float = 0.2
    near_duplicate_threshold: float = 0.8
    cv_folds: int = 5
    refit_all: bool = False
    seed: int = 0
    label_map: str | None = None

    def __post_init__(self) -> None:
        if self.classifier not in ("svm", "logreg"):
            raise ModelError(f"classifier must be 'svm' or 'logreg', got {self.classifier!r}")
        if self.C <= 0:
            raise ModelError(f"C must be > 0, got {self.C}")
        self.word_ngrams = tuple(self.word_ngrams)  # type: ignore[assignment]
        if self.char_ngrams is not None:
            self.char_ngrams = tuple(self.char_ngrams)  # type: ignore[assignment]
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ModelError(f"holdout_fraction must be in [0, 1), got {self.holdout_fraction}")
        if self.cv_folds < 2:
            raise ModelError("cv_folds must be >= 2")
        if not isinstance(self.refit_all, bool):
            raise ModelError(f"refit_all must be true or false, got {self.refit_all!r}")


def _vectorizers(config: TextConfig) -> list[Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    out = [TfidfVectorizer(ngram_range=config.word_ngrams, sublinear_tf=True, dtype=np.float32)]
    if config.char_ngrams is not None:
        out.append(
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=config.char_ngrams, sublinear_tf=True,
                min_df=config.char_min_df, dtype=np.float32,
            )
        )
    return out


def _classifier(config: TextConfig) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    if config.classifier == "svm":
        return LinearSVC(C=config.C, random_state=config.seed)
    return LogisticRegression(C=config.C, max_iter=5000)


def _fit_linear(texts: Sequence[str], y: np.ndarray, n_classes: int, config: TextConfig) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Fit vectorizers and classifier; returns ``(vectorizers, coef (C, F), intercept (C,))``."""
    vecs = _vectorizers(config)
    x = sparse.hstack([v.fit_transform(texts) for v in vecs]).tocsr()
    clf = _classifier(config).fit(x, y)
    coef = np.zeros((n_classes, x.shape[1]), dtype=np.float32)
    intercept = np.full(n_classes, -1e3, dtype=np.float32)  # classes absent from y never win
    classes = clf.classes_
    if len(classes) == 2 and clf.coef_.shape[0] == 1:
        coef[classes[1]], intercept[classes[1]] = clf.coef_[0], clf.intercept_[0]
        coef[classes[0]], intercept[classes[0]] = -clf.coef_[0], -clf.intercept_[0]
    else:
        coef[classes] = clf.coef_
        intercept[classes] = clf.intercept_
    return vecs, coef, intercept


class TextModel:
    """A fitted text classifier with labels and temperature.

    Attributes:
        labels: class names, in logit order.
        temperature: calibration temperature.
    """

    kind = "text"

    def __init__(
        self, vectorizers: list[Any], coef: np.ndarray, intercept: np.ndarray, labels: Sequence[str],
        temperature: float = 1.0, config: TextConfig | None = None,
    ) -> None:
        self.vectorizers = vectorizers
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.labels = list(labels)
        self.temperature = float(temperature)
        self.config = config or TextConfig()

    def check(self, records: Sequence[TextRecord]) -> None:
        """Raise :class:`ModelError` for the first note that cannot be classified."""
        for r in records:
            if not isinstance(r.text, str) or not r.text.strip():
                where = f"record {r.id!r}" + (f" (line {r.line})" if r.line else "")
                raise ModelError(f"{where}: empty note; expected non-empty free text")

    def logits_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Decision values, shape ``(N, C)``, for already validated texts."""
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float64)
        x = sparse.hstack([v.transform(texts) for v in self.vectorizers]).tocsr()
        return np.asarray(x @ self.coef.T + self.intercept, dtype=np.float64)

    def logits(self, records: Sequence[TextRecord]) -> np.ndarray:
        """Uncalibrated logits, shape ``(N, C)``.

        Raises:
            ModelError: a note is empty.
        """
        self.check(records)
        return self.logits_texts([r.text for r in records])

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.config).items()}
        views = []
        for v in self.vectorizers:
            views.append({"analyzer": v.analyzer, "ngram_range": list(v.ngram_range), "sublinear_tf": v.sublinear_tf})
        return {"architecture": ARCHITECTURE, "config": cfg, "views": views, "n_features": int(self.coef.shape[1])}

    def save_weights(self, directory: Path) -> list[str]:
        vocab = []
        arrays: dict[str, Any] = {"coef": self.coef.astype(np.float16), "intercept": self.intercept}
        for i, v in enumerate(self.vectorizers):
            vocab.append(sorted(v.vocabulary_, key=v.vocabulary_.get))
            arrays[f"idf_{i}"] = v.idf_.astype(np.float32)
        np.savez_compressed(directory / "weights.npz", **arrays)
        (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        # float16 storage: use the stored precision from now on so saved == loaded exactly
        self.coef = arrays["coef"].astype(np.float32)
        return ["weights.npz", "vocab.json"]

    @classmethod
    def from_directory(cls, directory: Path, manifest: dict[str, Any], device: str = "auto") -> "TextModel":
        from sklearn.feature_extraction.text import TfidfVectorizer

        m = manifest["model"]
        if m.get("architecture") != ARCHITECTURE:
            raise ModelError(f"{directory}: architecture {m.get('architecture')!r} is not {ARCHITECTURE!r}")
        cfg = dict(m["config"])
        cfg["word_ngrams"] = tuple(cfg["word_ngrams"])
        cfg["char_ngrams"] = tuple(cfg["char_ngrams"]) if cfg.get("char_ngrams") else None
        config = TextConfig(**cfg)
        try:
            vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
            with np.load(directory / "weights.npz", allow_pickle=False) as w:
                arrays = {k: w[k] for k in w.files}
        except FileNotFoundError as e:
            raise ModelError(f"{directory}: {Path(e.filename).name} is missing") from e
        except (ValueError, OSError) as e:
            raise ModelError(f"{directory}: unreadable weights ({e})") from e
        vecs = []
        for i, (view, words) in enumerate(zip(m["views"], vocab)):
            v = TfidfVectorizer(
                analyzer=view["analyzer"], ngram_range=tuple(view["ngram_range"]), sublinear_tf=view["sublinear_tf"],
                vocabulary={w_: j for j, w_ in enumerate(words)}, dtype=np.float32,
            )
            v.idf_ = arrays[f"idf_{i}"]
            vecs.append(v)
        coef = arrays["coef"].astype(np.float32)
        if coef.shape != (len(manifest["labels"]), sum(len(w_) for w_ in vocab)):
            raise ModelError(f"{directory}: weights have shape {coef.shape}, which does not match vocab and labels")
        return cls(vecs, coef, arrays["intercept"], manifest["labels"], manifest["temperature"], config)


# ---------------------------------------------------------------------- training
def baseline_pipeline() -> Any:
    """The reference: ``TfidfVectorizer()`` defaults + ``LogisticRegression``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=2000))


def _grouped_folds(groups: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Assign whole groups to ``k`` folds (seeded); returns the test index of each fold."""
    from sklearn.model_selection import GroupKFold

    uniq = np.unique(groups)
    perm = np.random.default_rng(seed).permutation(len(uniq))
    remap = dict(zip(uniq.tolist(), perm.tolist()))
    g = np.array([remap[x] for x in groups.tolist()])
    return [te for _, te in GroupKFold(min(k, len(uniq))).split(g, g, g)]


def train_text(records: Sequence[TextRecord], labels: Sequence[str], config: TextConfig,
               groups: np.ndarray | None = None) -> "TrainResultText":
    """Fit the text model: grouped hold-out, out-of-fold temperature, final fit.

    Args:
        records: labelled notes.
        labels: the label set (sorted), checked against the label map by the caller.
        config: hyper-parameters.
        groups: group id per record, notes of one group kept on one side of every split
            (default: :func:`text_groups` with ``config.near_duplicate_threshold``, i.e.
            identical and near-identical notes together). Given for split studies, e.g.
            ``np.arange(len(records))`` for a plain random split; recorded in the split info.

    Returns:
        :class:`TrainResultText` with the model, hold-out metrics for the model
        and for the TF-IDF + logistic-regression baseline on the same split
        (both fitted on the training portion), the held-out records to be saved
        with the artifact (none when ``config.refit_all`` put them into the final
        fit) and the fingerprints of every note the final weights saw.

    Raises:
        ModelError: unlabelled notes or a class with fewer than 2 notes.
    """
    labels = list(labels)
    index = {lb: k for k, lb in enumerate(labels)}
    texts = np.array([r.text for r in records], dtype=object)
    y = np.array([index[r.label] for r in records], dtype=np.int64)  # type: ignore[index]
    counts = np.bincount(y, minlength=len(labels))
    if (counts < 2).any():
        raise ModelError(f"every label needs at least 2 notes; counts {dict(zip(labels, counts.tolist()))}")
    custom_groups = groups is not None
    if groups is None:
        groups = text_groups(list(texts), config.near_duplicate_threshold)
    else:
        groups = np.asarray(groups)
        if groups.shape != (len(texts),):
            raise ModelError(f"groups must give one id per record: shape {groups.shape}, {len(texts)} records")
    if config.holdout_fraction > 0:
        keep, hold = group_split([labels[k] for k in y], groups, config.holdout_fraction, config.seed)
    else:
        keep, hold = np.arange(len(y)), np.zeros(0, dtype=np.int64)

    model, oof, temperature = _fit_calibrated(texts[keep], y[keep], groups[keep], labels, config)
    metrics: dict[str, Any] = {}
    if len(hold):
        probs = calibrated_probabilities(model.logits_texts(list(texts[hold])), temperature)
        metrics["holdout"] = classification_metrics(probs, y[hold], labels)
        base = baseline_pipeline().fit(list(texts[keep]), [labels[k] for k in y[keep]])
        bprobs = np.zeros((len(hold), len(labels)))
        bprobs[:, [index[c] for c in base.classes_]] = base.predict_proba(list(texts[hold]))
        metrics["holdout_baseline_tfidf_logreg"] = classification_metrics(bprobs, y[hold], labels)
    refit = bool(config.refit_all and len(hold))
    trained_on = np.arange(len(y)) if refit else keep
    if refit:
        model, oof, temperature = _fit_calibrated(texts, y, groups, labels, config)
    metrics["cross_validation"] = {
        "folds": config.cv_folds,
        "n": int(len(trained_on)),
        "accuracy": float((oof.argmax(1) == y[trained_on]).mean()),
        "nll_uncalibrated": nll(oof, y[trained_on]),
        "nll_calibrated": nll(oof, y[trained_on], temperature),
    }
    split = {
        "method": (
            "seeded split stratified by label; caller-given groups kept on one side" if custom_groups else
            "seeded split stratified by label; identical texts and near-identical texts "
            f"(char 3-5-gram TF-IDF cosine >= {config.near_duplicate_threshold}) kept on one side"
        ),
        "seed": config.seed, "holdout_fraction": config.holdout_fraction,
        "n_train": int(len(keep)), "n_holdout": int(len(hold)), "n_groups": int(len(np.unique(groups))),
        "final_weights_fitted_on": int(len(trained_on)),
        "holdout_in_final_training": refit,
    }
    shipped_holdout = [] if refit else [records[i] for i in hold.tolist()]
    fingerprints = sorted({note_fingerprint(str(t)) for t in texts[trained_on]})
    return TrainResultText(model, metrics, split, shipped_holdout, fingerprints)


def note_fingerprint(text: str) -> str:
    """Short hash of a note after :func:`normalize_text`: finds training notes among evaluation data."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()[:16]


def _fit_calibrated(
    texts: np.ndarray, y: np.ndarray, groups: np.ndarray, labels: Sequence[str], config: TextConfig
) -> tuple[TextModel, np.ndarray, float]:
    """Grouped out-of-fold logits -> temperature; then the final fit on all of ``texts``.

    Returns:
        ``(model, out-of-fold logits, temperature)``.
    """
    n_groups = len(np.unique(groups))
    if n_groups < config.cv_folds:
        raise ModelError(
            f"only {n_groups} distinct (non-near-duplicate) notes left for training; "
            f"need at least cv_folds={config.cv_folds}: add data, lower cv_folds or raise near_duplicate_threshold"
        )
    oof = np.zeros((len(y), len(labels)))
    for te in _grouped_folds(groups, config.cv_folds, config.seed):
        tr = np.setdiff1d(np.arange(len(y)), te)
        if len(np.unique(y[tr])) < 2:
            raise ModelError(
                "a cross-validation fold has notes of only one label: too few distinct "
                "(non-near-duplicate) notes per label; add data or lower cv_folds"
            )
        vecs, coef, icpt = _fit_linear(list(texts[tr]), y[tr], len(labels), config)
        oof[te] = TextModel(vecs, coef, icpt, labels, 1.0, config).logits_texts(list(texts[te]))
    temperature = fit_temperature(oof, y)
    vecs, coef, icpt = _fit_linear(list(texts), y, len(labels), config)
    return TextModel(vecs, coef, icpt, labels, temperature, config), oof, temperature


@dataclass
class TrainResultText:
    model: TextModel
    metrics: dict[str, Any]
    split: dict[str, Any]
    holdout: list[TextRecord]
    train_fingerprints: list[str]
