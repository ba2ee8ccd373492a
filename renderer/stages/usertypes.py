"""The node types :mod:`renderer.stages.userfiles` adds to the validator for the files users write.

- ``text``: a string the whole of which a regex matches;
- ``keyed``: a map whose keys are checked too;
- ``nullable``: ``null`` or a node;
- ``choice``: one of a few YAML scalars of any type, compared with their type;
- ``all``: every one of several nodes holds (the first that does not says why).

:mod:`renderer.stages.userfiles` documents them and is the one place that declares nodes of them.
"""

from __future__ import annotations

import re

from renderer.stages.validate import SchemaProblem, register, validate
from renderer.suggest import closest

_STRING = {"type": "string"}
MAPPING = {"type": "map", "values": {"type": "any"}}


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        from renderer.credentials import clip

        return f"'{clip(value, 40)}'"
    return str(value)


def _check_text(value, node, path, out):
    if not isinstance(value, str):
        out.extend(validate(value, _STRING, path))
    elif re.fullmatch(node["pattern"], value) is None:
        out.append(SchemaProblem(path, f"{_show(value)} is not {node['what']}", node.get("fix", "")))


def _check_keyed(value, node, path, out):
    if not isinstance(value, dict):
        out.extend(validate(value, MAPPING, path))
        return
    for key, child in value.items():
        # a bad key is the entry's problem: its value is not looked at
        out.extend(validate(key, node["keys"], path + (key,)) or validate(child, node["values"], path + (key,)))


def _check_nullable(value, node, path, out):
    if value is not None:
        out.extend(validate(value, node["node"], path))


def _typed(value) -> tuple:
    """A scalar with its type, so that ``false`` is not ``0``; lists and mappings are never a choice."""
    return (type(value), value) if isinstance(value, (str, int, float, type(None))) else (type(value), None)


def _check_choice(value, node, path, out):
    enum = node["enum"]
    if _typed(value) in {_typed(choice) for choice in enum}:
        return
    shown = node.get("names") or [_show(choice).strip("'") for choice in enum]
    close = closest(value, shown) if isinstance(value, str) else []
    fix = node.get("fix") or (f"use '{close[0]}'" if close else "use one of " + ", ".join(shown))
    message = node.get("message") or f"{_show(value)} is not one of " + ", ".join(shown)
    out.append(SchemaProblem(path, message, fix))


def _check_all(value, node, path, out):
    for sub in node["nodes"]:
        problems = validate(value, sub, path)
        if problems:
            out.extend(problems)
            return


def register_all() -> None:
    """Register the five node types with the validator (once per process; again is harmless)."""
    register("text", _check_text)
    register("keyed", _check_keyed)
    register("nullable", _check_nullable)
    register("choice", _check_choice)
    register("all", _check_all)
