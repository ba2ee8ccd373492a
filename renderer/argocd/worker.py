"""The pre-forked render worker of the Argo CD sidecar, and its thin client.

``eventbus-render argocd generate`` is a fresh Python process for every
render. Most of its time goes to importing the render pipeline (Jinja2,
PyYAML, the schema, the guards) and compiling the templates. The worker pays
that once: the sidecar's entrypoint (``eventbus-render argocd serve -- CMD``)
starts it in the background, it imports and warms everything, then listens
on a Unix socket. For each connection it forks a child that receives
the command, the caller's directory and environment, enters that directory,
takes that environment, runs the very same code as an in-process render
(:func:`renderer.argocd.adapter.run_command`) and sends back the exit code, stdout
and stderr. Children share nothing that one render could
change for another: concurrent renders are separate processes.

The client never depends on the worker. It renders in-process when the
socket is absent, refuses the connection, belongs to another user, answers
with another version, times out, or dies mid-request. A render is pure, so
running it again in-process is always safe.

Security: the socket is created mode 0600 (umask, then chmod), both sides
check the peer's uid (``SO_PEERCRED``) and the client checks the socket's
owner before connecting. The default path is in the sidecar's private /tmp.

Lifetime: after ``serve`` execs ``argocd-cmp-server``, the worker is that
server's child. It asks the kernel for SIGTERM when its parent dies
(``prctl(PR_SET_PDEATHSIG)`` on Linux) and also polls ``getppid()`` once a
second, so it never outlives the sidecar's main process.
"""

from __future__ import annotations

import os
import sys

PROTOCOL = 1
DEFAULT_SOCKET = "/tmp/eventbus-render.sock"
SOCKET_ENV = "EVENTBUS_RENDER_SOCKET"
"""Socket path; empty disables the worker (the client renders in-process)."""
TIMEOUT_ENV = "EVENTBUS_RENDER_WORKER_TIMEOUT"
DEFAULT_TIMEOUT = 20.0
"""Seconds the client waits for the worker's answer before rendering in-process instead.

Argo CD's deadline (60 s by default) covers the git checkout, discovery and
generate together, so a stuck worker must leave time for the fallback."""
MAX_MESSAGE = 64 * 1024 * 1024
POLL_SECONDS = 1.0
CHILD_IO_TIMEOUT = 30.0


def socket_path(environ) -> str | None:
    """The worker socket named by ``environ`` (``None``: the worker is disabled)."""
    value = environ.get(SOCKET_ENV)
    if value is None:
        return DEFAULT_SOCKET
    return value or None


# -- framing ----------------------------------------------------------------------------------------
#
# A message is a 4-byte big-endian length and that many bytes. The protocol is
# NUL-separated bytes rather than JSON so that the client imports nothing
# (json would pull in re and enum: a tenth of the client's run time).
#
#   request:  MAGIC NUL command NUL version NUL cwd (NUL NAME=VALUE)*
#   reply:    exit NUL len(stdout) NUL len(stderr) NUL stdout stderr   (UTF-8)
#             or FALLBACK: "render it yourself"
#
# Paths and environment variables cannot contain NUL; os.fsencode keeps any
# bytes they hold.

MAGIC = b"eventbus-render-worker/1"
FALLBACK = b"fallback"


def encode_request(command: str, cwd: str, environ: dict) -> bytes:
    from renderer import __version__

    parts = [MAGIC, command.encode(), __version__.encode(), os.fsencode(cwd)]
    parts.extend(os.fsencode(key) + b"=" + os.fsencode(value) for key, value in environ.items())
    return b"\0".join(parts)


def decode_request(data: bytes):
    """``(command, version, cwd, env)`` or ``None`` when ``data`` is not a request of this protocol."""
    parts = data.split(b"\0")
    if len(parts) < 4 or parts[0] != MAGIC:
        return None
    env = {}
    for item in parts[4:]:
        key, sep, value = item.partition(b"=")
        if not sep or not key:
            return None
        env[os.fsdecode(key)] = os.fsdecode(value)
    try:
        return parts[1].decode(), parts[2].decode(), os.fsdecode(parts[3]), env
    except UnicodeDecodeError:
        return None


