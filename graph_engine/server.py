"""A managed local Neo4j 5.26 LTS Community server, provisioned from Maven Central.

Neo4j does not publish its standalone tarball on Maven Central, so the server
is assembled from the artifacts it does publish: ``mvn`` resolves
``org.neo4j.test:neo4j-harness`` (which depends on the complete Community
server: kernel, Bolt, HTTP, ``neo4j-admin`` and the bulk importer) into a cache
directory, and the server runs the distribution's own entry point,
``org.neo4j.server.CommunityEntryPoint``, with a ``neo4j.conf`` we write. So it
is the real server with persistent data, not a test double; ``neo4j-admin``
(``org.neo4j.cli.AdminTool``) sets the initial password and runs bulk imports.

Layout under ``Settings.server_dir`` (default ``~/.medkg/neo4j/<version>``)::

    lib/            jars (one directory; ``lib/.complete`` marks a finished download)
    home/conf/      neo4j.conf
    home/data/      databases and transactions
    home/logs/      neo4j.log, debug.log, console.log   <- logs in a known place
    password        generated password, mode 0600
    state.json      pid and ports of the running server
    start.lock      flock'ed around provisioning, start, stop and bulk import

Fences of the managed server: it listens on loopback only with auth on; the
server root, ``home/data``, ``home/logs`` and ``home/run`` are mode 0700 and the
server runs with umask 077 (database files are not readable by other users);
the initial password reaches ``neo4j-admin`` through a 0600 argument file
(``@file``), never its command line; ``LOAD CSV`` cannot read ``file:`` URLs
(``dbms.security.allow_csv_import_from_file_urls=false``) nor any remote
address (``internal.dbms.cypher_ip_blocklist`` blocks every IPv4 and IPv6
address), and the import directory is an empty directory of its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from graph_engine.errors import ServerError
from graph_engine.settings import Settings, read_secret_file, write_secret_file

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.medkg</groupId>
  <artifactId>neo4j-server-provision</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.neo4j.test</groupId>
      <artifactId>neo4j-harness</artifactId>
      <version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.neo4j.client</groupId>
      <artifactId>neo4j-browser</artifactId>
      <version>{browser_version}</version>
    </dependency>
  </dependencies>
</project>
"""

#: Neo4j Browser, served by the server at /browser/ when its jar is on the classpath. 5.24.0 is the
#: newest version on Maven Central that resolves (the 5.26 releases are not published there).
BROWSER_VERSION = "5.24.0"

_JVM_OPTS = [
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
]


