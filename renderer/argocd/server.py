"""The pre-forked render worker of the Argo CD sidecar.

``eventbus-render argocd generate`` is a fresh Python process for every
render. Most of its time goes to importing click and the render pipeline
(Jinja2, PyYAML, the schema, the guards) and compiling the templates. The
worker pays that once: the sidecar's entrypoint (``eventbus-render argocd
serve -- CMD``) starts it in the background; it imports and warms
everything, then serves from a private directory (a FIFO in it names each
request: :mod:`renderer.argocd.protocol`). Its children, forked ahead of
the requests, each take one request: they read a command line, the
caller's directory and environment, enter that directory, take that
environment, run the command line through :func:`renderer.cli.main` exactly
as the caller's own process would, write back the exit code, stdout and
stderr, and exit. Children share nothing
that one render could change for another: concurrent renders are separate
processes.

Security: the directory is made mode 0700 and the FIFO 0600, so only the
sidecar's user (and root) can name a request; the worker refuses a
directory that is not this user's or that others can write to, and reads or
answers a request only when its folder and files are this user's
(:mod:`renderer.argocd.workerdir`); the client checks the directory and the
FIFO the same way before writing. The default directory is in the
sidecar's private /tmp.

Lifetime: given ``parent_pid`` (:mod:`renderer.argocd.sidecar`), the worker
exits when that process is gone. Its children ask the kernel for SIGTERM
when the worker dies (``prctl(PR_SET_PDEATHSIG)`` on Linux), and an idle one
also checks ``getppid()`` once a second; a client whose child dies runs the
command itself. A child serving a request dies with its client, and answers
within its deadline (:mod:`renderer.argocd.spare`); at most ``max_renders``
children live at once (see "Bounds" below).
"""

from __future__ import annotations

import gc
import os
import select
import signal
import sys
import time

from renderer.argocd import protocol, spare, workerdir

POLL_SECONDS = spare.POLL_SECONDS
WARM_FOLDER = "warm"
"""The folder of the worker's directory that holds the apps of the warm-up."""


