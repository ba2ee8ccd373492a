"""The one file writer: every file the tool writes goes through :func:`write_file` (one file) or
:func:`write_tree` (the files of ``render -o DIR``, all or none, never through a symlink).
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

from renderer.descriptors import write_all
from renderer.errors import InputError

_TEMPORARY = itertools.count()
"""Numbers of this process's temporary files (with the process id, unique among concurrent writers)."""
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_STAGED = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
"""A staged file: made, or emptied when two renders write the same object (a conflict the run reports)."""


def write_file(path, text: str | bytes, *, mode: int | None = None, dir_fd: int | None = None,
               staged: bool = False) -> str:
    """Write ``text`` to the file ``path`` atomically; every file the tool writes goes through here.

    The data goes to a new temporary file in the same folder (``.<name>.<pid>-<n>.tmp``),
    which is then renamed over ``path``: a reader sees the old file or the
    new one, never part of one, and a failure leaves no temporary file
    behind. The folder must exist. The file's permissions follow the umask
    (``0o666`` masked), or are exactly ``mode`` when given. Nothing is
    fsynced: every file written is output the tool can write again, and a
    rendered tree of thousands of files would pay one disk flush per file.
    A symlink at ``path`` is replaced, never followed. With ``dir_fd``,
    ``path`` is a name in the folder open as ``dir_fd``. Returns ``path`` as a string.

    With ``staged``, ``path`` lies in a folder that no reader sees before it
    is complete and put in place in one step (the staging tree of ``render
    --all``, :mod:`renderer.commands.publish`): the file is written where it
    belongs, without the temporary file and rename that make a lone write
    atomic, which are half the cost of a rendered object's file (15 against
    8 us a file on tmpfs).
    """
    path = os.fspath(path)
    if staged:
        fd = os.open(path, _STAGED, 0o666, dir_fd=dir_fd)
        _fill(fd, text, mode)
        return path
    temp = _write_temporary(path, text, mode, dir_fd)
    try:
        os.replace(temp, path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        _unlink(temp, dir_fd)
        raise
    return path


def _write_temporary(path: str, text: str | bytes, mode: int | None, dir_fd: int | None) -> str:
    """Write ``text`` to a new temporary file beside ``path`` (see :func:`write_file`); its name."""
    folder, _, name = path.rpartition(os.sep)
    prefix = f"{folder}{os.sep if folder or path.startswith(os.sep) else ''}.{name}.{os.getpid()}-"
    while True:
        temp = f"{prefix}{next(_TEMPORARY)}.tmp"
        try:
            fd = os.open(temp, _CREATE, 0o666, dir_fd=dir_fd)
            break
        except FileExistsError:  # left by a writer that was killed: take the next number
            continue
    try:
        _fill(fd, text, mode)
    except BaseException:
        _unlink(temp, dir_fd)
        raise
    return temp


def _fill(fd: int, text: str | bytes, mode: int | None) -> None:
    """Write all of ``text`` to the new file open as ``fd`` (mode ``mode`` when given) and close it."""
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        write_all(fd, text.encode("utf-8") if text.__class__ is str else text)
    finally:
        os.close(fd)


def _unlink(path: str, dir_fd: int | None) -> None:
    try:
        os.unlink(path, dir_fd=dir_fd)
    except OSError:
        pass


_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def write_tree(directory: Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` (relative path -> text) under ``directory``, each with :func:`write_file`, mode 0644.

    Everything is rendered before this is called, and readers never see a
    partial file. No symlink is followed from ``directory`` down (``directory``
    included): every folder is opened relative to the one above it without
    following links, so a link planted at ``directory/<namespace>`` cannot
    send a file elsewhere. A write that fails (a full or read-only file
    system) is an :class:`OutputError` that leaves every file as it was: each is written to its temporary
    name before any is renamed into place, and the folders this call made are removed. Temporary files
    that killed writers left beside a file written are removed.
    """
    directory = Path(directory)
    made: list = []  # (descriptor of the parent, name), in the order made
    opened: list = []
    pending: list = []  # (descriptor of the folder, temporary name, name, relative path): written, not in place
    try:
        top = _open_folder(None, str(directory), made, opened, directory)
        for relative in sorted(files):
            *folders, name = relative.split("/")
            fd, shown = top, directory
            for folder in folders:
                shown = shown / folder
                fd = _open_folder(fd, folder, made, opened, shown)
            pending.append((fd, _write_temporary(name, files[relative], 0o644, fd), name, relative))
        written = []
        while pending:  # every file is written: now each goes in place (a rename does not fill a disk)
            fd, temp, name, relative = pending[0]
            os.replace(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
            pending.pop(0)
            _remove_stale_temporaries(fd, name)
            written.append(directory / relative)
    except BaseException as exc:
        for fd, temp, _, _ in pending:
            _unlink(temp, fd)
        for parent, name in reversed(made):
            try:
                os.rmdir(name, dir_fd=parent)
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise _write_error(exc, directory) from None
        raise
    finally:
        for fd in reversed(opened):
            os.close(fd)
    return written


def _remove_stale_temporaries(folder: int, name: str) -> None:
    """Remove the temporary files of ``name`` (:func:`write_file`'s) whose writer is no longer alive."""
    pattern = re.compile(re.escape(f".{name}.") + r"(\d+)-\d+\.tmp")
    for entry in os.listdir(folder):
        found = pattern.fullmatch(entry)
        if found is None:
            continue
        try:
            os.kill(int(found.group(1)), 0)
            continue  # its writer runs (or a process that took its number: leave it)
        except ProcessLookupError:
            pass
        except (OSError, OverflowError):
            continue
        try:
            os.unlink(entry, dir_fd=folder)
        except OSError:
            pass


def _open_folder(parent: int | None, name: str, made: list, opened: list, shown: Path) -> int:
    """Open (making it if missing) the folder ``name`` under the folder ``parent`` without following a symlink."""
    import stat

    if parent is None:  # the output folder itself: its missing parents are made too
        try:
            info = os.lstat(name)
        except FileNotFoundError:
            info = None
        if info is None:
            missing = []
            probe = Path(name)
            while not os.path.lexists(probe):
                missing.append(probe)
                if probe.parent == probe:
                    break
                probe = probe.parent
            for path in reversed(missing):
                os.mkdir(path)
                made.append((None, str(path)))
        elif stat.S_ISLNK(info.st_mode):
            raise InputError(f"output {str(shown)!r} is a symlink; refusing to follow it",
                             hint="pass the real folder with -o")
        elif not stat.S_ISDIR(info.st_mode):
            raise InputError(f"output path {str(shown)!r} exists and is not a directory")
    else:
        try:
            os.mkdir(name, dir_fd=parent)
            made.append((parent, name))
        except FileExistsError:
            pass
    try:
        fd = os.open(name, _FOLDER, dir_fd=parent)
    except OSError:
        try:
            link = stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode)
        except OSError:
            link = False
        if link:
            raise InputError(f"output {str(shown)!r} is a symlink; refusing to follow it",
                             hint="remove the link: nothing under the output folder may lead elsewhere") from None
        raise
    opened.append(fd)
    return fd


def _write_error(exc: OSError, directory: Path):
    """The :class:`~renderer.errors.OutputError` of a failed write under ``directory``."""
    import errno

    from renderer.errors import OutputError

    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and exc.filename:
        return OutputError(f"output path {str(directory)!r} holds a file where a folder should be "
                           f"({exc.filename}): {exc.strerror}")
    full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    return OutputError(f"could not write under {str(directory)!r}: {exc.strerror or exc}",
                       hint="free space on the device, or write somewhere else" if full
                       else "write to a folder this user can write, with -o DIR")
