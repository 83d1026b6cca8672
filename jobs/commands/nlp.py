"""CLI commands for the nlp capability."""

from __future__ import annotations

import click


def register(root: click.Group) -> None:
    """Add this capability's commands to the root group."""
