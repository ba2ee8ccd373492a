"""Run a function over chunks of work in forked processes, the calling process among them.

Bulk commands (``render --all``, ``diff``) render hundreds of independent
apps. :func:`run` forks ``jobs - 1`` children that inherit everything the
caller has loaded (modules, compiled templates, parsed profiles) and then
takes work alongside them: chunk numbers wait in a pipe, and each process
reads the next one when it is free, so a slow chunk never holds the others
up. Nothing but chunk numbers goes to the children; each child sends back
one pickle of its results when the queue is empty. Results come back in
chunk order whoever computed them.

This costs a fork per child and one pickle per child, against the
interpreter, thread and queue machinery of ``concurrent.futures``, which a
command that lives a fraction of a second notices. Forking is only safe on
Linux without threads, which is where the command line runs; callers fall
back to one process elsewhere.
"""

from __future__ import annotations

import os
import pickle
import struct

_TICKET = struct.Struct("<I")
MAX_CHUNKS = 8192
"""Most chunks one run may queue: every ticket must fit in the pipe before the children start."""


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


class WorkerFailed(RuntimeError):
    """A child process died or raised: the bulk run cannot be trusted."""


def run(function, chunks: list, arguments, jobs: int) -> list:
    """``[function(*arguments(chunk)) for chunk in chunks]``, computed by ``jobs`` processes.

    Exceptions raised in this process propagate (after the children are
    stopped); one raised in a child becomes :class:`WorkerFailed` carrying its
    traceback text.
    """
    if len(chunks) > MAX_CHUNKS:
        raise ValueError(f"at most {MAX_CHUNKS} chunks, got {len(chunks)}")
    jobs = max(1, min(jobs, len(chunks)))
    tickets_read, tickets_write = os.pipe()
    try:
        os.write(tickets_write, b"".join(_TICKET.pack(index) for index in range(len(chunks))))
    finally:
        os.close(tickets_write)  # readers see end of file once the queue is empty
    children: list = []  # (pid, read end of its result pipe)
    results: dict = {}
    try:
        for _ in range(jobs - 1):
            result_read, result_write = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child (coverage does not follow forks)
                os.close(result_read)
                for _, other in children:
                    os.close(other)
                _child(function, chunks, arguments, tickets_read, result_write)
            os.close(result_write)
            children.append((pid, result_read))
        results.update(_work(function, chunks, arguments, tickets_read))
        while children:
            pid, result_read = children.pop(0)
            results.update(_collect(pid, result_read))
    finally:
        os.close(tickets_read)
        for pid, result_read in children:  # only when this process failed: stop the others
            _stop(pid, result_read)
    return [results[index] for index in range(len(chunks))]


def _work(function, chunks: list, arguments, tickets: int) -> list:
    done = []
    while True:
        ticket = os.read(tickets, _TICKET.size)
        if len(ticket) < _TICKET.size:
            return done
        index = _TICKET.unpack(ticket)[0]
        done.append((index, function(*arguments(chunks[index]))))


def _child(function, chunks, arguments, tickets: int, out: int) -> None:  # pragma: no cover - in the child
    status = 0
    try:
        payload = pickle.dumps(("ok", _work(function, chunks, arguments, tickets)), pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:
        import traceback

        status = 1
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        payload = pickle.dumps(("error", text), pickle.HIGHEST_PROTOCOL)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(out, view):]
        os.close(out)
    finally:
        os._exit(status)  # no atexit handlers, no flushing of the parent's inherited buffers


def _collect(pid: int, result_read: int) -> list:
    parts = []
    try:
        while True:
            part = os.read(result_read, 1 << 20)
            if not part:
                break
            parts.append(part)
    finally:
        os.close(result_read)
    _, status = os.waitpid(pid, 0)
    try:
        kind, value = pickle.loads(b"".join(parts))
    except Exception:
        raise WorkerFailed(f"a worker process died ({_describe(status)})") from None
    if kind != "ok":
        raise WorkerFailed(f"a worker process failed:\n{value}")
    return value


def _stop(pid: int, result_read: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass
    os.close(result_read)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
