"""From :class:`Settings` to a driver (:func:`connect`) or, in one call, to a ready
:class:`~graph_engine.client.GraphClient` (:func:`open_client`).

Example:
    >>> from graph_engine import open_client
    >>> with open_client() as g:                      # NEO4J_URI, or the managed local server
    ...     g.counts()
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator

import neo4j
from neo4j.exceptions import AuthError, ServiceUnavailable

from graph_engine.errors import ConfigError, ConnectionError_
from graph_engine.settings import Settings

if TYPE_CHECKING:
    from graph_engine.client import GraphClient


def connect(settings: Settings, verify: bool = True) -> neo4j.Driver:
    """Open a driver to ``settings.uri``.

    Managed transactions retry transient errors for up to
    ``settings.max_retry_time`` seconds.

    Raises:
        ConfigError: no URI or no password configured.
        ConnectionError_: the server is unreachable or refused the credentials.
    """
    if not settings.uri:
        raise ConfigError("no Neo4j URI: set NEO4J_URI or start the managed server with `medkg neo4j start`")
    if settings.password is None:
        raise ConfigError("no Neo4j password: set NEO4J_PASSWORD or NEO4J_PASSWORD_FILE (a 0600 file)")
    driver = neo4j.GraphDatabase.driver(
        settings.uri,
        auth=(settings.user, settings.password),
        max_transaction_retry_time=settings.max_retry_time,
        # schema-driven count queries name types that may not exist yet; those warnings are noise
        notifications_min_severity="OFF",
    )
    if verify:
        try:
            driver.verify_connectivity()
        except AuthError as e:
            driver.close()
            raise ConnectionError_(f"Neo4j at {settings.uri} refused the credentials for user {settings.user!r}") from e
        except (ServiceUnavailable, OSError) as e:
            driver.close()
            reason = " ".join(str(e).split())  # the driver's message spans lines
            raise ConnectionError_(f"cannot reach Neo4j at {settings.uri}: {reason}; is it running? "
                                   "(`medkg neo4j status`, or check NEO4J_URI)") from e
    return driver


@contextlib.contextmanager
def open_client(settings: Settings | None = None, start: bool = True,
                ensure_schema: bool = True) -> Iterator["GraphClient"]:
    """Yield a :class:`GraphClient` on ``NEO4J_URI`` or on the managed local server; the driver
    is closed on exit.

    Args:
        settings: defaults to ``Settings.load()``; its ``database`` and ``batch_size`` are used.
        start: start the managed server when no ``NEO4J_URI`` is set.
        ensure_schema: create constraints and indexes first (idempotent).
    """
    from graph_engine.client import GraphClient
    from graph_engine.server import resolve

    settings = resolve(settings or Settings.load(), start=start)
    driver = connect(settings)
    try:
        client = GraphClient(driver, database=settings.database, batch_size=settings.batch_size)
        if ensure_schema:
            client.ensure_schema()
        yield client
    finally:
        driver.close()
