"""What an app directory holds, and where a profile, overlay or template name leads, confined to its place.

Names resolve in three places (:func:`places`), the first that holds the
name winning: the app directory's own ``profiles/``, ``overlays/`` and
``templates/``; the repository layer, the nearest ``.eventbus-render/``
folder at or above the app directory (the walk stops at the repository root,
the folder holding ``.git``, or at the file system's root), laid out like an
app directory; then the built-ins shipped in the package. A name is a plain
file stem: nothing that could leave its place (``../x``, an absolute path, a
symlink pointing outside the app directory or the ``.eventbus-render/``
folder) is ever opened: every path goes through
:func:`renderer.stages.containment.confine`.

Outside a :class:`snapshot` every lookup asks the file system again (a
long-lived process must see edits). Inside one (a bulk command) the tree is
read once: listings, lookups and parsed files are remembered in the run
(:func:`renderer.context.cache`) until the block ends.
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path
from typing import NamedTuple

from renderer import context
from renderer.errors import InputError, Location
from renderer.stages import containment

APP_FILE = "eventbus-render.yaml"
LAYER_FOLDER = ".eventbus-render"
"""The repository layer: a folder holding ``profiles/``, ``overlays/`` and ``templates/`` for every app below it."""
REPOSITORY_MARK = ".git"
"""What the repository root holds (a folder, or a file in a linked work tree); the layer lookup stops there."""
APP_ENTRIES = frozenset((APP_FILE, "profiles", "overlays", "templates", LAYER_FOLDER, REPOSITORY_MARK))
"""What of an app directory the renderer looks at: the app file, the layer folders, and the two the lookup of the
repository layer asks for."""
APP, REPOSITORY, BUILTIN = "app", "repository", "built-in"
"""The places a name resolves in, first to last."""

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PACKAGE_PREFIXES = (str(PACKAGE_DIR) + os.sep, str(PACKAGE_DIR.parent / "profiles") + os.sep,
                    str(PACKAGE_DIR.parent / "overlays") + os.sep)
"""Where the package's own files sit (in the package, or a checkout's top level)."""

_RUN_CACHE = "sources"
"""The run's cache of this stage; its ``"snapshot"`` entry is the memory of the open snapshot."""


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
    return containment.confine(app_root, name, folder=True, what=f"the {name} folder")


class Place(NamedTuple):
    """One place names resolve in: an app directory, a repository layer, or the package's built-ins.

    ``root`` is the folder holding its ``profiles/``, ``overlays/`` and
    ``templates/`` (``None`` for the package), which no file of it may leave;
    ``prefix`` is how its files are named in messages: ``""`` in an app
    directory (``profiles/x.yaml``), the layer's path from the repository root
    (``.eventbus-render/``) for the repository layer. (A named tuple: every
    render compares and hashes places, which a tuple does in C.)
    """

    where: str
    root: str | None = None
    prefix: str = ""

    @property
    def label(self) -> str:
        """How the place is named to users: ``app``, ``repository layer`` or ``built-in``."""
        return "repository layer" if self.where == REPOSITORY else self.where

    def folder(self, kind: str) -> str:
        """The place's folder of ``kind`` (``profiles``, ``overlays``, ``templates``)."""
        return str(builtin_dir(kind)) if self.root is None else os.path.join(self.root, kind)

    def display(self, kind: str, file_name: str) -> str:
        """How file ``kind/file_name`` of this place is named in messages."""
        return f"builtin:{kind}/{file_name}" if self.where == BUILTIN else f"{self.prefix}{kind}/{file_name}"


BUILTIN_PLACE = Place(BUILTIN)


def places(where, ceiling=None) -> tuple:
    """The places names resolve in for the app directory ``where``, first to last.

    ``where`` is an app directory (its own folders, its repository layer, the
    built-ins), ``None`` (the built-ins alone) or already such a tuple.
    ``ceiling`` bounds the walk to the repository layer from above (Argo CD's
    copy of the repository). Remembered for the run.
    """
    if isinstance(where, tuple):
        return where
    if where is None:
        return (BUILTIN_PLACE,)
    app_root = str(where)
    remembered = context.cache(_RUN_CACHE)
    key = ("places", app_root, ceiling)
    found = remembered.get(key)
    if found is None:
        layer = repository_layer(app_root, ceiling)
        found = remembered[key] = (Place(APP, app_root),) + ((layer,) if layer else ()) + (BUILTIN_PLACE,)
    return found


def _kind_of(folder: str, name: str, known: dict | None = None) -> str | None:
    """``dir``, ``link``, ``file`` or ``other`` for ``folder/name`` (``known``: what a listing of ``folder``
    saw); ``None`` when there is none."""
    if known is not None:
        return known.get(name)
    try:
        mode = os.lstat(os.path.join(folder, name)).st_mode
    except OSError:
        return None
    return "link" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) \
        else "other"


