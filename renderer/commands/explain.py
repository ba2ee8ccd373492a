"""``eventbus-render explain``: where every value came from, and what it overrode.

The values are merged exactly as ``render`` merges them (same layers, same
order, same strategies), without templating or guards, so a value can be
explained even while it is the reason a render fails. For every leaf (or the
leaves below one path) the report shows the final value, the layer and
``file:line`` that set it, and every value it overrode, lowest layer first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import click

from renderer.commands.common import (
    emit_text,
    layer_options,
)
from renderer.errors import InputError
from renderer.paths import format_path, parse_path
from renderer.suggest import closest


@dataclass
class Step:
    """One layer's contribution to a leaf (or to the path above or below it)."""

    path: tuple
    value: object
    origin: object  # layers.Origin
    deleted: bool = False

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"path": format_path(self.path), "value": None if self.deleted else self.value,
                "deleted": self.deleted, "origin": self.origin.as_dict() if self.origin else None}


@dataclass
class Leaf:
    """A leaf of the merged values with its history, lowest layer first (the last step set it)."""

    path: tuple
    value: object = None
    present: bool = True
    history: list = field(default_factory=list)

    @property
    def origin(self):
        """Origin of the value in force (``None`` when nothing recorded it)."""
        return self.history[-1].origin if self.history else None

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"path": format_path(self.path), "keys": list(self.path), "present": self.present,
                "value": self.value if self.present else None,
                "origin": self.origin.as_dict() if self.origin else None,
                "history": [s.as_dict() for s in self.history]}


def leaf_paths(value, path: tuple = ()) -> list:
    """Paths of the leaves of merged values: scalars, empty collections, lists of scalars, in order."""
    if isinstance(value, dict) and value:
        out = []
        for key, sub in value.items():
            out.extend(leaf_paths(sub, path + (key,)))
        return out
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        out = []
        for index, sub in enumerate(value):
            out.extend(leaf_paths(sub, path + (index,)))
        return out
    return [path]


def value_at(values, path: tuple):
    """``(True, value)`` at ``path`` of ``values``, or ``(False, None)``."""
    node = values
    for part in path:
        in_mapping = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            node = node[part]
        else:
            return False, None
    return True, node


class _LayerOrder:
    """Position of an origin's layer in the stack, so steps recorded at different paths sort together."""

    def __init__(self, layers: list):
        self.rank = {}
        for index, layer in enumerate(layers):
            self.rank.setdefault((layer.kind, layer.name, layer.file), index)
            for note in (layer.notes or {}).values():
                self.rank.setdefault((layer.kind, note, layer.file), index)

    def __call__(self, origin) -> int:
        if origin is None:
            return -1
        return self.rank.get((origin.layer, origin.name, origin.file), len(self.rank))


def explain_values(merged, prefix: tuple = ()) -> list:
    """Every :class:`Leaf` of ``merged`` at or below ``prefix``, with its history in layer order.

    The history holds the settings of the leaf itself, the deletions and
    scalar replacements of the paths above it, and the settings of paths below
    it that an earlier layer wrote before the leaf replaced them.
    """
    from renderer.stages.layers import DELETED

    provenance = merged.provenance
    order = _LayerOrder(merged.layers)
    found, node = value_at(merged.values, prefix)
    paths = leaf_paths(node, prefix) if found else []
    leaves = {p: Leaf(p, value_at(merged.values, p)[1]) for p in paths}
    if not leaves and any(_within(p, prefix) or _within(prefix, p) for p in provenance.history if prefix):
        # not in the result (deleted, or replaced by something else): explain what was written there
        leaves[prefix] = Leaf(prefix, None, present=False)
    sequence = 0
    collected: dict = {p: [] for p in leaves}
    for recorded, settings in provenance.history.items():
        owner = _owner(recorded, leaves)
        for setting in settings:
            sequence += 1
            deleted = setting.value is DELETED
            if owner is not None:
                collected[owner].append((order(setting.origin), sequence, recorded, setting, deleted))
            else:
                # a path above leaves: only deletions and scalar replacements say something about them
                if not deleted and isinstance(setting.value, (dict, list)):
                    continue
                for leaf in leaves:
                    if _within(leaf, recorded) and leaf != recorded:
                        collected[leaf].append((order(setting.origin), sequence, recorded, setting, deleted))
    for path, leaf in leaves.items():
        steps = sorted(collected[path], key=lambda t: (t[0], t[1]))
        leaf.history = [Step(recorded, None if deleted else setting.value, setting.origin, deleted)
                        for _, _, recorded, setting, deleted in steps]
    return [leaves[p] for p in leaves]


def _within(path: tuple, prefix: tuple) -> bool:
    return path[: len(prefix)] == prefix


def _owner(recorded: tuple, leaves: dict):
    """The leaf at or above ``recorded`` (``None`` when ``recorded`` sits above every leaf)."""
    probe = recorded
    while True:
        if probe in leaves:
            return probe
        if not probe:
            return None
        probe = probe[:-1]


