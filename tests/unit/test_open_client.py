"""The one call from settings to a ready client honours the settings (no server needed:
the driver is never contacted because ensure_schema=False and the URI is unreachable)."""

from __future__ import annotations

import pytest

from graph_engine import open_client
from graph_engine.errors import ConnectionError_
from graph_engine.settings import Settings

pytestmark = pytest.mark.unit


def test_open_client_uses_the_settings_batch_size_and_database(monkeypatch):
    import graph_engine.connect as connect_mod

    seen = {}

    class FakeDriver:
        def close(self):
            seen["closed"] = True

    monkeypatch.setattr(connect_mod, "connect", lambda s: FakeDriver())
    settings = Settings(uri="bolt://127.0.0.1:1", password="x", batch_size=123, database="other")
    with open_client(settings, start=False, ensure_schema=False) as g:
        assert g.batch_size == 123 and g.database == "other"
    assert seen["closed"]


def test_open_client_names_the_unreachable_server():
    settings = Settings(uri="bolt://127.0.0.1:1", password="x")
    with pytest.raises(ConnectionError_, match="cannot reach Neo4j at bolt://127.0.0.1:1"):
        with open_client(settings, start=False):
            pass
