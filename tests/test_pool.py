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


def test_chunks_are_shared_by_position_between_this_process_and_forked_workers():
    pids = pool.run(pid_of, [[n] for n in range(9)], lambda chunk: (chunk,), 3)
    here = os.getpid()
    assert pids[0::3] == [here] * 3  # chunk i is computed by process i % jobs, this one being process 0
    assert len(set(pids[1::3])) == len(set(pids[2::3])) == 1 and len(set(pids)) == 3
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


def big_result(chunk):
    return [bytes(300_000) for _ in chunk]


def test_results_larger_than_a_pipe_buffer_come_back_whole():
    chunks = [[n, n] for n in range(6)]  # 600 kB a chunk, several chunks a worker
    results = pool.run(big_result, chunks, lambda chunk: (chunk,), 3)
    assert [len(r) for r in results] == [2] * 6 and all(b == bytes(300_000) for r in results for b in r)
    no_process_is_left()


def test_a_worker_ignores_the_signal_handlers_of_this_process():
    def arguments(chunk):
        if chunk == [1]:
            os.kill(os.getpid(), signal.SIGTERM)  # in the worker: the default action, death, not this handler
        return (chunk,)

    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        with pytest.raises(pool.WorkerFailed, match="killed by signal 15"):
            pool.run(square_all, [[n] for n in range(4)], arguments, 2)
    finally:
        signal.signal(signal.SIGTERM, previous)
    no_process_is_left()


def fail_with_input_error(chunk):
    from renderer.errors import OutputError

    if chunk == [3]:
        raise OutputError("could not write x: No space left on device", hint="free space")
    return chunk


def test_an_input_or_output_error_in_a_worker_is_raised_as_itself():
    from renderer.errors import OutputError

    with pytest.raises(OutputError) as caught:
        pool.run(fail_with_input_error, [[n] for n in range(6)], lambda chunk: (chunk,), 2)
    assert caught.value.render() == "could not write x: No space left on device\n  hint: free space"
    no_process_is_left()


def test_a_failure_in_a_worker_is_one_line_and_its_traceback_the_detail():
    with pytest.raises(pool.WorkerFailed) as caught:
        pool.run(fail_on_seven, [[n] for n in range(20)], lambda chunk: (chunk,), 2)
    assert caught.value.message == "a worker process failed: ValueError: chunk [7] failed in a worker"
    assert caught.value.detail.startswith("Traceback (most recent call last)")
    no_process_is_left()
