"""What a merge remembers: where every value came from.

An :class:`Origin` names a layer, its file and the line and column of a
value; a :class:`Layer` is one source of values; :class:`Provenance` records,
for every path a merge wrote, each layer's :class:`Setting` in order, so
``explain`` can show the value in force and what it overrode, and errors can
point at the line that set a bad value.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from renderer.errors import InputError, Location


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value came from: layer kind and name, display file, 1-based line and column."""

    layer: str
    name: str
    file: str
    line: int | None = None
    column: int | None = None

    @property
    def where(self) -> str:
        """``file:line`` (or just the file when no line is known)."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        return f"{self.layer} {self.name} ({self.where})"

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"layer": self.layer, "name": self.name, "file": self.file, "line": self.line,
                "column": self.column}


DELETED = type("Deleted", (), {"__repr__": lambda self: "<deleted>"})()
"""Value of a :class:`Setting` recording that a layer deleted the key with ``null``."""


_ORDER = itertools.count()
"""Settings are numbered as they are made: a higher layer's settings are always made after a lower one's."""


class Setting:
    """One layer's contribution to one path: the value, and (computed on demand) its :class:`Origin`.

    ``order`` ranks settings of different paths: the later one comes from the higher layer.
    """

    __slots__ = ("_layer", "_source", "_origin", "value", "order")

    def __init__(self, origin: Origin | None, value, layer: Layer | None = None, source: tuple = ()):
        self._origin = origin
        self._layer = layer
        self._source = source
        self.value = value
        self.order = next(_ORDER)

    def origin_of(self, path: tuple) -> Origin:
        """Where this setting's layer writes ``path`` (an ancestor of the path it set), or its own origin."""
        if self._layer is None or len(path) >= len(self._source) or tuple(self._source[:len(path)]) != path:
            return self.origin
        return self._layer.origin(path)

    @property
    def origin(self) -> Origin:
        """Where this value was set (resolved lazily: most settings are never asked)."""
        if self._origin is None:
            self._origin = self._layer.origin(self._source)
        return self._origin

    def __repr__(self) -> str:
        return f"Setting({self.origin!s}, {self.value!r})"


@dataclass(slots=True)
class Layer:
    """One source of values.

    ``values`` sit at ``prefix`` inside a document whose key marks are ``marks``;
    ``notes`` may name individual paths (each ``--set`` flag names its own).
    ``source`` is the key of the document the layer was read from
    (:attr:`renderer.stages.documents.Document.key`), when it was read from
    one: layers of equal kind, name, prefixes and source are equal layers.
    """

    kind: str
    name: str
    file: str
    values: dict
    marks: dict = field(default_factory=dict)
    prefix: tuple = ()
    merge: dict = field(default_factory=dict)
    merge_prefix: tuple = ("merge",)
    notes: dict = field(default_factory=dict)
    source: tuple = ()

    def __post_init__(self):
        # callers pass None for "none"
        self.marks = {} if self.marks is None else self.marks
        self.merge = {} if self.merge is None else self.merge
        self.notes = {} if self.notes is None else self.notes

    def origin(self, path: tuple) -> Origin:
        """Origin of the value at ``path`` (relative to ``values``) in this layer."""
        probe = self.prefix + tuple(path)
        while probe not in self.marks and len(probe) > len(self.prefix):
            probe = probe[:-1]
        line, column = self.marks.get(probe, (None, None))
        name = self.name
        if self.notes:
            sub = tuple(path)
            while sub not in self.notes and sub:
                sub = sub[:-1]
            name = self.notes.get(sub, name)
        return Origin(self.kind, name, self.file, line, column)


class IndexPatch(dict):
    """``--set a.b[2].c=x``: patch list items by index instead of replacing the list."""


@dataclass(frozen=True, slots=True)
class Strategy:
    """How lists at one path merge: ``replace``, ``append`` or ``mergeBy`` keys."""

    kind: str
    keys: tuple = ()
    origin: Origin | None = None

    @property
    def text(self) -> str:
        """The strategy as written in a ``merge:`` block."""
        return f"mergeBy:{'+'.join(self.keys)}" if self.kind == "mergeBy" else self.kind


def parse_strategy(text, layer: Layer, pattern: str) -> Strategy:
    """Parse a strategy declared in ``merge:`` (``replace``, ``append``, ``mergeBy:name``)."""
    line_col = layer.marks.get(layer.merge_prefix + (pattern,), (None, None))
    origin = Origin(layer.kind, layer.name, layer.file, *line_col)
    if isinstance(text, str):
        if text in ("replace", "append"):
            return Strategy(text, (), origin)
        kind, _, keys = text.partition(":")
        parts = tuple(k.strip() for k in keys.split("+")) if keys else ()
        if kind == "mergeBy" and parts and all(parts):
            return Strategy("mergeBy", parts, origin)
    raise InputError(f"unknown merge strategy {text!r} for {pattern!r}",
                     location=Location(origin.file, origin.line, origin.column, f"merge.{pattern}"),
                     hint="use replace, append or mergeBy:KEY (mergeBy:key+effect for several keys)")


class Provenance:
    """For every path written during a merge, the settings in layer order (last is in force).

    A provenance may sit on a shared, read-only ``base`` (the cached lower
    layers of many renders): lookups see both, additions go to this one only.
    """

    def __init__(self, base: dict | None = None):
        self._base = base or {}
        self._own: dict[tuple, list[Setting]] = {}

    @property
    def history(self) -> dict:
        """Path -> settings in layer order, base and own together (built on demand)."""
        if not self._base:
            return self._own
        merged = dict(self._base)
        for path, settings in self._own.items():
            below = merged.get(path)
            merged[path] = below + settings if below else settings
        return merged

    def add(self, path: tuple, setting: Setting) -> None:
        """Record that a layer set (or deleted) ``path``."""
        settings = self._own.get(path)
        if settings is None:
            self._own[path] = [setting]
        else:
            settings.append(setting)

    def settings(self, path: tuple) -> list[Setting]:
        """Every setting of exactly ``path``, lowest layer first."""
        path = tuple(path)
        own, below = self._own.get(path), self._base.get(path)
        if own and below:
            return below + own
        return own or below or []

    def _last(self, path: tuple):
        settings = self._own.get(path) or self._base.get(path)
        return settings[-1] if settings else None

    def origin(self, path: tuple) -> Origin | None:
        """Origin of the value in force at ``path``: the layer that wrote it last, at the path or below it.

        A mapping is recorded at its leaves, so the latest setting at or below ``path`` is what put the
        value there (a mapping that replaced a scalar is the higher layer's, not the scalar's); its layer's
        line of ``path`` itself is given. A path nothing wrote is reported at its nearest recorded ancestor.
        """
        path = tuple(path)
        latest = self._last(path)
        size = len(path)
        for history in (self._own, self._base):
            for key, settings in history.items():
                if settings and len(key) > size and key[:size] == path and (
                        latest is None or settings[-1].order > latest.order):
                    latest = settings[-1]
        if latest is not None:
            return latest.origin_of(path)
        probe = path
        while probe:
            probe = probe[:-1]
            last = self._last(probe)
            if last is not None:
                return last.origin
        return None
