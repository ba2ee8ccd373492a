"""Putting a rendered tree on disk: all of it or nothing, and at no instant anything in between.

``render --all -o DIR`` publishes through a :class:`Publication`:

1. it takes DIR's lock, the file ``.<name>.lock`` beside DIR (:func:`~renderer.commands.outdir.lock`,
   ``flock``), which lives as long as the run: a second ``render --all``
   into the same DIR fails at once (exit 2) instead of racing the first;
2. it removes what killed runs left beside DIR (:func:`~renderer.commands.outdir.clean_leftovers`):
   staging trees ``.<name>.tmp-<hex>`` and trees set aside
   ``.<name>.old-<hex>``, the latter put back first when DIR itself is missing;
3. every object, then the index, is written into a new private staging folder
   beside DIR (``.<name>.tmp-<hex>``, mode 0700, locked by its run and its
   workers so that no later run removes it while they write);
4. :func:`swap` publishes it in one step: ``renameat2(RENAME_EXCHANGE)``
   (Linux 3.15 and later, on the usual local file systems) exchanges the staging
   folder and DIR atomically, so DIR is the old complete tree until the
   instant it is the new complete tree. The old tree, now under the staging
   name, is removed afterwards. DIR stays a real directory, so a repository can
   commit it, and a DIR written by an earlier version is replaced the same way.
   Where no exchange exists (another system, or a file system without it such
   as NFS) DIR is moved aside and the staging folder renamed in its place: two
   renames, with one instant in which DIR is missing; a run killed in it leaves
   the old tree as ``.<name>.old-<hex>``, which the next run puts back first.

Every file goes through :func:`renderer.stages.writer.write_file`, the tool's
one writer. Failing to write (a full or read-only file system) is an
:class:`~renderer.errors.OutputError`: DIR is left as it was and the staging
folder is removed.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from pathlib import Path

from renderer import processes
from renderer.commands import outdir
from renderer.commands.tree import INDEX_FILE, Entry, Tree, index_document
from renderer.errors import InputError, OutputError, UsageError
from renderer.stages import writer


def check_target(target: Path, root: Path) -> None:
    """Refuse an output folder that is a symlink, a file, the root (or above it), or a folder not written by us."""
    if target.is_symlink():
        raise InputError(f"output {str(target)!r} is a symlink", hint="pass the real folder with -o")
    if target.exists() and not target.is_dir():
        raise InputError(f"output {str(target)!r} exists and is not a directory")
    real_target, real_root = target.resolve(), root.resolve()
    if real_target == real_root or real_target in real_root.parents:
        raise UsageError(f"output {str(target)!r} would replace the root {str(root)!r}",
                         hint="write the tree to a folder of its own, e.g. -o rendered")
    if target.is_dir() and any(target.iterdir()) and not (target / INDEX_FILE).is_file():
        raise UsageError(f"refusing to replace {str(target)!r}: it is not a tree written by render --all",
                         hint=f"choose an empty or new folder (a rendered tree holds {INDEX_FILE})")


class Publication:
    """One publication of a tree into ``target``: ``with Publication(target, root) as p: ...; p.publish(tree, fmt)``.

    Entering takes the lock, cleans up after earlier runs and makes the
    staging folder (:attr:`staging`); leaving removes the staging folder (or
    the old tree, once published) and the lock, whatever happened.
    """

    def __init__(self, target: Path, root: Path):
        self.target = Path(target)
        self.root = Path(root)
        self.staging: Path | None = None
        self._staging_fd: int | None = None
        self._lock: int | None = None
        self._made: list = []

    def __enter__(self) -> Publication:
        check_target(self.target, self.root)
        _renameat2()  # looked up now, before workers fork: they inherit the C library for prctl
        try:
            self._made = outdir.make_parents(self.target.parent)
            self._lock = outdir.lock(self.target)
            check_target(self.target, self.root)  # again: an earlier run may have changed it meanwhile
            outdir.clean_leftovers(self.target)
            with processes.signals_blocked():  # made and remembered, or not made
                self.staging = outdir.new_folder(self.target, "tmp")
                self._staging_fd = outdir.locked_folder(self.staging)
        except BaseException as exc:
            self.__exit__(type(exc), exc, None)
            if isinstance(exc, OSError):
                raise _cannot_write(exc, self.target) from None
            raise
        return self

    def publish(self, tree: Tree, fmt: str) -> None:
        """Write the index of ``tree`` into the staging folder and put the folder in the target's place."""
        try:
            finish(self.staging, tree, fmt)
            old = swap(self.staging, self.target)
        except OSError as exc:
            raise _cannot_write(exc, self.target) from None
        if old is not None and old != self.staging:
            outdir.remove(old)

    def __exit__(self, kind, exc, tb) -> bool:
        if self.staging is not None:
            outdir.remove(self.staging)  # the unpublished tree, or the old one it replaced
        if self._staging_fd is not None:
            os.close(self._staging_fd)
        if self._lock is not None:
            outdir.unlock(self.target, self._lock)
        self._staging_fd = self._lock = None
        if kind is not None:
            for folder in reversed(self._made):  # never an empty folder left by a failed run
                try:
                    os.rmdir(folder)
                except OSError:
                    break
        return False


