"""Run a function over chunks of work in worker processes forked from this one.

Bulk commands (``render --all``, ``diff``) render hundreds of independent
apps. :func:`run` hands the chunks to a :class:`concurrent.futures.ProcessPoolExecutor`
whose workers are forked, so they inherit everything the caller has
loaded (modules, compiled templates, parsed profiles, the run's caches)
instead of importing and parsing it again. Each worker takes the next chunk
when it is free, so a slow chunk never holds the others up; results come
back in chunk order whoever computed them.

Forking is only safe on Linux, which is where the command line runs;
callers fall back to one process elsewhere (:func:`renderer.commands.bulk.default_jobs`).
"""

from __future__ import annotations

import os

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
    """``[function(*arguments(chunk)) for chunk in chunks]``, computed by ``jobs`` forked worker processes.

    ``function`` must be a module-level function and its arguments and
    results picklable: they travel between the processes. An exception
    raised in this process (by ``arguments``) propagates once the workers
    are stopped; a :class:`~renderer.errors.RendererError` raised in a worker
    (an output that cannot be written) propagates as it is; anything else
    raised in a worker becomes :class:`WorkerFailed` carrying the worker's
    traceback; a worker that dies (killed, crashed) is a :class:`WorkerFailed`
    too, and the run ends instead of waiting for its results. Workers die
    with this process (:func:`renderer.processes.die_with_parent`).
    """
    jobs = max(1, min(jobs, len(chunks)))
    if jobs == 1:
        return [function(*arguments(chunk)) for chunk in chunks]
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    from renderer.processes import die_with_parent

    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                                   initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        futures = [executor.submit(function, *arguments(chunk)) for chunk in chunks]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                _raise_failure(future.exception())
        return [future.result() for future in futures]
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _raise_failure(exc: BaseException):
    from concurrent.futures.process import BrokenProcessPool

    if isinstance(exc, BrokenProcessPool):
        raise WorkerFailed("a worker process died before returning its results (killed, or out of memory)")
    if isinstance(exc, RendererError):
        raise exc
    # the worker's traceback, as text, is the cause concurrent.futures gives the exception
    detail = str(exc.__cause__ or "").strip()
    raise WorkerFailed(f"a worker process failed: {type(exc).__name__}: {exc}", detail=detail)
