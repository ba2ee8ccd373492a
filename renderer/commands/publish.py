"""Putting a rendered tree on disk: all of it or nothing, the old tree replaced only by a complete new one.

``render --all -o DIR`` writes every object into a private staging folder
beside ``DIR`` (:func:`staging_folder`, :func:`write_entry`) while it renders,
then its index, and only when every render succeeded swaps the staging
folder in (:func:`swap`). Every file goes through
:func:`renderer.stages.emit.write_file`, the tool's one writer.
"""

from __future__ import annotations

import os
from pathlib import Path

from renderer.commands.tree import INDEX_FILE, Entry, Tree, index_document
from renderer.errors import InputError, UsageError
from renderer.stages import emit


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


def staging_folder(target: Path) -> Path:
    """A new private folder beside ``target`` for its next tree: ``.<name>.tmp-<random>``, mode 0700."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return _private_folder(target.parent, f".{target.name}.tmp-")


def write_entry(directory: str, entry: Entry, made: set) -> None:
    """Write one object under ``directory`` (a staging folder), making its folder unless ``made`` has it."""
    path = f"{directory}/{entry.file}"
    folder = path.rpartition("/")[0]
    if folder not in made:
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
        except FileNotFoundError:  # the environment's folder is not there yet
            os.makedirs(folder, exist_ok=True)
        made.add(folder)
    emit.write_file(path, entry.text)


def finish(staging: Path, tree: Tree, fmt: str) -> None:
    """Write the index of ``tree`` into ``staging`` and give the folder the permissions the umask asks for."""
    emit.write_file(staging / INDEX_FILE, index_document(tree, fmt))
    # the staging folder was made private; what was written in it already follows the umask
    os.chmod(staging, 0o777 & ~_umask())


def swap(staging: Path, target: Path) -> None:
    """Put ``staging`` where ``target`` is, removing the old tree only after the new one is in place."""
    if not target.exists():
        os.rename(staging, target)
        return
    old = _private_folder(target.parent, f".{target.name}.old-")
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(old, target)
        raise
    remove(old)


def remove(folder: Path) -> None:
    """Remove a staging or old tree folder, whatever it holds."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _private_folder(parent: Path, prefix: str) -> Path:
    """A new folder ``<parent>/<prefix><random>``, mode 0700 (as ``tempfile.mkdtemp`` makes one)."""
    while True:
        folder = Path(parent) / f"{prefix}{os.urandom(6).hex()}"
        try:
            os.mkdir(folder, 0o700)
            return folder
        except FileExistsError:
            continue
