"""The one Run lifecycle: every job that writes to the graph runs inside :func:`open_run`.

::

    with open_run(client, "score", "pagerank", params) as run:
        ...                       # compute, write with run.id
        run.metrics["written"] = written

On entry a ``(:Run {status: 'running'})`` node is created; on a normal exit it
is finished with ``run.status`` (``succeeded`` unless the job set another, e.g.
``unconverged``) and ``run.metrics`` plus ``seconds``; on an exception it is
finished as ``failed`` with the error (type and message, at most 1,000
characters) and the exception propagates unchanged. A failure to record the
failure (server gone) never hides the original error.

Runs left ``running`` by a killed job: the open Run records its owner
(``owner_pid``, ``owner_host``) and a ``heartbeat_at`` that a daemon thread
renews every :data:`HEARTBEAT_S` seconds. :func:`mark_abandoned`, called by
every :func:`open_run` before it creates its own Run and by ``medkg runs
list``, finishes as ``abandoned`` (with ``abandoned_reason``) every running Run
whose owner process is gone on this host, or whose heartbeat (or start, for a
Run without one) is older than :data:`STALE_AFTER_S` seconds, by the server's
clock.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Protocol

from graph_engine.server import pid_alive

ERROR_CHARS = 1000
#: Seconds between heartbeats of an open Run.
HEARTBEAT_S = 30.0
#: A running Run whose heartbeat is older than this many seconds is abandoned (10 missed heartbeats).
STALE_AFTER_S = 300.0

HEARTBEAT = (
    "// runs.heartbeat\n"
    "MATCH (r:Run {id: $id}) WHERE r.status = 'running'\n"
    "SET r.heartbeat_at = datetime(), r.owner_pid = $pid, r.owner_host = $host"
)
RUNNING = (
    "// runs.running\n"
    "MATCH (r:Run {status: 'running'})\n"
    "RETURN r.id AS id, r.owner_pid AS pid, r.owner_host AS host,\n"
    "       duration.inSeconds(coalesce(r.heartbeat_at, r.started_at), datetime()).seconds AS age_s"
)
ABANDON = (
    "// runs.abandon\n"
    "UNWIND $rows AS row MATCH (r:Run {id: row.id}) WHERE r.status = 'running'\n"
    "SET r.status = 'abandoned', r.finished_at = datetime(), r.abandoned_reason = row.reason\n"
    "RETURN r.id AS id"
)


class RunClient(Protocol):
    """What the Run lifecycle and prediction write-back need from ``GraphClient``."""

    def run_in_transaction(self, fn: Any) -> Any: ...

    def create_run(self, kind: str, algorithm: str, params: Mapping[str, Any]) -> str: ...

    def finish_run(self, run_id: str, metrics: Mapping[str, Any], status: str = "succeeded") -> None: ...


@dataclass
class Run:
    """An open run: its id, and the metrics and status it will be finished with."""

    id: str
    kind: str
    algorithm: str
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "succeeded"


#: Ids of the Runs this process has open (inside :func:`open_run`).
_OPEN: set[str] = set()


def stale_reason(pid: Any, host: Any, age_s: Any, stale_after_s: float = STALE_AFTER_S,
                 run_id: str | None = None) -> str | None:
    """Why a running Run is stale (owner gone on this host, owner is this process but closed it
    without recording the end — the server was down —, heartbeat too old), or ``None``."""
    if host == socket.gethostname() and isinstance(pid, int) and pid > 0 and not pid_alive(pid):
        return f"owner process {pid} on {host} is gone"
    if (run_id is not None and host == socket.gethostname() and pid == os.getpid()
            and run_id not in _OPEN):
        return f"owner process {pid} ended it without recording how (the server was unreachable)"
    if age_s is not None and age_s > stale_after_s:
        return f"no heartbeat for {int(age_s)} s (limit {int(stale_after_s)} s)"
    return None


def mark_abandoned(client: RunClient, stale_after_s: float = STALE_AFTER_S) -> list[str]:
    """Finish every stale running Run as ``abandoned``; returns their ids."""

    def sweep(tx: Any) -> list[str]:
        rows = []
        for r in tx.run(RUNNING):
            reason = stale_reason(r["pid"], r["host"], r["age_s"], stale_after_s, r["id"])
            if reason:
                rows.append({"id": r["id"], "reason": reason})
        if not rows:
            return []
        return [r["id"] for r in tx.run(ABANDON, {"rows": rows})]

    return list(client.run_in_transaction(sweep))


class _Heartbeat:
    """Renews ``heartbeat_at`` of an open Run from a daemon thread; failures are ignored (a later beat retries)."""

    def __init__(self, client: RunClient, run_id: str, every_s: float) -> None:
        self.client, self.params, self.every_s = client, {"id": run_id, "pid": os.getpid(),
                                                         "host": socket.gethostname()}, every_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def beat(self) -> None:
        self.client.run_in_transaction(lambda tx: tx.run(HEARTBEAT, self.params).consume())

    def _loop(self) -> None:
        while not self.stop.wait(self.every_s):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - the server may be restarting; the next beat retries
                pass


def error_text(e: BaseException) -> str:
    """How a failed run records its error."""
    return f"{type(e).__name__}: {e}"[:ERROR_CHARS]


@contextmanager
def open_run(client: RunClient, kind: str, algorithm: str, params: Mapping[str, Any],
             heartbeat_s: float = HEARTBEAT_S) -> Iterator[Run]:
    """Mark stale Runs abandoned, create a Run with owner and heartbeat, yield it, and finish it as
    succeeded (with ``run.metrics``) or failed."""
    mark_abandoned(client)
    run = Run(client.create_run(kind, algorithm, dict(params)), kind, algorithm)
    start = time.perf_counter()
    heart = _Heartbeat(client, run.id, heartbeat_s)
    _OPEN.add(run.id)
    try:
        heart.beat()
        heart.thread.start()
        yield run
    except BaseException as e:
        heart.stop.set()
        try:
            client.finish_run(run.id, {"error": error_text(e), "seconds": time.perf_counter() - start},
                              status="failed")
        except Exception:  # the original error matters more than the bookkeeping
            pass
        raise
    finally:
        heart.stop.set()
        if heart.thread.is_alive():
            heart.thread.join(timeout=5)
        _OPEN.discard(run.id)
    run.metrics["seconds"] = time.perf_counter() - start
    client.finish_run(run.id, run.metrics, status=run.status)
