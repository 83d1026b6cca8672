"""The loader's background write pipeline: order, bounded depth, failures raised and nothing left writing."""

from __future__ import annotations

import threading
import time

import pytest

from ingest import curated
from ingest.curated import _WritePipeline


def test_results_come_back_in_submission_order_with_bounded_depth():
    running = []
    release = threading.Event()

    def write(key, n):
        running.append(key)
        if key == 0:
            release.wait(5)
        return n * 10

    results = []
    with _WritePipeline(write) as pipe:
        for k in range(curated._PIPELINE_DEPTH):  # the first write blocks: nothing finishes
            results += pipe.submit(k, k)
        assert results == []
        threading.Timer(0.2, release.set).start()
        results += pipe.submit(99, 99)  # over the depth: waits for the oldest
        assert results and results[0] == (0, 0)
        results += pipe.drain()
    assert [k for k, _ in results] == [*range(curated._PIPELINE_DEPTH), 99]
    assert [v for _, v in results] == [k * 10 for k, _ in results]


def test_a_failed_write_is_raised_and_later_batches_are_not_started():
    started = []

    def write(key):
        started.append(key)
        if key == "bad":
            time.sleep(0.1)
            raise ValueError("boom")
        time.sleep(0.05)
        return 1

    with pytest.raises(ValueError, match="boom"):
        with _WritePipeline(write) as pipe:
            pipe.submit("bad")
            for k in range(10):
                pipe.submit(k)  # raises once the failure is seen
            pipe.drain()
    assert started[0] == "bad"
    assert len(started) < 11  # queued batches were cancelled, not written after the failure
    n = len(started)
    time.sleep(0.2)
    assert len(started) == n  # nothing writes after the with block
