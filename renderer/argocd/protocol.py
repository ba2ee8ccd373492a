"""What the render worker and its client say to each other over the worker's Unix socket.

A message is a 4-byte big-endian length and that many bytes::

    request:  MAGIC NUL version NUL cwd NUL argc NUL argv[0] ... NUL argv[argc-1] (NUL NAME=VALUE)*
    reply:    exit NUL len(stdout) NUL len(stderr) NUL stdout stderr   (UTF-8)
              or FALLBACK: "run it yourself"

The request carries the command line unparsed: the worker parses it with the
same click group as a process of its own would. Paths, arguments and
environment variables cannot contain NUL; :func:`os.fsencode` keeps any bytes
they hold. The format is NUL-separated bytes rather than JSON so that the
client, which runs in a fresh process for every render, imports only ``os``
and, once there is a socket to talk to, ``socket``.
"""

import os
import sys

PROTOCOL = 2
MAGIC = b"eventbus-render-worker/%d" % PROTOCOL
FALLBACK = b"fallback"
MAX_MESSAGE = 64 * 1024 * 1024

DEFAULT_SOCKET = "/tmp/eventbus-render.sock"
SOCKET_ENV = "EVENTBUS_RENDER_SOCKET"
"""Socket path; empty disables the worker (the command runs in its own process)."""
TIMEOUT_ENV = "EVENTBUS_RENDER_WORKER_TIMEOUT"
DEFAULT_TIMEOUT = 20.0
"""Seconds the client waits for the worker's answer before running the command itself.

Argo CD's deadline (60 s by default) covers the git checkout, discovery and
generate together, so a stuck worker must leave time for the fallback."""

WORKER_COMMANDS = (("argocd", "generate"), ("argocd", "parameters"))
"""The commands the worker runs: the two that argocd-cmp-server starts a process for on every request."""


def socket_path(environ) -> str | None:
    """The worker socket named by ``environ`` (``None``: the worker is disabled)."""
    value = environ.get(SOCKET_ENV)
    if value is None:
        return DEFAULT_SOCKET
    return value or None


def served_by_worker(argv) -> bool:
    """Whether the command line ``argv`` names a command the worker runs (its options are the worker's to parse)."""
    return tuple(argv[:2]) in WORKER_COMMANDS


def encode_request(version: str, cwd: str, argv: list, environ: dict) -> bytes:
    """A request to run ``argv`` in ``cwd`` with ``environ``."""
    parts = [MAGIC, version.encode(), os.fsencode(cwd), b"%d" % len(argv)]
    parts.extend(os.fsencode(arg) for arg in argv)
    parts.extend(os.fsencode(key) + b"=" + os.fsencode(value) for key, value in environ.items())
    return b"\0".join(parts)


def decode_request(data: bytes):
    """``(version, cwd, argv, environ)``, or ``None`` when ``data`` is not a request of this protocol."""
    parts = data.split(b"\0")
    if len(parts) < 4 or parts[0] != MAGIC or not parts[3].isdigit():
        return None
    argc = int(parts[3])
    if len(parts) < 4 + argc:
        return None
    argv = [os.fsdecode(arg) for arg in parts[4:4 + argc]]
    environ = {}
    for item in parts[4 + argc:]:
        key, sep, value = item.partition(b"=")
        if not sep or not key:
            return None
        environ[os.fsdecode(key)] = os.fsdecode(value)
    try:
        version = parts[1].decode()
    except UnicodeDecodeError:
        return None
    return version, os.fsdecode(parts[2]), argv, environ


def encode_reply(code: int, out: str, err: str) -> bytes:
    """A reply: the exit code, stdout and stderr of the command."""
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
    """One length-prefixed message from ``sock``."""
    size = int.from_bytes(_recv_exact(sock, 4), "big")
    if size > MAX_MESSAGE:
        raise ValueError(f"message of {size} bytes is too large")
    return _recv_exact(sock, size)


def write_message(sock, payload: bytes) -> None:
    """Send ``payload`` as one length-prefixed message."""
    sock.sendall(len(payload).to_bytes(4, "big") + payload)


def peer_uid(sock) -> int | None:
    """uid of the process at the other end of a Unix socket (``None`` where the OS cannot tell)."""
    import socket

    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:  # pragma: no cover - not Linux
        return None
    data = sock.getsockopt(socket.SOL_SOCKET, option, 12)  # struct ucred: pid, uid, gid
    return int.from_bytes(data[4:8], sys.byteorder)
