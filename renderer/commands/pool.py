"""Run a function over chunks of work in this process and worker processes forked from it.

Bulk commands (``render --all``, ``diff``, ``check --all``) render hundreds
of independent apps. :func:`run` forks its workers, so they inherit
everything the caller has loaded (modules, compiled templates, parsed
profiles, the run's caches) instead of importing and parsing it again, and
this process renders its own share meanwhile rather than waiting. Which
process computes a chunk is decided by the chunk's position alone (chunk
``i`` by process ``i % jobs``, this one being process 0), so every run is
the same run; results come back in chunk order whoever computed them.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: it is what this
module used until the figures below. Importing it (with :mod:`multiprocessing`,
its sockets, queues and logging) took 14 ms of a fresh process, and starting
and stopping it for a 200-app ``render --all`` another 10 ms, while a waiting
parent left one of the two CPUs of the machines it runs on to a queue thread:
together about a sixth of that command (``benchmarks/bench_scale.py``,
against ``kubectl kustomize`` of the same 200 apps). What is kept of it here
is what it gave: ordered results, a worker's failure reported with its
traceback, a killed worker reported as such, and no process left behind.

Forking is only safe on Linux, which is where the command line runs;
callers fall back to one process elsewhere (:func:`renderer.commands.bulk.default_jobs`).
"""

from __future__ import annotations

import os
import signal

from renderer.descriptors import write_all
from renderer.errors import InternalError, RendererError


class paused_gc:
    """Pause the cyclic garbage collector for a bulk command, restoring it afterwards (nesting is fine).

    A successful render leaves no reference cycles behind (a test checks), so
    while hundreds of them run the collector only walks an ever larger heap:
    one full pass over the heap of a thousand-app render costs as much as
    rendering a dozen apps. Whatever cycles an error leaves are collected once
    the pause ends.
    """

    def __enter__(self):
        import gc

        self.enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            import gc

            gc.enable()
        return False


class WorkerFailed(InternalError):
    """A worker process died or raised: the bulk run cannot be trusted (one line and exit 3; the worker's
    traceback only with ``--debug``)."""


def run(function, chunks: list, arguments, jobs: int) -> list:
    """``[function(*arguments(chunk)) for chunk in chunks]``, computed by this process and ``jobs - 1`` forked ones.

    ``function`` and ``arguments`` run in the process that computes the
    chunk; results travel back pickled. An exception raised in this process
    propagates once the workers are stopped; a :class:`~renderer.errors.RendererError`
    raised in a worker (an output that cannot be written) propagates as it
    is; anything else raised in a worker becomes :class:`WorkerFailed`
    carrying the worker's traceback; a worker that dies (killed, crashed,
    exited) is a :class:`WorkerFailed` too, and the run ends without waiting
    for the others. Workers die with this process
    (:func:`renderer.processes.die_with_parent`).
    """
    jobs = max(1, min(jobs, len(chunks)))
    if jobs == 1:
        return [function(*arguments(chunk)) for chunk in chunks]
    workers = []
    try:
        for number in range(1, jobs):
            workers.append(_start(function, chunks, arguments, number, jobs))
        results = [None] * len(chunks)
        for index in range(0, len(chunks), jobs):
            results[index] = function(*arguments(chunks[index]))
            for worker in workers:
                worker.check()
        for worker in workers:
            for index, result in worker.results():
                results[index] = result
        return results
    finally:
        for worker in workers:
            worker.stop()


class _Worker:
    """One forked worker: its pid and the read end of the pipe its results come through."""

    def __init__(self, pid: int, reader: int):
        self.pid, self.reader, self.status, self.sent = pid, reader, None, None

    def check(self) -> None:
        """Collect the worker's results if it has ended already; raise :class:`WorkerFailed` if it failed."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                self.sent = self._collect(ended=True)

    def results(self) -> list:
        """``[(index, result)]`` of the worker's chunks, once it has sent them all and ended."""
        if self.sent is None:
            self.sent = self._collect(ended=False)
        return self.sent

    def _collect(self, ended: bool) -> list:
        import pickle

        data = bytearray()
        while chunk := os.read(self.reader, 1 << 20):
            data += chunk
        if not ended:
            _, self.status = os.waitpid(self.pid, 0)
        try:
            outcome, value = pickle.loads(data)
        except Exception:  # nothing, or part of it, was sent: the worker died on the way
            raise WorkerFailed(_died(self.status)) from None
        if outcome == "error":  # an error of the worker's input or output, said as it is
            raise value
        if outcome == "failed":
            summary, detail = value
            raise WorkerFailed(f"a worker process failed: {summary}", detail=detail)
        return value

    def stop(self) -> None:
        """Close the pipe, kill the worker if it still runs, and reap it."""
        os.close(self.reader)
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - it ended and is waiting to be reaped
                pass
            os.waitpid(self.pid, 0)
            self.status = 0


def _start(function, chunks: list, arguments, number: int, jobs: int) -> _Worker:
    """Fork worker ``number``: it computes chunks ``number``, ``number + jobs``... and sends them back."""
    reader, writer = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        os.close(writer)
        return _Worker(pid, reader)
    code = 0
    try:
        # the worker: signals end it at once, and so does its parent's death; the parent owns every clean-up
        from renderer.processes import die_with_parent

        die_with_parent(parent)
        import pickle

        os.close(reader)
        try:
            payload = ("done", [(i, function(*arguments(chunks[i]))) for i in range(number, len(chunks), jobs)])
        except RendererError as exc:
            payload = ("error", exc)
        except BaseException as exc:
            import traceback

            payload = ("failed", (f"{type(exc).__name__}: {exc}", traceback.format_exc().strip()))
        try:
            data = pickle.dumps(payload, pickle.HIGHEST_PROTOCOL)
        except Exception:  # an error that does not pickle: its text does
            data = pickle.dumps(("failed", (f"{type(payload[1]).__name__}: {payload[1]}", "")))
        write_all(writer, data)
    except BaseException:  # nothing could be sent (the parent went away): die without its clean-up
        code = 1
    os._exit(code)


def _died(status: int) -> str:
    if os.WIFSIGNALED(status):
        how = f"killed by signal {os.WTERMSIG(status)}"
    else:
        how = f"exit status {os.WEXITSTATUS(status)}"
    return f"a worker process died before returning its results ({how}; killed, or out of memory)"
