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
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Protocol

ERROR_CHARS = 1000


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


def error_text(e: BaseException) -> str:
    """How a failed run records its error."""
    return f"{type(e).__name__}: {e}"[:ERROR_CHARS]


@contextmanager
def open_run(client: RunClient, kind: str, algorithm: str, params: Mapping[str, Any]) -> Iterator[Run]:
    """Create a Run, yield it, and finish it as succeeded (with ``run.metrics``) or failed."""
    run = Run(client.create_run(kind, algorithm, dict(params)), kind, algorithm)
    start = time.perf_counter()
    try:
        yield run
    except BaseException as e:
        try:
            client.finish_run(run.id, {"error": error_text(e), "seconds": time.perf_counter() - start},
                              status="failed")
        except Exception:  # the original error matters more than the bookkeeping
            pass
        raise
    run.metrics["seconds"] = time.perf_counter() - start
    client.finish_run(run.id, run.metrics, status=run.status)
