"""Training and evaluating the statistical NER through spaCy's config system.

``train_ner`` turns annotated corpora (PubTator or IOB, any label mapped by
``data/labels.toml``) into spaCy ``DocBin`` files tokenized by the medkg
biomedical tokenizer, fills ``configs/ner.cfg`` and runs ``spacy train``. The
best model (by the dev set's entity F1) gets a ``meta.json`` that records the
config, a fingerprint of the training data and the dev scores.

``evaluate_ner`` scores any pipeline on an annotated corpus with exact span
matching (start, end and label must all agree), per label and micro-averaged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.util import filter_spans
from thinc.api import Config

from graph_engine.errors import IngestError, ModelError
from graph_engine.settings import parse_assignments
from ingest.text import tokenizer as _tokenizer  # noqa: F401  (registers medkg.bio_tokenizer.v1)
from ingest.text.readers import ReadStats, read_documents
from ingest.text.records import Document


def default_config_path() -> Path:
    """The shipped training config (``ingest/text/configs/ner.cfg``)."""
    return Path(str(resources.files("ingest.text").joinpath("configs/ner.cfg")))


#: the error for a training corpus without one annotated mention
NO_MENTIONS = "no annotated mention found: expected a PubTator or IOB corpus with Disease/Chemical/Gene annotations"


def blank_pipeline() -> Language:
    """An empty English pipeline with the medkg biomedical tokenizer."""
    nlp = spacy.blank("en")
    nlp.tokenizer = _tokenizer.make_bio_tokenizer(nlp)
    return nlp


def documents_to_docs(nlp: Language, documents: Iterable[Document], stats: dict[str, int] | None = None) -> Iterator[Doc]:
    """Tokenize documents and set their gold mentions as ``doc.ents``.

    Mentions whose offsets fall inside a token are widened to token boundaries
    (counted in ``stats["expanded"]``); overlapping mentions keep the longest.
    """
    counts = stats if stats is not None else {}
    for d in documents:
        doc = nlp.make_doc(d.text)
        spans = []
        for m in d.gold_mentions:
            span = doc.char_span(m.start, m.end, label=m.label)
            if span is None:
                span = doc.char_span(m.start, m.end, label=m.label, alignment_mode="expand")
                counts["expanded"] = counts.get("expanded", 0) + 1
            if span is not None:
                spans.append(span)
        kept = filter_spans(spans)
        counts["overlapping"] = counts.get("overlapping", 0) + len(spans) - len(kept)
        counts["mentions"] = counts.get("mentions", 0) + len(kept)
        counts["docs"] = counts.get("docs", 0) + 1
        doc.ents = kept
        yield doc


@dataclass(frozen=True)
class PartialCorpus:
    """A training corpus annotated for some labels only (NCBI-disease: Disease; BC2GM: Gene).

    Attributes:
        path: the corpus (PubTator or IOB).
        labels: the labels it annotates; its mentions of them become entities.
        drop_types: corpus annotation types (the type column of a PubTator-style file;
            an IOB corpus has none to drop) that are marked *missing* instead:
            NCBI-disease's ``Modifier`` and ``CompositeMention``, which BC5CDR annotates differently.
    """

    path: Path
    labels: frozenset[str]
    drop_types: frozenset[str] = frozenset()


def _annotation_types(path: str | Path) -> dict[tuple[str, int, int], str]:
    """``(doc id, start, end) -> annotation type`` of a PubTator-style file's mention lines."""
    out: dict[tuple[str, int, int], str] = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 5 and cols[1].isdigit() and cols[2].isdigit():
                out[(cols[0], int(cols[1]), int(cols[2]))] = cols[4]
    return out


