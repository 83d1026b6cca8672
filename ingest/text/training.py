"""Training the statistical NER through spaCy's config system.

``train_ner`` turns annotated corpora (:mod:`ingest.text.corpora`; multi-task
corpora: :mod:`ingest.text.multitask`) into spaCy ``DocBin`` files tokenized by
the medkg biomedical tokenizer, fills ``configs/ner.cfg`` and runs ``spacy train``.
The best model (by the dev set's entity F1) gets a ``meta.json`` that records the
config, a fingerprint of the training data and the dev scores. ``pretrain_tok2vec``
pretrains the ner's tok2vec on raw text. Scoring a model: :mod:`ingest.text.evaluation`.

Imports run one way: corpora <- multitask <- training.
"""

from __future__ import annotations

import json
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import spacy
from spacy.language import Language
from thinc.api import Config

from graph_engine.errors import IngestError, ModelError
from graph_engine.settings import parse_assignments
from ingest.text.corpora import PartialCorpus, corpus_labels, corpus_to_docbin, fingerprint
from ingest.text.multitask import TaskCorpus, config_heads, multitask_docbin
from ingest.text.readers import ReadStats, read_documents


def default_config_path() -> Path:
    """The shipped training config (``ingest/text/configs/ner.cfg``)."""
    return Path(str(resources.files("ingest.text").joinpath("configs/ner.cfg")))


PRETRAIN_OBJECTIVE = "medkg.PretrainCharacters.v1"


@spacy.registry.architectures(PRETRAIN_OBJECTIVE)
def create_pretrain_characters(maxout_pieces: int = 3, hidden_size: int = 300, n_characters: int = 4) -> Any:
    """spaCy's ``characters`` pretraining objective, for the tok2vec *inside* the ner component.

    ``spacy.PretrainCharacters.v1`` expects a tok2vec that returns one array per
    document and puts ``list2array`` in front of its output layer. The ner's
    ``tok2vec`` reference (what ``[initialize] init_tok2vec`` loads into) already
    ends in ``list2array`` and a linear projection, so spaCy's objective fails on
    it with a shape error. This one is the same model (masked words, predict the
    first and last ``n_characters`` characters) without the second ``list2array``,
    so the saved weights are exactly the layer the ner loads.
    """
    from functools import partial

    from spacy.ml.models.multi_task import build_masked_language_model, get_characters_loss
    from thinc.api import LayerNorm, Maxout, MultiSoftmax, chain

    def create(vocab: Any, tok2vec: Any) -> Any:
        output_layer: Any = chain(Maxout(nO=hidden_size, nP=maxout_pieces), LayerNorm(nI=hidden_size),
                                  MultiSoftmax((256,) * n_characters, nI=hidden_size))
        model = build_masked_language_model(vocab, chain(tok2vec, output_layer))
        model.set_ref("tok2vec", tok2vec)
        model.set_ref("output_layer", output_layer)
        model.attrs["loss"] = partial(get_characters_loss, nr_char=n_characters)
        return model

    return create