def values_path(text: str) -> tuple:
    """A values path as ``--set`` takes it; ``spec.``/``metadata.labels.`` manifest paths are accepted too, and
    paths into an object beside the bus as reports print them (``PodDisruptionBudget.spec.maxUnavailable``)."""
    from renderer.stages import companions

    path = parse_path(text, what="PATH")
    if path[:1] in (("spec",), ("metadata",)) or path[0] in companions.KINDS:
        mapped = companions.values_path(path)
        if not mapped:
            raise InputError(f"{text!r} is not set from the values",
                             hint="explain values paths (jetstream.replicas) or spec.* and metadata.labels.* paths, "
                                  "or PodDisruptionBudget.spec.* (the budget's selector, name and namespace are the "
                                  "renderer's)")
        path = mapped
    return path


def build(app_dir, profile, overlays, sets, set_strings, environment):
    """Load and merge an app's layers as ``render`` does: ``(app, profiles, overlays, merged, environment)``.

    ``environment`` is the one rendered: the one asked for or the app file's ``defaultEnvironment``.
    """
    from renderer.commands.common import build_request
    from renderer.stages import layers, sources
    from renderer.stages.stack import choose_environment, collect_layers, select_environment

    app = sources.load_app(app_dir)
    environment = choose_environment(app, environment)
    request = build_request(app_dir, profile, overlays, sets, set_strings, environment)
    env = select_environment(app, environment)
    profiles, overlay_list, stack = collect_layers(app, request, env)
    return app, profiles, overlay_list, layers.merge_layers(stack), environment


def _show(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _profile_names(profiles: list) -> list:
    """The chain's names; each with its place where one name appears twice (a profile extending the one it
    shadows: ``prod-eu (repository layer) -> prod-eu (app)``)."""
    names = [p.name for p in profiles]
    if len(set(names)) == len(names):
        return names
    return [f"{p.name} ({p.place.label})" for p in profiles]


def format_text(leaves: list, header: list) -> str:
    """The report: header lines, then one block per leaf."""
    out = list(header)
    for leaf in leaves:
        shown = _show(leaf.value) if leaf.present else "(not set)"
        out.append("")
        out.append(f"{format_path(leaf.path)} = {shown}")
        steps = leaf.history
        if not steps:
            out.append("    set by   (no layer recorded it)")
            continue
        final, earlier = (steps[-1], steps[:-1]) if leaf.present else (None, steps)
        if final is not None:
            out.append(f"    set by   {_where(final.origin)}{_sub(final, leaf)}")
        for step in earlier:
            value = "<deleted>" if step.deleted else _show(step.value)
            verb = "deleted " if step.deleted else "overrode" if leaf.present else "was     "
            text = "" if step.deleted else value + "  "
            out.append(f"    {verb} {text}{_where(step.origin)}{_sub(step, leaf)}")
    return "\n".join(out) + "\n"


def _where(origin) -> str:
    if origin is None:
        return "unknown origin"
    return f"{origin.layer} {origin.name} ({origin.where if origin.line is None else _line(origin)})"


def _line(origin) -> str:
    return f"{origin.file}:{origin.line}" + (f":{origin.column}" if origin.column else "")


def _sub(step: Step, leaf: Leaf) -> str:
    return f"  [at {format_path(step.path) or '<root>'}]" if step.path != leaf.path else ""


@click.command("explain")
@layer_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@click.argument("path", required=False, metavar="[PATH]")
def explain_command(app_dir, profile, overlays, sets, set_strings, environment, fmt, path):
    """Show where each merged value came from: final value, layer, file:line, and what it overrode.

    PATH limits the report to one value or subtree, e.g. jetstream.persistence
    (spec.jetstream.persistence works too).
    """
    prefix = values_path(path) if path else ()
    app, profiles, overlay_list, merged, environment = build(app_dir, profile, overlays, sets, set_strings,
                                                            environment)
    leaves = explain_values(merged, prefix)
    if not leaves:
        known = [format_path(p) for p in leaf_paths(merged.values)]
        close = closest(path, known, n=3, cutoff=0.5)
        if "affinity" in prefix:
            hint = "anti-affinity terms the app does not write come from 'spread': explain spread"
        elif close:
            hint = f"did you mean {', '.join(close)}?"
        else:
            hint = "run explain without PATH to list every value"
        raise InputError(f"no value at {path!r}", hint=hint)
    layers = [{"kind": layer.kind, "name": layer.name, "file": layer.file} for layer in merged.layers]
    if fmt == "json":
        doc = {"app": str(app_dir), "environment": environment, "backend": app.backend,
               "profiles": [p.name for p in profiles], "overlays": [o.name for o in overlay_list],
               "layers": layers, "values": [leaf.as_dict() for leaf in leaves]}
        emit_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return
    header = [f"app {app_dir}" + (f", environment {environment}" if environment else "")
              + f": backend {app.backend}, profile {' -> '.join(_profile_names(profiles))}"
              + (f", overlays {', '.join(o.name for o in overlay_list)}" if overlay_list else ""),
              "layers, lowest first:"]
    header += [f"  {index}. {layer['kind']} {layer['name']} ({layer['file']})"
               for index, layer in enumerate(layers, 1)]
    emit_text(format_text(leaves, header))
