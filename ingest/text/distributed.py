"""Extraction on a Dask cluster (``medkg extract --cluster``, ``medkg ingest text --cluster``).

The document stream is cut into partitions of ``partition_size`` documents; each
partition is one Dask task that runs the whole extraction (the same
:func:`ingest.text.pipeline.extract_documents` as a single process) on a worker
and sends back the typed records only. Guarantees:

* **same output**: results are yielded in input order, partition by partition,
  so the JSONL (or the graph) is identical to the single-process run;
* **one pipeline per worker**: a worker builds the pipeline at its first
  partition and keeps it (per pipeline options) for the rest of its life;
* **bounded memory**: at most ``max_in_flight`` partitions are submitted and not
  yet consumed (default twice the workers' threads), so an endless stream never
  piles up in the client or on the scheduler;
* **a lost worker loses nothing and duplicates nothing**: the client holds a
  future per partition and consumes each partition's result exactly once; the
  scheduler recomputes the partitions of a worker that died (the partition's
  documents travel inside its task). A partition whose workers keep dying
  (Dask's ``allowed-failures``) ends the run with an error naming it.

Cluster specs: ``local:N`` starts a ``LocalCluster`` of N single-threaded worker
processes bound to 127.0.0.1 (closed at the end); ``tcp://HOST:PORT`` connects
to a running scheduler whose workers can import medkg (same version).
"""

from __future__ import annotations

import collections
import logging
import contextlib
import os
import re
import uuid
from typing import Any, Iterable, Iterator

from graph_engine.batching import batched
from graph_engine.errors import ConfigError, MedkgError
from ingest.text.records import Document

_LOCAL = re.compile(r"^local:(\d+)$")
_TCP = re.compile(r"^tcp://[^\s:/]+:\d+$")

#: pipelines built in this (worker) process, by their options
_PIPELINES: dict[tuple, Any] = {}
#: how many pipelines this process has built (reported with each partition, for tests)
_BUILT = 0


def check_cluster_spec(spec: str) -> str:
    """``spec`` if it is ``local:N`` (N >= 1) or ``tcp://HOST:PORT``; else a :class:`ConfigError`."""
    m = _LOCAL.match(spec)
    if (m and int(m.group(1)) >= 1) or _TCP.match(spec):
        return spec
    raise ConfigError(f"bad --cluster {spec!r}: expected local:N (N >= 1 workers) or tcp://HOST:PORT (a Dask scheduler)")


@contextlib.contextmanager
def dask_client(spec: str) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec`` (see :func:`check_cluster_spec`); closes what it started."""
    check_cluster_spec(spec)
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:  # pragma: no cover - a dependency
        raise ConfigError("dask.distributed is not installed: pip install 'dask[distributed]'") from e
    m = _LOCAL.match(spec)
    if m:
        cluster = LocalCluster(n_workers=int(m.group(1)), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None, silence_logs=logging.CRITICAL)
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
    else:
        try:
            client = Client(spec, timeout=30)
        except OSError as e:
            raise ConfigError(f"cannot reach the Dask scheduler at {spec}: {e}") from e
        with client:
            yield client


def _pipeline(options: tuple) -> Any:
    global _BUILT
    nlp = _PIPELINES.get(options)
    if nlp is None:
        from ingest.text.pipeline import load_pipeline

        opts = dict(options)
        max_length = opts.pop("max_length", None)
        nlp = load_pipeline(**opts)
        if max_length:
            nlp.max_length = max(nlp.max_length, max_length)
        _PIPELINES[options] = nlp
        _BUILT += 1
    return nlp


def extract_partition(docs: list[Document], options: tuple, batch_size: int) -> tuple[int, int, list[Document]]:
    """One task: ``(worker pid, pipelines built in that process so far, extracted documents)``."""
    from ingest.text.pipeline import extract_documents

    nlp = _pipeline(options)
    return os.getpid(), _BUILT, list(extract_documents(nlp, docs, batch_size=batch_size))


def extract_on_cluster(
    documents: Iterable[Document],
    client: Any,
    *,
    ner: bool | str = True,
    gene_ner: bool | str = "auto",
    max_length: int | None = None,
    batch_size: int = 64,
    partition_size: int = 256,
    max_in_flight: int | None = None,
    stats: dict[str, Any] | None = None,
) -> Iterator[Document]:
    """Extract ``documents`` on the workers of ``client``; yields them in input order.

    Args:
        client: a ``distributed.Client`` (e.g. from :func:`dask_client`).
        ner, gene_ner, max_length: pipeline options, as for :func:`ingest.text.pipeline.load_pipeline`
            (model paths must exist on the workers).
        partition_size: documents per task.
        max_in_flight: partitions submitted but not yet consumed (default: 2 x the workers' threads).
        stats: if given, filled with ``partitions`` and ``workers`` (pid -> pipelines built there).
    """
    if partition_size < 1:
        raise ValueError(f"partition_size must be >= 1, got {partition_size}")
    options = tuple(sorted({"ner": ner, "gene_ner": gene_ner, "max_length": max_length}.items(),
                           key=lambda kv: kv[0]))
    if max_in_flight is None:
        threads = sum(client.nthreads().values()) or 1
        max_in_flight = 2 * threads
    run = uuid.uuid4().hex[:8]
    pending: collections.deque = collections.deque()
    seen = stats if stats is not None else {}
    seen.setdefault("partitions", 0)
    seen.setdefault("workers", {})

    def take() -> list[Document]:
        index, future = pending.popleft()
        try:
            pid, built, docs = future.result()
        except MedkgError:
            raise
        except Exception as e:  # KilledWorker (a partition that kept killing workers) and the like
            raise MedkgError(f"extraction of partition {index} (documents {index * partition_size + 1}-"
                             f"{(index + 1) * partition_size}) failed on the cluster: {type(e).__name__}: {e}") from e
        finally:
            future.release()
        seen["partitions"] += 1
        seen["workers"][pid] = max(built, seen["workers"].get(pid, 0))
        return docs

    try:
        for index, part in enumerate(batched(documents, partition_size)):
            future = client.submit(extract_partition, part, options, batch_size, pure=False,
                                   key=f"medkg-extract-{run}-{index}")
            pending.append((index, future))
            while len(pending) >= max_in_flight:
                yield from take()
        while pending:
            yield from take()
    finally:
        for _, future in pending:  # an early stop (error, closed generator): cancel the rest
            future.cancel()


def distributed_extract(documents: Iterable[Document], spec: str, **kw: Any) -> Iterator[Document]:
    """:func:`extract_on_cluster` on a client opened (and closed) from a cluster ``spec``."""
    with dask_client(spec) as client:
        yield from extract_on_cluster(documents, client, **kw)


__all__ = ["check_cluster_spec", "dask_client", "distributed_extract", "extract_on_cluster", "extract_partition"]