def log(message: str) -> None:
    """A line of the worker's log (stderr, which the sidecar's log collects)."""
    try:
        sys.stderr.write(f"eventbus-render worker[{os.getpid()}]: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


# -- warming up -----------------------------------------------------------------------------------


def warm(scratch: str, run) -> str:
    """Import everything a command needs and run each built-in profile once, before forking.

    One ``argocd generate`` per backend and built-in profile, through the
    same path as a request, runs every lazy import on the way (click's
    commands, loading, validation, guards, the emitter) and compiles every
    built-in template. The apps are written under ``scratch``; returns the
    one the children rehearse with.
    """
    import pkgutil

    import renderer.stages.guards as guards
    from renderer.stages import sources, writer

    for info in pkgutil.iter_modules(guards.__path__):
        try:
            __import__(f"renderer.stages.guards.{info.name}")
        except Exception as exc:  # the same error will show in each render, where it belongs
            log(f"warning: guard {info.name} did not import: {exc}")
    cwd, environ = os.getcwd(), dict(os.environ)
    apps = []
    try:
        for backend in sources.BACKENDS:
            app = os.path.join(scratch, backend)
            os.mkdir(app)
            writer.write_file(os.path.join(app, sources.APP_FILE), f"backend: {backend}\n")
            apps.append(app)
            for profile in sources.available("profiles", None):
                spare.execute(["argocd", "generate"], app, dict(environ, ARGOCD_ENV_PROFILE=profile), run)
        spare.execute(["argocd", "parameters"], apps[0], environ, run)
    finally:
        spare.restore(cwd, environ)
    gc.collect()
    gc.freeze()  # keep the warmed heap shared with the children (no copy-on-write from the collector)
    return apps[0]


# -- serving --------------------------------------------------------------------------------------
#
# The worker keeps SPARES children forked ahead of the requests. Each spare
# first rehearses a render of a built-in app: its first run after the fork
# pays for copying the pages it writes (Python writes reference counts all
# over the heap), about ten times the cost of the render itself. It then
# waits on the worker's FIFO, takes the one request it reads, serves it and
# exits (:mod:`renderer.argocd.spare`). It tells the worker when it has taken
# a request and when it has answered: a new spare is forked REFILL_DELAY
# seconds after the last answer once no request is being served (its
# rehearsal would compete for the CPU with the answer and with the client
# that is still writing it out), or at once when no spare is left. While no
# spare is idle, the worker itself reads the FIFO and answers each request
# with FALLBACK: the client runs the command itself.
#
# Bounds: at most ``max_renders`` children live at once, spares included
# (past it no spare is forked, so requests get FALLBACK until one is done);
# a child that has not answered ``deadline`` seconds after taking its request
# answers with an error itself, and one still there KILL_GRACE seconds later
# (or one deadline later, if that is shorter) is killed.


SPARES = 2
REFILL_DELAY = 0.1
SWEEP_SECONDS = 60.0
DEFAULT_MAX_RENDERS = protocol.DEFAULT_MAX_RENDERS
DEFAULT_DEADLINE = protocol.DEFAULT_DEADLINE
KILL_GRACE = 5.0
"""Seconds past its deadline (at most the deadline again) after which the worker kills a child that did not
stop itself."""


def serve_forever(path: str, run, parent_pid: int | None = None, *, max_renders: int = DEFAULT_MAX_RENDERS,
                  deadline: float = DEFAULT_DEADLINE) -> int:
    """Warm up, serve from the directory ``path`` and keep spare children serving one request each until stopped.

    ``run(argv)`` runs one command line as the executable would (:func:`renderer.cli.main`, handed down by
    the command that starts the worker, so this module never imports the command line above it).
    ``parent_pid``: exit when the parent process is gone. ``max_renders`` and ``deadline``: the bounds above.
    """
    import shutil

    gc.enable()  # the one command that outlives its work (the executable starts with the collector off)
    try:
        directory = workerdir.claim(path)
    except OSError as exc:
        log(f"error: cannot serve from {path}: {exc}")
        return 1
    # the apps of the warm-up live in the worker's own directory (it holds the lock): no temporary folder needed
    scratch = os.path.join(directory.path, WARM_FOLDER)
    shutil.rmtree(scratch, ignore_errors=True)  # left by a worker that was killed
    try:
        os.mkdir(scratch, 0o700)
    except OSError as exc:
        log(f"warning: no warm-up ({exc}); the children compile as they go")
        scratch = None
    try:
        return _serve(directory, parent_pid, scratch, run, max(1, max_renders), deadline)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        workerdir.sweep(path)
        workerdir.release(directory)


def _serve(directory: workerdir.WorkerDir, parent_pid: int | None, scratch: str | None, run, max_renders: int,
           deadline: float) -> int:
    rehearsal = None
    try:
        rehearsal = warm(scratch, run) if scratch is not None else None
    except Exception as exc:  # the children still run every command, only slower
        log(f"warning: warm-up failed: {type(exc).__name__}: {exc}")
    workerdir.sweep(directory.path)
    try:
        requests = workerdir.open_requests(directory)
    except OSError as exc:
        log(f"error: cannot make {directory.fifo}: {exc}")
        return 1
    news, news_from_child = os.pipe()  # children write b"taken PID" and b"done PID" lines here
    idle: set = set()
    busy: dict = {}  # pid -> when it took its request
    swept = calm = time.monotonic()

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"serving from {directory.path} (at most {max_renders} renders at once, {deadline:g} s each)")
    try:
        while True:
            if parent_pid is not None and os.getppid() != parent_pid:
                log("parent process is gone; exiting")
                return 0
            _reap(idle, busy)
            _kill_overdue(busy, deadline + min(KILL_GRACE, deadline))
            if time.monotonic() - swept > SWEEP_SECONDS:
                workerdir.sweep(directory.path)
                swept = time.monotonic()
            refill = not idle or (not busy and time.monotonic() >= calm)
            while refill and len(idle) < SPARES and len(idle) + len(busy) < max_renders:
                try:
                    pid = os.fork()
                except OSError as exc:
                    log(f"warning: fork failed ({exc}); clients run their commands themselves")
                    break
                if pid == 0:
                    os.close(news)
                    spare.spare(directory, news_from_child, rehearsal, run, deadline)  # never returns
                idle.add(pid)
            wait = POLL_SECONDS
            if idle and not busy and len(idle) < SPARES:  # refill once calm
                wait = min(wait, max(calm - time.monotonic(), 0.0))
            ready, _, _ = select.select([news] if idle else [news, requests], [], [], wait)
            if requests in ready:  # no spare to take it: the client runs the command itself
                while (name := workerdir.take(requests)) is not None:
                    workerdir.answer(directory.path, name, protocol.FALLBACK, 1.0)
            if news in ready:
                for line in os.read(news, 4096).splitlines():
                    what, _, pid = line.partition(b" ")
                    idle.discard(int(pid))
                    if what == b"taken":
                        busy[int(pid)] = time.monotonic()
                    else:
                        busy.pop(int(pid), None)
                        calm = time.monotonic() + REFILL_DELAY
    finally:
        for pid in idle:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass


def _reap(idle: set, busy: dict) -> None:
    """Collect the children that have exited: they are neither spare nor serving any more."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        idle.discard(pid)
        busy.pop(pid, None)


def _kill_overdue(busy: dict, limit: float) -> None:
    """Kill the children serving a request for longer than ``limit`` seconds (their client reads a cut reply)."""
    now = time.monotonic()
    for pid, since in busy.items():
        if now - since > limit:
            log(f"killing child {pid}: no answer {limit:g} s after it took its request")
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
