"""The head's render of an environment, taken from the base when everything it reads is byte-identical.

Built-in profiles, overlays and templates come from the installed renderer,
not from the revision. A render of one environment reads the app file, each
profile and overlay it names (the app's own ``NAME.yaml`` or ``NAME.yml``
when there is one, else the repository layer's, else the built-in), and
nothing else of the app folder or the layer unless one has templates. So
when the app file and every candidate file of those names, in the app folder
and in its repository layer (the nearest ``.eventbus-render/`` above it),
hold the same bytes on both sides (or are missing on both), the layer sits
at the same place relative to the app on both sides (or there is none on
either), and neither side has a ``templates`` folder or a symlink among
them, the head renders exactly as the base did: same profiles and overlays
found, same values, same output, same guard findings. ``diff`` then takes
the head's object from the base instead of rendering it again: a change to
one overlay renders again only the environments that use it, and a change
to a shared profile every environment of every app that uses it.
(Measured on 1,000 apps whose ``eu-west`` overlay changed: without this,
``diff`` costs more than rendering both sides with ``render --all``.)
"""

from __future__ import annotations

import os
from pathlib import Path

from renderer.errors import RendererError
from renderer.stages import sources

UNREADABLE = object()
"""What :func:`file_bytes` gives for a symlink, a folder or an error: never the same on both sides."""


def _layer(app_dir: Path):
    """``(layer folder, how the layer sits and is named)`` of ``app_dir``'s repository layer; ``(None, None)``
    without one; :data:`UNREADABLE` when it is broken (its render reports that)."""
    try:
        layer = sources.repository_layer(app_dir)
    except RendererError:
        return UNREADABLE
    if layer is None:
        return None, None
    return Path(layer.root), (os.path.relpath(layer.root, app_dir), layer.prefix)


def same_inputs(base_dir: Path, head_dir: Path, rendered, read: dict | None = None) -> bool:
    """Whether every file the base render ``rendered`` of one environment read is the same in the head's app
    folder and repository layer.

    ``read`` remembers file contents across the environments and apps of a chunk.
    """
    base_layer, head_layer = _layer(base_dir), _layer(head_dir)
    if base_layer is UNREADABLE or head_layer is UNREADABLE or base_layer[1] != head_layer[1]:
        return False
    folders = [(base_dir, head_dir)] + ([(base_layer[0], head_layer[0])] if base_layer[0] is not None else [])
    if any(sources.has_folder(folder, "templates") for pair in folders for folder in pair):
        return False
    read = {} if read is None else read
    wanted = [(None, sources.APP_FILE)]
    for kind, layers in (("profiles", rendered.profiles), ("overlays", rendered.overlays)):
        for layer in layers:
            wanted.extend(((kind, f"{layer.name}.yaml"), (kind, f"{layer.name}.yml")))
    for index, (base_folder, head_folder) in enumerate(folders):
        for kind, name in wanted if index == 0 else [item for item in wanted if item[0] is not None]:
            base, head = content(base_folder, kind, name, read), content(head_folder, kind, name, read)
            if base is UNREADABLE or head is UNREADABLE or base != head:
                return False
    return True


def content(app_dir: Path, kind: str | None, name: str, read: dict):
    """The bytes of ``[kind/]name`` in ``app_dir`` (an app folder or a repository layer); ``None`` when it is
    missing, :data:`UNREADABLE` for a symlink, a folder or an error. Folder listings come from the snapshot of
    the run."""
    key = (str(app_dir), kind, name)
    if key in read:
        return read[key]
    if kind is not None:
        listing = sources.local_folder(app_dir, kind)
        if listing is None or name not in listing:
            found = None
        elif listing[name] != "file":
            found = UNREADABLE  # a symlink (or a symlinked folder), a FIFO, a device
        else:
            found = file_bytes(app_dir / kind / name)
    else:
        found = file_bytes(app_dir / name)
    read[key] = found
    return found


def file_bytes(path: Path):
    """The bytes of a regular file that is no symlink, ``None`` when there is none, else :data:`UNREADABLE`
    (read with the one reader of repository files, never opening anything else)."""
    import stat

    from renderer.errors import InputError
    from renderer.stages import containment, yamlio

    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return UNREADABLE
        data = containment.read_file(path, str(path), yamlio.MAX_BYTES)
    except FileNotFoundError:
        return None
    except (OSError, InputError):
        return UNREADABLE
    return data if len(data) <= yamlio.MAX_BYTES else UNREADABLE
