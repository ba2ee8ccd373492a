"""The worker's side of its directory: claim it, make its FIFO, take requests from it, answer them, tidy it.

The layout and the messages are :mod:`renderer.argocd.protocol`'s. The
directory is the worker's address and its access control at once: it is
this user's and closed to others' writes (the worker refuses to serve from
it otherwise), so only this user (and root) can name a request, and every
request folder, request file and reply FIFO must be this user's too before
the worker reads or answers it.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass

from renderer.argocd import protocol

_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(slots=True)
class WorkerDir:
    """A claimed worker directory: its path, the descriptor holding its lock, and whether the worker made it."""

    path: str
    lock: int
    created: bool
    requests: int | None = None
    inode: int | None = None

    @property
    def fifo(self) -> str:
        return os.path.join(self.path, protocol.REQUESTS)


def claim(path: str) -> WorkerDir:
    """Make (mode 0700) or check the directory ``path`` and take its lock; :class:`OSError` saying why not."""
    import fcntl

    try:
        os.mkdir(path, 0o700)
        created = True
    except FileExistsError:
        created = False
    if not protocol.private(os.lstat(path), stat.S_ISDIR):
        raise OSError(f"{path} exists and is not a directory of this user closed to others; refusing to use it")
    lock = os.open(os.path.join(path, protocol.LOCK), os.O_RDWR | os.O_CREAT | _FLAGS, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        raise OSError(f"another worker is already serving from {path}") from None
    return WorkerDir(path, lock, created)


def open_requests(workdir: WorkerDir) -> int:
    """(Re)make the worker's FIFO (mode 0600) and open it: from now on clients can name requests.

    It is opened for reading and writing, so that it never reads as closed
    while no client has it open; the worker and its spares read it without
    blocking. Any FIFO left there is stale: this worker holds the lock.
    """
    try:
        os.unlink(workdir.fifo)
    except FileNotFoundError:
        pass
    os.mkfifo(workdir.fifo, 0o600)
    fd = os.open(workdir.fifo, os.O_RDWR | os.O_NONBLOCK | _FLAGS)
    info = os.fstat(fd)
    if not protocol.private(info, stat.S_ISFIFO):
        os.close(fd)
        raise OSError(f"{workdir.fifo} is not this user's FIFO")
    workdir.requests, workdir.inode = fd, info.st_ino
    return fd


def take(requests: int) -> str | None:
    """The next request folder named in the FIFO ``requests``; ``None`` when there is none (yet) or another took it."""
    try:
        return protocol.decode_record(os.read(requests, protocol.RECORD))
    except BlockingIOError:
        return None


def open_reply(directory: str, name: str) -> int | None:
    """The reply FIFO of the request folder ``name``, open for writing; ``None`` if the client is gone or not ours."""
    folder = os.path.join(directory, name)
    try:
        if not protocol.private(os.lstat(folder), stat.S_ISDIR):
            return None
        fd = os.open(os.path.join(folder, protocol.REPLY), os.O_WRONLY | os.O_NONBLOCK | _FLAGS)  # ENXIO: gone
    except OSError:
        return None
    if not protocol.private(os.fstat(fd), stat.S_ISFIFO):
        os.close(fd)
        return None
    return fd


def read_request(directory: str, name: str) -> bytes | None:
    """The request file of the request folder ``name`` (``None`` if it is missing, not ours or too large)."""
    try:
        fd = os.open(os.path.join(directory, name, protocol.REQUEST), os.O_RDONLY | _FLAGS)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not protocol.private(info, stat.S_ISREG) or info.st_size > protocol.MAX_MESSAGE:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def answer(directory: str, name: str, payload: bytes, timeout: float) -> bool:
    """Write ``payload`` as the reply of the request folder ``name``; whether it was delivered."""
    fd = open_reply(directory, name)
    if fd is None:
        return False
    try:
        protocol.write_all(fd, payload, time.monotonic() + timeout)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def sweep(directory: str) -> None:
    """Remove the request folders of clients that are gone (killed before they could remove their own)."""
    import shutil

    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        pid = protocol.client_pid(name)
        if pid is None:
            continue
        try:
            os.kill(pid, 0)
            continue
        except ProcessLookupError:
            pass
        except OSError:  # alive, under another user
            continue
        shutil.rmtree(os.path.join(directory, name), ignore_errors=True)


def release(workdir: WorkerDir) -> None:
    """Close and remove the worker's FIFO (if it is still this worker's), then the lock, then a directory it made."""
    if workdir.requests is not None:
        os.close(workdir.requests)
        try:
            if os.lstat(workdir.fifo).st_ino == workdir.inode:
                os.unlink(workdir.fifo)
        except OSError:
            pass
    for remove, path in ((os.unlink, os.path.join(workdir.path, protocol.LOCK)), (os.rmdir, workdir.path)):
        if remove is os.rmdir and not workdir.created:
            break
        try:
            remove(path)
        except OSError:
            pass
    os.close(workdir.lock)
