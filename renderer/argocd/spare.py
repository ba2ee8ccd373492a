"""One child of the render worker: rehearse, take one request, serve it within its deadline, exit.

A spare is forked by the worker (:mod:`renderer.argocd.server`) ahead of the
requests. It rehearses a render of a built-in app (its first run after the
fork pays for copying the pages it writes), waits on the worker's FIFO, takes
the one request it reads and runs its command line in the caller's directory
and environment (:func:`execute`), exactly as the caller's own process would.

While it renders, a watchdog thread keeps two promises:

- it dies with its client: the client holds the reply FIFO open while it
  waits; when it goes (Argo CD's deadline killed it, or it gave up and runs
  the command itself), the FIFO reports an error and the child exits at once
  instead of rendering for nobody;
- it answers within its deadline (``deadline`` seconds from taking the
  request, :data:`renderer.argocd.server.DEFAULT_DEADLINE` unless the worker
  was told otherwise): past it, the child answers exit 2 with one message and
  exits. The worker kills a child that is still there a little later
  (a render stuck in C code, which no thread can interrupt).
"""

from __future__ import annotations

import io
import os
import select
import signal
import sys
import tempfile
import threading
import time

from renderer import processes
from renderer.argocd import protocol, workerdir

POLL_SECONDS = 1.0
CHILD_IO_TIMEOUT = 30.0


# -- running one command line ---------------------------------------------------------------------


def execute(argv: list, cwd: str, environ: dict, run) -> tuple[int, str, str]:
    """Run the command line ``argv`` through ``run`` (:func:`renderer.cli.main`) in ``cwd`` with ``environ``.

    Returns ``(exit code, stdout, stderr)``. The process's directory and
    environment become the caller's (a child serves one request and exits).
    """
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    if hasattr(time, "tzset"):
        time.tzset()  # the caller's TZ decides "today" (waiver expiry), as it would in its own process
    tempfile.tempdir = None  # and its TMPDIR
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace", write_through=True)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        run(argv)
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # what the interpreter would print for sys.exit("message")
            err.write(f"{exc.code}\n")
            code = 1
    finally:
        sys.stdout, sys.stderr = saved
    return (code, out.buffer.getvalue().decode("utf-8", "surrogateescape"),
            err.buffer.getvalue().decode("utf-8", "replace"))


def handle(request, run) -> tuple[int, str, str] | None:
    """Run one decoded request in this (forked) process: ``(exit, stdout, stderr)``, or ``None`` (fallback).

    A command stopped by a signal (the worker died and the kernel sent this child SIGTERM) is a fallback
    too: a worker that goes never fails a render.
    """
    from renderer import __version__

    if request is None:
        return None
    version, cwd, argv, environ = request
    if version != __version__ or not protocol.served_by_worker(argv) or not os.path.isdir(cwd):
        return None
    result = execute(argv, cwd, environ, run)
    if result[0] - 128 in processes.STOP_SIGNALS:  # stopped (the worker is going): the client renders itself
        return None
    return result


def restore(cwd: str, environ: dict) -> None:
    """Go back to the directory and environment of the worker."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    tempfile.tempdir = None
    if hasattr(time, "tzset"):
        time.tzset()


# -- the life of a spare --------------------------------------------------------------------------


def spare(directory: workerdir.WorkerDir, news: int, rehearsal: str | None, run, deadline: float) -> None:
    """A forked spare: rehearse, take one request, serve it and exit (never returns)."""
    status = 0
    taken = False
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        parent = os.getppid()
        processes.set_parent_death_signal(signal.SIGTERM)  # an idle spare goes when the worker goes
        if os.getppid() != parent:
            return
        _rehearse(rehearsal, run)
        name = _take(directory.requests, parent)
        if name is None:
            return
        taken = True
        os.write(news, b"taken %d\n" % os.getpid())
        # Once the worker is gone, its FIFO must read as unserved and its lock as free, even while this renders.
        os.close(directory.requests)
        os.close(directory.lock)
        reply = workerdir.open_reply(directory.path, name)
        if reply is None:  # the client is gone, or the folder is not ours
            return
        try:
            watchdog = Watchdog(reply, time.monotonic() + deadline, deadline)
            request = workerdir.read_request(directory.path, name)
            protocol.remove_request(directory.path, name)  # the client holds the reply open: it needs no names
            result = None if request is None else handle(protocol.decode_request(request), run)
            payload = protocol.FALLBACK if result is None else protocol.encode_reply(*result)
            watchdog.answer(payload)
        finally:
            os.close(reply)
    except BaseException:
        status = 1  # the client reads a cut-off reply (or none) and runs the command itself
    finally:
        try:
            if taken:
                os.write(news, b"done %d\n" % os.getpid())
        finally:
            os._exit(status)


class Watchdog:
    """The thread that ends a child whose client has gone, or that is past its deadline (see the module)."""

    def __init__(self, reply: int, deadline: float, seconds: float):
        self.reply = reply
        self.deadline = deadline
        self.seconds = seconds
        self.lock = threading.Lock()
        self.answered = False
        threading.Thread(target=self._watch, name="watchdog", daemon=True).start()

    def answer(self, payload: bytes) -> None:
        """Write the reply, unless the watchdog has answered (then it ends the process)."""
        with self.lock:
            if self.answered:
                return
            self.answered = True
        protocol.write_all(self.reply, payload, time.monotonic() + CHILD_IO_TIMEOUT)

    def _watch(self) -> None:
        poller = select.poll()
        poller.register(self.reply, 0)  # only POLLERR and POLLHUP: the reader has closed the FIFO
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                break
            if poller.poll(min(left, 3600.0) * 1000):
                os._exit(1)  # the client is gone: nobody waits for this render
        with self.lock:
            if self.answered:
                return
            self.answered = True
        message = (f"error: the render took longer than {self.seconds:g} s and was stopped "
                   f"(the render worker's deadline)\n  hint: look for templates with long loops, or very large "
                   f"values; Argo CD gives up after 60 s\n")
        try:
            protocol.write_all(self.reply, protocol.encode_reply(2, "", message), time.monotonic() + 5.0)
        except OSError:
            pass
        os._exit(0)


def _rehearse(app: str | None, run) -> None:
    """Render ``app`` once and forget the result: the pages a render writes are this child's own afterwards."""
    if app is None:
        return
    cwd, environ = os.getcwd(), dict(os.environ)
    try:
        execute(["argocd", "generate"], app, environ, run)
    except Exception:  # best effort: a spare that could not rehearse still serves, only slower
        pass
    finally:
        restore(cwd, environ)


def _take(requests: int, parent: int) -> str | None:
    """Wait for a request on the worker's FIFO and take it: its folder's name (``None`` once the worker is gone)."""
    poller = select.poll()
    poller.register(requests, select.POLLIN)
    while os.getppid() == parent:
        if poller.poll(POLL_SECONDS * 1000):
            name = workerdir.take(requests)  # None: another spare was quicker
            if name is not None:
                return name
    return None
