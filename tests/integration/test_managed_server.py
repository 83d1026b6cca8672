"""The managed local Neo4j server: start/stop idempotent, loopback only, 0600 password, logs."""

from __future__ import annotations

import http.server
import os
import signal
import shutil
import stat
import subprocess
import sys
import threading
import urllib.request

import neo4j
import pytest

from graph_engine.server import ManagedNeo4j, _pid_alive
from graph_engine.settings import Settings
from tests.conftest import REPO

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def _link_jars(srv: ManagedNeo4j) -> None:
    """Reuse jars that are already provisioned (the test server's or the user's) to save the download."""
    for base in (REPO / ".medkg-test", Settings.load().home):
        lib = base / "neo4j" / srv.settings.neo4j_version / "lib"
        if ManagedNeo4j(Settings(home=base)).provisioned:
            srv.root.mkdir(parents=True, exist_ok=True)
            srv.lib.symlink_to(lib)
            break


@pytest.fixture()
def server(tmp_path):
    settings = Settings(home=tmp_path, heap_size="512m", pagecache_size="64m")
    srv = ManagedNeo4j(settings)
    _link_jars(srv)
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
    # a restart keeps the address (ports free again), so a long-running client's driver reconnects
    assert (info3.uri, info3.http_uri) == (info2.uri, info2.http_uri)
    with neo4j.GraphDatabase.driver(info3.uri, auth=("neo4j", info3.password)) as d:
        assert d.execute_query("MATCH (m:Marker) RETURN count(m) AS n").records[0]["n"] == 1


def _java_wrapper(tmp_path):
    """A JAVA_HOME whose bin/java logs its command line, then runs the real java (to see what is passed)."""
    real = shutil.which("java")
    if os.environ.get("JAVA_HOME") and os.path.exists(os.path.join(os.environ["JAVA_HOME"], "bin", "java")):
        real = os.path.join(os.environ["JAVA_HOME"], "bin", "java")
    assert real, "java is needed for the managed server"
    jdk, log = tmp_path / "jdk", tmp_path / "java-argv.log"
    (jdk / "bin").mkdir(parents=True)
    wrapper = jdk / "bin" / "java"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{os.path.realpath(real)}" "$@"\n')
    wrapper.chmod(0o755)
    return jdk, log


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Recorder.hits.append(self.path)
        body = b"id\nleak\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_fresh_server_concurrent_start_and_fences(tmp_path):
    """Two first `medkg neo4j start` at once on a fresh home, then the server's own fences:
    private directories and files, no password on any command line, no LOAD CSV from file or remote URLs."""
    from graph_engine.client import GraphClient
    from graph_engine.errors import QueryError

    home = tmp_path / "medkg"
    srv = ManagedNeo4j(Settings(home=home, heap_size="512m", pagecache_size="64m"))
    _link_jars(srv)
    jdk, argv_log = _java_wrapper(tmp_path)
    env = dict(os.environ, MEDKG_HOME=str(home), JAVA_HOME=str(jdk), MEDKG_HEAP_SIZE="512m",
               MEDKG_PAGECACHE_SIZE="64m", PYTHONPATH=str(REPO))
    for var in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_PASSWORD_FILE"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "jobs.cli", "neo4j", "start", "--timeout", "300"]
    try:
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  cwd=REPO) for _ in range(2)]
        outs = [p.communicate(timeout=400) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
        uris = [o[0].strip().splitlines()[-1] for o in outs]
        assert uris[0] == uris[1]
        state = srv._read_state()
        assert state and _pid_alive(state["pid"]) and uris[0] == f"bolt://127.0.0.1:{state['bolt_port']}"
        info = srv.running()
        assert info is not None and info.pid == state["pid"]
        # a following command connects (no 180 s wait on a half-written state)
        q = subprocess.run([sys.executable, "-m", "jobs.cli", "query", "RETURN 41 + 1 AS x"], env=env,
                           capture_output=True, text=True, cwd=REPO, timeout=120)
        assert q.returncode == 0 and "42" in q.stdout, q.stderr

        # (3) files: server directories 0700, database files unreadable by group and others
        for d in (srv.root, srv.home, srv.data_dir, srv.log_dir):
            assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
        data_files = [p for p in srv.data_dir.rglob("*") if p.is_file()]
        assert any("system" in str(p) for p in data_files)
        loose = [(str(p), oct(stat.S_IMODE(p.stat().st_mode))) for p in data_files + list(srv.log_dir.glob("*"))
                 if stat.S_IMODE(p.stat().st_mode) & 0o077]
        assert not loose, loose
        # the initial password never appeared on a java command line, and its argument file is gone
        password = info.password
        launched = argv_log.read_text()
        assert "set-initial-password" in launched and "CommunityEntryPoint" in launched
        assert password not in launched
        assert not (srv.root / "password.args").exists()

        # (1) the server's own fences, through a raw driver session (no medkg client in between)
        httpd = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/x.csv?leak="
        try:
            with neo4j.GraphDatabase.driver(info.uri, auth=("neo4j", password)) as d:
                with d.session() as s:
                    with pytest.raises(neo4j.exceptions.Neo4jError):
                        s.run("LOAD CSV FROM $url + 'secret' AS r RETURN r", url=url).consume()
                    with pytest.raises(neo4j.exceptions.Neo4jError):
                        s.run("LOAD CSV FROM 'file:///etc/passwd' AS r RETURN r").consume()
                    settings = {r["name"]: r["value"] for r in s.run("SHOW SETTINGS YIELD name, value")}
                assert settings["dbms.security.allow_csv_import_from_file_urls"] == "false"
                assert settings["server.directories.import"] == str(srv.home / "import")
                # and medkg's read-only API refuses before the server sees anything
                g = GraphClient(d)
                for bad in (f"LOAD CSV FROM '{url}' AS r RETURN r", "SHOW SETTINGS",
                            "TERMINATE TRANSACTIONS 'neo4j-transaction-1'", "CALL dbms.listConfig()"):
                    with pytest.raises(QueryError, match="refused"):
                        g.query(bad)
                assert g.query("RETURN 'LOAD CSV FROM http://x' AS s") == [{"s": "LOAD CSV FROM http://x"}]
        finally:
            httpd.shutdown()
        assert _Recorder.hits == []  # the server never fetched the URL
    finally:
        for p in locals().get("procs", []):
            if p.poll() is None:
                p.kill()
        srv.stop()
        # no server of this home may outlive the test, whichever start launched it
        left = subprocess.run(["pgrep", "-f", f"--home-dir={srv.home}"], capture_output=True, text=True).stdout.split()
        for pid in left:
            os.kill(int(pid), signal.SIGKILL)
        assert not left, f"a second server of {srv.home} was still running: {left}"