def partial_docs(nlp: Language, corpus: PartialCorpus, others: Language | None, counts: dict[str, int],
                 stats: ReadStats | None = None) -> Iterator[Doc]:
    """Docs of a partially annotated corpus, for training next to a fully annotated one.

    The corpus never annotated the other labels, so treating everything else as
    "not an entity" would teach the model that the drugs in NCBI-disease are not
    drugs. Tokens are therefore: entities (its mentions of ``corpus.labels``),
    *missing* -- no loss either way -- (mentions of ``corpus.drop_types``, and
    every span that ``others``, a recognising pipeline, labels with any label
    outside ``corpus.labels``), or outside (the rest).
    """
    types = _annotation_types(corpus.path) if corpus.drop_types else {}
    for d in read_documents(corpus.path, stats=stats if stats is not None else ReadStats()):
        doc = nlp.make_doc(d.text)
        ents, missing = [], []
        for m in d.gold_mentions:
            if m.label not in corpus.labels:
                continue
            span = doc.char_span(m.start, m.end, label=m.label, alignment_mode="expand")
            if span is None:
                continue
            if types.get((d.id, m.start, m.end)) in corpus.drop_types:
                missing.append(span)
            else:
                ents.append(span)
        ents = filter_spans(ents)
        if others is not None:
            for e in others(d.text).ents:
                if e.label_ not in corpus.labels:
                    span = doc.char_span(e.start_char, e.end_char, alignment_mode="expand")
                    if span is not None:
                        missing.append(span)
        taken = {i for e in ents for i in range(e.start, e.end)}
        # a span that overlaps an annotated entity stays as it is (the annotation wins)
        unknown = sorted({i for span in missing if not taken.intersection(range(span.start, span.end))
                          for i in range(span.start, span.end)})
        doc.set_ents(ents, missing=[doc[i:i + 1] for i in unknown], default="outside")
        counts["partial_docs"] = counts.get("partial_docs", 0) + 1
        counts["partial_mentions"] = counts.get("partial_mentions", 0) + len(ents)
        counts["partial_missing_tokens"] = counts.get("partial_missing_tokens", 0) + len(unknown)
        yield doc


def corpus_to_docbin(path: str | Path, output: str | Path, fmt: str | None = None, *, repeat: int = 1,
                     partial: Iterable[PartialCorpus] = (), others: Language | None = None) -> dict[str, Any]:
    """Convert an annotated corpus file to a ``.spacy`` file; returns conversion counts.

    Args:
        repeat: add every document of ``path`` this many times (weights it against ``partial``).
        partial: partially annotated corpora added once each (:func:`partial_docs`).
        others: the pipeline that finds the labels a partial corpus does not annotate.

    Raises:
        IngestError: the corpus is unreadable or has no annotated mention.
    """
    nlp = blank_pipeline()
    read = ReadStats()
    counts: dict[str, int] = {}
    db = DocBin(store_user_data=False)
    labels: dict[str, int] = {}
    for doc in documents_to_docs(nlp, read_documents(path, fmt, stats=read), counts):
        for _ in range(repeat):
            db.add(doc)
        for ent in doc.ents:
            labels[ent.label_] = labels.get(ent.label_, 0) + 1
    if not labels:
        raise IngestError(NO_MENTIONS, str(path))
    for corpus in partial:
        for doc in partial_docs(nlp, corpus, others, counts, stats=read):
            db.add(doc)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(output)
    return {**counts, "labels": labels, "rejected": read.rejected, "warnings": len(read.warnings),
            **({"repeat": repeat} if repeat != 1 else {})}


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
        output_layer = chain(Maxout(nO=hidden_size, nP=maxout_pieces), LayerNorm(nI=hidden_size),
                             MultiSoftmax([256] * n_characters, nI=hidden_size))
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


def corpus_labels(path: str | Path, fmt: str | None = None) -> frozenset[str]:
    """The labels of an annotated corpus's mentions.

    Raises:
        IngestError: the corpus has no annotated mention.
    """
    labels = frozenset(m.label for d in read_documents(path, fmt, stats=ReadStats()) for m in d.gold_mentions)
    if not labels:
        raise IngestError(NO_MENTIONS, str(path))
    return labels


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


def fingerprint(paths: Iterable[str | Path]) -> dict[str, str]:
    """SHA-256 of each file, keyed by file name (recorded with a trained model)."""
    out = {}
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        out[Path(p).name] = h.hexdigest()
    return out


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
        from ingest.text.multitask import TaskCorpus, multitask_docbin

        if partial:
            raise ValueError("partial corpora and multi-task corpora do not combine: give the partial corpus as a task corpus")
        all_tasks = [TaskCorpus(Path(train), corpus_labels(train, fmt), repeat=train_repeat), *tasks]
        train_stats: dict[str, Any] = {"tasks": multitask_docbin(all_tasks, corpus_dir / "train.spacy")}
        cfg = Path(config) if config else default_multitask_config_path()
        extra_overrides = _multitask_heads_override(cfg, frozenset().union(*(t.labels for t in all_tasks)))
    else:
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
    if tasks:
        provenance["task_corpora"] = [{"labels": sorted(t.labels), "repeat": t.repeat, "drop_types": sorted(t.drop_types), **fingerprint([t.path])}
                                      for t in tasks]
    if partial:
        provenance["partial_corpora"] = [{"labels": sorted(c.labels), "drop_types": sorted(c.drop_types), **fingerprint([c.path])}
                                         for c in partial]
        provenance["partial_others"] = others_desc
    write_model_meta(
        best, train, dev, name=name, version=version, config=cfg,
        extra={**provenance, "train_corpus": train_stats, "dev_corpus": dev_stats,
               "overrides": {k: v for k, v in all_overrides.items() if not k.startswith("paths.")},
               "train_seconds": round(time.time() - started, 1)},
    )
    return best


