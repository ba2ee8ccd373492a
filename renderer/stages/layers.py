"""Merge value layers, remembering which layer, file and line set every value.

Layers merge lowest first: backend defaults, the profile chain (base first),
overlays in order, the app file's values, then command-line or Argo CD
layers. Mappings merge deeply, scalars replace, ``null`` deletes a key, and
lists replace unless a ``merge:`` strategy declared in a layer says
``append`` or ``mergeBy:KEY[+KEY...]`` for that path. A strategy applies from
the layer that declares it upwards.

The merge itself is driven by deepmerge (type-dispatched strategies); the
strategies here add provenance: every path written gets a :class:`Setting`
naming its :class:`Origin`, so ``explain`` can show the final value and the
values it overrode, and errors can point at the line that set a bad value.
"""

from __future__ import annotations

from deepmerge import Merger

from renderer.errors import InputError, Location
from renderer.paths import format_path
from renderer.records import FrozenRecord, Record


class Origin(FrozenRecord):
    """Where a value came from: layer kind and name, display file, 1-based line and column."""

    _fields = ("layer", "name", "file", "line", "column")

    def __init__(self, layer: str, name: str, file: str, line: int | None = None, column: int | None = None):
        self._set_fields(layer, name, file, line, column)

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


class Setting:
    """One layer's contribution to one path: the value, and (computed on demand) its :class:`Origin`."""

    __slots__ = ("_layer", "_source", "_origin", "value")

    def __init__(self, origin: Origin | None, value, layer: Layer | None = None, source: tuple = ()):
        self._origin = origin
        self._layer = layer
        self._source = source
        self.value = value

    @property
    def origin(self) -> Origin:
        """Where this value was set (resolved lazily: most settings are never asked)."""
        if self._origin is None:
            self._origin = self._layer.origin(self._source)
        return self._origin

    def __repr__(self) -> str:
        return f"Setting({self.origin!s}, {self.value!r})"


class Layer(Record):
    """One source of values.

    ``values`` sit at ``prefix`` inside a document whose key marks are ``marks``;
    ``notes`` may name individual paths (each ``--set`` flag names its own).
    """

    _fields = ("kind", "name", "file", "values", "marks", "prefix", "merge", "merge_prefix", "notes")

    def __init__(self, kind: str, name: str, file: str, values: dict, marks: dict | None = None,
                 prefix: tuple = (), merge: dict | None = None, merge_prefix: tuple = ("merge",),
                 notes: dict | None = None):
        self.kind = kind
        self.name = name
        self.file = file
        self.values = values
        self.marks = {} if marks is None else marks
        self.prefix = prefix
        self.merge = {} if merge is None else merge
        self.merge_prefix = merge_prefix
        self.notes = {} if notes is None else notes

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


class Strategy(FrozenRecord):
    """How lists at one path merge: ``replace``, ``append`` or ``mergeBy`` keys."""

    _fields = ("kind", "keys", "origin")

    def __init__(self, kind: str, keys: tuple = (), origin: Origin | None = None):
        self._set_fields(kind, keys, origin)

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


def split_pattern(pattern: str) -> tuple:
    """``a.b\\.c.*`` -> ``('a', 'b.c', '*')``: dots separate keys, ``\\.`` is a literal dot."""
    parts, current, escaped = [], "", False
    for char in pattern:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return tuple(parts)


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
        """Origin of the value in force at ``path``, else of its nearest recorded ancestor, else of a descendant."""
        probe = tuple(path)
        while True:
            last = self._last(probe)
            if last is not None:
                return last.origin
            if not probe:
                break
            probe = probe[:-1]
        # a mapping set whole (``--set a={b: 1}``) is recorded at its leaves: point at one of them
        size, prefix = len(path), tuple(path)
        for history in (self._own, self._base):
            for key, settings in history.items():
                if settings and len(key) > size and key[:size] == prefix:
                    return settings[-1].origin
        return None

    def describe(self, path: tuple) -> str:
        """``layer name (file:line)`` of the value at ``path``, or ``unknown origin``."""
        origin = self.origin(path)
        return str(origin) if origin else "unknown origin"


