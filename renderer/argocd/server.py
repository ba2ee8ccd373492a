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
command itself.
"""

from __future__ import annotations

import gc
import io
import os
import select
import signal
import sys
import tempfile
import time

from renderer.argocd import protocol, workerdir

POLL_SECONDS = 1.0
CHILD_IO_TIMEOUT = 30.0


def log(message: str) -> None:
    """A line of the worker's log (stderr, which the sidecar's log collects)."""
    try:
        sys.stderr.write(f"eventbus-render worker[{os.getpid()}]: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


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
    """Run one decoded request in this (forked) process: ``(exit, stdout, stderr)``, or ``None`` (fallback)."""
    from renderer import __version__

    if request is None:
        return None
    version, cwd, argv, environ = request
    if version != __version__ or not protocol.served_by_worker(argv) or not os.path.isdir(cwd):
        return None
    return execute(argv, cwd, environ, run)


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
    from renderer.stages import emit, sources

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
            emit.write_file(os.path.join(app, sources.APP_FILE), f"backend: {backend}\n")
            apps.append(app)
            for profile in sources.available("profiles", None):
                execute(["argocd", "generate"], app, dict(environ, ARGOCD_ENV_PROFILE=profile), run)
        execute(["argocd", "parameters"], apps[0], environ, run)
    finally:
        _restore(cwd, environ)
    gc.collect()
    gc.freeze()  # keep the warmed heap shared with the children (no copy-on-write from the collector)
    return apps[0]


def _restore(cwd: str, environ: dict) -> None:
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    tempfile.tempdir = None
    if hasattr(time, "tzset"):
        time.tzset()


# -- serving --------------------------------------------------------------------------------------
#
# The worker keeps SPARES children forked ahead of the requests. Each spare
# first rehearses a render of a built-in app: its first run after the fork
# pays for copying the pages it writes (Python writes reference counts all
# over the heap), about ten times the cost of the render itself. It then
# waits on the worker's FIFO, takes the one request it reads, serves it and
# exits. It tells the worker when it has taken a request and when it has
# answered: a new spare is forked REFILL_DELAY seconds after the last answer
# once no request is being served (its rehearsal would compete for the CPU
# with the answer and with the client that is still writing it out), or at
# once when no spare is left. While no spare is idle, the worker itself reads
# the FIFO and answers each request with FALLBACK: the client runs the
# command itself.


SPARES = 2
REFILL_DELAY = 0.1
SWEEP_SECONDS = 60.0


def serve_forever(path: str, run, parent_pid: int | None = None) -> int:
    """Warm up, serve from the directory ``path`` and keep spare children serving one request each until stopped.

    ``run(argv)`` runs one command line as the executable would (:func:`renderer.cli.main`, handed down by
    the command that starts the worker, so this module never imports the command line above it).
    ``parent_pid``: exit when the parent process is gone.
    """
    import shutil

    try:
        directory = workerdir.claim(path)
    except OSError as exc:
        log(f"error: cannot serve from {path}: {exc}")
        return 1
    scratch = tempfile.mkdtemp(prefix="eventbus-render-worker-")
    try:
        return _serve(directory, parent_pid, scratch, run)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        workerdir.sweep(path)
        workerdir.release(directory)


def _serve(directory: workerdir.WorkerDir, parent_pid: int | None, scratch: str, run) -> int:
    rehearsal = None
    try:
        rehearsal = warm(scratch, run)
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
    busy: set = set()
    swept = calm = time.monotonic()

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"serving from {directory.path}")
    try:
        while True:
            if parent_pid is not None and os.getppid() != parent_pid:
                log("parent process is gone; exiting")
                return 0
            _reap(idle, busy)
            if time.monotonic() - swept > SWEEP_SECONDS:
                workerdir.sweep(directory.path)
                swept = time.monotonic()
            refill = not idle or (not busy and time.monotonic() >= calm)
            while refill and len(idle) < SPARES:
                try:
                    pid = os.fork()
                except OSError as exc:
                    log(f"warning: fork failed ({exc}); clients run their commands themselves")
                    break
                if pid == 0:
                    os.close(news)
                    _spare(directory, news_from_child, rehearsal, run)  # never returns
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
                        busy.add(int(pid))
                    else:
                        busy.discard(int(pid))
                        calm = time.monotonic() + REFILL_DELAY
    finally:
        for pid in idle:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass


def _reap(idle: set, busy: set) -> None:
    """Collect the children that have exited: they are neither spare nor serving any more."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        idle.discard(pid)
        busy.discard(pid)


def _spare(directory: workerdir.WorkerDir, news: int, rehearsal: str | None, run) -> None:
    """A forked spare: rehearse, take one request, serve it and exit (never returns)."""
    status = 0
    taken = False
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        parent = os.getppid()
        set_parent_death_signal(signal.SIGTERM)  # an idle spare goes when the worker goes
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
            request = workerdir.read_request(directory.path, name)
            protocol.remove_request(directory.path, name)  # the client holds the reply open: it needs no names
            result = None if request is None else handle(protocol.decode_request(request), run)
            payload = protocol.FALLBACK if result is None else protocol.encode_reply(*result)
            protocol.write_all(reply, payload, time.monotonic() + CHILD_IO_TIMEOUT)
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
        _restore(cwd, environ)


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


def set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` when the parent dies (``prctl(PR_SET_PDEATHSIG)``)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, signum, 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False
