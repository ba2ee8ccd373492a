"""What an app directory holds, and where a profile or overlay name leads, confined to the app directory.

Names resolve in the app directory's own ``profiles/`` and ``overlays/``
first, then among the built-ins shipped in the package. A name is a plain
file stem: nothing that could leave the app directory (``../x``, an absolute
path, a symlink pointing outside) is ever opened.

Outside a :class:`snapshot` every lookup asks the file system again (a
long-lived process must see edits). Inside one (a bulk command) the tree is
read once: listings, lookups and parsed files are remembered in the run
(:func:`renderer.context.cache`) until the block ends.
"""

from __future__ import annotations

import functools
import os
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
    """The YAML files of the app's own ``kind`` folder: ``{file name: is a symlink}``; ``None`` without one.

    Only regular files and symlinks count (a folder named ``x.yaml`` does not).
    When the folder itself is a symlink every file counts as one: each must be
    checked to stay inside the app directory.
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
                    found[entry.name] = True
                elif entry.is_file():
                    found[entry.name] = False
    except OSError:
        found = None
    if remembered is not None:
        remembered[key] = found
    return found


def has_folder(app_root, name: str) -> bool:
    """Whether the app directory holds a folder ``name`` (remembered inside a :class:`snapshot`)."""
    if app_root is None:
        return False
    remembered = memory()
    if remembered is None:
        return os.path.isdir(os.path.join(app_root, name))
    key = ("isdir", str(app_root), name)
    found = remembered.get(key)
    if found is None:
        known = entries(app_root)
        kind = known.get(name) if known is not None else "link"
        found = remembered[key] = kind == "dir" or (kind == "link" and os.path.isdir(os.path.join(app_root, name)))
    return found


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, symlinks resolved, lies inside ``root``."""
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def contained(path: str, root: Path) -> bool:
    """Whether ``path`` (inside ``root`` by name) stays inside it: cheap when nothing is a symlink."""
    if not os.path.islink(path) and not os.path.islink(os.path.dirname(path)):
        return True
    return inside(Path(path), root)


def _leaves(kind: str, name: str, candidate: Path) -> InputError:
    return InputError(f"{kind[:-1]} {name!r} is a symlink that leaves the app directory",
                      location=Location(f"{kind}/{candidate.name}"), hint="replace the symlink by the file itself")


def find_named(kind: str, name: str, app_root: Path | None) -> tuple[Path, bool] | None:
    """Path of profile/overlay ``name``: the app's own first, then built-in. ``(path, builtin)``."""
    if app_root is not None and memory() is not None:
        listing = local_folder(app_root, kind) or {}
        for suffix in (".yaml", ".yml"):
            file_name = name + suffix
            if file_name in listing:
                candidate = Path(os.path.join(app_root, kind, file_name))
                if listing[file_name] and not inside(candidate, Path(app_root)):
                    raise _leaves(kind, name, candidate)
                return candidate, False
    elif app_root is not None:
        local_dir = os.path.join(app_root, kind)
        for suffix in (".yaml", ".yml") if os.path.isdir(local_dir) else ():
            candidate = os.path.join(local_dir, f"{name}{suffix}")
            if os.path.isfile(candidate) or os.path.islink(candidate):
                candidate = Path(candidate)
                if not contained(str(candidate), app_root):
                    raise _leaves(kind, name, candidate)
                return candidate, False
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
        if not folder.is_dir():
            continue
        for entry in sorted(os.listdir(folder)):
            stem, dot, ext = entry.rpartition(".")
            if dot and ext in ("yaml", "yml") and NAME.fullmatch(stem):
                path = folder / entry
                if not builtin and not inside(path, app_root):
                    continue
                found[stem] = (path, builtin)
    return dict(sorted(found.items()))
