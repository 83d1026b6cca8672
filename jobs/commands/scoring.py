"""CLI commands for the scoring capability."""

from __future__ import annotations

import click


def register(root: click.Group) -> None:
    """Add this capability's commands to the root group."""