def write_entry(directory: str, entry: Entry, made: set) -> None:
    """Write one object under ``directory`` (a staging folder), making its folder unless ``made`` has it."""
    path = f"{directory}/{entry.file}"
    folder = path.rpartition("/")[0]
    try:
        if folder not in made:
            try:
                os.mkdir(folder)
            except FileExistsError:
                pass
            except FileNotFoundError:  # the environment's folder is not there yet (never the staging folder)
                for step in (folder.rpartition("/")[0], folder):
                    try:
                        os.mkdir(step)
                    except FileExistsError:  # another worker made it meanwhile
                        pass
            made.add(folder)
        writer.write_file(path, entry.text, staged=True)
    except OSError as exc:
        target = _target_of(directory)
        raise OutputError(f"could not write {entry.file} of the tree {target!r}: {_reason(exc)}",
                          hint=f"nothing was changed in {target!r}; {_hint(exc)}") from None


def finish(staging: Path, tree: Tree, fmt: str) -> None:
    """Write the index of ``tree`` into ``staging`` and give the folder the permissions the umask asks for."""
    writer.write_file(staging / INDEX_FILE, index_document(tree, fmt))
    # the staging folder was made private; what was written in it already follows the umask
    os.chmod(staging, 0o777 & ~outdir.umask())


def swap(staging: Path, target: Path) -> Path | None:
    """Put ``staging`` where ``target`` is, in one step where the system can; the folder now holding the old tree.

    ``None`` when there was no old tree. SIGINT, SIGTERM and SIGHUP wait until this is done. It raises
    the audit event ``renderer.publish.swap`` (staging, target) first (:func:`sys.audit`, PEP 578): the
    instant before the tree changes, for audit hooks (the kill -9 tests stop the process there).
    """
    with processes.signals_blocked():
        sys.audit("renderer.publish.swap", str(staging), str(target))
        try:
            info = os.lstat(target)
        except FileNotFoundError:
            os.rename(staging, target)
            return None
        if not stat.S_ISDIR(info.st_mode):
            raise OSError(errno.ENOTDIR, "not a directory (it changed while rendering)", str(target))
        if exchange(staging, target):
            return staging
        try:
            os.rename(staging, target)  # replaces an empty folder in one step
            return None
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        old = outdir.new_name(target, "old")
        os.rename(target, old)
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(old, target)
            raise
        return old


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}


def exchange(first: Path, second: Path) -> bool:
    """Exchange the folders ``first`` and ``second`` atomically; ``False`` where this system or file system cannot."""
    function = _renameat2()
    if function is None:
        return False
    import ctypes

    if function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    number = ctypes.get_errno()
    if number in _NO_EXCHANGE:
        return False
    raise OSError(number, os.strerror(number), str(first), None, str(second))


_EXCHANGE_FUNCTION: list = []


def _renameat2():
    """The C library's ``renameat2`` (glibc 2.28 and later), or ``None``."""
    if not _EXCHANGE_FUNCTION:
        function = None
        if os.uname().sysname == "Linux":
            try:
                import ctypes

                function = processes.libc().renameat2
                function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
                function.restype = ctypes.c_int
            except (OSError, AttributeError):
                function = None
        _EXCHANGE_FUNCTION.append(function)
    return _EXCHANGE_FUNCTION[0]


def _target_of(staging: str) -> str:
    """The output folder a staging folder ``.<name>.tmp-<hex>`` is for."""
    parent, _, name = staging.rpartition("/")
    name = re.sub(f"\\.tmp-[0-9a-f]{{{outdir.HEX}}}$", "", name)[1:]
    return f"{parent}/{name}" if parent else name


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _hint(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "free space on the device, or write somewhere else"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "write the tree to a folder this user can write, with -o DIR"
    return "check the output folder and its parent"


def _cannot_write(exc: OSError, target: Path) -> OutputError:
    where = f" ({exc.filename})" if exc.filename else ""
    return OutputError(f"could not write the tree {str(target)!r}{where}: {_reason(exc)}",
                       hint=f"nothing was changed in {str(target)!r}; {_hint(exc)}")