def _multitask_heads_override(config: Path, labels: frozenset[str]) -> dict[str, Any]:
    """``nlp.pipeline`` without the heads whose labels no training corpus annotates.

    Raises:
        IngestError: no head of the config predicts any of ``labels``.
    """
    from ingest.text.multitask import config_heads

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


# --------------------------------------------------------------------------- evaluation


@dataclass
class LabelScore:
    """Exact-match counts and P/R/F1 for one label."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4), "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass
class NerScores:
    """Per-label and micro-averaged exact-span scores."""

    per_label: dict[str, LabelScore] = field(default_factory=dict)
    documents: int = 0

    @property
    def micro(self) -> LabelScore:
        total = LabelScore()
        for s in self.per_label.values():
            total.tp += s.tp
            total.fp += s.fp
            total.fn += s.fn
        return total

    def as_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "micro": self.micro.as_dict(), "per_label": {k: v.as_dict() for k, v in sorted(self.per_label.items())}}

    def table(self) -> str:
        """A printable table: label, P, R, F1, support."""
        lines = [f"{'label':<10} {'P':>7} {'R':>7} {'F1':>7} {'gold':>7}"]
        for label, s in sorted(self.per_label.items()):
            lines.append(f"{label:<10} {s.precision:7.4f} {s.recall:7.4f} {s.f1:7.4f} {s.tp + s.fn:7d}")
        m = self.micro
        lines.append(f"{'micro':<10} {m.precision:7.4f} {m.recall:7.4f} {m.f1:7.4f} {m.tp + m.fn:7d}")
        return "\n".join(lines)


def score_mentions(gold: Iterable[tuple[int, int, str]], predicted: Iterable[tuple[int, int, str]], scores: NerScores, labels: set[str] | None = None) -> None:
    """Add one document's exact-match counts to ``scores`` (only for ``labels`` when given)."""
    g = {x for x in gold if labels is None or x[2] in labels}
    p = {x for x in predicted if labels is None or x[2] in labels}
    for x in g | p:
        s = scores.per_label.setdefault(x[2], LabelScore())
        if x in g and x in p:
            s.tp += 1
        elif x in p:
            s.fp += 1
        else:
            s.fn += 1


def evaluate_ner(
    data: str | Path,
    nlp: Language | str | Path | None = None,
    *,
    fmt: str | None = None,
    labels: Iterable[str] | None = None,
    batch_size: int = 64,
) -> NerScores:
    """Score a pipeline's entities against an annotated corpus with exact span matching.

    Args:
        data: PubTator or IOB corpus with gold mentions.
        nlp: a pipeline, a model directory, or ``None`` for the shipped extraction pipeline.
        fmt: corpus format; guessed when ``None``.
        labels: labels to score; by default those that occur in the gold data, so a
            corpus without genes does not count predicted genes as errors.
        batch_size: documents per ``nlp.pipe`` batch.

    Returns:
        Scores per label and micro-averaged.
    """
    if nlp is None:
        from ingest.text.pipeline import load_pipeline

        nlp = load_pipeline()
    elif not isinstance(nlp, Language):
        nlp = spacy.load(nlp)
    docs = list(read_documents(data, fmt, stats=ReadStats()))
    wanted = set(labels) if labels else {m.label for d in docs for m in d.gold_mentions}
    scores = NerScores()
    for d, doc in zip(docs, nlp.pipe((d.text for d in docs), batch_size=batch_size)):
        scores.documents += 1
        score_mentions(((m.start, m.end, m.label) for m in d.gold_mentions), ((e.start_char, e.end_char, e.label_) for e in doc.ents), scores, wanted)
    for label in wanted:
        scores.per_label.setdefault(label, LabelScore())
    return scores
