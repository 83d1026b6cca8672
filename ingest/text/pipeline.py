"""Build the extraction pipeline from ``configs/pipeline.cfg`` and run it over documents.

Example:
    >>> from ingest.text import load_pipeline, extract_documents, read_documents
    >>> nlp = load_pipeline()                                    # doctest: +SKIP
    >>> for doc in extract_documents(nlp, read_documents("abstracts.pubtator")):  # doctest: +SKIP
    ...     print(doc.id, [m.text for m in doc.mentions], [r.type for r in doc.relations])
"""

from __future__ import annotations

import bisect
import collections
import gc
import json
import logging
import multiprocessing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import spacy
from spacy.attrs import IS_SPACE, LOWER, NORM, PREFIX, SHAPE, SUFFIX
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Config

from graph_engine.batching import batched
from graph_engine.errors import ModelError
from ingest.text import components as _components  # noqa: F401  (registers the medkg_* factories)
from ingest.text.components.cache import char_offsets, fast_ents, release_cache, sentence_bounds, span_origin
from ingest.text.components.negation import cue_coverage, doc_cues
from ingest.text.components.relations import EXTRACTOR, EXTRACTOR_VERSION
from ingest.text import multitask as _multitask  # also registers medkg_ner_head (spacy.load of a multi-task model)
from ingest.text import tokenizer as _tokenizer  # noqa: F401  (registers tokenizer + sentence factory)
from ingest.text.records import Document, Evidence, Mention, Relation

#: Shipped statistical models, by pipeline component (relative to ``ingest/text/models``).
SHIPPED_MODELS = {"ner": "ner-multi-0.5.0"}  # its Gene head stands in for a separate "ner_gene" model


def models_dir() -> Path:
    """Where the shipped models live (``ingest/text/models``)."""
    return Path(str(resources.files("ingest.text").joinpath("models")))


def shipped_model(component: str = "ner") -> Path | None:
    """Path of the shipped model for ``ner`` or ``ner_gene``, or ``None`` if none is shipped or installed."""
    if component not in SHIPPED_MODELS:
        return None
    p = models_dir() / SHIPPED_MODELS[component]
    return p if (p / "meta.json").exists() else None


def default_pipeline_config() -> Path:
    return Path(str(resources.files("ingest.text").joinpath("configs/pipeline.cfg")))


def load_pipeline(
    *,
    ner: bool | str | Path = True,
    gene_ner: bool | str | Path = "auto",
    vocabulary: str | Path = "default",
    relation_models: str = "default",
    config: str | Path | None = None,
    neural_relations: bool | str | Path = "auto",
) -> Language:
    """Build the extraction pipeline.

    Args:
        ner: ``True`` for the shipped Drug/Disease NER, a model directory, or ``False``
            for dictionary-only extraction.
        gene_ner: the same for the Gene NER; ``"auto"`` uses the shipped one if it is installed.
        vocabulary: ``"default"`` (shipped TSV.gz) or a vocabulary file (see
            :func:`ingest.text.vocabulary.build_vocabulary`).
        relation_models: ``"default"``, ``"none"`` (trigger rules only) or ``TYPE=path,...``.
        config: another pipeline config; defaults to ``configs/pipeline.cfg``.
        neural_relations: the neural ``INTERACTS_WITH`` pair model (:data:`NEURAL_DDI_MODEL`):
            ``"auto"`` uses the shipped one in the accurate mode (with the NER, whose word
            vectors it reads, and the default relation models), ``False`` never, ``True``
            requires it, a path loads that model.

    Raises:
        ModelError: a requested model is missing; its message says which path to fix.
    """
    # [paths] are filled below, so read the config without interpolating it yet
    cfg = Config().from_disk(config or default_pipeline_config(), interpolate=False)
    pipeline = list(cfg["nlp"]["pipeline"])
    sourced: list[Path] = []
    gene_head = False
    for comp, choice, key in (("ner", ner, "ner_model"), ("ner_gene", gene_ner, "gene_model")):
        if comp not in pipeline:
            continue
        if comp == "ner_gene" and gene_head:
            continue  # the multi-task model's Gene head stands in for the separate Gene model
        if choice == "auto":
            choice = shipped_model(comp) is not None
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
        sourced.append(path)
        heads = multitask_heads(path)
        if heads and comp == "ner":
            gene_head = _source_multitask(cfg, pipeline, path, heads, keep_gene=gene_ner is True or gene_ner == "auto")
        else:
            cfg["paths"][key] = str(path)
    cfg["paths"]["vocabulary"] = str(vocabulary)
    cfg["paths"]["relation_models"] = relation_models
    cfg["nlp"]["pipeline"] = pipeline
    nlp = spacy.util.load_model_from_config(cfg.interpolate(), auto_fill=True, validate=True)
    _attach_vectors(nlp, sourced)
    _attach_neural_relations(nlp, neural_relations, sourced[0] if sourced and ner is not False else None, relation_models)
    _enable_entity_cache(nlp)
    _keep_used_lexical_attributes(nlp)
    return nlp


