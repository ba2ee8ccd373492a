"""What an app directory holds, where a profile or overlay name leads, and the one containment check.

Names resolve in the app directory's own ``profiles/`` and ``overlays/``
first, then among the built-ins shipped in the package. A name is a plain
file stem: nothing that could leave the app directory (``../x``, an absolute
path, a symlink pointing outside) is ever opened.

Every reader of a repository's files (the app file, profiles, overlays,
templates, a rendered tree read back by ``diff``) asks :func:`confine` first
and reads with :func:`read_file`: a path that leads outside its root through
a symlink, a symlink loop, and anything that is not a regular file or folder
(a FIFO, a device, a socket) are refused with a message naming the path,
before anything is opened.

Outside a :class:`snapshot` every lookup asks the file system again (a
long-lived process must see edits). Inside one (a bulk command) the tree is
read once: listings, lookups and parsed files are remembered in the run
(:func:`renderer.context.cache`) until the block ends.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from pathlib import Path

from renderer import context
from renderer.errors import InputError, Location
from renderer.stages.filechecks import NAME

APP_FILE = "eventbus-render.yaml"
APP_ENTRIES = frozenset((APP_FILE, "profiles", "overlays", "templates"))
"""What of an app directory the renderer looks at: the app file and the layer folders."""

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PACKAGE_PREFIXES = (str(PACKAGE_DIR) + os.sep, str(PACKAGE_DIR.parent / "profiles") + os.sep,
                    str(PACKAGE_DIR.parent / "overlays") + os.sep)
"""Where the package's own files sit (in the package, or a checkout's top level)."""

_RUN_CACHE = "sources"
"""The run's cache of this stage; its ``"snapshot"`` entry is the memory of the open snapshot."""


@functools.cache
@functools.cache  # the package does not move under a running process
def builtin_dir(kind: str) -> Path:
    """Folder of built-in ``profiles`` or ``overlays``: in the package, or the checkout's top level."""
    inside = PACKAGE_DIR / kind
    return inside if inside.is_dir() else PACKAGE_DIR.parent / kind


def memory() -> dict | None:
    """What the open :class:`snapshot` remembers, by key; ``None`` outside one."""
    return context.cache(_RUN_CACHE).get("snapshot")


class snapshot:
    """Read the repository as it is when the block starts: for one bulk render (``render --all``, ``diff``).

    The block opens a run (:func:`renderer.context.run`, or joins the one
    open). Inside it an app file, a folder listing or a parsed file is looked
    up once per path and then remembered until the block ends, which spares a
    render of many apps most of its ``stat`` calls. Forked workers inherit the
    snapshot of their parent. Nesting is allowed; the outermost block owns
    the memory.
    """

    def __enter__(self):
        self._run = context.run()
        self._run.__enter__()
        caches = context.cache(_RUN_CACHE)
        self.owner = caches.get("snapshot") is None
        if self.owner:
            caches["snapshot"] = {}
        return self

    def know(self, app_dir: str, entries: dict) -> None:
        """Record what ``app_dir`` holds of :data:`APP_ENTRIES` (name -> ``file``, ``dir``, ``link`` or
        ``other``; a name missing is not there), as a directory listing just read it."""
        remembered = memory()
        if remembered is not None:
            remembered[("entries", app_dir)] = entries

    def __exit__(self, *exc):
        if self.owner:
            context.cache(_RUN_CACHE).pop("snapshot", None)
        self._run.__exit__(*exc)
        return False


def entries(app_root) -> dict | None:
    """What a snapshot knows of ``app_root``'s :data:`APP_ENTRIES`, or ``None``."""
    remembered = memory()
    return remembered.get(("entries", str(app_root))) if remembered is not None else None


