"""The ``medkg`` command line. Thin: each command calls one public function.

Every command exits non-zero on failure; medkg's own errors are printed as one
clear line (``Error: ...``) instead of a traceback.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from graph_engine.settings import Settings
from jobs.errors import MedkgGroup, handle_errors
from jobs.groups import subgroup
from jobs.output import print_rows


def parse_param(text: str) -> tuple[str, Any]:
    """``name=value``; the value is parsed as JSON when it is valid JSON, else kept as a string."""
    if "=" not in text:
        raise click.BadParameter(f"expected name=value, got {text!r}")
    name, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name, value


@click.group(cls=MedkgGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="medkg")
def main() -> None:
    """medkg: medical knowledge graph engine on Neo4j."""


# ------------------------------------------------------------------------ neo4j
@main.group("neo4j")
def neo4j_group() -> None:
    """Manage the local Neo4j server (127.0.0.1, auth on, password in a 0600 file)."""


@neo4j_group.command("start")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for Bolt.")
@handle_errors
def neo4j_start(timeout: float) -> None:
    """Provision (first time) and start the managed server; prints the URI."""
    from graph_engine.server import ManagedNeo4j

    server = ManagedNeo4j(Settings.load())
    if not server.provisioned:
        click.echo(f"Provisioning Neo4j {server.settings.neo4j_version} from Maven Central into {server.root} ...", err=True)
    info = server.start(timeout=timeout)
    click.echo(info.uri)


@neo4j_group.command("stop")
@handle_errors
def neo4j_stop() -> None:
    """Stop the managed server cleanly (no-op if it is not running)."""
    from graph_engine.server import ManagedNeo4j

    stopped = ManagedNeo4j(Settings.load()).stop()
    click.echo("stopped" if stopped else "not running")


@neo4j_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def neo4j_status(as_json: bool) -> None:
    """Is the managed server running, where, and where are its logs."""
    from graph_engine.server import ManagedNeo4j

    st = ManagedNeo4j(Settings.load()).status()
    if as_json:
        click.echo(json.dumps(st))
    else:
        for k, v in st.items():
            click.echo(f"{k}: {v}")
    if not st["running"]:
        sys.exit(3)


@neo4j_group.command("env")
@handle_errors
def neo4j_env() -> None:
    """Print NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD for the running managed server."""
    from graph_engine.server import ManagedNeo4j

    info = ManagedNeo4j(Settings.load()).running()
    if info is None:
        raise click.ClickException("the managed server is not running: run `medkg neo4j start`")
    for line in info.env_lines():
        click.echo(line)


# ------------------------------------------------------------------------ query
@main.command("query")
@click.argument("cypher")
@click.option("--param", "-p", "params", multiple=True, help="name=value (value parsed as JSON if possible).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per row.")
@handle_errors
def query_cmd(cypher: str, params: tuple[str, ...], as_json: bool) -> None:
    """Run a read-only Cypher query; writes are refused."""
    from jobs.context import open_client

    with open_client(ensure_schema=False) as g:
        rows = g.query(cypher, dict(parse_param(p) for p in params))
    print_rows(rows, as_json)


# ------------------------------------------------------------------------ ingest
ingest_group = subgroup(main, "ingest")


@ingest_group.command("graph")
@click.option("--format", "fmt", type=click.Choice(["hetionet", "generic"]), required=True)
@click.option("--nodes", "nodes", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--edges", "edges", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
              help="fail: stop at the first bad row; skip: write bad rows to a rejects file and go on.")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Rejects file (default: <edges>.rejects.tsv next to the input, or in the current directory).")
@click.option("--batch-size", type=int, default=None, help="Rows per write transaction.")
@click.option("--source", default=None, help="Provenance tag (default: hetionet-v1.0 / the nodes file name).")
@click.option("--bulk", is_flag=True,
              help="First load of an empty managed database through neo4j-admin import (fastest).")
@click.option("--force", is_flag=True, help="With --bulk: replace a non-empty database.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object (read = written + rejected).")
@handle_errors
def ingest_graph(fmt: str, nodes: Path, edges: Path, on_error: str, rejects: Path | None,
                 batch_size: int | None, source: str | None, bulk: bool, force: bool, quiet: bool, as_json: bool) -> None:
    """Load a curated node + edge file pair (Hetionet TSV/SIF or the generic CSV/TSV format)."""
    from ingest.curated import bulk_load_graph, load_graph
    from jobs.context import open_client

    if bulk:
        summary = bulk_load_graph(Settings.load(), fmt, nodes, edges, on_error=on_error, rejects_path=rejects,
                                  source=source, progress=not quiet, force=force)
    else:
        with open_client() as g:
            summary = load_graph(g, fmt, nodes, edges, on_error=on_error, rejects_path=rejects,
                                 batch_size=batch_size, source=source, progress=not quiet)
    click.echo(json.dumps(summary.as_dict()) if as_json else summary.render())
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    if summary.rejected:
        click.echo(f"rejected rows written to {summary.rejects_path}", err=True)


# ------------------------------------------------------------------------ enrich / evaluate / demo
enrich_group = subgroup(main, "enrich")
evaluate_group = subgroup(main, "evaluate")


@main.command("demo")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@handle_errors
def demo_cmd(quiet: bool) -> None:
    """Start Neo4j (managed, unless NEO4J_URI is set), load the shipped demo graph and show what it can do."""
    from jobs.demo import run_demo

    run_demo(progress=not quiet)


def _register_capabilities() -> None:
    from jobs.commands import MODULES

    for name in MODULES:
        importlib.import_module(name).register(main)


_register_capabilities()

if __name__ == "__main__":  # pragma: no cover
    main()