def multitask_heads(path: Path) -> dict[str, list[str]]:
    """``{head component: labels}`` of a multi-task NER model (:mod:`ingest.text.multitask`); empty for a plain one."""
    cfg_path = path / "config.cfg"
    if not cfg_path.exists():
        return {}
    return _multitask.config_heads(Config().from_disk(cfg_path, interpolate=False))


def _source_multitask(cfg: Config, pipeline: list[str], path: Path, heads: dict[str, list[str]], *, keep_gene: bool) -> bool:
    """Put a multi-task model's ``tok2vec`` and heads where ``ner`` was, in ``cfg`` and ``pipeline`` (in place).

    With ``keep_gene``, its Gene head replaces the separate Gene model (``ner_gene``);
    otherwise the head is left out. Returns whether a Gene head was kept.
    """
    names = ["tok2vec", *[h for h, labels in heads.items() if keep_gene or "Gene" not in labels]]
    gene_kept = any("Gene" in heads.get(h, []) for h in names)
    if gene_kept and "ner_gene" in pipeline:
        pipeline.remove("ner_gene")
        cfg["components"].pop("ner_gene", None)
    clash = (set(pipeline) - {"ner"}).intersection(names)
    if clash:
        raise ModelError(f"{path}: its components {sorted(clash)} clash with the pipeline's; rename them in the model's config.cfg")
    at = pipeline.index("ner")
    pipeline[at:at + 1] = names
    cfg["components"].pop("ner", None)
    for name in names:
        cfg["components"][name] = {"source": str(path), "component": name}
    return gene_kept


#: Lexical attributes the extraction pipeline reads: the NER features (``ner.cfg``:
#: NORM, PREFIX, SUFFIX, SHAPE; vectors are looked up by ORTH), IS_SPACE (spaCy's
#: NER transition rules) and LOWER. spaCy's English vocabulary computes 23, for
#: every new word, in Python (a new lexeme cost 28 us, 12.6 us of it in getters).
USED_LEXICAL_ATTRIBUTES = frozenset({LOWER, NORM, PREFIX, SUFFIX, SHAPE, IS_SPACE})


def _keep_used_lexical_attributes(nlp: Language) -> None:
    """Compute only :data:`USED_LEXICAL_ATTRIBUTES` for new words.

    The others (``like_num``, ``is_stop``, ``like_url`` ...) stay unset on words the
    pipeline meets for the first time. No medkg component reads them and the
    ``Doc`` objects never leave the pipeline; output is identical (checked on
    BC5CDR, both pipelines). Pipelines built elsewhere (training) keep them all.
    """
    getters = nlp.vocab.lex_attr_getters  # type: ignore[attr-defined]
    nlp.vocab.lex_attr_getters = {attr: f for attr, f in getters.items() if attr in USED_LEXICAL_ATTRIBUTES}  # type: ignore[attr-defined]


#: factories of the medkg components that set or read ``doc.ents`` (or run among them)
_ENTITY_FACTORIES = frozenset({
    "medkg_dictionary_v1", "medkg_span_repair_v1", "medkg_abbreviations_v1", "medkg_linker_v1",
    "medkg_negation_v1", "medkg_relations_v1",
})
_CACHED_ENTS = "medkg_cached_ents"


