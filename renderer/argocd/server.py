"""The pre-forked render worker of the Argo CD sidecar.

``eventbus-render argocd generate`` is a fresh Python process for every
render. Most of its time goes to importing click and the render pipeline
(Jinja2, PyYAML, the schema, the guards) and compiling the templates. The
worker pays that once: the sidecar's entrypoint (``eventbus-render argocd
serve -- CMD``) starts it in the background; it imports and warms
everything, then listens on a Unix socket. Its children, forked ahead of
the requests, each take one connection: they receive a command line
(:mod:`renderer.argocd.protocol`), the caller's directory and environment,
enter that directory, take that environment, run the command line through
:func:`renderer.cli.main` exactly as the caller's own process would, send
back the exit code, stdout and stderr, and exit. Children share nothing
that one render could change for another: concurrent renders are separate
processes.

Security: the socket is created mode 0600 (umask, then chmod), both sides
check the peer's uid (``SO_PEERCRED``) and the client checks the socket's
owner before connecting. The default path is in the sidecar's private /tmp.

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
import socket
import stat
import sys
import tempfile
import time

from renderer.argocd import protocol

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


def execute(argv: list, cwd: str, environ: dict) -> tuple[int, str, str]:
    """Run the command line ``argv`` through :func:`renderer.cli.main` in ``cwd`` with ``environ``.

    Returns ``(exit code, stdout, stderr)``. The process's directory and
    environment become the caller's (a child serves one request and exits).
    """
    from renderer.cli import main

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
        main(argv)
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


def handle(request) -> tuple[int, str, str] | None:
    """Run one decoded request in this (forked) process: ``(exit, stdout, stderr)``, or ``None`` (fallback)."""
    from renderer import __version__

    if request is None:
        return None
    version, cwd, argv, environ = request
    if version != __version__ or not protocol.served_by_worker(argv) or not os.path.isdir(cwd):
        return None
    return execute(argv, cwd, environ)


# -- warming up -----------------------------------------------------------------------------------


def warm(scratch: str) -> str:
    """Import everything a command needs and run each built-in profile once, before forking.

    One ``argocd generate`` per backend and built-in profile, through the
    same path as a request, runs every lazy import on the way (click's
    commands, loading, validation, guards, the emitter) and compiles every
    built-in template. The apps are written under ``scratch``; returns the
    one the children rehearse with.
    """
    import pkgutil

    import renderer.stages.guards as guards
    from renderer.stages import sources

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
            with open(os.path.join(app, sources.APP_FILE), "w", encoding="utf-8") as app_file:
                app_file.write(f"backend: {backend}\n")
            apps.append(app)
            for profile in sources.available("profiles", None):
                execute(["argocd", "generate"], app, dict(environ, ARGOCD_ENV_PROFILE=profile))
        execute(["argocd", "parameters"], apps[0], environ)
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
# waits in accept(), serves the one request it gets, and exits. It tells the
# worker when it has taken a connection and when it has answered: a new spare
# is forked once no request is being served (its rehearsal would compete for
# the CPU with the answer), or at once when no spare is left.


SPARES = 2


def _bind(path: str) -> socket.socket:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None:
        if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.geteuid():
            raise OSError(f"{path} exists and is not this user's socket; refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(1.0)
            probe.connect(path)
        except OSError:
            os.unlink(path)  # stale: nobody is listening
        else:
            raise OSError(f"another worker is already listening on {path}")
        finally:
            probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    listener.listen(128)
    return listener


def serve_forever(path: str, parent_pid: int | None = None) -> int:
    """Warm up, listen on ``path`` and keep spare children serving one request each until stopped.

    ``parent_pid``: exit when the parent process is gone.
    """
    import shutil

    scratch = tempfile.mkdtemp(prefix="eventbus-render-worker-")
    try:
        return _serve(path, parent_pid, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _serve(path: str, parent_pid: int | None, scratch: str) -> int:
    rehearsal = None
    try:
        rehearsal = warm(scratch)
    except Exception as exc:  # the children still run every command, only slower
        log(f"warning: warm-up failed: {type(exc).__name__}: {exc}")
    try:
        listener = _bind(path)
    except OSError as exc:
        log(f"error: cannot listen on {path}: {exc}")
        return 1
    inode = os.stat(path).st_ino
    listener.setblocking(False)  # the spares wait in accept() with a timeout, so that they notice the worker going
    news, news_from_child = os.pipe()  # children write b"taken PID" and b"done PID" lines here
    idle: set = set()
    busy: set = set()

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"listening on {path}")
    try:
        while True:
            if parent_pid is not None and os.getppid() != parent_pid:
                log("parent process is gone; exiting")
                return 0
            _reap(idle, busy)
            while len(idle) < SPARES and not (busy and idle):
                try:
                    pid = os.fork()
                except OSError as exc:
                    log(f"warning: fork failed ({exc}); clients run their commands themselves")
                    break
                if pid == 0:
                    os.close(news)
                    _spare(listener, news_from_child, rehearsal)  # never returns
                idle.add(pid)
            # With no spare to take it, a connection is closed at once: the client runs the command itself.
            ready, _, _ = select.select([news] if idle else [news, listener], [], [], POLL_SECONDS)
            if listener in ready:
                try:
                    listener.accept()[0].close()
                except OSError:  # taken by a spare after all, or gone
                    pass
            if news in ready:
                for line in os.read(news, 4096).splitlines():
                    what, _, pid = line.partition(b" ")
                    idle.discard(int(pid))
                    if what == b"taken":
                        busy.add(int(pid))
                    else:
                        busy.discard(int(pid))
    finally:
        for pid in idle:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        listener.close()
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
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


def _spare(listener, news: int, rehearsal: str | None) -> None:
    """A forked spare: rehearse, take one connection, serve it and exit (never returns)."""
    status = 0
    conn = None
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        parent = os.getppid()
        set_parent_death_signal(signal.SIGTERM)  # an idle spare goes when the worker goes
        if os.getppid() != parent:
            return
        _rehearse(rehearsal)
        conn = _take(listener, parent)
        if conn is None:
            return
        os.write(news, b"taken %d\n" % os.getpid())
        listener.close()
        conn.settimeout(CHILD_IO_TIMEOUT)
        uid = protocol.peer_uid(conn)
        if uid is not None and uid != os.geteuid():
            return
        reply = handle(protocol.decode_request(protocol.read_message(conn)))
        protocol.write_message(conn, protocol.FALLBACK if reply is None else protocol.encode_reply(*reply))
    except BaseException:
        status = 1  # the client sees a closed connection and runs the command itself
    finally:
        try:
            if conn is not None:
                conn.close()
                os.write(news, b"done %d\n" % os.getpid())
        finally:
            os._exit(status)


def _rehearse(app: str | None) -> None:
    """Render ``app`` once and forget the result: the pages a render writes are this child's own afterwards."""
    if app is None:
        return
    cwd, environ = os.getcwd(), dict(os.environ)
    try:
        execute(["argocd", "generate"], app, environ)
    except Exception:  # best effort: a spare that could not rehearse still serves, only slower
        pass
    finally:
        _restore(cwd, environ)


def _take(listener, parent: int):
    """Wait for a connection (``None`` once the worker is gone)."""
    listener.settimeout(POLL_SECONDS)
    while os.getppid() == parent:
        try:
            return listener.accept()[0]
        except TimeoutError:
            continue
        except OSError:  # EMFILE and friends: try again shortly
            time.sleep(0.05)
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
