"""CLI: ``medkg runs list`` — the job Runs recorded in the graph; stale ``running`` ones are marked ``abandoned``.

A Run is stale when its owner process is gone on this host or its heartbeat is
older than ``--stale-after`` seconds (default :data:`graph_engine.runs.STALE_AFTER_S`).
"""

from __future__ import annotations

import click

from graph_engine.runs import STALE_AFTER_S, mark_abandoned
from jobs.errors import handle_errors
from jobs.output import print_rows

LIST_RUNS = (
    "MATCH (r:Run) WHERE $status IS NULL OR r.status = $status\n"
    "RETURN r.id AS id, r.kind AS kind, r.algorithm AS algorithm, r.status AS status,\n"
    "       toString(r.started_at) AS started_at, toString(r.finished_at) AS finished_at,\n"
    "       r.owner_host AS owner_host, r.owner_pid AS owner_pid, toString(r.heartbeat_at) AS heartbeat_at,\n"
    "       r.abandoned_reason AS abandoned_reason\n"
    "ORDER BY r.started_at DESC LIMIT $limit"
)


@click.group("runs")
def runs_group() -> None:
    """Job runs recorded in the graph (:Run nodes)."""


@runs_group.command("list")
@click.option("--status", default=None, help="Only runs with this status (running, succeeded, failed, abandoned, ...).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--stale-after", type=click.FloatRange(min=1.0), default=STALE_AFTER_S, show_default=True,
              help="Seconds without heartbeat after which a running Run is marked abandoned.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run.")
@handle_errors
def runs_list(status: str | None, limit: int, stale_after: float, as_json: bool) -> None:
    """List runs, newest first, after marking stale running runs abandoned."""
    from jobs.context import open_client

    with open_client(ensure_schema=False) as g:
        abandoned = mark_abandoned(g, stale_after)
        rows = g.read(LIST_RUNS, {"status": status, "limit": limit})
    if abandoned:
        click.echo(f"marked {len(abandoned)} stale run(s) abandoned: {', '.join(abandoned)}", err=True)
    print_rows(rows, as_json)


def register(root: click.Group) -> None:
    """Add ``runs`` (list)."""
    root.add_command(runs_group)