def pretrain_tok2vec(
    texts: Iterable[str | Path],
    output: str | Path,
    *,
    epochs: int = 8,
    vectors: str | Path | None = None,
    config: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """Pretrain the ner's tok2vec on raw text (``spacy pretrain``, characters objective).

    Args:
        texts: corpus files in any format :func:`ingest.text.readers.read_documents`
            reads (plain text, JSONL, PubMed XML, PubTator, IOB); only their text is used,
            never annotations. Do not pass a corpus you evaluate on.
        output: directory for ``model{epoch}.bin`` (one per epoch), ``log.jsonl``,
            ``raw_text.jsonl`` and ``pretrain_meta.json``.
        epochs: passes over the text; the last epoch's weights are returned.
        vectors: static vectors (a spaCy pipeline directory), as for :func:`train_ner`;
            pretrain and train with the same vectors, or none in both.
        config, overrides: as for :func:`train_ner` (the ``[pretraining]`` section is used).

    Returns:
        The weights file to pass as ``init_tok2vec`` (``medkg ner train --init-tok2vec``).

    Raises:
        IngestError: no text was read.
    """
    from spacy.training.pretrain import pretrain
    from spacy.util import load_config

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    raw = out / "raw_text.jsonl"
    read = ReadStats()
    n_docs = n_words = 0
    paths = [Path(t) for t in texts]
    with open(raw, "w", encoding="utf-8") as fh:
        for path in paths:
            for d in read_documents(path, stats=read):
                if d.text.strip():
                    fh.write(json.dumps({"text": d.text}) + "\n")
                    n_docs += 1
                    n_words += len(d.text.split())
    if not n_docs:
        raise IngestError("no text to pretrain on", ", ".join(map(str, paths)))
    cfg_path = Path(config) if config else default_config_path()
    all_overrides: dict[str, Any] = {"paths.raw_text": str(raw), "pretraining.max_epochs": epochs, **(overrides or {}),
                                     **vectors_overrides(vectors, multitask=_is_multitask_config(cfg_path))}
    cfg = load_config(cfg_path, overrides=all_overrides, interpolate=False).interpolate()
    started = time.time()
    pretrain(cfg, out, silent=False, skip_last=True)  # model{epochs - 1}.bin is the last model
    weights = out / f"model{epochs - 1}.bin"
    if not weights.exists():
        raise ModelError(f"pretraining wrote no {weights.name} in {out}")
    meta = {
        "objective": PRETRAIN_OBJECTIVE, "epochs": epochs, "documents": n_docs, "words": n_words,
        "rejected": read.rejected, "text_data": fingerprint(paths), "config": cfg_path.name,
        "vectors": Path(vectors).name if vectors else None,
        "overrides": {k: v for k, v in all_overrides.items() if not k.startswith("paths.")},
        "seconds": round(time.time() - started, 1), "weights": weights.name,
    }
    (out / "pretrain_meta.json").write_text(json.dumps(meta, indent=2))
    return weights


def vectors_overrides(vectors: str | Path | None, *, multitask: bool = False) -> dict[str, Any]:
    """Config overrides that train or pretrain with static vectors (none for ``None``).

    ``multitask``: for ``configs/ner_multi.cfg``, whose tok2vec is a component of its own.
    """
    if not vectors:
        return {}
    key = "components.tok2vec.model.embed" if multitask else "components.ner.model.tok2vec.embed"
    return {"paths.vectors": str(vectors), f"{key}.include_static_vectors": True}


def _is_multitask_config(path: Path) -> bool:
    """Whether a NER config has a ``tok2vec`` component of its own (``configs/ner_multi.cfg``)."""
    return "tok2vec" in Config().from_disk(path, interpolate=False).get("components", {})


def default_multitask_config_path() -> Path:
    return Path(str(resources.files("ingest.text").joinpath("configs/ner_multi.cfg")))


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["training.patience=4000", "nlp.batch_size=128"]`` -> spaCy config overrides.

    Values are parsed as JSON when they are valid JSON (numbers, booleans,
    quoted strings, lists), otherwise kept as strings
    (:func:`graph_engine.settings.parse_assignments`).

    Raises:
        ValueError: an item is not ``section.key=value``.
    """
    items = list(items)
    for item in items:
        key, sep, _ = item.partition("=")
        key = key.strip()
        if not sep or "." not in key or not key.replace(".", "").replace("_", "").isalnum():
            raise ValueError(f"{item!r}: expected section.key=value, e.g. training.patience=4000")
    return parse_assignments(items)


def train_ner(
    train: str | Path,
    dev: str | Path,
    output: str | Path,
    *,
    fmt: str | None = None,
    config: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    name: str = "medkg_ner",
    version: str = "0.1.0",
    init_tok2vec: str | Path | None = None,
    train_repeat: int = 1,
    partial: Iterable[PartialCorpus] = (),
    others: Language | None = None,
    tasks: Iterable[Any] = (),
    init_model: str | Path | None = None,
) -> Path:
    """Train a spaCy NER on annotated corpora.

    Args:
        train: PubTator or IOB training corpus.
        dev: corpus used to pick the best checkpoint (its scores are not a held-out estimate).
        output: directory; ``output/model-best`` is the trained pipeline.
        fmt: corpus format (``pubtator``/``iob``); guessed from the file name when ``None``.
        config: a spaCy config; defaults to the shipped ``configs/ner.cfg``.
        overrides: spaCy config overrides, e.g. ``{"training.max_steps": 2000}``.
        name, version: recorded in the model's ``meta.json``.
        init_tok2vec: pretrained tok2vec weights (:func:`pretrain_tok2vec`) to start from;
            their fingerprint is recorded in ``meta.json``.
        train_repeat: how many times each ``train`` document enters the training data.
        partial: corpora annotated for some labels only, added to the training data
            (:func:`partial_docs`; e.g. NCBI-disease next to BC5CDR).
        others: the pipeline that marks a partial corpus's other labels missing; default
            the shipped extraction pipeline (NER models + dictionary).
        tasks: :class:`ingest.text.multitask.TaskCorpus` corpora. With any, the model is a
            multi-task NER (``configs/ner_multi.cfg``: one shared tok2vec, one head per
            label, each head trained on the corpora that annotate its label; ``train``
            annotates the labels found in it). Not combined with ``partial``.
        init_model: a trained multi-task model (e.g. the shipped ``ner-multi-0.5.0``) to continue
            training: every component of ``config`` is sourced from it (weights, labels and its
            static vectors), so the corpora fine-tune it instead of training from scratch.

    Returns:
        The path of the best model.

    Example:
        >>> train_ner("BC5CDR_TrainingSet.PubTator.txt", "dev.PubTator.txt", "runs/ner")  # doctest: +SKIP
    """
    from spacy.cli.train import train as spacy_train

    out = Path(output)
    corpus_dir = out / "corpus"
    partial = list(partial)
    others_desc: dict[str, Any] = {"pipes": others.pipe_names} if others is not None else {}
    if partial and others is None:
        from ingest.text.pipeline import load_pipeline, shipped_model

        others = load_pipeline(relation_models="none")
        others_desc = {"pipes": others.pipe_names, "shipped": [str(getattr(shipped_model(c), "name", None)) for c in ("ner", "ner_gene")]}
    tasks = list(tasks)
    extra_overrides: dict[str, Any] = {}
    if tasks:
        if partial:
            raise ValueError("partial corpora and multi-task corpora do not combine: give the partial corpus as a task corpus")
        all_tasks = [TaskCorpus(Path(train), corpus_labels(train, fmt), repeat=train_repeat), *tasks]
        train_stats: dict[str, Any] = {"tasks": multitask_docbin(all_tasks, corpus_dir / "train.spacy")}
        cfg = Path(config) if config else default_multitask_config_path()
        extra_overrides = _multitask_heads_override(cfg, frozenset().union(*(t.labels for t in all_tasks)))
        if init_model is not None:
            cfg = sourced_config(cfg, Path(init_model), out / "sourced.cfg", extra_overrides.get("nlp.pipeline"))
            extra_overrides = {"paths.vectors": str(init_model)}
    else:
        if init_model is not None:
            raise ValueError("init_model continues a multi-task model: give the corpora as tasks (--corpus)")
        train_stats = corpus_to_docbin(train, corpus_dir / "train.spacy", fmt, repeat=train_repeat, partial=partial, others=others)
        cfg = Path(config) if config else default_config_path()
    dev_stats = corpus_to_docbin(dev, corpus_dir / "dev.spacy", fmt)
    all_overrides = {"paths.train": str(corpus_dir / "train.spacy"), "paths.dev": str(corpus_dir / "dev.spacy"), **extra_overrides,
                     **(overrides or {})}
    if init_tok2vec is not None:
        all_overrides["paths.init_tok2vec"] = str(init_tok2vec)
    started = time.time()
    spacy_train(cfg, out, overrides=all_overrides, use_gpu=-1)
    best = out / "model-best"
    if not best.exists():
        raise ModelError(f"training produced no model in {best}; check the log above and [training] in {cfg}")
    provenance: dict[str, Any] = {}  # vectors, pretrained weights, partial corpora
    if all_overrides.get("paths.vectors"):
        info = Path(str(all_overrides["paths.vectors"])) / "vectors_info.json"
        provenance["vectors"] = json.loads(info.read_text()) if info.exists() else {"path": Path(str(all_overrides["paths.vectors"])).name}
    if all_overrides.get("paths.init_tok2vec"):
        weights = Path(str(all_overrides["paths.init_tok2vec"]))
        pre_meta = weights.parent / "pretrain_meta.json"
        provenance["init_tok2vec"] = {**fingerprint([weights]), **({"pretraining": json.loads(pre_meta.read_text())} if pre_meta.exists() else {})}
    if init_model is not None:
        init_meta = json.loads((Path(init_model) / "meta.json").read_text())
        provenance["init_model"] = {"name": init_meta.get("name"), "version": init_meta.get("version"), "path": Path(init_model).name}
    if tasks:
        provenance["task_corpora"] = [{"labels": sorted(t.labels), "repeat": t.repeat, "drop_types": sorted(t.drop_types), **fingerprint([t.path])}
                                      for t in tasks]
    if partial:
        provenance["partial_corpora"] = [{"labels": sorted(c.labels), "drop_types": sorted(c.drop_types), **fingerprint([c.path])}
                                         for c in partial]
        provenance["partial_others"] = others_desc
    extra = {**provenance, "train_corpus": train_stats, "dev_corpus": dev_stats,
             "overrides": {k: v for k, v in all_overrides.items() if not k.startswith("paths.")},
             "train_seconds": round(time.time() - started, 1)}
    for model_dir in (best, out / "model-last"):  # the last model is as shippable as the best (a fixed step count)
        if model_dir.exists():
            write_model_meta(model_dir, train, dev, name=name, version=version, config=cfg,
                             extra={**extra, "checkpoint": model_dir.name})
    return best


def sourced_config(config: Path, model: Path, output: Path, pipeline: list[str] | None = None) -> Path:
    """``config`` with every pipeline component sourced from ``model`` (written to ``output``).

    Raises:
        IngestError: ``model`` is not a spaCy pipeline directory, or lacks a component of ``config``.
    """
    meta_path = model / "meta.json"
    if not meta_path.is_file():
        raise IngestError("not a trained spaCy pipeline directory (no meta.json)", str(model))
    have = set(json.loads(meta_path.read_text()).get("pipeline", []))
    cfg = Config().from_disk(config, interpolate=False)
    names = list(pipeline) if pipeline is not None else list(cfg["nlp"]["pipeline"])
    missing = [n for n in names if n not in have]
    if missing:
        raise IngestError(f"the model has no component {', '.join(missing)} to continue from (it has {', '.join(sorted(have))})", str(model))
    cfg["nlp"]["pipeline"] = names
    for name in list(cfg["components"]):
        if name in names:
            cfg["components"][name] = {"source": str(model.resolve())}
        else:
            del cfg["components"][name]
    output.parent.mkdir(parents=True, exist_ok=True)
    cfg.to_disk(output, interpolate=False)
    return output


def _multitask_heads_override(config: Path, labels: frozenset[str]) -> dict[str, Any]:
    """``nlp.pipeline`` without the heads whose labels no training corpus annotates.

    Raises:
        IngestError: no head of the config predicts any of ``labels``.
    """
    cfg = Config().from_disk(config, interpolate=False)
    heads = config_heads(cfg)
    dropped = {name for name, head_labels in heads.items() if not set(head_labels) <= labels}
    if dropped == set(heads):
        raise IngestError(f"no head of {config.name} predicts the corpora's labels {sorted(labels)}", str(config))
    return {"nlp.pipeline": [name for name in cfg["nlp"]["pipeline"] if name not in dropped]} if dropped else {}


def write_model_meta(
    model_dir: str | Path,
    train: str | Path,
    dev: str | Path,
    *,
    name: str,
    version: str,
    config: str | Path | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record name, version, training-data fingerprints and provenance in ``meta.json``.

    Also copies the training config next to the model as ``training.cfg``.
    """
    best = Path(model_dir)
    meta_path = best / "meta.json"
    meta = json.loads(meta_path.read_text())
    cfg = Path(config) if config else default_config_path()
    meta.update(
        {
            "name": name,
            "version": version,
            "description": "medkg biomedical NER (spaCy CNN tok2vec + transition-based ner), trained by `medkg ner train`",
            "medkg": {**meta.get("medkg", {}), "train_data": fingerprint([train]), "dev_data": fingerprint([dev]), "config": cfg.name, **(extra or {})},
        }
    )
    meta_path.write_text(json.dumps(meta, indent=2))
    shutil.copy(cfg, best / "training.cfg")
    return meta