@dataclass(frozen=True)
class ServerInfo:
    """Where the managed server listens and how to log in (password never printed by repr)."""

    uri: str
    http_uri: str
    user: str
    pid: int
    log_dir: Path
    password_file: Path

    @property
    def password(self) -> str:
        return read_secret_file(self.password_file)

    def env_lines(self) -> list[str]:
        return [f"NEO4J_URI={self.uri}", f"NEO4J_USER={self.user}", f"NEO4J_PASSWORD={self.password}"]


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created 0600) for the ``with`` block, across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def maven_provision(root: Path, pom: str, *, mvn: str, done: Callable[[], bool], marker: str, what: str, stamp: str,
                    error: type[Exception], quiet: bool = True) -> None:
    """Resolve ``pom``'s runtime dependencies into ``root / "lib"`` with ``mvn dependency:copy-dependencies``.

    The jars land in ``lib.partial`` first and are renamed to ``lib`` with a ``.complete`` stamp, so an
    interrupted download is never mistaken for a finished one. Concurrent provisions of the same ``root``
    (two ``medkg synthea generate`` on a fresh ``MEDKG_HOME``) are serialised by ``root / "provision.lock"``:
    the second waits, sees ``done()`` and returns, instead of copying into the same ``lib.partial``.

    Raises:
        error: Maven failed, or its output holds no jar matching ``marker`` (names ``what``).
    """
    with file_lock(root / "provision.lock"):
        if done():
            return
        build = root / "provision"
        build.mkdir(parents=True, exist_ok=True)
        (build / "pom.xml").write_text(pom, encoding="utf-8")
        tmp_lib = root / "lib.partial"
        shutil.rmtree(tmp_lib, ignore_errors=True)
        cmd = [mvn, "-B", "-f", str(build / "pom.xml"), "dependency:copy-dependencies",
               f"-DoutputDirectory={tmp_lib}", "-DincludeScope=runtime"]
        if quiet:
            cmd.insert(1, "-q")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise error(f"Maven could not fetch {what} from Maven Central (exit {proc.returncode}):\n{tail}")
        if not any(tmp_lib.glob(marker)):
            raise error(f"Maven finished but {tmp_lib} holds no {marker} jar")
        lib = root / "lib"
        shutil.rmtree(lib, ignore_errors=True)
        tmp_lib.rename(lib)
        (lib / ".complete").write_text(stamp, encoding="utf-8")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_free(host: str, port: Any) -> bool:
    if not isinstance(port, int) or not 0 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as Neo4j binds (SO_REUSEADDR): connections of the previous server in TIME_WAIT do not block it
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` alive on this host (a zombie counts as dead)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still "exists"; check its state
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


_pid_alive = pid_alive


def java_version(java: str) -> int:
    """Major version of the ``java`` executable (e.g. 17)."""
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        raise ServerError(f"cannot tell the version of {java}: {out.stderr.strip()[:200]}")
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def find_java(needs: str, otherwise: str = "", error: type[Exception] = ServerError, minimum: int = 17) -> str:
    """The ``java`` executable (``$JAVA_HOME/bin/java`` first, else ``PATH``) of at least ``minimum``.

    Raises:
        error: Java is missing (``"Java is not installed: <needs> (... apt-get ...), <otherwise>"``) or too old.
    """
    java = shutil.which("java", path=os.environ.get("PATH"))
    if os.environ.get("JAVA_HOME"):
        candidate = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
        if candidate.exists():
            java = str(candidate)
    tail = f", {otherwise}" if otherwise else ""
    if not java:
        raise error(f"Java is not installed: {needs} (Debian/Ubuntu: apt-get install openjdk-17-jre-headless){tail}")
    major = java_version(java)
    if major < minimum:
        raise error(f"Java {major} found at {java}; {needs} (install openjdk-17-jre-headless)")
    return java


def find_mvn(needs: str, otherwise: str = "", error: type[Exception] = ServerError) -> str:
    """The ``mvn`` executable on ``PATH``.

    Raises:
        error: Maven is missing (``"Maven is not installed: <needs> (... apt-get install maven), <otherwise>"``).
    """
    mvn = shutil.which("mvn")
    if not mvn:
        tail = f", {otherwise}" if otherwise else ""
        raise error(f"Maven is not installed: {needs} (Debian/Ubuntu: apt-get install maven){tail}")
    return mvn


class ManagedNeo4j:
    """Provision, start, stop and inspect the managed local Neo4j server.

    Args:
        settings: uses ``server_dir``, ``neo4j_version``, ``listen_address``,
            ``heap_size``, ``pagecache_size`` and ``user``.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.server_dir
        self.lib = self.root / "lib"
        self.home = self.root / "home"
        self.conf_dir = self.home / "conf"
        self.data_dir = self.home / "data"
        self.log_dir = self.home / "logs"
        self.password_file = self.root / "password"
        self.state_file = self.root / "state.json"
        self.ports_file = self.root / "ports.json"
        self.lock_file = self.root / "start.lock"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive ``flock`` on ``start.lock``: one start / stop / import at a time, across processes."""
        with file_lock(self.lock_file):
            yield

    # ---------------------------------------------------------------- tools
    def _java(self) -> str:
        return find_java("the managed Neo4j 5.26 server needs Java 17 or 21",
                         "or point NEO4J_URI at a running server", ServerError)

    def _mvn(self) -> str:
        return find_mvn("it downloads Neo4j from Maven Central", "or point NEO4J_URI at a running server", ServerError)

    def _classpath(self) -> str:
        return str(self.lib / "*")

    # ---------------------------------------------------------------- provisioning
    @property
    def provisioned(self) -> bool:
        return (self.lib / ".complete").exists() and any(self.lib.glob(f"neo4j-browser-{BROWSER_VERSION}.jar"))

    def provision(self, quiet: bool = True) -> None:
        """Download the Neo4j jars through Maven (once; later calls return at once)."""
        if self.provisioned:
            return
        self._java()
        maven_provision(self.root, _POM.format(version=self.settings.neo4j_version, browser_version=BROWSER_VERSION),
                        mvn=self._mvn(), done=lambda: self.provisioned, marker="neo4j-kernel-*.jar",
                        what=f"org.neo4j.test:neo4j-harness:{self.settings.neo4j_version}",
                        stamp=self.settings.neo4j_version, error=ServerError, quiet=quiet)

    # ---------------------------------------------------------------- state
    def _read_state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _info(self, state: dict) -> ServerInfo:
        host = state["host"]
        return ServerInfo(
            uri=f"bolt://{host}:{state['bolt_port']}",
            http_uri=f"http://{host}:{state['http_port']}",
            user="neo4j",
            pid=state["pid"],
            log_dir=self.log_dir,
            password_file=self.password_file,
        )

    def running(self) -> ServerInfo | None:
        """Info about the running server, or ``None`` (stale state is cleaned up)."""
        state = self._read_state()
        if not state:
            return None
        if _pid_alive(state["pid"]) and _port_open(state["host"], state["bolt_port"]):
            return self._info(state)
        if not _pid_alive(state["pid"]):
            self.state_file.unlink(missing_ok=True)
        return None

    def status(self) -> dict:
        """A JSON-able status: running or not, uri, pid, version, directories."""
        info = self.running()
        state = self._read_state()
        return {
            "running": info is not None,
            "starting": info is None and state is not None and _pid_alive(state["pid"]),
            "uri": info.uri if info else None,
            "http": info.http_uri if info else None,
            "pid": info.pid if info else None,
            "version": self.settings.neo4j_version,
            "provisioned": self.provisioned,
            "home": str(self.home),
            "logs": str(self.log_dir),
        }

    # ---------------------------------------------------------------- config
    def _private_dirs(self) -> None:
        """Create the server's directories; the root, home, data, logs and run directories are mode 0700."""
        for d in (self.conf_dir, self.data_dir, self.log_dir, self.home / "run", self.home / "import",
                  self.home / "plugins"):
            d.mkdir(parents=True, exist_ok=True)
        for d in (self.root, self.home, self.data_dir, self.log_dir, self.home / "run"):
            os.chmod(d, 0o700)  # also tightens a server set up by an older medkg

    def _write_conf(self, host: str, bolt: int, http: int) -> None:
        self._private_dirs()
        conf = f"""# written by medkg (graph_engine.server); edits are overwritten on start
server.default_listen_address={host}
server.default_advertised_address={host}
server.bolt.listen_address={host}:{bolt}
server.bolt.advertised_address={host}:{bolt}
server.http.listen_address={host}:{http}
server.http.advertised_address={host}:{http}
server.https.enabled=false
dbms.security.auth_enabled=true
server.directories.data={self.data_dir}
server.directories.logs={self.log_dir}
server.directories.run={self.home / 'run'}
server.directories.import={self.home / 'import'}
server.directories.plugins={self.home / 'plugins'}
server.memory.pagecache.size={self.settings.pagecache_size}
server.memory.heap.initial_size={self.settings.heap_size}
server.memory.heap.max_size={self.settings.heap_size}
dbms.usage_report.enabled=false
dbms.security.allow_csv_import_from_file_urls=false
internal.dbms.cypher_ip_blocklist=0.0.0.0/0,::/0
db.tx_log.rotation.retention_policy=1 files
"""
        (self.conf_dir / "neo4j.conf").write_text(conf, encoding="utf-8")

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NEO4J_HOME"] = str(self.home)
        env["NEO4J_CONF"] = str(self.conf_dir)
        return env

    def admin(self, args: Sequence[str], timeout: float | None = None) -> subprocess.CompletedProcess:
        """Run ``neo4j-admin`` with ``args`` against this server's home."""
        cmd = [self._java(), "-Xmx2g", *_JVM_OPTS[4:], "-cp", self._classpath(), "org.neo4j.cli.AdminTool", *args]
        return subprocess.run(cmd, env=self._env(), capture_output=True, text=True, timeout=timeout, check=False,
                              umask=0o077)

    def _ensure_password(self) -> None:
        if self.password_file.exists():
            read_secret_file(self.password_file)  # refuses a file with loose permissions
            return
        if (self.data_dir / "databases" / "system").exists():
            raise ServerError(
                f"the server in {self.home} was initialised but its password file {self.password_file} is gone; "
                f"remove {self.data_dir} to start afresh (deletes the data)"
            )
        # hex, never a leading "-": neo4j-admin would read a token_urlsafe password such as
        # "-x..." (1 in 64) as an option and fail the set-up (seen in CI)
        password = secrets.token_hex(24)
        # neo4j-admin (picocli) reads "@file" as its arguments: the password never shows in a process listing
        argfile = self.root / "password.args"
        write_secret_file(argfile, f'"{password}"\n')
        try:
            proc = self.admin(["dbms", "set-initial-password", f"@{argfile}"])
        finally:
            argfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise ServerError(f"neo4j-admin set-initial-password failed: {proc.stderr.strip()[-500:]}")
        write_secret_file(self.password_file, password)

    # ---------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 180.0) -> ServerInfo:
        """Start the server if it is not running (idempotent) and wait until Bolt answers.

        Concurrent starts (two processes) are serialised by a file lock: the
        second waits for the first and returns the same server.
        """
        with self._locked():
            return self._start(timeout)

    def _start(self, timeout: float) -> ServerInfo:
        info = self.running()
        if info:
            return info
        state = self._read_state()
        if state and _pid_alive(state["pid"]):
            return self._wait(state, timeout)  # a start is already under way
        java = self._java()
        self.provision()
        host = self.settings.listen_address
        bolt, http = self._last_ports(host)
        while http == bolt:
            http = _free_port(host)
        self._write_conf(host, bolt, http)
        self._ensure_password()
        cmd = [
            java,
            f"-Xms{self.settings.heap_size}",
            f"-Xmx{self.settings.heap_size}",
            *_JVM_OPTS,
            "-cp",
            self._classpath(),
            "org.neo4j.server.CommunityEntryPoint",
            f"--home-dir={self.home}",
            f"--config-dir={self.conf_dir}",
        ]
        console = os.fdopen(os.open(self.log_dir / "console.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        os.chmod(self.log_dir / "console.log", 0o600)
        proc = subprocess.Popen(
            cmd, env=self._env(), stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=self.home, umask=0o077,
        )
        console.close()
        state = {"pid": proc.pid, "host": host, "bolt_port": bolt, "http_port": http,
                 "version": self.settings.neo4j_version, "started": time.time()}
        self.state_file.write_text(json.dumps(state), encoding="utf-8")
        self.ports_file.write_text(json.dumps({"bolt_port": bolt, "http_port": http}), encoding="utf-8")
        return self._wait(state, timeout, proc)

    def _last_ports(self, host: str) -> tuple[int, int]:
        """The ports of the previous start when both are still free (a restarted server keeps its
        address, so running clients reconnect), else two new free ports."""
        try:
            last = json.loads(self.ports_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            last = {}
        bolt, http = last.get("bolt_port"), last.get("http_port")
        if bolt != http and _port_free(host, bolt) and _port_free(host, http):
            return int(bolt), int(http)
        return _free_port(host), _free_port(host)

    def _wait(self, state: dict, timeout: float, proc: subprocess.Popen | None = None) -> ServerInfo:
        import neo4j

        deadline = time.monotonic() + timeout
        info = self._info(state)
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                self.state_file.unlink(missing_ok=True)
                raise ServerError(
                    f"Neo4j exited with code {proc.returncode} while starting; see {self.log_dir / 'console.log'} "
                    f"and {self.log_dir / 'neo4j.log'}:\n{self._log_tail()}"
                )
            if _port_open(state["host"], state["bolt_port"]):
                try:
                    with neo4j.GraphDatabase.driver(info.uri, auth=(info.user, info.password),
                                                    notifications_min_severity="OFF") as d:
                        d.verify_connectivity()
                    return info
                except Exception as e:  # noqa: BLE001 - keep polling until the deadline
                    last_error = str(e)
            time.sleep(0.5)
        raise ServerError(f"Neo4j did not answer on {info.uri} within {timeout:.0f}s ({last_error}); logs in {self.log_dir}")

    def _log_tail(self, n: int = 20) -> str:
        lines: list[str] = []
        for name in ("console.log", "neo4j.log"):
            p = self.log_dir / name
            if p.exists():
                lines += p.read_text(encoding="utf-8", errors="replace").splitlines()[-n:]
        return "\n".join(lines[-n:])

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the server cleanly (SIGTERM, then SIGKILL after ``timeout``). Idempotent.

        Returns:
            True if a server was stopped, False if none was running.
        """
        with self._locked():
            return self._stop(timeout)

    def _stop(self, timeout: float) -> bool:
        state = self._read_state()
        if not state or not _pid_alive(state["pid"]):
            self.state_file.unlink(missing_ok=True)
            return False
        pid = state["pid"]
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _pid_alive(pid):
            try:  # reap if it is our child
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.2)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)
        return True

    # ---------------------------------------------------------------- bulk import
    def bulk_import(self, nodes: Sequence[tuple[str, Path]], relationships: Sequence[tuple[str, Path]],
                    database: str = "neo4j", extra_args: Sequence[str] = ()) -> subprocess.CompletedProcess:
        """Replace ``database`` with a bulk import (``neo4j-admin database import full``).

        The server must be stopped. ``nodes`` are ``(label, csv)`` pairs and
        ``relationships`` ``(type, csv)`` pairs in neo4j-admin's header format.

        Raises:
            ServerError: the server is running or the import failed.
        """
        with self._locked():
            return self._bulk_import(nodes, relationships, database, extra_args)

    def _bulk_import(self, nodes: Sequence[tuple[str, Path]], relationships: Sequence[tuple[str, Path]],
                     database: str, extra_args: Sequence[str]) -> subprocess.CompletedProcess:
        state = self._read_state()
        if self.running() or (state and _pid_alive(state["pid"])):
            raise ServerError("stop the managed server before a bulk import (medkg neo4j stop)")
        self.provision()
        if not self.conf_dir.joinpath("neo4j.conf").exists():
            self._write_conf(self.settings.listen_address, _free_port("127.0.0.1"), _free_port("127.0.0.1"))
        self._ensure_password()
        # the database name goes first: --nodes/--relationships take several values and would swallow it
        args = ["database", "import", "full", database, "--overwrite-destination=true", "--skip-duplicate-nodes=false",
                "--high-parallel-io=on", "--array-delimiter=U+001F", "--threads", str(os.cpu_count() or 2),
                f"--report-file={self.log_dir / 'import.report'}"]
        args += [f"--nodes={label}={path}" for label, path in nodes]
        args += [f"--relationships={rtype}={path}" for rtype, path in relationships]
        args += [*extra_args]
        proc = self.admin(args)
        if proc.returncode != 0:
            raise ServerError(f"neo4j-admin database import failed:\n{(proc.stdout + proc.stderr)[-2000:]}")
        return proc


def resolve(settings: Settings, start: bool = True) -> Settings:
    """Settings pointing at a server: the configured ``NEO4J_URI``, or the managed
    local server (started if ``start`` and not running)."""
    if settings.uri:
        return settings
    server = ManagedNeo4j(settings)
    info = server.running() or (server.start() if start else None)
    if info is None:
        raise ServerError("no NEO4J_URI set and the managed server is not running: run `medkg neo4j start`")
    return settings.with_overrides(uri=info.uri, user=info.user, password=info.password)