def _enable_entity_cache(nlp: Language) -> None:
    """Let the medkg components pass entities through the document cache when nothing else can change them.

    ``fast_ents(doc, cached=True)`` trusts the entity list the last medkg writer
    stored; that holds only if no other component (a statistical NER, say) runs
    after the first medkg entity component. The shipped pipeline is such a
    pipeline; a config that interleaves other components keeps reading the
    entities from the doc.
    """
    factories = [nlp.get_pipe_meta(name).factory for name in nlp.pipe_names]
    first = next((k for k, f in enumerate(factories) if f in _ENTITY_FACTORIES), len(factories))
    trusted = all(f in _ENTITY_FACTORIES for f in factories[first:])
    for name, factory in zip(nlp.pipe_names, factories):
        component = nlp.get_pipe(name)
        if factory in _ENTITY_FACTORIES and hasattr(component, "cached_ents"):
            component.cached_ents = trusted
    setattr(nlp, _CACHED_ENTS, trusted)  # read by doc_records' callers (nlp.meta would call every component's labels)


#: the shipped neural INTERACTS_WITH model (relative to ``ingest/text/models``; its ``.json`` side file next to it)
NEURAL_DDI_MODEL = "relations-ddi-lstm-0.5.0.pt"


def _attach_neural_relations(nlp: Language, choice: bool | str | Path, ner_dir: Path | None, relation_models: str) -> None:
    """Let the relation step use the neural DDI model (see :func:`load_pipeline`'s ``neural_relations``).

    Raises:
        ModelError: the model was required (``True`` or a path) but is missing, or there is no NER
            model whose word vectors it needs.
    """
    from ingest.text.components.pair_cnn import PairCnnModel

    if choice is False or "relations" not in nlp.pipe_names:
        return
    path = models_dir() / NEURAL_DDI_MODEL if choice is True or choice == "auto" else Path(str(choice))
    if choice == "auto" and (ner_dir is None or relation_models != "default" or not path.is_file()):
        return
    if ner_dir is None:
        raise ModelError(f"the neural relation model {path} reads the NER model's word vectors: load the pipeline with the NER")
    if not path.is_file():
        raise ModelError(f"no neural relation model at {path}: train one with python -m ingest.text.pair_cnn_training")
    try:
        model = PairCnnModel.load(path, ner_dir / "vocab")
    except ModelError as err:
        if choice != "auto":
            raise
        # another NER model (other word vectors) than the one the shipped pair model was trained with
        logging.getLogger(__name__).warning("neural INTERACTS_WITH model not used, the linear one is: %s", err)
        return
    relations: Any = nlp.get_pipe("relations")
    if model.config.mix_weight < 1.0:  # it decides together with the linear model it was fitted with
        linear = shipped_linear_ddi()
        if not (relation_models == "default" and "INTERACTS_WITH" in relations.models and model.fitted_with(linear)):
            msg = f"{path} decides together with the shipped linear INTERACTS_WITH model {linear.name}, which this pipeline does not have"
            if choice != "auto":
                raise ModelError(msg)
            logging.getLogger(__name__).warning("neural INTERACTS_WITH model not used, the linear one is: %s", msg)
            return
    relations.use_neural(model)
    _attach_neural_targets(relations, ner_dir, choice)


def shipped_linear_ddi() -> Path:
    """Path of the shipped linear ``INTERACTS_WITH`` model (the pair CNN ensemble's partner)."""
    from ingest.text.components.relations import MODEL_FILES

    return models_dir() / MODEL_FILES["INTERACTS_WITH"]


#: the shipped neural companion of the TARGETS model (relative to ``ingest/text/models``)
NEURAL_TARGETS_MODEL = "relations-chemprot-cnn-0.1.0.pt"


def _attach_neural_targets(relations: Any, ner_dir: Path, choice: bool | str | Path) -> None:
    """The TARGETS model's neural companion, next to the shipped linear TARGETS model only: it was
    fitted on the average of the two (its ``linear_sha256``); missing or mismatched, the linear model
    decides alone (with a warning when the companion is there but does not fit)."""
    from ingest.text.components.pair_cnn import PairCnnModel
    from ingest.text.components.targets import default_targets_model

    path = models_dir() / NEURAL_TARGETS_MODEL
    linear = default_targets_model()
    if relations.targets is None or linear is None or not path.is_file() or (choice is not True and choice != "auto"):
        return
    log = logging.getLogger(__name__)
    try:
        model = PairCnnModel.load(path, ner_dir / "vocab")
    except ModelError as err:
        log.warning("neural TARGETS companion not used, the linear model decides alone: %s", err)
        return
    if not model.fitted_with(linear):
        log.warning("neural TARGETS companion %s was fitted with another linear TARGETS model than %s: not used", path, linear)
        return
    relations.use_neural_targets(model)


