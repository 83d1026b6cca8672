"""Shared fixtures.

Neo4j tests (marker ``neo4j``) run against a real server:

* ``NEO4J_URI`` (+ ``NEO4J_USER``/``NEO4J_PASSWORD``) when set. Tests wipe the
  database, so they refuse a non-empty one unless ``MEDKG_TEST_ALLOW_WIPE=1``.
* otherwise a managed test server under ``<repo>/.medkg-test`` (provisioned from
  Maven Central on first use, left running for the next test run; stop it with
  ``MEDKG_HOME=.medkg-test medkg neo4j stop``).

With ``CI=true`` a missing server is a failure, never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.fspath)
        if "/tests/integration/" in path and "neo4j" not in item.keywords:
            item.add_marker(pytest.mark.neo4j)
        elif "/tests/unit/" in path and "unit" not in item.keywords:
            item.add_marker(pytest.mark.unit)


def unavailable(reason: str) -> None:
    """Skip locally with a loud reason; fail in CI."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(f"NEO4J TESTS SKIPPED: {reason}")


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips locally (fails in CI) when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        if IN_CI:
            pytest.fail(f"CI=true and shared data {p} is missing", pytrace=False)
        pytest.skip(f"shared data {p} not present")
    return p


@pytest.fixture(scope="session")
def neo4j_settings():
    from graph_engine.errors import MedkgError
    from graph_engine.server import ManagedNeo4j
    from graph_engine.settings import Settings

    env = dict(os.environ)
    if not env.get("NEO4J_URI"):
        env["MEDKG_HOME"] = str(REPO / ".medkg-test")
    settings = Settings.load(env=env)
    if settings.uri:
        return settings
    try:
        info = ManagedNeo4j(settings).start()
    except MedkgError as e:
        unavailable(f"no NEO4J_URI and the managed test server could not start: {e}")
    return settings.with_overrides(uri=info.uri, user=info.user, password=info.password)


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_settings):
    from graph_engine.connect import connect
    from graph_engine.errors import MedkgError

    try:
        driver = connect(neo4j_settings)
    except MedkgError as e:
        unavailable(str(e))
    managed = os.environ.get("NEO4J_URI") is None
    if not managed and os.environ.get("MEDKG_TEST_ALLOW_WIPE") != "1":
        with driver.session(database=neo4j_settings.database) as s:
            n = s.run("MATCH (n) RETURN count(n) AS n").single()["n"]
        if n:
            driver.close()
            pytest.fail(
                f"{neo4j_settings.uri} holds {n} nodes and the tests wipe the database; "
                "set MEDKG_TEST_ALLOW_WIPE=1 to allow it", pytrace=False,
            )
    yield driver
    driver.close()


def wipe(driver, database: str) -> None:
    from graph_engine import cypher

    with driver.session(database=database) as s:
        s.run(cypher.DELETE_ALL_RELATIONSHIPS).consume()
        s.run(cypher.DELETE_ALL_NODES).consume()


@pytest.fixture()
def graph(neo4j_driver, neo4j_settings) -> Iterator["GraphClient"]:  # noqa: F821
    """A GraphClient on an empty database with the schema in place."""
    from graph_engine.client import GraphClient

    wipe(neo4j_driver, neo4j_settings.database)
    client = GraphClient(neo4j_driver, database=neo4j_settings.database, batch_size=1000)
    client.ensure_schema()
    yield client


@pytest.fixture()
def neo4j_env(neo4j_settings) -> dict[str, str]:
    """Environment for running the ``medkg`` CLI against the test server."""
    env = dict(os.environ)
    env.update(NEO4J_URI=neo4j_settings.uri, NEO4J_USER=neo4j_settings.user,
               NEO4J_PASSWORD=neo4j_settings.password, NEO4J_DATABASE=neo4j_settings.database)
    return env
