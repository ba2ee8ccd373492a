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

Every strategy is linear in the size of the lists it merges (``mergeBy``
finds items through an index of their keys), and what a merge holds (each
layer's values, and the copy of a merged list each layer merging into it
keeps for ``explain``) is counted: past :data:`MAX_RENDER_VALUES` the render
is refused, naming the layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from deepmerge import Merger

from renderer.errors import InputError, Location
from renderer.paths import format_path, parse_path
from renderer.stages.provenance import (  # noqa: F401  (the model of a merge, used through this module too)
    DELETED,
    IndexPatch,
    Layer,
    Origin,
    Provenance,
    Setting,
    Strategy,
    parse_strategy,
)

MAX_RENDER_VALUES = 100_000
"""Most values one render may read from its layers (twice what one file may hold), and most values the copies
of merged lists may hold: a list that ``append`` or ``mergeBy`` merges is kept once per layer merging into it,
for ``explain``."""


MAX_RENDER_BYTES = 16 * 1024 * 1024
"""Most bytes of files one render may read (each file holds at most 1 MiB)."""


def too_many(count: int, what: str, location: Location | None = None) -> InputError:
    """The error of a render that reads, or keeps copies of, more than :data:`MAX_RENDER_VALUES` values."""
    return InputError(f"{what} more than {MAX_RENDER_VALUES:,} values ({count:,}), the limit of one render",
                      location=location,
                      hint="split the values over fewer, smaller layers; a list that append or mergeBy merges is "
                           "kept once per layer merging into it")


class _LayerMerge:
    """Merges one layer onto the accumulated values, recording provenance and counting what the merge holds."""

    def __init__(self, layer: Layer, provenance: Provenance, strategies: dict, held: int = 0):
        self.layer = layer
        self.provenance = provenance
        self.strategies = strategies
        self.remap: dict[tuple, tuple] = {}
        self.held = held

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

    def _copy_counted(self, value):
        """:func:`copy_values` of a merged list, kept for ``explain``, its size added to what the merge holds;
        refused past the limit (the one part of a merge that is not linear in the values the layers hold)."""
        out, size = _copy_sized(value)
        self.held += size
        if self.held > MAX_RENDER_VALUES:
            origin = self.layer.origin(())
            raise too_many(self.held, f"merging {self.layer.kind} {self.layer.name!r} makes the merged lists kept "
                           "for explain hold",
                           Location(origin.file, origin.line, origin.column))
        return out

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
        keyed = strategy.kind == "mergeBy"
        positions: dict = {}  # item key -> position of the first item with it: one lookup per item, not a scan
        if keyed:
            for position, existing in enumerate(merged):
                key = _item_key(existing, strategy.keys)
                if key is not None:
                    positions.setdefault(key, position)
        for index, item in enumerate(nxt):
            key = _item_key(item, strategy.keys) if keyed else None
            target = positions.get(key) if key is not None else None
            if target is None:
                target = len(merged)
                self.remap[path + (target,)] = self._source(path) + (index,)
                merged.append(self._take(path + (target,), item))
                if key is not None:
                    positions[key] = target
            else:
                self.remap[path + (target,)] = self._source(path) + (index,)
                merged[target] = config.value_strategy(list(path + (target,)), merged[target], item)
        self.provenance.add(path, Setting(None, self._copy_counted(merged), self.layer, self._source(path)))
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


def copy_values(value):
    """A copy of plain values (mappings, lists, scalars) that shares nothing mutable with ``value``."""
    return _copy(value)


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _copy_sized(value) -> tuple:
    """``(copy, number of values in it)``: :func:`_copy` that counts (mappings and lists count as one each)."""
    size = 0

    def copy(node):
        nonlocal size
        size += 1
        if isinstance(node, dict):
            return {k: copy(v) for k, v in node.items() if v is not None}
        if isinstance(node, list):
            return [copy(v) for v in node]
        return node

    return copy(value), size


@dataclass(slots=True)
class Merged:
    """The result of merging layers: values, provenance, strategies in force and the layers."""

    values: dict
    provenance: Provenance
    strategies: dict
    layers: list
    held: int = 0
    """How many values the copies of merged lists kept for ``explain`` hold (:data:`MAX_RENDER_VALUES`)."""

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
        return Merged(values, Provenance(self.provenance.history), dict(self.strategies), list(self.layers), self.held)


def merge_layers(layers: list[Layer], start: Merged | None = None) -> Merged:
    """Merge ``layers`` lowest first, onto ``start`` if given (which is consumed, not copied).

    Returns the values and the provenance of every path.
    """
    if start is None:
        start = Merged({}, Provenance(), {}, [])
    provenance, strategies, values, held = start.provenance, start.strategies, start.values, start.held
    for layer in layers:
        for pattern, text in (layer.merge or {}).items():
            strategies[_pattern_path(layer, str(pattern))] = parse_strategy(text, layer, pattern)
        merge = _LayerMerge(layer, provenance, strategies, held)
        values = merge.run(values)
        held = merge.held
        if held > MAX_RENDER_VALUES:
            origin = layer.origin(())
            raise too_many(held, f"merging {layer.kind} {layer.name!r} makes the merged lists kept for explain hold",
                           Location(origin.file, origin.line, origin.column))
    return Merged(values, provenance, strategies, start.layers + list(layers), held)


def _pattern_path(layer: Layer, pattern: str) -> tuple:
    """The path a ``merge:`` pattern names (``*`` matches any key), read as every path is."""
    try:
        return parse_path(pattern, what="merge pattern", example="jetstream.tolerations")
    except InputError as exc:
        line, column = layer.marks.get(layer.merge_prefix + (pattern,), (None, None))
        raise InputError(exc.message, location=Location(layer.file, line, column, f"merge.{pattern}"),
                         hint=exc.hint) from None
