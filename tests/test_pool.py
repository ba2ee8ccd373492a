"""The worker pool of bulk commands: results in order, failures anywhere reported, no process left behind.

Nothing here depends on timing: which process computes a chunk is decided
by what the chunk is, never by which process gets to it first.
"""

from __future__ import annotations

import os
import signal

import pytest

from renderer.commands import pool


def square_all(chunk):
    return [n * n for n in chunk]


def pid_of(chunk):
    return os.getpid()


def no_process_is_left():
    import multiprocessing

    assert multiprocessing.active_children() == []
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every child was reaped


def test_results_come_back_in_chunk_order_whoever_computed_them():
    chunks = [list(range(i, i + 3)) for i in range(0, 60, 3)]
    assert pool.run(square_all, chunks, lambda chunk: (chunk,), 3) == [square_all(c) for c in chunks]
    no_process_is_left()


def test_many_chunks_are_computed_by_worker_processes():
    pids = pool.run(pid_of, [[n] for n in range(8)], lambda chunk: (chunk,), 2)
    assert os.getpid() not in pids and 1 <= len(set(pids)) <= 2
    no_process_is_left()


def test_one_job_or_one_chunk_runs_here_alone():
    parent = os.getpid()
    assert pool.run(pid_of, [[1]], lambda chunk: (chunk,), 4) == [parent]
    assert pool.run(pid_of, [[1], [2]], lambda chunk: (chunk,), 1) == [parent, parent]


def fail_on_seven(chunk):
    if chunk == [7]:
        raise ValueError(f"chunk {chunk} failed in a worker")
    return chunk


def test_a_failure_in_a_worker_is_reported_with_its_error_and_no_process_is_left():
    with pytest.raises(pool.WorkerFailed) as caught:
        pool.run(fail_on_seven, [[n] for n in range(20)], lambda chunk: (chunk,), 2)
    assert "a worker process failed" in str(caught.value)
    assert "ValueError: chunk [7] failed in a worker" in str(caught.value)
    no_process_is_left()


def test_a_failure_in_this_process_is_raised_as_itself_and_the_workers_are_stopped():
    def arguments(chunk):
        if chunk == [12]:
            raise KeyError("no arguments for chunk 12")
        return (chunk,)

    with pytest.raises(KeyError, match="no arguments for chunk 12"):
        pool.run(square_all, [[n] for n in range(20)], arguments, 2)
    no_process_is_left()


def die_on_five(chunk):
    if chunk == [5]:
        os.kill(os.getpid(), signal.SIGKILL)
    return chunk


def test_a_worker_that_is_killed_is_reported_as_such_and_the_run_ends():
    with pytest.raises(pool.WorkerFailed, match="a worker process died"):
        pool.run(die_on_five, [[n] for n in range(20)], lambda chunk: (chunk,), 2)
    no_process_is_left()


def test_a_worker_that_exits_is_reported_as_dead():
    def arguments(chunk):
        return (chunk == [3],)

    with pytest.raises(pool.WorkerFailed, match="a worker process died"):
        pool.run(exit_if, [[n] for n in range(6)], arguments, 2)
    no_process_is_left()


def exit_if(flag):
    if flag:
        os._exit(3)
    return flag


def test_the_garbage_collector_pause_nests_and_restores():
    import gc

    assert gc.isenabled()
    with pool.paused_gc():
        with pool.paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_failed_worker_is_an_internal_error_the_command_line_reports_in_one_line():
    from renderer.commands.common import describe_failure
    from renderer.errors import EXIT_INTERNAL, InternalError

    failure = pool.WorkerFailed("a worker process failed: ValueError: x", detail="Traceback (most recent call last)")
    assert isinstance(failure, InternalError) and failure.exit_code == EXIT_INTERNAL == 3  # not 1: no guard failed
    code, text = describe_failure(failure)
    assert code == 3 and text == ("error: a worker process failed: ValueError: x (run with --debug for the "
                                  "traceback; please report it)")
    code, text = describe_failure(failure, debug=True)  # the worker's traceback only when asked for
    assert text.startswith("Traceback (most recent call last)") and text.endswith("ValueError: x")
