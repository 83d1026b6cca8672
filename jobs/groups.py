"""The CLI's shared command groups, and the one way a command module finds its parent group."""

from __future__ import annotations

import click

#: Groups that several command modules add to, with their help text.
SHARED_GROUPS: dict[str, str] = {
    "ingest": "Load curated graphs and text into Neo4j.",
    "enrich": "Batch jobs that compute scores and predictions and write them back to the graph.",
    "evaluate": "Offline evaluations.",
}


def subgroup(root: click.Group, name: str) -> click.Group:
    """The group ``name`` of ``root``, created (with its shared help text) if ``root`` lacks it.

    Raises:
        click.ClickException: ``root`` has a plain command of that name.
    """
    g = root.commands.get(name)
    if g is None:
        g = click.Group(name, help=SHARED_GROUPS.get(name))
        root.add_command(g)
    if not isinstance(g, click.Group):
        raise click.ClickException(f"'{name}' is a command, not a group")
    return g
