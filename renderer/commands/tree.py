"""A rendered tree: the records of ``render --all`` and ``diff``, and the index file that describes a tree on disk.

A tree is every object rendered below a root (one :class:`Entry` each: an
EventBus and the objects rendered beside it, sorted by environment,
namespace, kind and name) and every render that failed (one :class:`Failure`
each). Written to disk by ``render --all -o DIR``, it is laid out as
``<environment>/<namespace>/<kind>-<name>.yaml`` (``eventbus-orders.yaml``,
``poddisruptionbudget-eventbus-orders-pdb.yaml``) beside :data:`INDEX_FILE`,
which records for every object its kind, the app directory that produced it
and, for an EventBus, the guard findings of its render (``diff --against``
reads it back with :func:`read_index`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from renderer.errors import InputError, RendererError

INDEX_FILE = ".eventbus-render-index.json"
INDEX_FORMAT = 2
"""Format 2 records each object's ``kind``; format 1 (EventBus objects only, no ``kind``) is still read."""
READ_FORMATS = (1, 2)
DEFAULT_ENVIRONMENT = "default"
"""Environment name of apps whose app file lists no ``environments``."""


@dataclass(frozen=True, slots=True)
class Options:
    """The command line's choices, applied to every render."""

    profile: str | None = None
    overlays: tuple = ()
    sets: tuple = ()
    set_strings: tuple = ()
    fmt: str = "yaml"
    today: object = None


