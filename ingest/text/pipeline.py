"""Build the extraction pipeline from ``configs/pipeline.cfg`` and run it over documents.

Example:
    >>> from ingest.text import load_pipeline, extract_documents, read_documents
    >>> nlp = load_pipeline()                                    # doctest: +SKIP
    >>> for doc in extract_documents(nlp, read_documents("abstracts.pubtator")):  # doctest: +SKIP
    ...     print(doc.id, [m.text for m in doc.mentions], [r.type for r in doc.relations])
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Config

from graph_engine.errors import ModelError
from ingest.text import components as _components
from ingest.text import tokenizer as _tokenizer  # noqa: F401  (registers tokenizer + sentence factory)
from ingest.text.records import Document, Evidence, Mention, Relation

#: Shipped statistical models, by pipeline component (relative to ``ingest/text/models``).
SHIPPED_MODELS = {"ner": "ner-bc5cdr-0.1.0", "ner_gene": "ner-bc2gm-0.1.0"}


def models_dir() -> Path:
    """Where the shipped models live (``ingest/text/models``)."""
    return Path(str(resources.files("ingest.text").joinpath("models")))


def shipped_model(component: str = "ner") -> Path | None:
    """Path of the shipped model for ``ner`` or ``ner_gene``, or ``None`` if not installed."""
    p = models_dir() / SHIPPED_MODELS[component]
    return p if (p / "meta.json").exists() else None


def default_pipeline_config() -> Path:
    return Path(str(resources.files("ingest.text").joinpath("configs/pipeline.cfg")))


def load_pipeline(
    *,
    ner: bool | str | Path = True,
    gene_ner: bool | str | Path = True,
    vocabulary: str | Path = "default",
    relation_models: str = "default",
    config: str | Path | None = None,
) -> Language:
    """Build the extraction pipeline.

    Args:
        ner: ``True`` for the shipped Drug/Disease NER, a model directory, or ``False``
            for dictionary-only extraction.
        gene_ner: the same for the Gene NER.
        vocabulary: ``"default"`` (shipped TSV.gz) or a vocabulary file (see
            :func:`ingest.text.vocabulary.build_vocabulary`).
        relation_models: ``"default"``, ``"none"`` (trigger rules only) or ``TYPE=path,...``.
        config: another pipeline config; defaults to ``configs/pipeline.cfg``.

    Raises:
        ModelError: a requested model is missing; its message says which path to fix.
    """
    cfg = Config().from_disk(config or default_pipeline_config())
    pipeline = list(cfg["nlp"]["pipeline"])
    for comp, choice, key in (("ner", ner, "ner_model"), ("ner_gene", gene_ner, "gene_model")):
        if comp not in pipeline:
            continue
        if choice is False:
            pipeline.remove(comp)
            cfg["components"].pop(comp, None)
            continue
        path = shipped_model(comp) if choice is True else Path(choice)
        if path is None or not (path / "meta.json").exists():
            raise ModelError(
                f"no {comp} model at {path or models_dir() / SHIPPED_MODELS[comp]}: train one with "
                f"'medkg ner train' and pass it, or run dictionary-only ({comp}=False / --no-ner)"
            )
        cfg["paths"][key] = str(path)
    cfg["paths"]["vocabulary"] = str(vocabulary)
    cfg["paths"]["relation_models"] = relation_models
    cfg["nlp"]["pipeline"] = pipeline
    # [paths] are interpolated when the config is resolved, after our edits
    return spacy.util.load_model_from_config(cfg, auto_fill=True, validate=True)


def doc_records(doc: Doc, source: Document) -> Document:
    """Fill ``source.mentions`` and ``source.relations`` from an annotated spaCy doc."""
    cues = _components.doc_cues(doc)
    doc_id = source.id
    mentions = []
    for ent in doc.ents:
        neg, spec = _components.span_flags(cues, ent.start, ent.end)
        mentions.append(
            Mention(doc_id, ent.start_char, ent.end_char, ent.text, ent.label_, ent.kb_id_ or None,
                    float(ent._.medkg_score if ent._.medkg_score is not None else 0.8), ent._.medkg_source or "ner", neg, spec)
        )
    relations = []
    version = _components.EXTRACTOR_VERSION
    for rel_type, ss, se, os_, oe, score, neg, spec in doc._.medkg_relations or []:
        subj, obj = doc[ss:se], doc[os_:oe]
        sent = subj.sent
        ev = Evidence(doc_id, sent.text, sent.start_char, sent.end_char, subj.start_char, subj.end_char, obj.start_char, obj.end_char,
                      _components.EXTRACTOR, version)
        relations.append(Relation(doc_id, rel_type, subj.kb_id_, obj.kb_id_, subj.label_, obj.label_, subj.text, obj.text, neg, spec, score, ev))
    source.mentions = mentions
    source.relations = relations
    return source


def extract_documents(
    nlp: Language,
    documents: Iterable[Document],
    *,
    batch_size: int = 64,
    n_process: int = 1,
) -> Iterator[Document]:
    """Run the pipeline over documents, streaming; yields each document with results.

    Args:
        nlp: from :func:`load_pipeline`.
        documents: e.g. from :func:`ingest.text.readers.read_documents`.
        batch_size: documents per ``nlp.pipe`` batch.
        n_process: worker processes for ``nlp.pipe`` (each loads the pipeline once).
    """
    stream = ((d.text, d) for d in documents)
    for doc, source in nlp.pipe(stream, as_tuples=True, batch_size=batch_size, n_process=n_process):
        yield doc_records(doc, source)


def extract_text(nlp: Language, text: str, doc_id: str = "text") -> Document:
    """Convenience: extract from one string."""
    return doc_records(nlp(text), Document(id=doc_id, text=text))


@dataclass
class ExtractSummary:
    """Counts of an extraction run: every input document is read (then extracted) or rejected."""

    read: int = 0
    extracted: int = 0
    rejected: int = 0
    recoded: int = 0
    mentions: int = 0
    linked: int = 0
    relations: int = 0
    asserted: int = 0

    def line(self) -> str:
        return (
            f"read {self.read} · extracted {self.extracted} · rejected {self.rejected} · "
            f"mentions {self.mentions} ({self.linked} linked) · relations {self.relations} ({self.asserted} asserted)"
        )


def extract_to_jsonl(
    input_path: str | Path,
    output: str | Path,
    *,
    fmt: str | None = None,
    nlp: Language | None = None,
    ner: bool = True,
    batch_size: int = 64,
    n_process: int = 1,
    max_chars: int | None = None,
    rejects: str | Path | None = None,
    progress: bool = False,
) -> ExtractSummary:
    """Read, extract and write one JSON object per document (``medkg extract``).

    Per-document problems (empty, binary, too long, malformed line) are written to
    ``rejects`` (default ``<output>.rejects.tsv``: path, line, reason) and counted;
    the run goes on.

    Returns:
        The counts, where ``read + rejected`` covers every input document.
    """
    import json

    from ingest.text.readers import DEFAULT_MAX_CHARS, ReadStats, read_documents

    nlp = nlp or load_pipeline(ner=ner, gene_ner=ner)
    stats = ReadStats()
    summary = ExtractSummary()
    out_path = Path(output)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rejects_path = Path(rejects) if rejects else out_path.with_name(out_path.name + ".rejects.tsv")
    docs = read_documents(input_path, fmt, stats=stats, max_chars=max_chars or DEFAULT_MAX_CHARS)
    if progress:
        from tqdm import tqdm

        docs = tqdm(docs, unit="doc", desc="extract")
    with open(out_path, "w", encoding="utf-8") as fh:
        for d in extract_documents(nlp, docs, batch_size=batch_size, n_process=n_process):
            fh.write(json.dumps(d.to_json(), ensure_ascii=False) + "\n")
            summary.extracted += 1
            summary.mentions += len(d.mentions)
            summary.linked += sum(1 for m in d.mentions if m.id)
            summary.relations += len(d.relations)
            summary.asserted += sum(1 for r in d.relations if r.asserted)
    summary.read, summary.rejected, summary.recoded = stats.read, stats.rejected, stats.recoded
    if stats.errors:
        with open(rejects_path, "w", encoding="utf-8") as fh:
            fh.write("path\tline\treason\n")
            for err in stats.errors:
                fh.write(f"{err.path or ''}\t{err.line or ''}\t{err.reason.replace(chr(9), ' ')}\n")
    return summary