class _LayerMerge:
    """Merges one layer onto the accumulated values, recording provenance."""

    def __init__(self, layer: Layer, provenance: Provenance, strategies: dict):
        self.layer = layer
        self.provenance = provenance
        self.strategies = strategies
        self.remap: dict[tuple, tuple] = {}

    # -- provenance helpers -------------------------------------------------
    def _source(self, path: tuple) -> tuple:
        """Path inside the layer's own values of the merged ``path`` (list items may move)."""
        for cut in range(len(path), 0, -1):
            mapped = self.remap.get(path[:cut])
            if mapped is not None:
                return mapped + path[cut:]
        return path

    def _record(self, path: tuple, value) -> None:
        if isinstance(value, dict) and value:
            for key, sub in value.items():
                self._record(path + (key,), sub)
            return
        self.provenance.add(path, Setting(None, _copy(value) if isinstance(value, (list, dict)) else value,
                                          self.layer, self._source(path) if self.remap else path))
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, (dict, list)):
                    self._record(path + (index,), item)

    def _take(self, path: tuple, value):
        """A fresh copy of a layer's value (``null`` entries dropped), recorded as set here (one pass)."""
        cls = value.__class__
        if cls is IndexPatch:  # ``--set a[0].b=x`` where ``a`` is not set yet: the list starts here
            return self._patch(None, path, [], value)
        if cls is dict:
            out = {key: self._take(path + (key,), sub) for key, sub in value.items() if sub is not None}
            if not out:
                self._add(path, {})
            return out
        if cls is list:
            out = _copy(value)
            self._record(path, out)
            return out
        self._add(path, value)
        return value

    def _add(self, path: tuple, value) -> None:
        self.provenance.add(path, Setting(None, value, self.layer, self._source(path) if self.remap else path))

    # -- strategies for deepmerge ------------------------------------------
    def _dicts(self, config, path, base: dict, nxt: dict):
        path = tuple(path)
        for key, value in nxt.items():
            sub = path + (key,)
            if value is None:
                if key in base:
                    del base[key]
                self.provenance.add(sub, Setting(None, DELETED, self.layer, self._source(sub)))
            elif key in base and base[key] is not None:
                below = base[key]
                if below.__class__ is dict and value.__class__ is dict:
                    # what deepmerge would dispatch to for two mappings, without its per-level overhead
                    base[key] = self._dicts(config, sub, below, value)
                else:
                    base[key] = config.value_strategy(list(sub), below, value)
            else:
                base[key] = self._take(sub, value)
        return base

    def _lists(self, config, path, base: list, nxt: list):
        path = tuple(path)
        strategy = self.strategy_for(path)
        if strategy is None or strategy.kind == "replace":
            return self._take(path, nxt)
        merged = list(base)
        for index, item in enumerate(nxt):
            key = _item_key(item, strategy.keys) if strategy.kind == "mergeBy" else None
            target = None
            if key is not None:
                for position, existing in enumerate(merged):
                    if _item_key(existing, strategy.keys) == key:
                        target = position
                        break
            if target is None:
                target = len(merged)
                self.remap[path + (target,)] = self._source(path) + (index,)
                merged.append(self._take(path + (target,), item))
            else:
                self.remap[path + (target,)] = self._source(path) + (index,)
                merged[target] = config.value_strategy(list(path + (target,)), merged[target], item)
        self.provenance.add(path, Setting(None, _copy(merged), self.layer, self._source(path)))
        return merged

    def _replace(self, config, path, base, nxt):
        path = tuple(path)
        if isinstance(nxt, IndexPatch):
            return self._patch(config, path, base, nxt)
        return self._take(path, nxt)

    def _patch(self, config, path: tuple, base, patch: IndexPatch):
        config = config or _MERGER
        if not isinstance(base, list):
            raise InputError(f"{format_path(path)} is not a list, so it cannot be indexed",
                             hint="drop the [N] index from the --set path")
        merged = list(base)
        for index in sorted(patch):
            value = patch[index]
            if index < len(merged):
                if value is None:
                    raise InputError(f"cannot delete list item {format_path(path + (index,))} with null",
                                     hint="set the whole list instead")
                merged[index] = config.value_strategy(list(path + (index,)), merged[index], value)
            elif index == len(merged):
                merged.append(self._take(path + (index,), value))
            else:
                raise InputError(f"index {index} is past the end of {format_path(path)} ({len(merged)} items)",
                                 hint=f"use index {len(merged)} to append")
        return merged

    def strategy_for(self, path: tuple) -> Strategy | None:
        """The declared strategy whose pattern matches ``path`` most specifically (latest wins ties)."""
        if any(not isinstance(part, str) for part in path):
            return None
        best, best_score = None, None
        for pattern, strategy in self.strategies.items():
            if len(pattern) != len(path):
                continue
            if all(p == "*" or p == q for p, q in zip(pattern, path)):
                score = sum(p != "*" for p in pattern)
                if best_score is None or score >= best_score:
                    best, best_score = strategy, score
        return best

    def run(self, base: dict) -> dict:
        merger = _MERGER
        previous, merger.current = merger.current, self
        try:
            return merger.merge(base, self.layer.values)
        finally:
            merger.current = previous


