"""Beside an output folder: its lock, what killed runs left there, and new private folders.

``render --all -o DIR`` (:mod:`renderer.commands.publish`) keeps everything
it needs beside DIR, in DIR's parent, under names made from DIR's:

    .<name>.lock         the lock of DIR while a run holds it (it holds the process id)
    .<name>.tmp-<hex>    a staging tree (mode 0700 until published), locked by its run
    .<name>.old-<hex>    the old tree, set aside for an instant where no exchange exists
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from renderer.errors import OutputError

HEX = 12
_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def lock_path(target: Path) -> Path:
    """The lock file of the output folder ``target``: ``.<name>.lock`` beside it."""
    return target.parent / f".{target.name}.lock"


def lock(target: Path) -> int:
    """Take the lock of ``target`` (a descriptor); :class:`OutputError` when another run holds it.

    The lock is removed when released (:func:`unlock`), so a run locks the file it opened only if that
    file is still the one at the lock's path; a lock file left by a killed run is simply taken over.
    """
    import fcntl

    path = lock_path(target)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            fd = None
        try:
            if fd is None or not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OutputError(f"the lock {str(path)!r} of {str(target)!r} is not a regular file "
                                  f"(a symlink, a FIFO...); refusing to use it", hint="remove it")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                raise OutputError(
                    f"another render --all is writing {str(target)!r}"
                    + (f" (process {holder})" if holder.isdigit() else ""),
                    hint=f"run one render --all per output folder at a time ({path.name} is its lock)") from None
            try:
                current = os.lstat(path)
            except FileNotFoundError:
                current = None
            mine = os.fstat(fd)
            if current is not None and (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
                try:  # who holds it, for the message of a second run (a full disk only loses that)
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, b"%d\n" % os.getpid(), 0)
                except OSError:
                    pass
                return fd
        except BaseException:
            if fd is not None:
                os.close(fd)
            raise
        os.close(fd)  # the run that held it removed it meanwhile: lock the one there now


def unlock(target: Path, fd: int) -> None:
    """Remove the lock file of ``target``, then release the lock ``fd``."""
    try:
        os.unlink(lock_path(target))
    except OSError:
        pass
    os.close(fd)


def _leftover_pattern(target: Path):
    return re.compile(re.escape(f".{target.name}.") + f"(tmp|old)-[0-9a-f]{{{HEX}}}")


def clean_leftovers(target: Path) -> list:
    """Remove the staging trees and old trees earlier runs left beside ``target``; the names removed.

    Call it holding the lock. A folder still locked by a process that has not
    finished dying (a worker of a killed run) is left for the next run. When
    ``target`` is missing but a killed run had set the old tree aside, that
    tree is put back first.
    """
    import fcntl

    pattern = _leftover_pattern(target)
    parent = target.parent
    try:
        names = sorted(name for name in os.listdir(parent) if pattern.fullmatch(name))
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        path = parent / name
        try:
            fd = os.open(path, _OPEN_FOLDER)
        except OSError:  # a symlink or a file: not ours
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            if ".old-" in name and not os.path.lexists(target):
                os.rename(path, target)  # the old tree, set aside by a run killed before it put its own in place
                continue
            remove(path)
            removed.append(name)
        finally:
            os.close(fd)
    return removed


def remove(folder: Path) -> None:
    """Remove a staging or old tree folder, whatever it holds (never following a symlink in it)."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_name(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}.{kind}-{os.urandom(HEX // 2).hex()}"


def new_folder(target: Path, kind: str) -> Path:
    """A new folder ``.<name>.<kind>-<random>`` beside ``target``, mode 0700 (as ``tempfile.mkdtemp`` makes one)."""
    while True:
        folder = new_name(target, kind)
        try:
            os.mkdir(folder, 0o700)
            return folder
        except FileExistsError:
            continue


def locked_folder(folder: Path) -> int:
    """A descriptor of ``folder`` holding its lock: inherited by forked workers, released when the last exits."""
    import fcntl

    fd = os.open(folder, _OPEN_FOLDER)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def make_parents(folder: Path) -> list:
    """Make ``folder`` and its missing parents; the folders made, outermost first."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    made = []
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        made.append(path)
    return made
