"""Runs left 'running' (graph_engine.runs): owner + heartbeat recorded, stale runs abandoned (issue 21 item 5)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from graph_engine.runs import STALE_AFTER_S, mark_abandoned, open_run, stale_reason
from tests.unit.fake_graph import FakeGraph

pytestmark = pytest.mark.unit


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_open_run_records_owner_and_heartbeats():
    g = FakeGraph({})
    with open_run(g, "score", "pagerank", {}, heartbeat_s=0.05) as run:
        assert g.runs[run.id]["owner_host"] == socket.gethostname()
        assert g.runs[run.id]["owner_pid"] > 0
        time.sleep(0.4)
    beats = g.runs[run.id]["heartbeats"]
    assert beats >= 3  # the first at once, then from the daemon thread
    time.sleep(0.2)
    assert g.runs[run.id]["heartbeats"] == beats  # the thread stopped with the run
    assert g.runs[run.id]["status"] == "succeeded"


def test_stale_reason():
    host = socket.gethostname()
    assert "gone" in stale_reason(_dead_pid(), host, 1.0)
    assert stale_reason(_dead_pid(), "another-host", 1.0) is None  # a pid on another machine says nothing
    assert stale_reason(None, None, STALE_AFTER_S + 1) is not None  # old run without owner: heartbeat age
    import os
    assert stale_reason(os.getpid(), host, 1.0) is None
    assert "heartbeat" in stale_reason(os.getpid(), host, STALE_AFTER_S + 5)


def test_next_job_abandons_a_killed_jobs_run_and_keeps_live_ones():
    g = FakeGraph({})
    g.runs["killed"] = {"kind": "score", "algorithm": "ppr", "status": "running", "owner_pid": _dead_pid(),
                        "owner_host": socket.gethostname(), "age_s": 2}
    g.runs["silent"] = {"kind": "score", "algorithm": "hits", "status": "running", "age_s": STALE_AFTER_S * 2}
    g.runs["done"] = {"kind": "score", "algorithm": "hits", "status": "succeeded"}
    with open_run(g, "score", "pagerank", {}) as run:
        assert g.runs[run.id]["status"] == "running"
    assert g.runs["killed"]["status"] == "abandoned" and "gone" in g.runs["killed"]["abandoned_reason"]
    assert g.runs["silent"]["status"] == "abandoned"
    assert g.runs["done"]["status"] == "succeeded"
    assert mark_abandoned(g) == []  # idempotent


def test_a_run_this_process_closed_without_recording_is_abandoned_by_the_next_job():
    """The server was down when the job failed: finish_run failed too, the Run stayed 'running' with a
    live owner (this process). The next job in the same process must not wait 300 s for it."""
    import os

    g = FakeGraph({})
    real_finish = g.finish_run

    def down(*a, **kw):
        raise ConnectionError("server unreachable")

    g.finish_run = down
    with pytest.raises(RuntimeError):
        with open_run(g, "score", "pagerank", {}) as lost:
            raise RuntimeError("job failed while the server restarted")
    assert g.runs[lost.id]["status"] == "running"
    g.finish_run = real_finish
    with open_run(g, "score", "pagerank", {}) as run:
        # a run open in this process is live, the one it closed is not
        assert stale_reason(os.getpid(), socket.gethostname(), 1.0, run_id=run.id) is None
    assert g.runs[lost.id]["status"] == "abandoned" and "unreachable" in g.runs[lost.id]["abandoned_reason"]