def encode_reply(code: int, out: str, err: str) -> bytes:
    out_bytes, err_bytes = out.encode("utf-8", "surrogateescape"), err.encode("utf-8", "surrogateescape")
    return b"%d\0%d\0%d\0" % (code, len(out_bytes), len(err_bytes)) + out_bytes + err_bytes


def decode_reply(data: bytes):
    """``(exit, stdout, stderr)``, or ``None`` for a fallback or a malformed reply."""
    parts = data.split(b"\0", 3)
    if len(parts) != 4:
        return None
    try:
        code, out_len, err_len = int(parts[0]), int(parts[1]), int(parts[2])
    except ValueError:
        return None
    body = parts[3]
    if out_len < 0 or err_len < 0 or out_len + err_len != len(body):
        return None
    try:
        return code, body[:out_len].decode("utf-8"), body[out_len:].decode("utf-8", "replace")
    except UnicodeDecodeError:
        return None


def _recv_exact(sock, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_message(sock) -> bytes:
    size = int.from_bytes(_recv_exact(sock, 4), "big")
    if size > MAX_MESSAGE:
        raise ValueError(f"message of {size} bytes is too large")
    return _recv_exact(sock, size)


def write_message(sock, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(4, "big") + payload)


def peer_uid(sock) -> int | None:
    """uid of the process at the other end of a Unix socket (``None`` where the OS cannot tell)."""
    import _socket

    option = getattr(_socket, "SO_PEERCRED", None)
    if option is None:  # pragma: no cover - not Linux
        return None
    data = sock.getsockopt(_socket.SOL_SOCKET, option, 12)  # struct ucred: pid, uid, gid
    return int.from_bytes(data[4:8], sys.byteorder)


# -- client --------------------------------------------------------------------------------------


def request(path: str, command: str, cwd: str, environ: dict, timeout: float | None = None):
    """Ask the worker at ``path`` to run ``command``: ``(exit, stdout, stderr)``, or ``None``.

    ``None`` means "render in-process": the worker is absent, not ours,
    refused, too slow, of another version, or died before answering.
    """
    import _socket
    import stat

    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.geteuid():
        return None
    if timeout is None:
        try:
            timeout = float(environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
        except ValueError:
            timeout = DEFAULT_TIMEOUT
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
        uid = peer_uid(sock)
        if uid is not None and uid != os.geteuid():
            return None
        write_message(sock, encode_request(command, cwd, environ))
        reply = read_message(sock)
    except (OSError, EOFError, ValueError):
        return None
    finally:
        sock.close()
    result = decode_reply(reply)
    if result is None:
        return None
    code, out, err = result
    if code == 0 and not out.strip():
        return None  # never pass on an empty success: render again here and report what happens
    return result


# -- server --------------------------------------------------------------------------------------


def log(message: str) -> None:
    try:
        sys.stderr.write(f"eventbus-render worker[{os.getpid()}]: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def warm() -> None:
    """Import everything a render needs and compile the built-in templates, once, before forking."""
    import tempfile
    from pathlib import Path

    import renderer.argocd.adapter
    import renderer.pipeline as render_mod
    import renderer.stages.emit
    import renderer.stages.validate
    from renderer.stages import sources, template

    try:
        import pkgutil

        import renderer.stages.guards as guards

        for info in pkgutil.iter_modules(guards.__path__):
            __import__(f"renderer.stages.guards.{info.name}")
    except Exception as exc:  # the same error will show in each render, where it belongs
        log(f"warning: the guards did not import: {exc}")
    env = template.environment(None)
    for name in env.list_templates():
        try:
            env.get_template(name)
        except Exception as exc:
            log(f"warning: template {name} did not compile: {exc}")
    # One render per backend and built-in profile loads the profiles, overlays and defaults and
    # runs every lazy import on the way (validation, guards, emitter).
    with tempfile.TemporaryDirectory(prefix="eventbus-render-warm-") as scratch:
        for backend in sources.BACKENDS:
            app = Path(scratch) / backend
            app.mkdir()
            (app / sources.APP_FILE).write_text(f"backend: {backend}\n", encoding="utf-8")
            for profile in sources.available("profiles", None):
                try:
                    rendered = render_mod.render(render_mod.RenderRequest(app, profile=profile))
                    renderer.stages.emit.yaml_stream([rendered.manifest])
                except Exception:
                    pass
    import gc

    gc.collect()
    if hasattr(gc, "freeze"):
        gc.freeze()  # keep the warmed heap shared with the children (no copy-on-write from the GC)


def _bind(path: str):
    import socket
    import stat

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


def serve_forever(path: str, parent_pid: int | None = None, ready_fd: int | None = None) -> int:
    """Warm up, listen on ``path`` and fork a child per request until stopped.

    ``parent_pid``: exit when the parent process is gone. ``ready_fd``: a
    pipe written to (then closed) once the socket accepts connections.
    """
    import signal

    try:
        warm()
    except Exception as exc:  # render in-process from the children instead of not at all
        log(f"warning: warm-up failed: {type(exc).__name__}: {exc}")
    try:
        listener = _bind(path)
    except OSError as exc:
        log(f"error: cannot listen on {path}: {exc}")
        return 1
    inode = os.stat(path).st_ino

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    listener.settimeout(POLL_SECONDS)
    log(f"listening on {path}")
    if ready_fd is not None:
        try:
            os.write(ready_fd, b"ok")
            os.close(ready_fd)
        except OSError:
            pass
    try:
        while True:
            if parent_pid is not None and os.getppid() != parent_pid:
                log("parent process is gone; exiting")
                return 0
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:  # EMFILE and friends: keep serving
                log(f"warning: accept failed: {exc}")
                import time

                time.sleep(0.05)
                continue
            try:
                pid = os.fork()
            except OSError as exc:
                log(f"warning: fork failed ({exc}); the client renders in-process")
                conn.close()
                continue
            if pid == 0:
                _child(listener, conn)  # never returns
            conn.close()
    finally:
        listener.close()
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except OSError:
            pass


def _child(listener, conn) -> None:
    """Serve one request in a forked child and exit (never returns)."""
    status = 0
    try:
        import signal

        listener.close()
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        conn.settimeout(CHILD_IO_TIMEOUT)
        uid = peer_uid(conn)
        if uid is not None and uid != os.geteuid():
            return
        reply = handle(decode_request(read_message(conn)))
        write_message(conn, FALLBACK if reply is None else encode_reply(*reply))
    except BaseException:
        status = 1  # the client sees a closed connection and renders in-process
    finally:
        try:
            conn.close()
        finally:
            os._exit(status)


def handle(request):
    """Run one decoded request in this (forked) process: ``(exit, stdout, stderr)`` or ``None`` (fallback).

    The command runs in the caller's directory with the caller's environment,
    exactly as it would in the caller's own process.
    """
    from renderer import __version__
    from renderer.argocd import adapter as argocd

    if request is None:
        return None
    command, version, cwd, env = request
    if version != __version__ or command not in argocd.COMMANDS:
        return None
    try:
        os.chdir(cwd)
    except OSError:
        return None
    os.environ.clear()
    os.environ.update(env)
    import tempfile
    import time

    if hasattr(time, "tzset"):
        time.tzset()  # the caller's TZ decides "today" (waiver expiry), as it would in-process
    tempfile.tempdir = None  # and its TMPDIR
    return argocd.run_command(command, cwd, env)


# -- the sidecar entrypoint ------------------------------------------------------------------------


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


def serve_then_exec(path: str, argv: list) -> int:
    """Fork the worker into the background, then exec ``argv`` in this process (no shell).

    Returns only when the exec fails.
    """
    import signal

    if not argv:
        sys.stderr.write("error: eventbus-render argocd serve needs a command after --\n")
        return 2
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            set_parent_death_signal(signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(0)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
            status = serve_forever(path, parent_pid=parent)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 0
        except BaseException as exc:
            log(f"error: {type(exc).__name__}: {exc}")
            status = 1
        finally:
            os._exit(status)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"error: cannot run {argv[0]}: {exc.strerror or exc}\n")
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        return 127
    return 127  # pragma: no cover - execvp does not return
