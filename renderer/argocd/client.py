"""The worker's client: hand a command line to the sidecar's render worker before importing anything else.

``argocd-cmp-server`` starts a fresh ``eventbus-render argocd generate``
process for every render. Importing click and the render pipeline would be
most of that process's time, so the executable (:mod:`renderer.__main__`)
first offers the command line, unparsed, to the pre-forked worker
(:mod:`renderer.argocd.server`), which has imported everything once and runs
the command exactly as :func:`renderer.cli.main` would here. This module and
:mod:`renderer.argocd.protocol` are all that process imports when the worker
answers.

The client never depends on the worker: the command runs in this process
when the socket is absent, refuses the connection, belongs to another user,
answers with another version, times out, dies mid-request or returns an
empty success. A render is pure, so running it again here is always safe.
"""

import os
import stat
import sys

from renderer.argocd import protocol


def run_in_worker(argv: list) -> int | None:
    """Run ``argv`` in the worker and write its result: the exit code, or ``None`` to run it here instead."""
    if not protocol.served_by_worker(argv):
        return None
    path = protocol.socket_path(os.environ)
    if not path:
        return None
    try:
        cwd = os.getcwd()
    except OSError:  # a directory removed under us: let the command say so itself
        return None
    result = request(path, argv, cwd, dict(os.environ))
    if result is None:
        return None
    return write_result(*result)


def request(path: str, argv: list, cwd: str, environ: dict, timeout: float | None = None):
    """Ask the worker at ``path`` to run ``argv``: ``(exit, stdout, stderr)``, or ``None``.

    ``None`` means "run it here": the worker is absent, not ours, refused,
    too slow, of another version, or died before answering.
    """
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.geteuid():
        return None
    if timeout is None:
        try:
            timeout = float(environ.get(protocol.TIMEOUT_ENV) or protocol.DEFAULT_TIMEOUT)
        except ValueError:
            timeout = protocol.DEFAULT_TIMEOUT
    import socket  # only once a socket is there to talk to: a process without the worker never pays for it

    from renderer import __version__

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
        uid = protocol.peer_uid(sock)
        if uid is not None and uid != os.geteuid():
            return None
        protocol.write_message(sock, protocol.encode_request(__version__, cwd, argv, environ))
        reply = protocol.read_message(sock)
    except (OSError, EOFError, ValueError):
        return None
    finally:
        sock.close()
    result = protocol.decode_reply(reply)
    if result is None:
        return None
    code, out, err = result
    if code == 0 and not out.strip():
        return None  # never pass on an empty success: run it here and report what happens
    return result


def write_result(code: int, out: str, err: str) -> int:
    """Write a command's result: stderr first, then stdout (only on success) at once. Returns the exit code."""
    if err:
        try:
            sys.stderr.write(err)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
    if code == 0 and out:
        try:
            stream = sys.stdout
            stream.flush()
            binary = getattr(stream, "buffer", None)
            if binary is None:
                stream.write(out)
            else:  # UTF-8 whatever the locale says: Argo CD reads the manifests as UTF-8
                binary.write(out.encode("utf-8", "surrogateescape"))
                binary.flush()
            stream.flush()
        except (OSError, ValueError):
            try:
                sys.stderr.write("error: could not write the result to stdout\n")
            except (OSError, ValueError):
                pass
            return 1
    return code
