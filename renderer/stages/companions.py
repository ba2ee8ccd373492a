"""The objects a render produces beside the EventBus, and paths that reach into them.

A render produces the EventBus and, after it, its companions: today the
PodDisruptionBudget of a bus whose pods Argo Events runs
(:mod:`renderer.stages.disruption`). Everything that differs between the
kinds is here, so commands handle a render's objects as a list:

- :func:`build`: the companions of one bus, in order;
- a *render path* names a value in any of them: an EventBus path as it
  always was (``spec.jetstream.replicas``), a companion's path after its kind
  (``PodDisruptionBudget.spec.maxUnavailable``). Guard findings, waivers,
  ``explain`` and ``diff`` use them; :func:`values_path` maps one to the
  values that feed it, :func:`lookup` reads it.
"""

from __future__ import annotations

from renderer.paths import lookup as lookup_path
from renderer.paths import manifest_to_values
from renderer.stages import disruption

EVENTBUS = "EventBus"
KINDS = (disruption.KIND,)
"""Kinds of the companions, in the order they follow the EventBus."""
_VALUES_PATHS = {disruption.KIND: disruption.values_path}
_PROBLEMS = {disruption.KIND: disruption.problems}


def build(name: str, namespace: str, backend: str, values: dict, labels: dict, annotations: dict) -> list:
    """The companions of EventBus ``name`` (manifests, in :data:`KINDS` order); each is the renderer's own object."""
    found = disruption.budget(name, namespace, backend, values, labels, annotations)
    return [found] if found is not None else []


def problems(companions: list) -> list:
    """Every problem of ``companions`` as rendered (``SchemaProblem`` s whose paths are render paths)."""
    from dataclasses import replace

    return [replace(problem, path=(manifest["kind"],) + problem.path)
            for manifest in companions for problem in _PROBLEMS[manifest["kind"]](manifest)]


def split(path: tuple) -> tuple:
    """``(kind, path inside that object)`` of a render path."""
    path = tuple(path)
    if path[:1] and path[0] in KINDS:
        return path[0], path[1:]
    return EVENTBUS, path


def values_path(path: tuple, section: tuple = ()) -> tuple:
    """The values path that feeds a render path (``()`` for what the renderer computes)."""
    kind, inner = split(path)
    if kind == EVENTBUS:
        return manifest_to_values(inner, section)
    return _VALUES_PATHS[kind](inner)


def of_kind(objects: list, kind: str) -> dict | None:
    """The manifest of ``kind`` among ``objects`` (manifests), or None."""
    for manifest in objects:
        if manifest.get("kind") == kind:
            return manifest
    return None


def lookup(manifest: dict, companions: list, path: tuple, default=None):
    """The value at a render path, in the EventBus ``manifest`` or one of its ``companions``; ``default`` when
    there is none there (or no object of that kind)."""
    kind, inner = split(path)
    node = manifest if kind == EVENTBUS else of_kind(companions, kind)
    return default if node is None else lookup_path(node, inner, default)
