"""Where the CLI and batch jobs get their settings, driver and client."""

from __future__ import annotations

import contextlib
from typing import Iterator

from graph_engine.client import GraphClient
from graph_engine.connect import connect
from graph_engine.server import resolve
from graph_engine.settings import Settings


@contextlib.contextmanager
def open_client(settings: Settings | None = None, start: bool = True, ensure_schema: bool = True) -> Iterator[GraphClient]:
    """Yield a :class:`GraphClient` on ``NEO4J_URI`` or on the managed local server.

    Args:
        settings: defaults to ``Settings.load()``.
        start: start the managed server when no ``NEO4J_URI`` is set.
        ensure_schema: create constraints and indexes first (idempotent).
    """
    settings = resolve(settings or Settings.load(), start=start)
    driver = connect(settings)
    try:
        client = GraphClient(driver, database=settings.database, batch_size=settings.batch_size)
        if ensure_schema:
            client.ensure_schema()
        yield client
    finally:
        driver.close()
