"""Which app directories a bulk command works on: every one below a root, or those holding changed files.

An app directory is a folder holding an app file (``eventbus-render.yaml``).
``render --all``, ``check --all`` and ``diff`` find every one below a root
with :func:`discover`; the pre-commit hook (``check FILE...``) maps the
changed files to the app directories that hold them with :func:`changed_apps`.
"""

from __future__ import annotations

import os
from pathlib import Path

from renderer.commands.tree import INDEX_FILE
from renderer.errors import InputError
from renderer.stages import sources

LAYER_FOLDERS = frozenset(("profiles", "overlays", "templates"))
"""Folders of an app directory that hold its own layers: never searched for more apps."""


def discover(root: Path, skip: tuple = (), seen: dict | None = None) -> list[str]:
    """App directories below ``root`` as sorted POSIX paths relative to it (``.`` for the root itself).

    Hidden folders (``.git`` among them), symlinked folders, rendered trees
    (folders holding :data:`INDEX_FILE`) and the folders in ``skip`` are not
    entered, so nothing outside ``root`` is ever read; nor are an app
    directory's own layer folders (``profiles``, ``overlays``, ``templates``),
    which hold layers, not apps.

    With ``seen``, what each app directory holds of the app file and its
    layer folders is recorded there (see :meth:`sources.snapshot.know`), so
    the render need not ask the file system again.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"root {str(root)!r} is not a directory", hint="pass --root DIR, a folder of app directories")
    skipped = set()  # (device, inode) of the folders not to enter: no path arithmetic per folder
    for folder in skip:
        try:
            info = os.stat(folder)
            skipped.add((info.st_dev, info.st_ino))
        except OSError:
            pass
    inodes = {inode for _, inode in skipped}
    found: list[str] = []

    pending = [(str(root), "")]  # depth first, children in name order (a stack, not recursion)
    while pending:
        folder, relative = pending.pop()
        try:
            with os.scandir(folder) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        names = {child.name for child in children}
        if INDEX_FILE in names and relative:
            continue
        is_app = sources.APP_FILE in names
        if is_app:
            found.append(relative or ".")
            if seen is not None:
                seen[str(root / relative) if relative else str(root)] = {
                    child.name: _kind(child) for child in children if child.name in sources.APP_ENTRIES}
        below = []
        for child in children:
            if child.name.startswith(".") or (is_app and child.name in LAYER_FOLDERS) \
                    or not child.is_dir(follow_symlinks=False):
                continue
            if child.inode() in inodes and (child.stat(follow_symlinks=False).st_dev, child.inode()) in skipped:
                continue
            below.append((child.path, f"{relative}/{child.name}" if relative else child.name))
        pending.extend(reversed(below))
    return found


def _kind(entry: os.DirEntry) -> str:
    if entry.is_symlink():
        return "link"
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    return "file" if entry.is_file(follow_symlinks=False) else "other"


def changed_apps(files, root: Path = Path("."), apps: list | None = None) -> list[str]:
    """The app directories (relative to ``root``) that use any of ``files``, sorted, each once.

    A file belongs to the nearest folder above it holding an app file; a file
    of a repository layer (inside a ``.eventbus-render/`` folder) to every app
    of ``apps`` (default: every app below ``root``) whose layer it is. Files
    outside every app directory and layer (and outside ``root``) are ignored.
    """
    root = Path(root)
    real_root = Path(os.path.realpath(root))
    found, layers = set(), set()
    for name in files:
        path = Path(os.path.realpath(root / name))  # never raises, even on a symlink loop
        try:
            relative = path.relative_to(real_root)
        except ValueError:
            relative = None
        parts = Path(name).parts
        if sources.LAYER_FOLDER in parts:  # may lie above the root: the apps below the root still use it
            layers.add(os.path.realpath(root.joinpath(*parts[:parts.index(sources.LAYER_FOLDER) + 1])))
            continue
        if relative is None:
            continue
        folder = path if path.is_dir() else path.parent
        while True:
            if (folder / sources.APP_FILE).is_file():
                found.add(folder.relative_to(real_root).as_posix() or ".")
                break
            if folder == real_root or folder == folder.parent:
                break
            folder = folder.parent
    if layers:
        for app in discover(root) if apps is None else apps:
            try:
                layer = sources.repository_layer(root / app)
            except InputError:
                continue  # a broken layer: the app's own check reports it
            if layer is not None and os.path.realpath(layer.root) in layers:
                found.add(app)
    return sorted(found)
