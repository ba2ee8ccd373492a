"""The fork pool of bulk commands: results in order, failures anywhere reported, no process left behind."""

from __future__ import annotations

import os
import signal
import time

import pytest

from renderer.commands import pool


def square_all(chunk):
    return [n * n for n in chunk]


def test_results_come_back_in_chunk_order_whoever_computed_them():
    chunks = [list(range(i, i + 3)) for i in range(0, 60, 3)]
    assert pool.run(square_all, chunks, lambda chunk: (chunk,), 3) == [square_all(c) for c in chunks]


def test_one_job_or_one_chunk_runs_here_alone():
    parent = os.getpid()
    assert pool.run(lambda: os.getpid(), [[1]], lambda chunk: (), 4) == [parent]


def fail_in(chunk, where, parent):
    """Fail in the child or in the parent; the parent takes its time, so the child surely gets chunks."""
    here = "parent" if os.getpid() == parent else "child"
    if here == "parent":
        time.sleep(0.005)
    if here == where:
        raise (KeyError if here == "parent" else ValueError)(f"chunk {chunk} failed in the {here}")
    return chunk


@pytest.mark.parametrize("where", ["child", "parent"])
def test_a_failure_in_any_process_is_raised_and_no_child_is_left(where):
    parent = os.getpid()
    chunks = [[n] for n in range(40)]
    expected = pool.WorkerFailed if where == "child" else KeyError
    with pytest.raises(expected) as caught:
        pool.run(fail_in, chunks, lambda chunk: (chunk, where, parent), 2)
    if where == "child":
        assert "ValueError: chunk [" in str(caught.value) and "failed in the child" in str(caught.value)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every child was reaped


def die_in_child(chunk, parent):
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.005)
    return chunk


def test_a_child_that_dies_is_reported_as_such():
    chunks = [[n] for n in range(50)]
    parent = os.getpid()
    with pytest.raises(pool.WorkerFailed, match="killed by signal 9"):
        pool.run(die_in_child, chunks, lambda chunk: (chunk, parent), 2)


def test_the_garbage_collector_pause_nests_and_restores():
    import gc

    assert gc.isenabled()
    with pool.paused_gc():
        with pool.paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
