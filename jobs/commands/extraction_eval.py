"""``medkg evaluate extraction``: end-to-end relation extraction scores on a CID PubTator file, a DDI 2013 folder or a ChemProt split.

Calls :func:`ingest.text.relation_eval.evaluate_extraction`; nothing here holds logic the Python API lacks.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from graph_engine.errors import MedkgError
from jobs.errors import fail
from jobs.groups import subgroup


@click.command("extraction")
@click.option("--data", required=True, type=click.Path(exists=True, path_type=Path),
              help="PubTator file with CID lines (BC5CDR), a DDI 2013 XML folder, a ChemProt split folder (*_abstracts/_entities/_gold_standard.tsv), or a LabeledIn folder (TREATS).")
@click.option("--pipeline", "mode", type=click.Choice(["full", "fast"]), default="full", show_default=True,
              help="full: the shipped pipeline with statistical NER; fast: dictionary-only (--no-ner).")
@click.option("--split", type=click.Choice(["validation", "train", "all"]), default="validation", show_default=True,
              help="DDI: which part of the committed split of the DDI train folder (ingest/text/data/ddi_train_split.tsv) to score; "
                   "LabeledIn: the held-out labels (sha256(label id) % 100 < 20) or the others.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Score only the first N documents.")
@click.option("--json-out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the scores as JSON here.")
@click.option("--model", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="full pipeline only: this NER model (e.g. runs/ner/model-last from `medkg ner train`) instead of the shipped one.")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: when stderr is a terminal).")
def evaluate_extraction_cmd(data: Path, mode: str, split: str, limit: int | None, json_out: Path | None, model: Path | None,
                            progress: bool | None) -> None:
    """Relation precision / recall / F1: end to end, on gold mentions, and naive references, in one table."""
    from ingest.text.chemprot import evaluate_chemprot
    from ingest.text.indication_training import evaluate_labeledin
    from ingest.text.pipeline import load_pipeline
    from ingest.text.relation_eval import detect_task, evaluate_extraction

    if model is not None and mode != "full":
        raise click.BadParameter("--model replaces the statistical NER of the full pipeline; --pipeline fast has none", param_hint="--model")
    try:
        task = detect_task(data)  # bad input fails before the pipeline loads
        nlp = load_pipeline(ner=(model or True) if mode == "full" else False, gene_ner="auto" if mode == "full" else False)
        if task == "chemprot":
            scores = evaluate_chemprot(data, nlp, limit=limit, progress=progress)
        elif task == "labeledin":
            scores = evaluate_labeledin(data, nlp, split=split, limit=limit, progress=progress)
        else:
            scores = evaluate_extraction(data, nlp, split=split, limit=limit, progress=progress)
    except MedkgError as err:
        fail(err)
    unit = {"cid": "documents", "chemprot": "documents", "labeledin": "labels"}.get(scores.task, f"documents, {scores.units} sentences")
    click.echo(f"{data}: {scores.task.upper()}, {scores.documents} {unit}, pipeline={mode}, "
               f"gold pairs: {', '.join(f'{k} {v}' for k, v in scores.gold_pairs.items())}")
    click.echo(scores.table())
    for note in scores.notes:
        click.echo(f"note: {note}")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({**scores.as_dict(), "pipeline": mode, "split": split, "limit": limit,
                                         **({"model": str(model)} if model is not None else {})}, indent=2))


def register(root: click.Group) -> None:
    """Add ``evaluate extraction``."""
    subgroup(root, "evaluate").add_command(evaluate_extraction_cmd)