@dataclass(slots=True)
class Entry:
    """One rendered object of a tree: an EventBus, or an object rendered beside it (``kind``).

    The guard findings of a render are its EventBus's. ``index_line`` is the
    entry's line of :data:`INDEX_FILE` when a worker wrote the object (and so
    encoded its line while the others render too).
    """

    environment: str
    namespace: str
    name: str
    app: str
    backend: str
    profile: str
    overlays: tuple
    file: str
    text: str = ""
    findings: tuple = ()
    kind: str = "EventBus"
    index_line: str = field(default="", repr=False, compare=False)

    @property
    def key(self) -> tuple:
        """``(environment, namespace, kind, name)``: what identifies the object in a cluster."""
        return (self.environment, self.namespace, self.kind, self.name)

    @property
    def ident(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def title(self) -> str:
        """How reports name the object: ``namespace/name`` for an EventBus, ``Kind namespace/name`` otherwise."""
        return self.ident if self.kind == "EventBus" else f"{self.kind} {self.ident}"

    def index_record(self) -> dict:
        """The entry as recorded in :data:`INDEX_FILE`."""
        return {"environment": self.environment, "namespace": self.namespace, "kind": self.kind, "name": self.name,
                "file": self.file, "app": self.app, "backend": self.backend, "profile": self.profile,
                "overlays": list(self.overlays), "findings": [dict(f) for f in self.findings]}


@dataclass(slots=True)
class Failure:
    """One render that failed: which app and environment, the message, and its exit code."""

    app: str
    environment: str
    message: str
    exit_code: int = 2


@dataclass(slots=True)
class Tree:
    """Every object rendered below a root (sorted by environment, namespace, name) and every failure."""

    entries: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    apps: int = 0

    @property
    def renders(self) -> int:
        """Renders tried: one per EventBus rendered (its companions are the same render) and one per failure."""
        return sum(entry.kind == "EventBus" for entry in self.entries) + len(self.failures)

    @property
    def environments(self) -> list:
        """Names of the environments rendered, sorted."""
        return sorted({e.environment for e in self.entries})


class RenderAllError(RendererError):
    """Some renders of a tree failed: every failure, then what was (not) written."""

    def __init__(self, failures: list, total: int, outcome: str, title: str = ""):
        self.failures = list(failures)
        count = len(self.failures)
        head = title or f"{count} of {total} render{'s' if total != 1 else ''} failed"
        super().__init__(f"{head}; {outcome}")
        self.exit_code = 2 if any(f.exit_code != 1 for f in self.failures) else 1

    def render(self) -> str:
        lines = ["error: " + self.message]
        for failure in self.failures:
            lines.append(f"{failure.app} [{failure.environment}]:")
            lines.extend("  " + line for line in failure.message.rstrip("\n").splitlines())
        return "\n".join(lines)


def finding_record(finding) -> dict:
    """A guard finding as plain, comparable data: rule, level, path (as :func:`paths.format_path` prints it),
    message, waived."""
    from renderer.paths import format_path

    path = getattr(finding, "path", None)
    if isinstance(path, (tuple, list)):
        path = format_path(tuple(path))
    from renderer.credentials import redact

    return {"rule": str(getattr(finding, "rule", "") or ""), "level": str(getattr(finding, "level", "") or ""),
            "path": str(path or ""), "message": redact(str(getattr(finding, "message", finding))),
            "waived": bool(getattr(finding, "waived", False))}


def sorted_findings(findings) -> tuple:
    """:func:`finding_record` of each finding, in a stable order."""
    records = [finding_record(f) for f in findings or ()]
    return tuple(sorted(records, key=lambda r: (r["rule"], r["path"], r["level"], r["message"], r["waived"])))


def findings_report(tree: Tree) -> list:
    """One stderr line per guard finding of the tree (warnings and waived violations)."""
    lines = []
    for entry in tree.entries:
        for f in entry.findings:
            head = f"{'waived' if f.get('waived') else f.get('level')}[{f.get('rule')}]"
            where = f" {f['path']}:" if f.get("path") else ""
            lines.append(f"{entry.app} [{entry.environment}] {entry.title}: {head}{where} {f.get('message')}")
    return lines


def stream_text(tree: Tree, fmt: str) -> str:
    """The tree as one stream on stdout: YAML documents, or one JSON object or ``List``."""
    if fmt == "json":
        from renderer.stages import emit

        objects = [json.loads(e.text) for e in tree.entries]
        return emit.to_json(objects) if len(objects) != 1 else tree.entries[0].text
    return "".join("---\n" + e.text for e in tree.entries)


# -- the index file -----------------------------------------------------------------------------

INDEX_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
"""Encodes one entry's line of the index (:meth:`Entry.index_record`)."""


def index_document(tree: Tree, fmt: str) -> str:
    """Text of :data:`INDEX_FILE` for ``tree``: JSON with one object per line, so its diffs read well."""
    head = json.dumps({"generator": "eventbus-render", "format": INDEX_FORMAT, "output": fmt})[:-1]
    records = ",\n".join(["  " + (e.index_line or INDEX_ENCODER.encode(e.index_record())) for e in tree.entries])
    return f'{head}, "objects": [\n{records}\n]}}\n' if records else f'{head}, "objects": []}}\n'


INDEX_LIMIT = 64 * 1024 * 1024
"""Largest :data:`INDEX_FILE` read back (a tree of 10,000 apps in four environments writes about 12 MiB)."""


def read_index(directory: Path) -> tuple[str, list]:
    """Read a rendered tree written by ``render --all``: ``(format, entries with their text)``.

    The tree is read as any repository file is (:func:`renderer.stages.containment.confine`): a file of the index
    that leads outside the tree, a symlink loop, a FIFO or a file beyond the size limits is an input error.
    """
    from renderer.stages import containment, yamlio

    directory = Path(directory)
    within = "the rendered tree"
    index = containment.confine(directory, INDEX_FILE, within=within) if directory.is_dir() else None
    if index is None:
        raise InputError(f"{str(directory)!r} is not a tree written by render --all (it has no {INDEX_FILE})",
                         hint="write one with: eventbus-render render --all -o DIR")
    raw = containment.read_file(index, INDEX_FILE, INDEX_LIMIT)
    try:
        if len(raw) > INDEX_LIMIT:
            raise ValueError(f"larger than {INDEX_LIMIT} bytes")
        doc = json.loads(raw.decode("utf-8"))
        fmt = doc["output"]
        records = doc["objects"]
        if doc.get("format") not in READ_FORMATS or fmt not in ("yaml", "json") or not isinstance(records, list):
            raise ValueError("unsupported index format")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"cannot read {INDEX_FILE}: {exc}", hint="render the tree again with render --all") \
            from None
    entries = []
    for record in records:
        try:
            _check_record(record)
            file = record["file"]
            parts = file.split("/") if isinstance(file, str) else ()
            if not parts or any(part in ("", ".", "..") for part in parts):
                raise ValueError(f"{file!r} is not a path inside the tree")
            path = containment.confine(directory, file, within=within)
            if path is None:
                raise ValueError(f"{file} is missing")
            data = containment.read_file(path, file, yamlio.MAX_BYTES)
            if len(data) > yamlio.MAX_BYTES:
                raise ValueError(f"{file} is larger than {yamlio.MAX_BYTES} bytes")
            entries.append(Entry(record["environment"], record["namespace"], record["name"], record["app"],
                                 record["backend"], record["profile"], tuple(record["overlays"]), file,
                                 data.decode("utf-8"), tuple(record.get("findings") or ()),
                                 record.get("kind", "EventBus")))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"rendered tree {str(directory)!r} is incomplete: {exc}",
                             hint="render the tree again with render --all") from None
    entries.sort(key=lambda e: e.key)
    return fmt, entries


_RECORD_TEXTS = ("file", "environment", "namespace", "name", "app", "backend", "profile")


def _check_record(record) -> None:
    """Raise :exc:`ValueError` naming the entry and key when an index record is not as ``render --all`` writes it
    (a hand-edited index must not reach the comparison with other types)."""
    if not isinstance(record, dict):
        raise ValueError("an entry of the index is not an object")
    named = record.get("file") if isinstance(record.get("file"), str) else "an entry"
    for key in _RECORD_TEXTS:
        if not isinstance(record.get(key), str):
            raise ValueError(f"{named}: {key!r} is not a string in the index")
    if not isinstance(record.get("kind", ""), str):
        raise ValueError(f"{named}: 'kind' is not a string in the index")
    overlays = record.get("overlays")
    if not (isinstance(overlays, list) and all(isinstance(o, str) for o in overlays)):
        raise ValueError(f"{named}: 'overlays' is not a list of names in the index")
    findings = record.get("findings") or []
    if not (isinstance(findings, list) and all(isinstance(f, dict) for f in findings)):
        raise ValueError(f"{named}: 'findings' is not a list of objects in the index")
