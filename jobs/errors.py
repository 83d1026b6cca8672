"""The CLI's one error wrapper: what a user sees when a command fails.

medkg's own errors (:class:`graph_engine.errors.MedkgError`) become ``Error:
<message>`` and exit code 1. So do the failures a user can meet without a bug
in medkg — each as ONE line naming the file or server and what to do:

* the Neo4j server went away mid-command (``ServiceUnavailable``,
  ``SessionExpired``) or refused a request (other driver errors);
* an input or output path that does not exist, is a directory or is not
  writable (``OSError`` with a file name);
* a truncated or corrupt compressed input (``EOFError``, ``BadGzipFile``,
  ``zlib.error``), named by the file the reader had open;
* a model file that ``torch.load(weights_only=True)`` refuses (never retried
  with ``weights_only=False``, which would run its payload);
* an ``.npz`` that needs pickle or lacks the arrays medkg expects.

Anything else is a bug in medkg: it is reported in one line too, and
``MEDKG_DEBUG=1`` shows the traceback. :func:`handle_errors` decorates a
command; :class:`MedkgGroup` (the root ``medkg`` group) applies the same
rules to every command, including those that call :func:`fail` themselves.
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
import zlib
from types import TracebackType
from typing import Any, Callable, NoReturn, TypeVar

import click

from graph_engine.errors import MedkgError

F = TypeVar("F", bound=Callable[..., Any])

DEBUG_ENV = "MEDKG_DEBUG"


def one_line(text: str, limit: int = 400) -> str:
    """``text`` with its whitespace runs (newlines included) collapsed, cut at ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def fail(e: Exception) -> NoReturn:
    """Raise ``e`` as a ``click.ClickException`` (``Error: <message>``, exit code 1)."""
    raise click.ClickException(str(e)) from e


def _frames(tb: TracebackType | None) -> list[Any]:
    out = []
    while tb is not None:
        out.append(tb.tb_frame)
        tb = tb.tb_next
    return out


def _file_in_traceback(e: BaseException, names: tuple[str, ...] = ("path", "file", "f", "filename", "p")) -> str | None:
    """The file the failing code had open or was given (innermost first), if the traceback shows one."""
    for frame in reversed(_frames(e.__traceback__)):
        for value in frame.f_locals.values():
            if isinstance(value, gzip.GzipFile) and isinstance(getattr(value, "name", None), str):
                return str(value.name)
        for name in names:
            value = frame.f_locals.get(name)
            if isinstance(value, (str, os.PathLike)) and str(value) and os.path.exists(value):
                return os.fspath(value)  # type: ignore[arg-type]
            fname = getattr(value, "name", None)
            if isinstance(fname, str) and os.path.exists(fname):
                return fname
    return None


def _server() -> str:
    try:
        from graph_engine.settings import Settings

        return Settings.load().uri or "the managed server"
    except Exception:  # noqa: BLE001 - only for the message
        return "the Neo4j server"


def user_message(e: BaseException) -> str | None:
    """The one-line message for a failure a user can meet, or ``None`` when ``e`` looks like a bug."""
    import neo4j.exceptions as nx

    if isinstance(e, MedkgError):
        return str(e)
    if isinstance(e, (nx.ServiceUnavailable, nx.SessionExpired)):
        return (f"lost the connection to Neo4j at {_server()} ({one_line(str(e), 160)}): is it running? "
                "Check `medkg neo4j status` (or NEO4J_URI) and re-run; a job that failed left the graph as it was")
    if isinstance(e, nx.AuthError):
        return f"Neo4j at {_server()} refused the credentials: check NEO4J_USER / NEO4J_PASSWORD"
    if isinstance(e, nx.Neo4jError):
        return f"Neo4j at {_server()} refused the request: {e.code}: {one_line(e.message or str(e), 300)}"
    if isinstance(e, nx.DriverError):
        return f"Neo4j driver error talking to {_server()}: {one_line(str(e), 300)}"
    if isinstance(e, pickle.UnpicklingError):
        where = _file_in_traceback(e) or "a model file"
        return (f"{where}: refused to load it: it holds objects other than plain tensors "
                "(torch.load with weights_only=True). It is not a medkg model or was tampered with; re-train or "
                "re-download it and never load it with weights_only=False, which would run code from the file")
    if isinstance(e, (EOFError, gzip.BadGzipFile, zlib.error)):
        where = _file_in_traceback(e) or "an input file"
        return f"{where}: truncated or corrupt compressed data ({one_line(str(e), 120) or type(e).__name__}); " \
               "re-download or re-create the file"
    if isinstance(e, OSError) and getattr(e, "filename", None):
        reason = e.strerror or type(e).__name__
        hint = {FileNotFoundError: "check the path (its folder must exist)",
                PermissionError: "check the permissions or choose another path",
                IsADirectoryError: "give a file, not a directory",
                NotADirectoryError: "a part of the path is a file, not a directory"}.get(type(e), "check the path")
        return f"{e.filename}: {reason}; {hint}"
    if isinstance(e, (ValueError, KeyError)) and _is_npz_failure(e):
        where = _file_in_traceback(e) or "an .npz file"
        return f"{where}: not an array file medkg can read ({one_line(str(e), 160)}); re-create it with medkg"
    return None


def _is_npz_failure(e: BaseException) -> bool:
    """Did numpy's .npz reader (np.load / NpzFile) raise ``e``?"""
    return any("numpy/lib" in f.f_code.co_filename and ("npyio" in f.f_code.co_filename
               or "format" in f.f_code.co_filename) for f in _frames(e.__traceback__))


def report(e: BaseException) -> NoReturn:
    """Raise ``click.ClickException`` with the one-line message for ``e`` (re-raise under ``MEDKG_DEBUG=1``)."""
    if os.environ.get(DEBUG_ENV) == "1" and not isinstance(e, MedkgError):
        raise e
    msg = user_message(e)
    if msg is None:
        msg = (f"internal error {type(e).__name__}: {one_line(str(e), 300)} "
               f"(a bug in medkg; {DEBUG_ENV}=1 shows the traceback)")
    raise click.ClickException(msg) from e


def handle_errors(fn: F) -> F:
    """Decorate a command so that a failure it raises is reported by :func:`report` (one line, exit 1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001 - the CLI boundary
            report(e)

    return wrapper  # type: ignore[return-value]


class MedkgGroup(click.Group):
    """The root group: every subcommand's failures go through :func:`report`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001 - the CLI boundary
            report(e)
