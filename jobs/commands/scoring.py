"""CLI: ``medkg enrich pagerank | hits | ppr | embed``, ``medkg top``, ``medkg similar``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np

from graph_engine.settings import Settings
from jobs.errors import handle_errors
from jobs.groups import subgroup


def _csv(value: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else None


def projection_options(directed_default: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = click.option("--labels", default=None, help="Comma-separated node labels (default: all entity labels).")(fn)
        fn = click.option("--rel-types", default=None, help="Comma-separated relationship types (default: all).")(fn)
        fn = click.option("--weight", default=None, help="Relationship property used as edge weight.")(fn)
        fn = click.option("--directed/--undirected", default=directed_default, show_default=True,
                          help="Respect edge direction or symmetrise.")(fn)
        fn = click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)(fn)
        fn = click.option("--tol", type=float, default=1e-6, show_default=True, help="L1 tolerance.")(fn)
        fn = click.option("--max-iter", type=int, default=100, show_default=True)(fn)
        fn = click.option("--quiet", is_flag=True, help="No progress bars.")(fn)
        return fn

    return deco


def _projection(labels: str | None, rel_types: str | None, weight: str | None, directed: bool) -> Any:
    from graph_engine.enrich import Projection

    return Projection(_csv(labels), _csv(rel_types), weight, directed)


def _report(result: Any) -> None:
    click.echo(f"run {result.run_id}")
    for k, v in result.metrics.items():
        if k != "written":
            click.echo(f"  {k}: {v}")
    for k, v in result.written.items():
        click.echo(f"  wrote {k}: {v} nodes")


@click.command("pagerank")
@projection_options(directed_default=False)
@click.option("--damping", type=float, default=0.85, show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@handle_errors
def pagerank_cmd(labels, rel_types, weight, directed, device, tol, max_iter, quiet, damping, dtype) -> None:
    """PageRank on a projection, written back as `pagerank` with its run."""
    from graph_engine.enrich import pagerank_job
    from jobs.context import open_client

    with open_client() as g:
        _report(pagerank_job(g, _projection(labels, rel_types, weight, directed), damping=damping, tol=tol,
                             max_iter=max_iter, device=device, dtype=np.dtype(dtype), progress=not quiet))


@click.command("hits")
@projection_options(directed_default=True)
@handle_errors
def hits_cmd(labels, rel_types, weight, directed, device, tol, max_iter, quiet) -> None:
    """HITS hubs and authorities, written back as `hub` and `authority`."""
    from graph_engine.enrich import hits_job
    from jobs.context import open_client

    with open_client() as g:
        _report(hits_job(g, _projection(labels, rel_types, weight, directed), tol=tol, max_iter=max_iter,
                         device=device, progress=not quiet))


@click.command("ppr")
@projection_options(directed_default=False)
@click.option("--seed", "seeds", multiple=True, help="Seed node id (repeatable; default: every node of --seed-label).")
@click.option("--seed-label", default="Disease", show_default=True)
@click.option("--target-labels", default="Drug,Gene", show_default=True, help="Labels kept in each top-k.")
@click.option("-k", "k", type=int, default=20, show_default=True)
@click.option("--damping", type=float, default=0.85, show_default=True)
@handle_errors
def ppr_cmd(labels, rel_types, weight, directed, device, tol, max_iter, quiet, seeds, seed_label,
            target_labels, k, damping) -> None:
    """Batched personalized PageRank per seed; top-k stored on the seed (`ppr_ids`, `ppr_scores`)."""
    from graph_engine.enrich import ppr_job
    from jobs.context import open_client

    with open_client() as g:
        _report(ppr_job(g, list(seeds) or None, seed_label, _csv(target_labels) or (), k,
                        _projection(labels, rel_types, weight, directed), damping=damping, tol=tol,
                        max_iter=max_iter, device=device, progress=not quiet))


@click.command("embed")
@click.option("--labels", default=None, help="Comma-separated node labels (default: all entity labels).")
@click.option("--rel-types", default=None, help="Comma-separated relationship types (default: all).")
@click.option("--dim", type=int, default=64, show_default=True)
@click.option("--epochs", type=int, default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="JSON file of EmbeddingConfig fields (overrides the options above).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Artifact directory (default: $MEDKG_HOME/models/embeddings).")
@click.option("--quiet", is_flag=True)
@handle_errors
def embed_cmd(labels, rel_types, dim, epochs, seed, device, config_file, output, quiet) -> None:
    """Train GNN embeddings (link prediction), write `embedding` + vector indexes, save the artifact."""
    from graph_engine.enrich import embed_job
    from jobs.context import open_client

    config: dict[str, Any] = {"dim": dim, "epochs": epochs, "seed": seed, "device": device}
    if config_file:
        config.update(json.loads(config_file.read_text(encoding="utf-8")))
    out = output or Settings.load().models_dir / "embeddings"
    with open_client() as g:
        _report(embed_job(g, config, _csv(labels), _csv(rel_types), artifact_dir=out, progress=not quiet))


@click.command("top")
@click.argument("label")
@click.option("--by", default="pagerank", show_default=True, help="Numeric node property.")
@click.option("-k", "k", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def top_cmd(label: str, by: str, k: int, as_json: bool) -> None:
    """Top-k nodes of a label by a score property."""
    from jobs.output import print_rows
    from jobs.context import open_client

    with open_client(ensure_schema=False) as g:
        rows = [{"id": s.id, "name": s.name, by: s.score} for s in g.top(label, by=by, k=k)]
    print_rows(rows, as_json)


@click.command("similar")
@click.argument("node_id")
@click.option("-k", "k", type=int, default=10, show_default=True)
@click.option("--label", default=None)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def similar_cmd(node_id: str, k: int, label: str | None, as_json: bool) -> None:
    """Nearest neighbours of a node by its embedding (vector index)."""
    from jobs.output import print_rows
    from jobs.context import open_client

    with open_client(ensure_schema=False) as g:
        rows = [{"id": s.id, "name": s.name, "score": s.score} for s in g.similar(node_id, k, label)]
    print_rows(rows, as_json)


def register(root: click.Group) -> None:
    """Add the scoring commands to ``enrich`` and the root group."""
    enrich = subgroup(root, "enrich")
    for cmd in (pagerank_cmd, hits_cmd, ppr_cmd, embed_cmd):
        enrich.add_command(cmd)
    root.add_command(top_cmd)
    root.add_command(similar_cmd)
