"""The worker's client: hand a command line to the sidecar's render worker before importing anything else.

``argocd-cmp-server`` starts a fresh ``eventbus-render argocd generate``
process for every render. Importing click and the render pipeline would be
most of that process's time, so the executable (:mod:`renderer.__main__`)
first offers the command line, unparsed, to the pre-forked worker
(:mod:`renderer.argocd.server`), which has imported everything once and runs
the command exactly as :func:`renderer.cli.main` would here. This module,
:mod:`renderer.argocd.protocol` and :mod:`renderer.descriptors` are all that
process imports when the worker answers.

The transport is files and FIFOs in the worker's private directory
(:mod:`renderer.argocd.protocol`): they need only :mod:`os`, where a socket
would cost this process the import of :mod:`socket`.

The client never depends on the worker: the command runs in this process
when the worker's directory or FIFO is absent, belongs to another user or is
open to others' writes, nobody reads the FIFO (the worker is gone), or the
worker answers with another version, takes longer than the timeout, dies
mid-request or returns an empty success. A render is pure, so running it
again here is always safe.
"""

import os
import stat
import sys
import time

from renderer import __version__
from renderer.argocd import protocol
from renderer.descriptors import write_all


def run_in_worker(argv: list) -> int | None:
    """Run ``argv`` in the worker and write its result: the exit code, or ``None`` to run it here instead."""
    if not protocol.served_by_worker(argv):
        return None
    directory = protocol.worker_dir(os.environ)
    if not directory:
        return None
    try:
        cwd = os.getcwd()
    except OSError:  # a directory removed under us: let the command say so itself
        return None
    result = request(directory, argv, cwd, dict(os.environ))
    if result is None:
        return None
    return write_result(*result)


def request(directory: str, argv: list, cwd: str, environ: dict, timeout: float | None = None):
    """Ask the worker serving from ``directory`` to run ``argv``: ``(exit, stdout, stderr)``, or ``None``.

    ``None`` means "run it here": the worker is absent, not ours, refused,
    too slow, of another version, or died before answering.
    """
    if timeout is None:
        try:
            timeout = float(environ.get(protocol.TIMEOUT_ENV) or protocol.DEFAULT_TIMEOUT)
        except ValueError:
            timeout = protocol.DEFAULT_TIMEOUT
        if not 0 <= timeout <= protocol.MAX_TIMEOUT:  # also NaN
            timeout = protocol.DEFAULT_TIMEOUT
    try:
        if not protocol.private(os.lstat(directory), stat.S_ISDIR):
            return None
        # ENXIO when no process has the FIFO open for reading: the worker is gone (or never was).
        requests = os.open(os.path.join(directory, protocol.REQUESTS), _OPEN_FLAGS | os.O_WRONLY)
    except (OSError, ValueError):
        return None
    name = protocol.new_name()
    result = None
    try:
        if protocol.private(os.fstat(requests), stat.S_ISFIFO):
            payload = protocol.encode_request(__version__, cwd, argv, environ)
            reply = _exchange(directory, name, requests, payload, time.monotonic() + timeout)
            result = None if reply is None else protocol.decode_reply(reply)
    except OSError:
        pass
    finally:
        os.close(requests)
    if result is None:
        protocol.remove_request(directory, name)  # on success the worker's child has removed it
        return None
    code, out, err = result
    if code == 0 and not out.strip():
        return None  # never pass on an empty success: run it here and report what happens
    return result


_OPEN_FLAGS = os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC


def _exchange(directory: str, name: str, requests: int, payload: bytes, deadline: float) -> bytes | None:
    """Make the request folder ``name`` holding ``payload`` and a reply FIFO, name it to the worker, read the reply."""
    folder = os.path.join(directory, name)
    os.mkdir(folder, 0o700)
    fd = os.open(os.path.join(folder, protocol.REQUEST), os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
    try:
        write_all(fd, payload)
    finally:
        os.close(fd)
    reply_path = os.path.join(folder, protocol.REPLY)
    os.mkfifo(reply_path, 0o600)
    # Open the reply before naming the request: the worker's child opens it to write without waiting.
    reply = os.open(reply_path, _OPEN_FLAGS | os.O_RDONLY)
    try:
        try:
            if os.write(requests, protocol.encode_record(name)) != protocol.RECORD:
                return None
        except BlockingIOError:  # the worker's FIFO is full: it is not keeping up
            return None
        return protocol.read_to_end(reply, deadline)
    finally:
        os.close(reply)


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
            try:
                fd = stream.fileno()
            except (OSError, ValueError, AttributeError):
                fd = None
            if fd is None:
                stream.write(out)
            else:  # UTF-8 whatever the locale says (Argo CD reads the manifests as UTF-8), straight to the
                # descriptor: a buffered stream takes a short write on a full disk for a whole one
                write_all(fd, out.encode("utf-8", "surrogateescape"))
            stream.flush()
        except (OSError, ValueError) as exc:  # a closed pipe, a full disk: exit 2, as every command says it
            _silence_stdout()
            try:  # worded as commands word it (renderer.commands.common.stdout_error)
                reason = getattr(exc, "strerror", None) or exc
                sys.stderr.write(f"error: could not write the output to stdout: {reason}\n")
            except (OSError, ValueError):
                pass
            return 2
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null once it has failed: what is still buffered cannot fail again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
