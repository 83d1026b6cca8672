"""One exception tree for medkg.

Every error raised on purpose by the project derives from :class:`MedkgError`.
Errors that describe bad values also inherit the matching builtin, so callers
that only know Python's builtins (``except ValueError``) still catch them.
Messages say what was expected and, where possible, how to fix it.
"""

from __future__ import annotations


class MedkgError(Exception):
    """Root of every error medkg raises on purpose."""


class ConfigError(MedkgError, ValueError):
    """A setting is missing or invalid (environment, config file, CLI)."""


class ServerError(MedkgError, RuntimeError):
    """The managed Neo4j server could not be provisioned, started or stopped."""


class ConnectionError_(MedkgError, ConnectionError):
    """Neo4j could not be reached or refused the credentials."""


class SchemaError(MedkgError, ValueError):
    """A label, relationship type or property is not part of the graph schema."""


class QueryError(MedkgError, ValueError):
    """A query was refused (for example a write sent through the read-only API)."""


class IngestError(MedkgError, ValueError):
    """Bad input while loading data.

    Attributes:
        path: the file being read (or ``None`` for in-memory input).
        line: the 1-based line number of the offending record, when known.
        reason: what was wrong and what was expected.
    """

    def __init__(self, reason: str, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(f"{where}{reason}")


class ScoringError(MedkgError, ValueError):
    """Bad input to a scoring algorithm (matrix shape, weights, seeds, device)."""


class ModelError(MedkgError, ValueError):
    """A model artifact is missing, incompatible or was given bad input."""


class RecommendError(MedkgError, ValueError):
    """A recommender was misused (unknown target, not fitted, bad arguments)."""


class MedkgWarning(UserWarning):
    """Root of every warning medkg issues on purpose."""


class ConvergenceWarning(MedkgWarning, RuntimeWarning):
    """An iterative algorithm (PageRank, personalized PageRank, HITS) stopped at ``max_iter``
    before its change fell below ``tol``: the result is returned, flagged ``converged=False``,
    and is not accurate to ``tol``."""
