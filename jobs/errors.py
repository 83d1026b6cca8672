"""The CLI's one error wrapper: medkg's own errors become one line and exit code 1."""

from __future__ import annotations

import functools
from typing import Any, Callable, NoReturn, TypeVar

import click

from graph_engine.errors import MedkgError

F = TypeVar("F", bound=Callable[..., Any])


def fail(e: Exception) -> NoReturn:
    """Raise ``e`` as a ``click.ClickException`` (``Error: <message>``, exit code 1)."""
    raise click.ClickException(str(e)) from e


def handle_errors(fn: F) -> F:
    """Decorate a command so that a ``MedkgError`` it raises is reported by :func:`fail`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MedkgError as e:
            fail(e)

    return wrapper  # type: ignore[return-value]