def _attach_vectors(nlp: Language, model_dirs: list[Path]) -> None:
    """Give the assembled pipeline the static word vectors its sourced NER models were trained with.

    A component sourced from another pipeline does not bring that pipeline's
    vocabulary vectors along, and a model trained with ``include_static_vectors``
    needs them at run time.

    Raises:
        ModelError: two sourced models were trained with different vectors.
    """
    from spacy.vectors import Vectors

    found: tuple[Path, Vectors] | None = None
    for d in model_dirs:
        meta = json.loads((d / "meta.json").read_text())
        if not meta.get("vectors", {}).get("width"):
            continue
        vec = Vectors(strings=nlp.vocab.strings).from_disk(d / "vocab")
        if found is None:
            found = (d, vec)
        elif found[1].shape != vec.shape or found[1].to_bytes(exclude=["strings"]) != vec.to_bytes(exclude=["strings"]):
            raise ModelError(f"NER models {found[0]} and {d} were trained with different word vectors; "
                             "train both with the same --vectors")
    if found is not None:
        nlp.vocab.vectors = found[1]


def doc_records(doc: Doc, source: Document, cached_ents: bool = False) -> Document:
    """Fill ``source.mentions`` and ``source.relations`` from an annotated spaCy doc.

    ``cached_ents``: read the entities the pipeline's last medkg component left in the
    document cache (pass ``nlp.medkg_cached_ents``, set by :func:`load_pipeline`).
    """
    cues = doc_cues(doc)
    info = doc._.medkg_spans or {}
    doc_id = source.id
    mentions = []
    text = source.text  # the tokenizer never alters text: doc.text == source.text, without rebuilding it
    ents = fast_ents(doc, cached_ents)
    idx, length = char_offsets(doc) if ents else ([], [])
    neg_at, spec_at = cue_coverage(cues, len(doc))
    for start, end, label, kb in ents:
        neg = bool(neg_at[start] or neg_at[end - 1])
        spec = bool(spec_at[start] or spec_at[end - 1])
        score, origin = span_origin(info, start, end)
        s_char, e_char = idx[start], idx[end - 1] + length[end - 1]
        mentions.append(Mention(doc_id, s_char, e_char, text[s_char:e_char], label, kb or None, float(score), origin, neg, spec))
    relations = []
    version = EXTRACTOR_VERSION
    rels = doc._.medkg_relations or []
    if rels:
        bounds = sentence_bounds(doc)
        starts = [b[0] for b in bounds]
        if not ents:
            idx, length = char_offsets(doc)
    for rel_type, ss, se, os_, oe, score, neg, spec, s_id, o_id, s_label, o_label, kind in rels:
        # the sentence of the mentions (from the first one's to the last one's for a document-level relation)
        lo = bounds[bisect.bisect_right(starts, min(ss, os_)) - 1][0]
        hi = bounds[bisect.bisect_right(starts, max(se, oe) - 1) - 1][1]
        sc = idx[lo]
        sentence = text[sc : idx[hi - 1] + length[hi - 1]]
        s0, s1 = idx[ss], idx[se - 1] + length[se - 1]
        o0, o1 = idx[os_], idx[oe - 1] + length[oe - 1]
        ev = Evidence(doc_id, sentence, sc, sc + len(sentence), s0, s1, o0, o1, EXTRACTOR, version)
        relations.append(Relation(doc_id, rel_type, s_id or None, o_id or None, s_label, o_label, text[s0:s1], text[o0:o1], neg, spec, score, ev, kind))
    source.mentions = mentions
    source.relations = relations
    release_cache(doc)
    return source


