"""The managed local Neo4j server: start/stop idempotent, loopback only, 0600 password, logs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import urllib.request

import neo4j
import pytest

from graph_engine.server import ManagedNeo4j, _pid_alive
from graph_engine.settings import Settings
from tests.conftest import REPO

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


@pytest.fixture()
def server(tmp_path):
    settings = Settings(home=tmp_path, heap_size="512m", pagecache_size="64m")
    srv = ManagedNeo4j(settings)
    # reuse jars that are already provisioned (the test server's or the user's) to save the download
    for base in (REPO / ".medkg-test", Settings.load().home):
        lib = base / "neo4j" / settings.neo4j_version / "lib"
        if ManagedNeo4j(Settings(home=base)).provisioned:
            srv.root.mkdir(parents=True, exist_ok=True)
            srv.lib.symlink_to(lib)
            break
    yield srv
    srv.stop()


def test_lifecycle(server, tmp_path):
    assert server.status()["running"] is False
    assert server.stop() is False  # stopping a stopped server is a no-op
    info = server.start()
    assert info.uri.startswith("bolt://127.0.0.1:")
    assert server.start().pid == info.pid  # idempotent: same process
    assert stat.S_IMODE(server.password_file.stat().st_mode) == 0o600
    with neo4j.GraphDatabase.driver(info.uri, auth=("neo4j", info.password)) as d:
        assert d.execute_query("RETURN 1 AS x").records[0]["x"] == 1
    with neo4j.GraphDatabase.driver(info.uri, auth=("neo4j", "wrong-password")) as d:
        with pytest.raises(neo4j.exceptions.AuthError):
            d.verify_connectivity()
    # listening sockets of the server process are loopback only
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
    mine = [l for l in out.splitlines() if f"pid={info.pid}," in l]
    assert mine and all("127.0.0.1" in l for l in mine), mine
    env = dict(os.environ, MEDKG_HOME=str(tmp_path))
    env.pop("NEO4J_URI", None)
    printed = subprocess.run([sys.executable, "-m", "jobs.cli", "neo4j", "env"], env=env, capture_output=True, text=True)
    assert printed.returncode == 0
    assert printed.stdout.splitlines() == [f"NEO4J_URI={info.uri}", "NEO4J_USER=neo4j", f"NEO4J_PASSWORD={info.password}"]
    assert (server.log_dir / "neo4j.log").exists()
    # Neo4j Browser is served by the managed server (medkg demo sends users there)
    with urllib.request.urlopen(f"{info.http_uri}/browser/", timeout=30) as resp:
        assert resp.status == 200 and b"Neo4j Browser" in resp.read()
    assert server.stop() is True
    assert not _pid_alive(info.pid)
    assert "Stopped" in (server.log_dir / "neo4j.log").read_text() or "shutdown" in (server.log_dir / "neo4j.log").read_text().lower()
    assert server.status()["running"] is False
    status = subprocess.run([sys.executable, "-m", "jobs.cli", "neo4j", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 3 and "running: False" in status.stdout
    # data persists across restarts
    info2 = server.start()
    with neo4j.GraphDatabase.driver(info2.uri, auth=("neo4j", info2.password)) as d:
        d.execute_query("CREATE (:Marker {id: 'm'})")
    server.stop()
    info3 = server.start()
    with neo4j.GraphDatabase.driver(info3.uri, auth=("neo4j", info3.password)) as d:
        assert d.execute_query("MATCH (m:Marker) RETURN count(m) AS n").records[0]["n"] == 1
