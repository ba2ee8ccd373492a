"""Loaded YAML files (:class:`Document`): parsed once per run, and every caller's own.

A file is parsed once per run for each display name and content: files with
the same display name and bytes are one parsed document wherever they sit
(a profile copied into many app directories is parsed once). The package's
own files are parsed once per process. What is parsed is never handed out:
every :func:`load_document` returns a fresh copy of the data and marks, so a
caller that changes what it got cannot change what the next caller gets.
The copy is read back from :mod:`marshal` bytes kept at parse time: loaded
YAML is plain dicts, lists and scalars, and that is twice as fast as a
recursive copy (several times faster than :func:`copy.deepcopy`).
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass
from pathlib import Path

from renderer import context, paths
from renderer.errors import InputError, Location
from renderer.stages import containment, tree, yamlio
from renderer.stages.filechecks import top_level_mapping

_PARSED = "sources.parsed"
"""The run's cache of parsed files: ``(display, bytes)`` -> ``(marshalled data, marks, key)``."""
_RUN_LIMIT = 4096
"""Parsed files one run remembers before starting over (a bound on memory, not on correctness)."""
_BUILTIN: dict = {}
"""Parsed package files by ``(path, display)``: the package does not change under a running process."""


@dataclass(slots=True, frozen=True)
class Document:
    """One loaded YAML file: its data, key marks and display name.

    ``key`` is what it was parsed from, ``(display, bytes)``: documents with
    equal keys hold equal data and marks, so anything computed from a
    document can be remembered under its key.
    """

    path: Path | None
    display: str
    data: dict
    marks: dict
    key: tuple = ()

    def where(self, key_path: tuple) -> Location:
        """Location of ``key_path`` (or its nearest marked ancestor) in this file."""
        probe = tuple(key_path)
        while probe not in self.marks and probe:
            probe = probe[:-1]
        line, column = self.marks.get(probe, (None, None))
        return Location(self.display, line, column, paths.format_path(key_path) or None)

    def error(self, key_path: tuple, message: str, hint: str | None = None) -> InputError:
        """An :class:`InputError` located at ``key_path`` of this file."""
        return InputError(message, location=self.where(key_path), hint=hint)


def _read(path: Path, display: str) -> bytes:
    return containment.read_file(path, display, yamlio.MAX_BYTES)


def load_document(path: Path, display: str) -> Document:
    """Load one YAML mapping file: parsed once per run (package files once per process), copied out.

    ``path`` has been through :func:`renderer.stages.containment.confine` (or is the package's own).
    """
    text = str(path)
    if text.startswith(tree.PACKAGE_PREFIXES):
        parsed = _BUILTIN.get((text, display))
        if parsed is None:
            parsed = _BUILTIN[(text, display)] = _parse(_read(path, display), display)
    else:
        remembered = tree.memory()
        if remembered is None:  # outside a snapshot the file may have changed since: read it again
            parsed = _parse(_read(path, display), display)
        else:  # read once per snapshot, without asking whether the file changed
            parsed = remembered.get(("document", text, display))
            if parsed is None:
                parsed = remembered[("document", text, display)] = _parse(_read(path, display), display)
    frozen, marks, key = parsed
    return Document(path, display, marshal.loads(frozen), dict(marks), key)


def _parse(raw: bytes, display: str) -> tuple:
    """``(data, marks, key)`` of a file's bytes, from the run's cache when it holds them; the data is kept
    as :mod:`marshal` bytes, from which each caller gets a copy of its own."""
    key = (display, raw)
    parsed_files = context.cache(_PARSED)
    parsed = parsed_files.get(key)
    if parsed is None:
        data, marks = yamlio.load(raw, display)
        parsed = (marshal.dumps(top_level_mapping(data, display)), marks, key)
        if len(parsed_files) >= _RUN_LIMIT:
            parsed_files.clear()
        parsed_files[key] = parsed
    return parsed