def extract_documents(
    nlp: Language,
    documents: Iterable[Document],
    *,
    batch_size: int = 64,
    n_process: int = 1,
) -> Iterator[Document]:
    """Run the pipeline over documents, streaming; yields each document with results, in order.

    Args:
        nlp: from :func:`load_pipeline`.
        documents: e.g. from :func:`ingest.text.readers.read_documents`.
        batch_size: documents per ``nlp.pipe`` batch (and per worker task).
        n_process: worker processes. With more than one, each forked worker runs the
            whole extraction on a batch and sends back the typed records only (spaCy's
            own ``n_process`` would ship every ``Doc`` back and forth, and the parent
            would become the bottleneck). At most ``2 * n_process`` batches are in
            flight, so memory stays flat on endless input.
    """
    # The pipeline's vocabulary tables and models live as long as the process; moving them
    # to the collector's permanent generation stops every full collection re-scanning them
    # (about 10% of dictionary-mode time) and keeps forked workers from copying them.
    gc.freeze()
    if n_process <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield from _extract_serial(nlp, documents, batch_size)
        return
    global _WORKER_NLP
    _WORKER_NLP = nlp  # inherited by the forked workers
    ctx = multiprocessing.get_context("fork")
    pending: collections.deque = collections.deque()
    with ctx.Pool(n_process) as pool:
        for chunk in batched(documents, batch_size):
            pending.append(pool.apply_async(_extract_chunk, (chunk, batch_size)))
            while len(pending) >= 2 * n_process:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


_WORKER_NLP: Language | None = None


def _extract_chunk(chunk: list[Document], batch_size: int) -> list[Document]:
    assert _WORKER_NLP is not None
    return list(_extract_serial(_WORKER_NLP, chunk, batch_size))


#: Documents a process extracts with a pipeline before it starts freeing new strings (see :func:`_extract_serial`).
WARM_UP_DOCS = 5000
#: attribute of a pipeline: documents it has extracted in this process (a forked worker's copy goes on from its parent's)
_DOCS_SEEN = "medkg_docs_seen"


def _extract_serial(nlp: Language, documents: Iterable[Document], batch_size: int) -> Iterator[Document]:
    """Extract batch by batch; once the process has extracted :data:`WARM_UP_DOCS` documents with
    ``nlp``, each batch runs in a spaCy memory zone.

    spaCy keeps every string and lexeme it has seen, so on endless distinct text
    its vocabulary grows without bound (about 80 bytes per new word, forever).
    The first documents build the permanent vocabulary and the tokenizer cache
    (the common words); after them each batch runs inside ``nlp.memory_zone()``,
    which frees the strings new in that batch when it ends, so memory stays flat.
    Only typed records leave the zone (the batch's records are collected before
    any is yielded), never a ``Doc``. The output is the same either way (tested).
    """
    def inputs(batch: list[Document]) -> Iterator[tuple[str | Doc, Document]]:
        for d in batch:
            if d.title and d.text.startswith(d.title) and len(d.text) > len(d.title):
                # the title is its own sentence even without a period: tokenize here and mark it
                doc = nlp.make_doc(d.text)
                doc.user_data[_tokenizer.TITLE_END_KEY] = len(d.title) + 1
                yield doc, d
            else:
                yield d.text, d

    def run(batch: list[Document]) -> list[Document]:
        out = []
        for doc, source in nlp.pipe(inputs(batch), as_tuples=True, batch_size=batch_size):
            doc.user_data.pop(_tokenizer.TITLE_END_KEY, None)
            out.append(doc_records(doc, source, cached))
        return out

    cached = getattr(nlp, _CACHED_ENTS, False)
    for batch in batched(documents, batch_size):
        seen = getattr(nlp, _DOCS_SEEN, 0)
        if seen < WARM_UP_DOCS or nlp.vocab.in_memory_zone:  # type: ignore[attr-defined]
            records = run(batch)  # (zones must not nest: inside the caller's zone, run in it)
        else:
            with nlp.memory_zone():
                records = run(batch)
        setattr(nlp, _DOCS_SEEN, seen + len(batch))
        yield from records


def extract_text(nlp: Language, text: str, doc_id: str = "text") -> Document:
    """Convenience: extract from one string."""
    return doc_records(nlp(text), Document(id=doc_id, text=text), getattr(nlp, _CACHED_ENTS, False))