class _ProvenanceMerger(Merger):
    """One deepmerge merger for the process; ``current`` is the layer merge its strategies serve."""

    current: _LayerMerge | None = None

    def __init__(self):
        super().__init__([(dict, self._dicts), (list, self._lists)], [self._replace], [self._replace])

    def _dicts(self, config, path, base, nxt):
        return self.current._dicts(config, path, base, nxt)

    def _lists(self, config, path, base, nxt):
        return self.current._lists(config, path, base, nxt)

    def _replace(self, config, path, base, nxt):
        return self.current._replace(config, path, base, nxt)


_MERGER = _ProvenanceMerger()


def _item_key(item, keys: tuple):
    if not isinstance(item, dict) or any(key not in item for key in keys):
        return None
    return tuple(repr(item[key]) for key in keys)


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class Merged(Record):
    """The result of merging layers: values, provenance, strategies in force and the layers."""

    _fields = ("values", "provenance", "strategies", "layers")

    def __init__(self, values: dict, provenance: Provenance, strategies: dict, layers: list):
        self.values = values
        self.provenance = provenance
        self.strategies = strategies
        self.layers = layers

    def copy(self, touched=None) -> Merged:
        """A copy that further layers can be merged onto, leaving this one as it is.

        With ``touched`` (the top-level keys the further layers write), only
        those sections are copied; the others are shared, read-only, with this
        merge (renders never change merged values). Provenance is shared the
        same way: the copy records its own settings on top of this one's.
        """
        if touched is None:
            values = _copy(self.values)
        else:
            values = dict(self.values)
            for key in touched:
                if key in values:
                    values[key] = _copy(values[key])
        return Merged(values, Provenance(self.provenance.history), dict(self.strategies), list(self.layers))


def merge_layers(layers: list[Layer], start: Merged | None = None) -> Merged:
    """Merge ``layers`` lowest first, onto ``start`` if given (which is consumed, not copied).

    Returns the values and the provenance of every path.
    """
    if start is None:
        start = Merged({}, Provenance(), {}, [])
    provenance, strategies, values = start.provenance, start.strategies, start.values
    for layer in layers:
        for pattern, text in (layer.merge or {}).items():
            strategies[split_pattern(str(pattern))] = parse_strategy(text, layer, pattern)
        values = _LayerMerge(layer, provenance, strategies).run(values)
    return Merged(values, provenance, strategies, start.layers + list(layers))