def _walk(start: str, stop: str | None, wanted: str | None, known: dict | None = None) -> str | None:
    """Up from ``start`` (``known``: what a listing of it saw), never above the repository root (the folder
    holding ``.git``), ``stop`` or the file system's root: the nearest folder holding ``wanted``, or with
    ``wanted`` None the root itself (``None`` at the file system's root). Every folder's answer is remembered
    for the run, so the apps of one repository share the walk."""
    remembered = context.cache(_RUN_CACHE)
    visited, folder = [], start
    while True:
        key = ("walk", wanted, folder, stop)
        if key in remembered:
            answer = remembered[key]
            break
        visited.append(key)
        listing = known if folder == start else None
        if wanted is not None and _kind_of(folder, wanted, listing) is not None:
            answer = folder
            break
        if folder == stop or _kind_of(folder, REPOSITORY_MARK, listing) is not None:
            answer = folder if wanted is None else None
            break
        parent = os.path.dirname(folder)
        if parent == folder:
            answer = None
            break
        folder = parent
    for key in visited:
        remembered[key] = answer
    return answer


def repository_root(folder: str, ceiling: str | None = None) -> str | None:
    """The repository root at or above the absolute path ``folder``: the nearest folder holding
    :data:`REPOSITORY_MARK` (as it is, a symlink not followed), or ``ceiling`` when the walk meets it first;
    ``None`` when the file system's root is reached without either. Remembered for the run."""
    return _walk(folder, ceiling, None)


def repository_layer(app_root, ceiling=None) -> Place | None:
    """The repository layer of ``app_root``: the nearest :data:`LAYER_FOLDER` at or above it, or ``None``.

    The walk stops at the repository root (the folder holding ``.git``, which
    Argo CD's copy keeps when it leaves out ``.git/*``), at ``ceiling``, or at
    the file system's root. The layer's files are named from the repository
    root (from the folder holding the layer when there is no repository). A
    layer that is a symlink or a file is an error: it could lead anywhere.
    """
    start = os.path.abspath(app_root)
    stop = os.path.abspath(ceiling) if ceiling is not None else None
    holder = _walk(start, stop, LAYER_FOLDER, entries(app_root))
    if holder is None:
        return None
    base = repository_root(holder, stop) or holder
    relative = os.path.relpath(holder, base)
    prefix = ("" if relative == "." else relative.replace(os.sep, "/") + "/") + LAYER_FOLDER + "/"
    if _kind_of(holder, LAYER_FOLDER) != "dir":
        raise InputError(f"the repository layer {prefix[:-1]} is not a folder (a symlink or a file)",
                         location=Location(prefix[:-1]),
                         hint=f"make {LAYER_FOLDER} a folder holding profiles/, overlays/ and templates/")
    return Place(REPOSITORY, os.path.join(holder, LAYER_FOLDER), prefix)


def find_named(kind: str, name: str, where) -> tuple[Path, Place] | None:
    """``(path, place)`` of profile/overlay ``name``: the first of :func:`places` ``where`` holding it."""
    lookup = where if isinstance(where, tuple) else places(where)
    remembered = memory()
    if remembered is not None:  # in a snapshot the answer holds until it ends (an error is looked up again)
        key = ("named", kind, name, lookup)
        if key in remembered:
            return remembered[key]
    found = None
    for place in lookup:
        found = find_builtin(kind, name) if place.root is None else _find_in(place, kind, name)
        if found is not None:
            break
    if remembered is not None:
        remembered[key] = found
    return found


def _find_in(place: Place, kind: str, name: str) -> tuple[Path, Place] | None:
    """``(path, place)`` of ``kind/name.yaml`` (or ``.yml``) of an app directory or repository layer: through
    :func:`~renderer.stages.containment.confine`, so nothing that leaves the place is ever found."""
    root = place.root
    in_snapshot = memory() is not None
    listing = (local_folder(root, kind) or {}) if in_snapshot else None
    within = "the app directory" if place.where == APP else f"the repository layer ({place.prefix[:-1]})"
    for suffix in (".yaml", ".yml"):
        file_name = name + suffix
        if in_snapshot:
            known = listing.get(file_name)
            if known is None:
                continue
            if known == "file":  # a regular file, no symlink, in a folder that is none: inside
                return Path(os.path.join(root, kind, file_name)), place
        if containment.confine(root, f"{kind}/{file_name}", place.display(kind, file_name), within=within,
                               what=f"{kind[:-1]} {name!r}") is not None:
            return Path(os.path.join(root, kind, file_name)), place
    return None


def find_builtin(kind: str, name: str) -> tuple[Path, Place] | None:
    """``(path, BUILTIN_PLACE)`` of built-in profile/overlay ``name``, or ``None`` (remembered for the run)."""
    remembered = context.cache(_RUN_CACHE)
    key = ("builtin", kind, name)
    if key not in remembered:
        base = builtin_dir(kind)
        remembered[key] = next(((base / f"{name}{suffix}", BUILTIN_PLACE) for suffix in (".yaml", ".yml")
                                if (base / f"{name}{suffix}").is_file()), None)
    return remembered[key]
