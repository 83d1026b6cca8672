"""CLI commands for the nlp capability: ``extract``, ``ner train|evaluate`` and ``ingest text``.

Each command validates its arguments and calls one public function of
:mod:`ingest.text`; nothing here holds logic the Python API lacks.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from jobs.errors import fail
from jobs.groups import subgroup

from graph_engine.errors import MedkgError

_FORMATS = ["text", "jsonl", "pubmed-xml", "pubtator", "iob"]


def _cluster(value: str | None) -> str | None:
    """Validate a ``--cluster`` value (usage error naming the option)."""
    if value is None:
        return None
    from ingest.text.distributed import check_cluster_spec

    try:
        return check_cluster_spec(value)
    except MedkgError as err:
        raise click.BadParameter(str(err), param_hint="--cluster") from None


@click.command("extract")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, path_type=Path), help="File or folder to read.")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default=None, help="Input format (guessed from the name if omitted).")
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSONL file, one object per document.")
@click.option("--no-ner", is_flag=True, help="Dictionary-only extraction (no statistical NER): much faster.")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--n-process", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes for nlp.pipe.")
@click.option("--max-chars", default=1_000_000, show_default=True, type=click.IntRange(1000), help="Longer documents are rejected.")
@click.option("--progress/--no-progress", default=False)
@click.option("--cluster", default=None, metavar="local:N|tcp://HOST:PORT", callback=lambda c, p, v: _cluster(v),
              help="Extract on a Dask cluster: N local worker processes, or a running scheduler. Same output, same order.")
@click.option("--partition-size", default=256, show_default=True, type=click.IntRange(1, 100_000), help="Documents per cluster task.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object (read = written + rejected).")
def extract_cmd(input_path: Path, fmt: str | None, output: Path, no_ner: bool, batch_size: int, n_process: int, max_chars: int, progress: bool,
                cluster: str | None, partition_size: int, as_json: bool) -> None:
    """Extract Disease/Drug/Gene mentions and relations to JSONL (no database)."""
    from ingest.text.pipeline import extract_to_jsonl

    if cluster and n_process > 1:
        raise click.BadParameter("use --cluster or --n-process, not both", param_hint="--cluster")
    extractor = None
    if cluster:
        import functools

        from ingest.text.distributed import distributed_extract

        extractor = functools.partial(distributed_extract, spec=cluster, ner=not no_ner,
                                      gene_ner="auto" if not no_ner else False, max_length=max_chars,
                                      batch_size=batch_size, partition_size=partition_size)
    try:
        summary = extract_to_jsonl(input_path, output, fmt=fmt, ner=not no_ner, batch_size=batch_size, n_process=n_process, max_chars=max_chars, progress=progress,
                                   extractor=extractor)
    except MedkgError as err:
        fail(err)
    click.echo(json.dumps(summary.as_dict()) if as_json else summary.line())
    if summary.rejected:
        click.echo(f"rejected documents are listed in {output}.rejects.tsv", err=True)


@click.group("ner")
def ner_group() -> None:
    """Train and evaluate the statistical NER."""


@ner_group.command("train")
@click.option("--train", "train_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PubTator or IOB training corpus.")
@click.option("--dev", "dev_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Corpus used to pick the best checkpoint.")
@click.option("--output", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["pubtator", "iob"]), default=None)
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="spaCy config (default: the shipped ner.cfg).")
@click.option("--max-steps", type=click.IntRange(1), default=None, help="Override [training] max_steps.")
@click.option("--vectors", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A spaCy pipeline directory with static word vectors (e.g. from tools/train_ner_vectors.py); switches on include_static_vectors.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Any spaCy config override, e.g. --set training.patience=4000 (repeatable; values parsed as JSON when possible).")
@click.option("--init-tok2vec", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Pretrained tok2vec weights to start from (a model*.bin from `medkg ner pretrain`, made with the same --vectors).")
@click.option("--partial", "partial_paths", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A corpus annotated for --partial-labels only (e.g. NCBI-disease next to BC5CDR), added to the training data; "
                   "spans of other labels that the shipped pipeline finds there are marked missing, not 'no entity'. Repeatable.")
@click.option("--partial-labels", default="Disease", show_default=True, help="Comma-separated labels the --partial corpora annotate.")
@click.option("--partial-drop-types", default="", metavar="TYPES",
              help="Comma-separated annotation types of the --partial corpora to mark missing (NCBI-disease: Modifier,CompositeMention).")
@click.option("--train-repeat", type=click.IntRange(1), default=1, show_default=True,
              help="Each --train document enters the training data this many times (weights it against --partial).")
@click.option("--corpus", "corpus_specs", multiple=True, metavar="PATH:LABELS[:xN][:drop=TYPES]",
              help="Train a multi-task NER (one shared tok2vec, one head per label; configs/ner_multi.cfg) on --train plus this corpus, "
                   "which annotates LABELS only, e.g. NCBI_trainset_corpus.txt:Disease:drop=Modifier+CompositeMention or "
                   "BC2GM_train.iob.tsv:Gene; xN adds each document N times. Repeatable; not with --partial.")
@click.option("--init-model", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Continue training this multi-task model (e.g. ingest/text/models/ner-multi-0.4.0) instead of starting from scratch: "
                   "its components, weights and static vectors are the starting point; needs --corpus.")
@click.option("--name", default="medkg_ner", show_default=True)
def ner_train_cmd(train_path: Path, dev_path: Path, output: Path, fmt: str | None, config: Path | None, max_steps: int | None,
                  vectors: Path | None, settings: tuple[str, ...], init_tok2vec: Path | None, partial_paths: tuple[Path, ...],
                  partial_labels: str, partial_drop_types: str, train_repeat: int, corpus_specs: tuple[str, ...], init_model: Path | None, name: str) -> None:
    """Train a NER from PubTator/IOB corpora (Chemical->Drug, Disease, GENE->Gene)."""
    from ingest.text.multitask import TaskCorpus
    from ingest.text.corpora import PartialCorpus
    from ingest.text.training import parse_overrides, train_ner, vectors_overrides

    try:
        overrides = parse_overrides(settings)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--set") from None
    tasks = []
    for spec in corpus_specs:
        try:
            task = TaskCorpus.parse(spec)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--corpus") from None
        _check_labels(task.labels, spec, "--corpus")
        if not task.path.is_file():
            raise click.BadParameter(f"{spec!r}: no such file {task.path}", param_hint="--corpus")
        tasks.append(task)
    if tasks and partial_paths:
        raise click.BadParameter("--corpus and --partial do not combine: give the partial corpus as --corpus PATH:LABELS", param_hint="--corpus")
    if init_model is not None and not tasks:
        raise click.BadParameter("--init-model continues a multi-task model: give its corpora with --corpus", param_hint="--init-model")
    if init_model is not None and vectors is not None:
        raise click.BadParameter("--init-model brings its own static vectors; leave out --vectors", param_hint="--vectors")
    if max_steps:
        overrides["training.max_steps"] = max_steps
    overrides.update(vectors_overrides(vectors, multitask=bool(tasks)))
    labels = frozenset(x.strip() for x in partial_labels.split(",") if x.strip())
    _check_labels(labels, partial_labels, "--partial-labels")
    drop = frozenset(x.strip() for x in partial_drop_types.split(",") if x.strip())
    partial = [PartialCorpus(p, labels, drop) for p in partial_paths]
    try:
        best = train_ner(train_path, dev_path, output, fmt=fmt, config=config, overrides=overrides, name=name, init_tok2vec=init_tok2vec,
                         train_repeat=train_repeat, partial=partial, tasks=tasks, init_model=init_model)
    except MedkgError as err:
        fail(err)
    click.echo(f"model: {best}")


def _check_labels(labels: frozenset[str], given: str, option: str) -> None:
    """Usage error (exit 2) unless ``labels`` is a non-empty set of entity labels."""
    from ingest.text.records import ENTITY_LABELS

    if not labels or labels - set(ENTITY_LABELS):
        raise click.BadParameter(f"{given!r}: expected labels among {', '.join(ENTITY_LABELS)}", param_hint=option)


@ner_group.command("pretrain")
@click.option("--text", "texts", required=True, multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Raw-text corpus (text, JSONL, PubMed XML, PubTator or IOB; annotations are ignored). Repeatable. Never a corpus you evaluate on.")
@click.option("--output", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--epochs", type=click.IntRange(1), default=8, show_default=True)
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="spaCy config (default: the shipped ner.cfg).")
@click.option("--vectors", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Static vectors, as for `medkg ner train --vectors` (use the same in both).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Any spaCy config override (repeatable).")
def ner_pretrain_cmd(texts: tuple[Path, ...], output: Path, epochs: int, config: Path | None, vectors: Path | None, settings: tuple[str, ...]) -> None:
    """Pretrain the NER's tok2vec on raw text (spaCy pretrain, characters objective)."""
    from ingest.text.training import parse_overrides, pretrain_tok2vec

    try:
        overrides = parse_overrides(settings)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--set") from None
    try:
        weights = pretrain_tok2vec(texts, output, epochs=epochs, vectors=vectors, config=config, overrides=overrides)
    except MedkgError as err:
        fail(err)
    click.echo(f"weights: {weights}")