def local_folder(app_root, kind: str) -> dict | None:
    """The entries of the app's own ``kind`` folder: ``{name: "file" or "link" or "other"}``; ``None`` without one.

    ``file`` is a regular file that is no symlink, ``link`` a symlink, ``other``
    anything else but a folder (a FIFO, a device, a socket: refused when named).
    When the folder itself is a symlink every entry counts as a link: each must be
    checked with :func:`confine`.
    """
    remembered = memory()
    key = ("folder", str(app_root), kind)
    if remembered is not None and key in remembered:
        return remembered[key]
    known = entries(app_root)
    if known is not None and kind not in known:
        remembered[key] = None  # discovery saw no such folder
        return None
    found: dict | None = None
    folder = os.path.join(app_root, kind)
    try:
        with os.scandir(folder) as listing:
            linked = os.path.islink(folder)
            found = {}
            for entry in listing:
                if linked or entry.is_symlink():
                    found[entry.name] = "link"
                elif entry.is_file(follow_symlinks=False):
                    found[entry.name] = "file"
                elif not entry.is_dir(follow_symlinks=False):
                    found[entry.name] = "other"
    except OSError:
        found = None
    if remembered is not None:
        remembered[key] = found
    return found


def has_folder(app_root, name: str) -> bool:
    """Whether the app directory holds something called ``name`` other than a regular file (remembered inside
    a :class:`snapshot`): a folder, or a symlink, FIFO or device that :func:`own_folder` refuses or lets
    through before anything is read."""
    if app_root is None:
        return False
    remembered = memory()
    key = ("isdir", str(app_root), name)
    found = remembered.get(key) if remembered is not None else None
    if found is None:
        known = entries(app_root)
        if known is not None:
            found = known.get(name) not in (None, "file")
        else:
            try:
                found = not stat.S_ISREG(os.lstat(os.path.join(app_root, name)).st_mode)
            except OSError:
                found = False
        if remembered is not None:
            remembered[key] = found
    return found


def own_folder(app_root, name: str) -> str | None:
    """The app's own folder ``name`` (``templates``) once :func:`confine` let it through; ``None`` without one."""
    if not has_folder(app_root, name):
        return None
    known = entries(app_root)
    if known is not None and known.get(name) == "dir":
        return os.path.join(app_root, name)
    return confine(app_root, name, folder=True, what=f"the {name} folder")


# -- the one containment check --------------------------------------------------------------------

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


def find_named(kind: str, name: str, app_root: Path | None) -> tuple[Path, bool] | None:
    """Path of profile/overlay ``name``: the app's own first, then built-in. ``(path, builtin)``."""
    if app_root is not None:
        in_snapshot = memory() is not None
        listing = (local_folder(app_root, kind) or {}) if in_snapshot else None
        for suffix in (".yaml", ".yml"):
            file_name = name + suffix
            if in_snapshot:
                known = listing.get(file_name)
                if known is None:
                    continue
                if known == "file":  # a regular file, no symlink, in a folder that is none: inside
                    return Path(os.path.join(app_root, kind, file_name)), False
            if confine(app_root, f"{kind}/{file_name}", what=f"{kind[:-1]} {name!r}") is not None:
                return Path(os.path.join(app_root, kind, file_name)), False
    return find_builtin(kind, name)


def find_builtin(kind: str, name: str) -> tuple[Path, bool] | None:
    """``(path, True)`` of built-in profile/overlay ``name``, or ``None`` (remembered for the run)."""
    remembered = context.cache(_RUN_CACHE)
    key = ("builtin", kind, name)
    if key not in remembered:
        base = builtin_dir(kind)
        remembered[key] = next(((base / f"{name}{suffix}", True) for suffix in (".yaml", ".yml")
                                if (base / f"{name}{suffix}").is_file()), None)
    return remembered[key]


def available(kind: str, app_root: Path | None) -> dict[str, tuple[Path, bool]]:
    """Every profile or overlay visible from ``app_root``: name -> (path, builtin), sorted by name."""
    found: dict[str, tuple[Path, bool]] = {}
    dirs = [(builtin_dir(kind), True)]
    if app_root is not None:
        dirs.append((app_root / kind, False))
    for folder, builtin in dirs:
        try:
            names = sorted(os.listdir(folder))
        except OSError:  # no such folder, not a folder, a symlink loop: nothing to list
            continue
        for entry in names:
            stem, dot, ext = entry.rpartition(".")
            if dot and ext in ("yaml", "yml") and NAME.fullmatch(stem):
                if not builtin:
                    try:  # only what a render could read: inside the app, a regular file
                        confine(app_root, f"{kind}/{entry}")
                    except InputError:
                        continue
                found[stem] = (folder / entry, builtin)
    return dict(sorted(found.items()))
