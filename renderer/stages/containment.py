"""The one containment check of every reader of repository files, and the one reader of their bytes.

Every reader of a repository's files (the app file, profiles, overlays,
templates of an app directory or a repository layer, a rendered tree read
back by ``diff``) asks :func:`confine` first and reads with :func:`read_file`:
a path that leads outside its root through a symlink, a symlink loop, and
anything that is not a regular file or folder (a FIFO, a device, a socket)
are refused with a message naming the path, before anything is opened.
"""

from __future__ import annotations

import errno
import os
import stat

from renderer import context
from renderer.errors import InputError, Location

_RUN_CACHE = "containment"

_TYPES = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder", stat.S_IFREG: "a regular file"}


def confine(root, relative: str, display: str | None = None, *, folder: bool = False,
            within: str = "the app directory", what: str | None = None) -> str | None:
    """The path of ``root/relative`` once it is known to stay inside ``root`` and to be a regular file (a folder
    with ``folder``); ``None`` when nothing is there. The one containment check of every reader of repository
    files.

    Each part of ``relative`` (``/``-separated plain names) is looked at with ``lstat``, following
    nothing. Only when a part is a symlink is the whole path resolved, strictly, and required to land inside
    ``root`` (resolved too); the resolved path is returned then, so the reader does not follow the links again.
    A symlink loop, a symlink to nothing, a path that leaves ``root`` and anything that is neither a regular
    file nor a folder (a FIFO, a device, a socket) are :class:`InputError` located at ``display``, and
    nothing is opened. ``what`` names the path in the message (``profile 'prod'``).
    """
    display = display or relative
    what = what or ("the folder" if folder else "the file")
    root = os.fspath(root)
    path, info = root, None
    for part in relative.split("/"):
        path = os.path.join(path, part)
        try:
            info = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", location=Location(display)) from None
        if stat.S_ISLNK(info.st_mode):
            path, info = _through_links(root, os.path.join(root, relative), path, display, within, what)
            break
    wanted = stat.S_IFDIR if folder else stat.S_IFREG
    found = stat.S_IFMT(info.st_mode)
    if found != wanted:
        raise InputError(f"{what} is {_TYPES.get(found, 'a special file')}, not {_TYPES[wanted]}",
                         location=Location(display),
                         hint="the renderer reads only regular files and folders, and never opens anything else")
    return path


def _through_links(root: str, full: str, link: str, display: str, within: str, what: str) -> tuple:
    """``(real path, its stat)`` of ``full``, a path through the symlink ``link``, when it stays inside ``root``."""
    named = f"{what} is a symlink" if link == full else \
        f"{what} passes through a symlink ({display_of(link, root)})"
    try:
        real = os.path.realpath(full, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{named} that never ends (a symlink loop)", location=Location(display),
                             hint="point the symlink at a file, or replace it by the file itself") from None
        real = None
    real_root = _real_root(root)
    landing = real if real is not None else os.path.realpath(full)
    if landing != real_root and not landing.startswith(real_root.rstrip(os.sep) + os.sep):
        raise InputError(f"{named} that leaves {within}", location=Location(display),
                         hint="replace the symlink by the file itself")
    if real is None:
        raise InputError(f"{named} to nothing", location=Location(display),
                         hint="point the symlink at a file that exists, or remove it")
    try:
        return real, os.stat(real)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", location=Location(display)) from None


def display_of(path: str, root: str) -> str:
    """``path`` relative to ``root`` (both as given, not resolved), as messages show it."""
    prefix = root.rstrip(os.sep) + os.sep
    return path[len(prefix):] if path.startswith(prefix) else os.path.basename(path)


def _real_root(root: str) -> str:
    remembered = context.cache(_RUN_CACHE)
    key = ("real", root)
    found = remembered.get(key)
    if found is None:
        found = remembered[key] = os.path.realpath(root)
    return found


def read_file(path, display: str, limit: int) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit`` + 1: more is the caller's error to word).

    Opened without blocking and checked to be a regular file before a byte is read, so a FIFO or device
    put in place of a file after :func:`confine` looked cannot hang or feed the render.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InputError("is not a regular file", location=Location(display),
                                 hint="the renderer reads only regular files")
            parts, size = [], 0
            while size <= limit:
                part = os.read(fd, limit + 1 - size)
                if not part:
                    break
                parts.append(part)
                size += len(part)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("is a symlink loop", location=Location(display)) from None
        raise InputError(f"cannot read file: {exc.strerror}", location=Location(display)) from None
    return parts[0] if len(parts) == 1 else b"".join(parts)