@ner_group.command("evaluate")
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Annotated PubTator or IOB corpus.")
@click.option("--model", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None, help="A trained model directory (default: the shipped models).")
@click.option("--format", "fmt", type=click.Choice(["pubtator", "iob"]), default=None)
@click.option(
    "--pipeline",
    "mode",
    type=click.Choice(["ner", "dictionary", "full"]),
    default="ner",
    show_default=True,
    help="ner: the statistical model alone; dictionary: dictionary+abbreviations; full: the extraction pipeline.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def ner_evaluate_cmd(data: Path, model: Path | None, fmt: str | None, mode: str, as_json: bool) -> None:
    """Precision / recall / F1 per label with exact span matching."""
    from ingest.text.evaluation import evaluate_ner

    try:
        nlp = _evaluation_pipeline(model, mode)
        scores = evaluate_ner(data, nlp, fmt=fmt)
    except MedkgError as err:
        fail(err)
    if as_json:
        click.echo(json.dumps(scores.as_dict(), indent=2))
    else:
        click.echo(f"{data.name}: {scores.documents} documents, pipeline={mode}")
        click.echo(scores.table())


def _evaluation_pipeline(model: Path | None, mode: str):  # type: ignore[no-untyped-def]
    import spacy

    from ingest.text.pipeline import load_pipeline

    if mode == "dictionary":
        return load_pipeline(ner=False, gene_ner=False, relation_models="none")
    if mode == "full":
        return load_pipeline(ner=model or True, gene_ner="auto", relation_models="none")
    if model is not None:
        return spacy.load(model)
    # the shipped statistical models alone, Drug/Disease and Gene together
    return load_pipeline(ner=True, gene_ner="auto", relation_models="none", config=_ner_only_config())


def _ner_only_config() -> Path:
    from importlib import resources

    return Path(str(resources.files("ingest.text").joinpath("configs/ner_only.cfg")))


@click.command("text")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default=None)
@click.option("--no-ner", is_flag=True, help="Dictionary-only extraction.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000), help="Rows per write transaction.")
@click.option("--n-process", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--cluster", default=None, metavar="local:N|tcp://HOST:PORT", callback=lambda c, p, v: _cluster(v),
              help="Extract on a Dask cluster (results come back in order; writes stay batched here).")
@click.option("--partition-size", default=256, show_default=True, type=click.IntRange(1, 100_000), help="Documents per cluster task.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object (read = written + rejected).")
def ingest_text_cmd(input_path: Path, fmt: str | None, no_ner: bool, batch_size: int, n_process: int, cluster: str | None, partition_size: int,
                    as_json: bool) -> None:
    """Extract from text and write Articles, MENTIONS and evidence-backed relations to Neo4j."""
    from jobs.context import open_client

    from ingest.text.pipeline import ExtractSummary, extract_documents, load_pipeline
    from ingest.text.readers import ReadStats, read_documents
    from ingest.text.writer import write_documents

    summary = ExtractSummary()

    def counted(docs):  # type: ignore[no-untyped-def]
        for d in docs:
            summary.count(d)
            yield d

    if cluster and n_process > 1:
        raise click.BadParameter("use --cluster or --n-process, not both", param_hint="--cluster")
    try:
        stats = ReadStats()
        if cluster:
            from ingest.text.distributed import distributed_extract

            docs = distributed_extract(read_documents(input_path, fmt, stats=stats), cluster, ner=not no_ner,
                                       gene_ner="auto" if not no_ner else False, partition_size=partition_size)
        else:
            nlp = load_pipeline(ner=not no_ner, gene_ner="auto" if not no_ner else False)
            docs = extract_documents(nlp, read_documents(input_path, fmt, stats=stats), n_process=n_process)
        with open_client() as client:
            written = write_documents(client, counted(docs), batch_size=batch_size)
    except MedkgError as err:
        fail(err)
    summary.read, summary.rejected, summary.recoded = stats.read, stats.rejected, stats.recoded
    summary.written = written.articles
    if as_json:
        w = written.as_dict()
        del w["articles"]  # = summary's "written"
        click.echo(json.dumps({**summary.as_dict(), **w}))
    else:
        click.echo(f"{summary.line()} · {written.line()}")
    for rejected in stats.errors[:20]:
        click.echo(f"rejected: {rejected}", err=True)
    if len(stats.errors) > 20:
        click.echo(f"... and {len(stats.errors) - 20} more rejected documents", err=True)
    if not summary.balanced():  # an internal invariant: never lose documents silently
        fail(MedkgError(f"internal error: read {summary.read} != written {summary.written} + rejected {summary.rejected}"))


def register(root: click.Group) -> None:
    """Add ``extract``, the ``ner`` group and ``ingest text``."""
    root.add_command(extract_cmd)
    root.add_command(ner_group)
    subgroup(root, "ingest").add_command(ingest_text_cmd)
