"""The head's render of an environment, taken from the base when everything it reads is byte-identical.

Built-in profiles, overlays and templates come from the installed renderer,
not from the revision. A render of one environment reads the app file, each
profile and overlay it names (the app's own ``NAME.yaml`` or ``NAME.yml``
when there is one, else the built-in), and nothing else of the app folder
unless it has templates of its own. So when the app file and every candidate
file of those names hold the same bytes on both sides (or are missing on
both), and neither side has a ``templates`` folder or a symlink among them,
the head renders exactly as the base did: same profiles and overlays found,
same values, same output, same guard findings. ``diff`` then takes the head's
object from the base instead of rendering it again: a change to one overlay
renders again only the environments that use it. (Measured on 1,000 apps
whose ``eu-west`` overlay changed: without this, ``diff`` costs more than
rendering both sides with ``render --all``.)
"""

from __future__ import annotations

import os
from pathlib import Path

from renderer.stages import sources

UNREADABLE = object()
"""What :func:`file_bytes` gives for a symlink, a folder or an error: never the same on both sides."""


def same_inputs(base_dir: Path, head_dir: Path, rendered, read: dict | None = None) -> bool:
    """Whether every file the base render ``rendered`` of one environment read is the same in the head's app folder.

    ``read`` remembers file contents across the environments of one app.
    """
    if sources.has_folder(base_dir, "templates") or sources.has_folder(head_dir, "templates"):
        return False
    read = {} if read is None else read
    wanted = [(None, sources.APP_FILE)]
    for kind, layers in (("profiles", rendered.profiles), ("overlays", rendered.overlays)):
        for layer in layers:
            wanted.extend(((kind, f"{layer.name}.yaml"), (kind, f"{layer.name}.yml")))
    for kind, name in wanted:
        base, head = content(base_dir, kind, name, read), content(head_dir, kind, name, read)
        if base is UNREADABLE or head is UNREADABLE or base != head:
            return False
    return True


def content(app_dir: Path, kind: str | None, name: str, read: dict):
    """The bytes of ``[kind/]name`` in ``app_dir``; ``None`` when it is missing, :data:`UNREADABLE` for a
    symlink, a folder or an error. Folder listings come from the snapshot of the run."""
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
    from renderer.stages import tree, yamlio

    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return UNREADABLE
        data = tree.read_file(path, str(path), yamlio.MAX_BYTES)
    except FileNotFoundError:
        return None
    except (OSError, InputError):
        return UNREADABLE
    return data if len(data) <= yamlio.MAX_BYTES else UNREADABLE
