"""How the CLI and the demo print rows: a plain table or one JSON object per line."""

from __future__ import annotations

import json
from typing import Any

import click


def print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    """Print query rows as an aligned table (cells cut at 60 characters) or as JSON lines."""
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, default=str, ensure_ascii=False))
        return
    if not rows:
        click.echo("(no rows)")
        return
    cols = list(rows[0])
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [min(60, max(len(c), *(len(row[i]) for row in cells))) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(v[:w].ljust(w) for v, w in zip(row, widths)))
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str, ensure_ascii=False)
    return "" if v is None else str(v)