@dataclass
class ExtractSummary:
    """Counts of an extraction run: every input document is read, then written (to the JSONL
    output or the graph) or rejected: ``read = written + rejected``.

    ``extracted`` counts the documents the pipeline processed (equal to ``written`` once
    the run is done); ``rejected`` documents are in the rejects file with their line.
    """

    read: int = 0
    written: int = 0
    rejected: int = 0
    extracted: int = 0
    recoded: int = 0
    mentions: int = 0
    linked: int = 0
    relations: int = 0
    asserted: int = 0
    relations_by_type: dict[str, int] = field(default_factory=dict)

    def count(self, doc: Document) -> None:
        """Add one extracted document's mentions and relations (``extracted`` too)."""
        self.extracted += 1
        self.mentions += len(doc.mentions)
        self.linked += sum(1 for m in doc.mentions if m.id)
        self.relations += len(doc.relations)
        self.asserted += sum(1 for r in doc.relations if r.asserted)
        for r in doc.relations:
            self.relations_by_type[r.type] = self.relations_by_type.get(r.type, 0) + 1

    def balanced(self) -> bool:
        return self.read == self.written + self.rejected

    def line(self) -> str:
        types = ", ".join(f"{t} {n}" for t, n in sorted(self.relations_by_type.items()))
        return (
            f"read {self.read} = written {self.written} + rejected {self.rejected} · "
            f"mentions {self.mentions} ({self.linked} linked) · relations {self.relations} ({self.asserted} asserted"
            + (f"; {types})" if types else ")")
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts (``--json``)."""
        out: dict[str, Any] = {k: getattr(self, k) for k in ("read", "written", "rejected", "extracted", "recoded",
                                                              "mentions", "linked", "relations", "asserted")}
        out["relations_by_type"] = dict(sorted(self.relations_by_type.items()))
        return out


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
    extractor: Callable[[Iterable[Document]], Iterable[Document]] | None = None,
) -> ExtractSummary:
    """Read, extract and write one JSON object per document (``medkg extract``).

    Per-document problems (empty, binary, too long, malformed line) are written to
    ``rejects`` (default ``<output>.rejects.tsv``: path, line, reason) and counted;
    the run goes on.

    With ``extractor`` (documents in, extracted documents out, in order; e.g.
    ``functools.partial(ingest.text.distributed.distributed_extract, spec="local:2", ...)``,
    which runs on a Dask cluster) the documents go through it instead of a local
    pipeline; the output is the same, in the same order. The pipeline layer does not
    import the cluster layer: the cluster layer builds pipelines on its workers.

    Returns:
        The counts: ``read = written + rejected``, every input document.
    """
    import json

    from ingest.text.readers import DEFAULT_MAX_CHARS, ReadStats, read_documents

    limit = max_chars or DEFAULT_MAX_CHARS
    if extractor is not None:
        if nlp is not None or n_process > 1:
            raise ValueError("cluster runs build their pipeline on the workers: pass neither nlp nor n_process")
    else:
        nlp = nlp or load_pipeline(ner=ner, gene_ner="auto" if ner else False)
        # the reader rejects longer documents with a per-document error; spaCy's own limit
        # (1,000,000 characters) would otherwise end the whole run on an accepted one
        nlp.max_length = max(nlp.max_length, limit)
    stats = ReadStats()
    summary = ExtractSummary()
    out_path = Path(output)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rejects_path = Path(rejects) if rejects else out_path.with_name(out_path.name + ".rejects.tsv")
    docs = read_documents(input_path, fmt, stats=stats, max_chars=limit)
    if progress:
        from tqdm import tqdm

        docs = tqdm(docs, unit="doc", desc="extract")
    if extractor is not None:
        extracted = extractor(docs)
    else:
        extracted = extract_documents(nlp, docs, batch_size=batch_size, n_process=n_process)  # type: ignore[arg-type]
    with open(out_path, "w", encoding="utf-8") as fh:
        for d in extracted:
            fh.write(json.dumps(d.to_json(), ensure_ascii=False) + "\n")
            summary.count(d)
            summary.written += 1
    summary.read, summary.rejected, summary.recoded = stats.read, stats.rejected, stats.recoded
    if stats.errors:
        with open(rejects_path, "w", encoding="utf-8") as fh:
            fh.write("path\tline\treason\n")
            for err in stats.errors:
                fh.write(f"{err.path or ''}\t{err.line or ''}\t{err.reason.replace(chr(9), ' ')}\n")
    if not summary.balanced():  # an internal invariant (an extractor that lost documents): never silent
        raise ModelError(f"internal error: read {summary.read} != written {summary.written} + rejected {summary.rejected}")
    return summary


def sample_abstracts() -> Path:
    """Five short abstracts written for medkg (JSONL), for the demo and smoke tests."""
    return Path(str(resources.files("ingest.text").joinpath("data/sample_abstracts.jsonl")))
