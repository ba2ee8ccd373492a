"""Writing the files of a test: one helper for every fixture that lays out an app, a repository or a tree."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_files(root: Path, files: dict, *, dedent: bool = True, git: bool = False) -> Path:
    """Write ``files`` (relative path -> text; ``None``: a folder) below ``root``, making every folder on the way.

    Texts are dedented unless ``dedent`` is false; with ``git`` a ``.git`` folder marks ``root`` as the root of a
    repository. Returns ``root``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if git:
        (root / ".git").mkdir(exist_ok=True)
    for relative, text in files.items():
        path = root / relative
        if text is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if dedent else text, encoding="utf-8")
    return root
