"""CLI for drugs as molecules: structures, toxicity and side-effect predictions.

``medkg ingest structures``, ``medkg enrich toxicity``, ``medkg enrich side-effects``; the
``toxicity`` kind of ``medkg models predict`` calls :func:`predict_toxicity_file` here.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from graph_engine.errors import MedkgError

KNOWLEDGE = click.Choice(["auto", "files", "graph", "none"])


def _fail(e: Exception) -> click.ClickException:
    return click.ClickException(str(e))


def _threads() -> None:
    import os

    import torch

    n = os.environ.get("MEDKG_THREADS")
    if n:
        torch.set_num_threads(int(n))


def predict_toxicity_file(model_dir: Path | None, input_path: Path, output: Path, on_error: str = "skip",
                          knowledge: str = "auto") -> None:
    """``medkg models predict --kind toxicity``: one JSON line per usable input compound."""
    from graph_engine.chem import read_structures
    from models.knowledge import load_knowledge
    from models.toxicity import load_toxicity_model, predict_structures

    _threads()
    try:
        report = read_structures(input_path, on_error=on_error)
        kn = None
        if knowledge == "graph":
            from jobs.context import open_client

            with open_client() as client:
                kn = load_knowledge("graph", client)
        else:
            kn = load_knowledge(knowledge)
        model = load_toxicity_model(model_dir)
        preds = predict_structures(model, report.structures, knowledge=kn)
    except MedkgError as e:
        raise _fail(e) from e
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for p in preds:
            fh.write(json.dumps(p.to_json()) + "\n")
    tmp.replace(output)
    how = f"hERG combined with graph knowledge ({kn.source})" if kn is not None and model.combiner else "structure only"
    click.echo(f"read {report.read}, predicted {len(preds)}, skipped {len(report.rejected)} -> {output} "
               f"[{model.name} {model.model_version}; {how}]")
    for r in report.rejected:
        click.echo(f"  skipped {r.id or ''} (line {r.line}): {r.reason}", err=True)


@click.command("structures")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV (header id,smiles[,name]) or JSONL of your own compounds")
@click.option("--drugbank", is_flag=True,
              help="attach structures to the graph's existing DRUGBANK:DB… Drug nodes from admet-ai's drugbank_approved.csv")
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
              help="fail: stop at the first bad record (nothing written); skip: leave it out with its reason")
def ingest_structures(input_path: Path | None, drugbank: bool, on_error: str) -> None:
    """Drug nodes get RDKit-canonical `smiles` and `inchikey`."""
    from ingest.structures import attach_drugbank_structures, load_structures
    from jobs.context import open_client

    if (input_path is None) == (not drugbank):
        raise click.UsageError("give exactly one of --input FILE or --drugbank")
    try:
        with open_client() as client:
            s = attach_drugbank_structures(client) if input_path is None else load_structures(client, input_path, on_error)
    except MedkgError as e:
        raise _fail(e) from e
    click.echo(s.render())
    for r in s.rejected:
        click.echo(f"  rejected {r.id or ''} (line {r.line}): {r.reason}", err=True)


@click.command("toxicity")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--knowledge", type=KNOWLEDGE, default="graph", show_default=True,
              help="where hERG's graph evidence comes from (graph: this Neo4j database)")
@click.option("--tasks", default="default", show_default=True,
              help="comma-separated task names, 'default' (hERG, DILI, ClinTox, AMES, Carcinogens, Skin) or 'all'")
def enrich_toxicity(model_dir: Path | None, knowledge: str, tasks: str) -> None:
    """(:Prediction {kind:'toxicity', task, probability, out_of_domain, …})-[:FOR]->(:Drug) for every Drug
    with a structure; one run replaces the previous one atomically."""
    from graph_engine.chem import structure
    from jobs.context import open_client
    from models.knowledge import load_knowledge
    from models.prediction_writeback import DEFAULT_TASKS, write_toxicity
    from models.toxicity import load_toxicity_model, predict_structures

    _threads()
    try:
        model = load_toxicity_model(model_dir)
        chosen = list(DEFAULT_TASKS) if tasks == "default" else (
            model.tasks if tasks == "all" else [t.strip() for t in tasks.split(",") if t.strip()])
        with open_client() as client:
            rows = client.read("MATCH (d:Drug) WHERE d.smiles IS NOT NULL RETURN d.id AS id, d.smiles AS smiles "
                               "ORDER BY d.id")
            structs = [structure(r["id"], r["smiles"]) for r in rows]
            kn = load_knowledge(knowledge, client)
            preds = predict_structures(model, structs, knowledge=kn)
            run_id, n = write_toxicity(client, preds, model.name, model.model_version, chosen,
                                       {"knowledge": kn.source if kn else "none"})
    except MedkgError as e:
        raise _fail(e) from e
    click.echo(f"run {run_id}: drugs {len(preds)}, predictions {n}, "
               f"out of domain {sum(p.out_of_domain for p in preds)}")


@click.command("side-effects")
@click.option("--knowledge", type=click.Choice(["auto", "files", "graph"]), default="auto", show_default=True,
              help="labels and graph context (auto: SIDER 4.1 + Hetionet files when present, else this graph)")
@click.option("--top-k", type=int, default=10, show_default=True, help="side effects per drug")
@click.option("--seed", type=int, default=0, show_default=True, help="validation split used for tuning")
def enrich_side_effects(knowledge: str, top_k: int, seed: int) -> None:
    """(:Prediction {kind:'side_effect', task, probability, rank, …})-[:FOR]->(:Drug), -[:PREDICTS]->(:SideEffect)
    for every Drug with a structure (side effects not already recorded for it); one run replaces the previous."""
    from jobs.context import open_client
    from models.knowledge import files_available, load_knowledge
    from models.prediction_writeback import write_side_effects
    from models.side_effects import MODEL_NAME, MODEL_VERSION, fit_and_rank

    if top_k < 1:
        raise click.UsageError("--top-k must be >= 1")
    _threads()
    try:
        with open_client() as client:
            spec = "files" if knowledge == "auto" and files_available() else ("graph" if knowledge == "auto" else knowledge)
            kn = load_knowledge(spec, client)
            if kn is None:
                raise click.ClickException(f"no knowledge source for side-effect labels ({spec})")
            queries = [(r["id"], r["smiles"]) for r in client.read(
                "MATCH (d:Drug) WHERE d.smiles IS NOT NULL RETURN d.id AS id, d.smiles AS smiles ORDER BY d.id")]
            if not queries:
                raise click.ClickException("no Drug node has a structure; run medkg ingest structures first")
            allowed = {r["id"] for r in client.read("MATCH (s:SideEffect) RETURN s.id AS id")}
            ranked, cfg = fit_and_rank(kn, queries, allowed=allowed, top_k=top_k, seed=seed)
            run_id, n = write_side_effects(client, [q[0] for q in queries], ranked, MODEL_NAME, MODEL_VERSION,
                                           {"knowledge": kn.source, "top_k": top_k, "seed": seed,
                                            "weights": cfg["weights"], "k": cfg["k"]})
    except MedkgError as e:
        raise _fail(e) from e
    click.echo(f"run {run_id}: drugs {len(queries)}, predictions {n} (trained on {cfg['train_drugs']} drugs, "
               f"{cfg['side_effects']} side effects; views {cfg['weights']}, k={cfg['k']})")


def register(root: click.Group) -> None:
    ingest = root.commands.get("ingest")
    if isinstance(ingest, click.Group):
        ingest.add_command(ingest_structures)
    enrich = root.commands.get("enrich")
    if isinstance(enrich, click.Group):
        enrich.add_command(enrich_toxicity)
        enrich.add_command(enrich_side_effects)
