"""The comparison: which objects differ between two rendered trees, and how, value by value.

Objects are matched by environment, namespace and name, so moving an app
directory changes nothing; an object that its app renders under another name
or namespace is a rename. Two versions of an object are compared as the
objects the render produced (never by reading their text back): the leaves
that differ (:func:`leaf_changes`), what the webhook makes of the update
(:mod:`renderer.commands.diff.webhook`), and a unified diff of their text.
"""

from __future__ import annotations

import difflib
import json

from renderer.commands.diff.model import Comparison, Delta, EnvironmentChange, ObjectChange
from renderer.commands.diff.webhook import notices
from renderer.paths import format_path

JSON_TEXT = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
"""A value as JSON text: two values equal in Python (``1`` and ``true``) differ here."""
MISSING = object()
"""Stands for the value of a path that one side lacks."""


def path_key(path: tuple) -> tuple:
    """Sort key of a path: list indexes in number order, before keys."""
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in path)


def flatten(value, path: tuple, out: dict) -> dict:
    """Every leaf of ``value`` below ``path`` into ``out`` (an empty mapping or list is a leaf)."""
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            flatten(sub, path + (key,), out)
    elif isinstance(value, list) and value:
        for index, sub in enumerate(value):
            flatten(sub, path + (index,), out)
    else:
        out[path] = value
    return out


def differing(a, b, path: tuple, before: dict, after: dict) -> None:
    """Flatten into ``before``/``after`` the leaves of ``a`` and ``b`` below ``path``, skipping the mappings
    and lists that are the same on both sides: what :func:`flatten` of each would give, less what is equal.

    Equal means equal as JSON text too, so a ``1`` that became ``true`` (equal in Python) is still seen.
    """
    if a.__class__ is b.__class__ and (a.__class__ is dict or a.__class__ is list) and a \
            and b and len(a) == len(b) and a == b and JSON_TEXT(a) == JSON_TEXT(b):
        return
    if a.__class__ is dict and b.__class__ is dict and a and b:
        for key in a:
            if key in b:
                differing(a[key], b[key], path + (key,), before, after)
            else:
                flatten(a[key], path + (key,), before)
        for key in b:
            if key not in a:
                flatten(b[key], path + (key,), after)
        return
    if a.__class__ is list and b.__class__ is list and a and b:
        for index in range(max(len(a), len(b))):
            sub = path + (index,)
            if index >= len(a):
                flatten(b[index], sub, after)
            elif index >= len(b):
                flatten(a[index], sub, before)
            else:
                differing(a[index], b[index], sub, before, after)
        return
    flatten(a, path, before)
    flatten(b, path, after)


def leaf_paths(old: dict | None, new: dict | None) -> list:
    """``(path, base value, head value)`` for every leaf that differs (:data:`MISSING` where a side lacks it).

    Leaves are compared by value and type (``1`` is not ``true``); mappings
    and lists equal on both sides are not walked (see :func:`differing`).
    """
    before: dict = {}
    after: dict = {}
    if old is None or new is None:
        if old is not None:
            flatten(old, (), before)
        if new is not None:
            flatten(new, (), after)
    else:
        differing(old, new, (), before, after)
    found = []
    for path in sorted(set(before) | set(after), key=path_key):
        a, b = before.get(path, MISSING), after.get(path, MISSING)
        if a is MISSING or b is MISSING or a != b or type(a) is not type(b):
            found.append((path, a, b))
    return found


def leaf_changes(old: dict | None, new: dict | None, origin_of=None) -> list:
    """``[{path, base, head, origin}]`` for every leaf that differs (``None`` where a side lacks it).

    ``origin_of(path)`` gives the ``Origin.as_dict()`` of the head value at a
    path (``None`` for a value the renderer computes); without it every
    origin is ``None``.
    """
    return [{"path": format_path(path), "base": None if a is MISSING else a, "head": None if b is MISSING else b,
             "origin": origin_of(path) if origin_of is not None else None}
            for path, a, b in leaf_paths(old, new)]


def unified(base, head, context: int) -> str:
    """The unified diff of two entries' texts (``/dev/null`` for a missing side)."""
    lines = difflib.unified_diff(base.text.splitlines(keepends=True) if base else [],
                                 head.text.splitlines(keepends=True) if head else [],
                                 fromfile=f"a/{base.file}" if base else "/dev/null",
                                 tofile=f"b/{head.file}" if head else "/dev/null", n=context)
    return "".join(lines)


