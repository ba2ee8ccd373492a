"""What the places of an app directory hold: every profile and overlay name, the ``templates/`` folders, and the
file a name printed in a message stands for.

The places themselves, and where one name leads, are :mod:`renderer.stages.tree`'s
(:func:`~renderer.stages.tree.places`, :func:`~renderer.stages.tree.find_named`);
this module lists what they hold, for ``list``, ``show``, the Argo CD
Parameters tab, did-you-mean hints and the template stage, and maps a
printed file name back to its file for SARIF.
"""

from __future__ import annotations

import os
from pathlib import Path

from renderer.errors import InputError
from renderer.stages import containment
from renderer.stages.filechecks import NAME
from renderer.stages.tree import APP, LAYER_FOLDER, REPOSITORY, Place, memory, own_folder, places


def everywhere(kind: str, where) -> dict[str, list]:
    """Every profile or overlay of every place of ``where``: name -> ``[(path, place), ...]``, first to last
    (the first is the one a name resolves to; the others it shadows), sorted by name."""
    found: dict[str, list] = {}
    for place in places(where):
        folder = place.folder(kind)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        here: dict = {}
        for entry in names:
            stem, dot, ext = entry.rpartition(".")
            if not (dot and ext in ("yaml", "yml") and NAME.fullmatch(stem)) or stem in here and ext == "yml":
                continue
            path = Path(folder) / entry
            if place.root is not None:
                try:  # only what a render could read: inside its place, a regular file
                    containment.confine(place.root, f"{kind}/{entry}")
                except InputError:
                    continue
            here[stem] = (path, place)
        for stem, item in here.items():
            found.setdefault(stem, []).append(item)
    return dict(sorted(found.items()))


def available(kind: str, where) -> dict[str, tuple[Path, Place]]:
    """Every profile or overlay visible from ``where``: name -> ``(path, place)`` it resolves to, sorted by name."""
    return {name: found[0] for name, found in everywhere(kind, where).items()}


def template_folders(where) -> tuple:
    """``(folder, name in messages)`` of the ``templates/`` folders of the app directory and its repository
    layer, first to last; empty when neither has one (the package's templates alone). Remembered in a
    :class:`snapshot`."""
    lookup = places(where)
    remembered = memory()
    found = remembered.get(("templates", lookup)) if remembered is not None else None
    if found is None:
        found = tuple((Path(folder), place.display("templates", "")[:-1]) for place in lookup
                      if place.root is not None and (folder := own_folder(place.root, "templates")) is not None)
        if remembered is not None:
            remembered[("templates", lookup)] = found
    return found


def is_repository_file(display: str) -> bool:
    """Whether a file named ``display`` in a message is a repository layer's (named from the repository root)."""
    return LAYER_FOLDER in display.split("/")


def real_path(where, display: str) -> Path | None:
    """The file that ``display`` (a name as messages print it) stands for among the places of ``where``;
    ``None`` for built-in and command-line names."""
    for place in places(where):
        if place.where == REPOSITORY and display.startswith(place.prefix):
            return Path(place.root) / display[len(place.prefix):]
        if place.where == APP and display and not is_repository_file(display) \
                and not display.startswith(("builtin:", "<", "-")):
            return Path(place.root) / display
    return None
