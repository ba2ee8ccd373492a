"""What the render worker and its client say to each other, and where.

The worker serves from a directory of its own (``DEFAULT_DIR``, mode 0700,
owned by the sidecar's user)::

    DIR/requests       the worker's FIFO: one RECORD-byte record per request, naming its folder
    DIR/worker.lock    locked (flock) by the running worker: one worker per directory
    DIR/NAME/          one request: a folder the client makes (0700)
    DIR/NAME/request   the request, a file the client writes
    DIR/NAME/reply     a FIFO the client reads the reply from

The messages::

    request:  MAGIC NUL version NUL cwd NUL argc NUL argv[0] ... NUL argv[argc-1] (NUL NAME=VALUE)*
    reply:    exit NUL len(stdout) NUL len(stderr) NUL stdout stderr   (UTF-8)
              or FALLBACK: "run it yourself"

Files and FIFOs need nothing but :mod:`os`: the client, a fresh process for
every render, does not pay for importing :mod:`socket`. A write of at most
``PIPE_BUF`` bytes to a FIFO is atomic, and every record has the same size,
so any number of clients can write to the worker's FIFO and any number of
its children can read from it, one whole record each. Only the directory's
owner (and root) can reach anything in it: the filesystem's permissions do
what a socket's peer credentials did, and both sides check who owns what
they open (:func:`private`).

The request carries the command line unparsed: the worker parses it with the
same click group as a process of its own would. Paths, arguments and
environment variables cannot contain NUL; :func:`os.fsencode` keeps any bytes
they hold.
"""

import os
import stat

from renderer import descriptors

PROTOCOL = 3
MAGIC = b"eventbus-render-worker/%d" % PROTOCOL
FALLBACK = b"fallback"
MAX_MESSAGE = 64 * 1024 * 1024

REQUESTS = "requests"
LOCK = "worker.lock"
REQUEST = "request"
REPLY = "reply"
HEX = b"0123456789abcdef"
RECORD = 64
"""Bytes in a record of the worker's FIFO (at most PIPE_BUF, 512 on every POSIX system, so writes are atomic)."""

DEFAULT_DIR = "/tmp/eventbus-render-worker"
DIR_ENV = "EVENTBUS_RENDER_WORKER"
"""The worker's directory; empty disables the worker (the command runs in its own process)."""
TIMEOUT_ENV = "EVENTBUS_RENDER_WORKER_TIMEOUT"
DEFAULT_TIMEOUT = 20.0
"""Seconds the client waits for the worker's answer before running the command itself.

Argo CD's deadline (60 s by default) covers the git checkout, discovery and
generate together, so a stuck worker must leave time for the fallback."""
MAX_TIMEOUT = 3600.0
"""A larger (or a negative, or a NaN) timeout is taken as a mistake: the default applies."""

DEFAULT_MAX_RENDERS = 8
"""Children of the worker alive at once, spares included (``argocd worker/serve --max-renders``)."""
DEFAULT_DEADLINE = 30.0
"""Seconds a worker's child may take to answer once it has taken a request (``--deadline``): Argo CD's own
deadline (60 s by default) also covers the checkout, and the client gives up after its timeout."""
MAX_DEADLINE = 3600.0

WORKER_COMMANDS = (("argocd", "generate"), ("argocd", "parameters"))
"""The commands the worker runs: the two that argocd-cmp-server starts a process for on every request."""


def worker_dir(environ) -> str | None:
    """The worker directory named by ``environ`` (``None``: the worker is disabled)."""
    value = environ.get(DIR_ENV)
    if value is None:
        return DEFAULT_DIR
    return value or None


def served_by_worker(argv) -> bool:
    """Whether the command line ``argv`` names a command the worker runs (its options are the worker's to parse)."""
    return tuple(argv[:2]) in WORKER_COMMANDS


def private(info: os.stat_result, is_kind) -> bool:
    """Whether ``info`` is of the kind ``is_kind`` (``stat.S_ISDIR``...), this user's, and closed to others' writes."""
    return is_kind(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def new_name() -> str:
    """A fresh request folder name: ``r``, the client's pid, a dash and 16 random hex digits."""
    return f"r{os.getpid()}-{os.urandom(8).hex()}"


def encode_record(name: str) -> bytes:
    """The record of the worker's FIFO that names the request folder ``name``."""
    return name.encode("ascii").ljust(RECORD - 1) + b"\n"


def decode_record(data: bytes) -> str | None:
    """The request folder a record names (``None`` for anything that is not a record of a request folder)."""
    if len(data) != RECORD or not data.endswith(b"\n"):
        return None
    name = data.rstrip(b" \n")
    pid, dash, token = name[1:].partition(b"-")
    if not name.startswith(b"r") or not pid.isdigit() or not dash or len(token) != 16 or token.strip(HEX):
        return None
    return name.decode("ascii")


def client_pid(name: str) -> int | None:
    """The pid of the client that made the request folder ``name`` (``None``: not a request folder's name)."""
    pid, dash, _ = name[1:].partition("-")
    return int(pid) if name.startswith("r") and dash and pid.isdigit() else None


def remove_request(directory: str, name: str) -> None:
    """Remove the request folder ``name`` and what the protocol puts in it (whatever of them is there)."""
    folder = os.path.join(directory, name)
    for remove, path in ((os.unlink, os.path.join(folder, REQUEST)), (os.unlink, os.path.join(folder, REPLY)),
                         (os.rmdir, folder)):
        try:
            remove(path)
        except OSError:
            pass


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
    """``(exit, stdout, stderr)``, or ``None`` for a fallback, a malformed or a cut-off reply."""
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


# -- bounded I/O on FIFOs (non-blocking file descriptors) ---------------------------------------------


def read_to_end(fd: int, deadline: float) -> bytes | None:
    """Everything the writer of the FIFO ``fd`` writes until it closes it; ``None`` when ``deadline`` passes first.

    ``deadline`` is a :func:`time.monotonic` time. Linux reports nothing on a
    FIFO whose writer has not opened it yet, so this waits for the writer too.
    """
    import select
    import time

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    chunks = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            return None
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            continue
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_MESSAGE:
            return None
        chunks.append(chunk)


def write_all(fd: int, data: bytes, deadline: float) -> None:
    """Write ``data`` to the FIFO ``fd``; :class:`TimeoutError` once ``deadline`` passes with bytes unwritten."""
    import select
    import time

    poller = select.poll()
    poller.register(fd, select.POLLOUT)

    def wait() -> None:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            raise TimeoutError("the reader of the reply does not read")

    descriptors.write_all(fd, data, wait)