def finding_key(finding: dict) -> tuple:
    """What identifies a guard finding across the sides."""
    return (finding.get("rule", ""), finding.get("path", ""), finding.get("level", ""),
            finding.get("message", ""), bool(finding.get("waived", False)))


def guard_changes(base, head) -> tuple[list, list]:
    """The guard findings of two entries (either may be ``None``) that appeared and that disappeared."""
    before = {finding_key(f): dict(f) for f in (base.findings if base else ())}
    after = {finding_key(f): dict(f) for f in (head.findings if head else ())}
    appeared = [after[k] for k in sorted(after) if k not in before]
    disappeared = [before[k] for k in sorted(before) if k not in after]
    return appeared, disappeared


def delta(base, head, context: int, origin_of=None) -> Delta:
    """What differs between two :class:`~renderer.commands.diff.model.Version` objects with their manifests."""
    return Delta(base.entry.key, head.entry.key, base.entry.file, head.entry.file,
                 tuple(leaf_changes(base.manifest, head.manifest, origin_of)), tuple(notices(base, head)),
                 unified(base.entry, head.entry, context))


def compare(base_versions: list, head_versions: list, *, base_label: str = "base", head_label: str = "head",
            context: int = 3, deltas: dict | None = None) -> Comparison:
    """Compare two rendered trees (lists of :class:`~renderer.commands.diff.model.Version`).

    ``deltas`` maps ``(environment, app, kind)`` to the :class:`Delta` worked out
    while both sides of that app were rendered; a changed object without one
    is compared here, from the manifests and origins its versions carry.
    """
    deltas = deltas or {}
    base_by_env: dict = {}
    head_by_env: dict = {}
    for version in base_versions:
        base_by_env.setdefault(version.entry.environment, {})[version.entry.key[1:]] = version
    for version in head_versions:
        head_by_env.setdefault(version.entry.environment, {})[version.entry.key[1:]] = version
    comparison = Comparison(base_label, head_label)
    for env in sorted(set(base_by_env) | set(head_by_env)):
        before, after = base_by_env.get(env, {}), head_by_env.get(env, {})
        status = "added" if env not in base_by_env else "removed" if env not in head_by_env else "unchanged"
        result = EnvironmentChange(env, status)
        removed = [before[k] for k in sorted(before) if k not in after]
        added = [after[k] for k in sorted(after) if k not in before]
        # an app whose object disappears under one name and appears under another renamed it
        added_by_app = {(v.entry.app, v.entry.kind): v for v in added}
        for old in list(removed):
            new = added_by_app.pop((old.entry.app, old.entry.kind), None)
            if new is not None:
                removed.remove(old)
                added.remove(new)
                result.objects.append(object_change(env, "renamed", old, new, context, deltas))
        for key in sorted(set(before) & set(after)):
            old, new = before[key], after[key]
            if old.entry.text != new.entry.text:
                result.objects.append(object_change(env, "changed", old, new, context, deltas))
            elif guard_changes(old.entry, new.entry) != ([], []):
                result.objects.append(object_change(env, "guards", old, new, context, deltas))
            else:
                result.unchanged += 1
        result.objects.extend(object_change(env, "removed", old, None, context, deltas) for old in removed)
        result.objects.extend(object_change(env, "added", None, new, context, deltas) for new in added)
        result.objects.sort(key=lambda o: (o.entry.namespace, o.entry.kind, o.entry.name, o.status))
        if result.objects and status == "unchanged":
            result.status = "changed"
        comparison.environments.append(result)
    return comparison


def object_change(env: str, status: str, old, new, context: int, deltas: dict) -> ObjectChange:
    """The :class:`ObjectChange` of versions ``old`` and ``new`` (either may be ``None``)."""
    base, head = old.entry if old else None, new.entry if new else None
    change = ObjectChange(env, status, base, head)
    change.appeared, change.disappeared = guard_changes(base, head)
    if status == "guards":
        return change
    if status in ("added", "removed"):
        change.diff = unified(base, head, context)
        return change
    found = deltas.get((env, head.app, head.kind))
    if found is None or not found.matches(base, head):
        origins = new.origins or {}
        found = delta(old, new, context, origins.get)
    change.diff = found.diff
    change.changes = [dict(item) for item in found.changes]
    change.notices = list(found.notices)
    return change
