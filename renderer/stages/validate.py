"""Strict validation of plain data against the schema in :mod:`renderer.stages.spec`.

Pure Python and dependency-free: it walks the data once and collects every
problem, so a user fixes a whole file in one round instead of one error at a time.
Quantities and durations are read by :mod:`renderer.stages.quantities` and
:mod:`renderer.stages.durations`; paths print with :func:`renderer.paths.format_path`.
"""

from __future__ import annotations

from dataclasses import dataclass

from renderer.paths import format_path
from renderer.suggest import closest

from . import spec
from .durations import duration_fix, duration_ns, is_duration, parse_duration
from .quantities import is_quantity, match_quantity, parse_quantity

__all__ = [
    "SchemaProblem",
    "validate",
    "validate_eventbus",
    "register",
    "node_at",
    "is_quantity",
    "parse_quantity",
    "is_duration",
    "parse_duration",
]


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One schema violation: where (key path), what (one sentence) and how to fix it."""

    path: tuple
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{format_path(self.path) or '<root>'}: {self.message}"


# --- the walk -----------------------------------------------------------------


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean " + ("true" if value else "false")
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        from renderer.credentials import clip

        return f"string '{clip(value, 40)}'"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _type_problem(expected: str, value, path: tuple) -> SchemaProblem:
    """An "expected X, got Y" problem with a hint for the usual YAML slips."""
    fix = ""
    if value is None:
        fix = "give it a value or remove the key"
    elif expected == "string" and isinstance(value, (bool, int, float)):
        fix = "quote the value so YAML reads it as a string"
    elif expected == "integer" and isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        fix = "remove the quotes"
    elif expected == "integer" and isinstance(value, float) and value.is_integer():
        fix = "write it without a decimal point"
    elif expected == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        fix = "remove the quotes"
    return SchemaProblem(path, f"expected {expected}, got {_describe(value)}", fix)


def _unknown_field(key, node: dict, path: tuple) -> SchemaProblem:
    if not isinstance(key, str):
        return SchemaProblem(path, f"field names must be strings, got {_describe(key)}", "quote the key")
    removed = node.get("removed")
    if removed and key in removed:
        message, fix = removed[key]
        return SchemaProblem(path, message, fix)
    renamed = node.get("renamed")
    if renamed and key in renamed:
        right = renamed[key]
        return SchemaProblem(
            path, f"unknown field '{key}' (the field is called '{right}')", f"rename '{key}' to '{right}'"
        )
    fields = node["fields"]
    noun = node.get("noun", "field")  # what the keys of this object are: a guard, a setting, a waiver key
    guess = closest(key, fields, ignore_case=True)
    if guess:
        return SchemaProblem(path, f"unknown {noun} '{key}' (did you mean '{guess[0]}'?)", f"rename it to '{guess[0]}'")
    return SchemaProblem(path, f"unknown {noun} '{key}'", "remove it; allowed here: " + ", ".join(fields))


def _check_object(value, node, path, out):
    if not isinstance(value, dict):
        out.append(_type_problem("object", value, path))
        return
    # Missing fields belong to the object itself, so they come before its children.
    for name in node.get("required", ()):
        if name not in value:
            out.append(SchemaProblem(path, f"missing required {node.get('noun', 'field')} '{name}'", f"add '{name}'"))
    fields = node["fields"]
    for key, child in value.items():
        sub = fields.get(key) if isinstance(key, str) else None
        if sub is None:
            out.append(_unknown_field(key, node, path + (key,)))
        else:
            _CHECKS[sub["type"]](child, sub, path + (key,), out)


def _check_map(value, node, path, out):
    if not isinstance(value, dict):
        out.append(_type_problem("object", value, path))
        return
    sub = node["values"]
    check = _CHECKS[sub["type"]]
    for key, child in value.items():
        if not isinstance(key, str):
            out.append(SchemaProblem(path + (key,), f"keys must be strings, got {_describe(key)}", "quote the key"))
            continue
        check(child, sub, path + (key,), out)


def _check_array(value, node, path, out):
    if not isinstance(value, (list, tuple)):
        out.append(_type_problem("array", value, path))
        return
    sub = node["items"]
    check = _CHECKS[sub["type"]]
    for i, child in enumerate(value):
        check(child, sub, path + (i,), out)


def _check_string(value, node, path, out):
    if not isinstance(value, str):
        out.append(_type_problem("string", value, path))
        return
    enum = node.get("enum")
    if enum is not None and value not in enum:
        guess = closest(value, enum, ignore_case=True) if value else None
        fix = f"use '{guess[0]}'" if guess else "use one of " + ", ".join(enum)
        out.append(SchemaProblem(path, f"'{value}' is not one of " + ", ".join(enum), fix))


_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}


def _check_integer(value, node, path, out):
    if isinstance(value, bool) or not isinstance(value, int):
        out.append(_type_problem("integer", value, path))
        return
    fmt = node.get("format")
    if fmt is not None:
        low, high = _INT_RANGES[fmt]
        if not low <= value <= high:
            out.append(
                SchemaProblem(path, f"{value} is out of range for {fmt} ({low} to {high})", "use a smaller number")
            )
    low, high = node.get("minimum"), node.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        out.append(SchemaProblem(path, f"{value} is out of range ({low} to {high})",
                                 f"use a number from {low} to {high}"))


def _check_boolean(value, node, path, out):
    if not isinstance(value, bool):
        out.append(_type_problem("boolean", value, path))


_QUANTITY_FIX = "write a number with an optional suffix: Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent like 1e3"


def _check_quantity(value, node, path, out):
    if isinstance(value, str):
        if match_quantity(value) is None:
            fix = _QUANTITY_FIX
            for tail in ("iB", "B"):
                head = value[: -len(tail)]
                if value.endswith(tail) and head and match_quantity(head) is not None:
                    binary = f" (or '{head}i' for powers of 1024)" if tail == "B" else ""
                    fix = f"drop the '{tail}': '{head}'" + binary
                    break
            out.append(SchemaProblem(path, f"'{value}' is not a valid Kubernetes quantity", fix))
    elif not is_quantity(value):
        out.append(_type_problem("quantity", value, path))


def _check_duration(value, node, path, out):
    if not isinstance(value, str):
        out.append(_type_problem("duration string", value, path))
        return
    try:
        duration_ns(value)
    except ValueError as err:
        fix = duration_fix(value)
        out.append(SchemaProblem(path, f"'{value}' is not a valid duration ({err})", fix))


def _check_any(value, node, path, out):
    pass


_CHECKS = {
    "object": _check_object,
    "map": _check_map,
    "array": _check_array,
    "string": _check_string,
    "integer": _check_integer,
    "boolean": _check_boolean,
    "quantity": _check_quantity,
    "duration": _check_duration,
    "any": _check_any,
}


_OWN = frozenset(_CHECKS)


def register(kind: str, check) -> None:
    """Add a node type defined outside this module (the user-file schema adds its own).

    ``check(value, node, path, out)`` appends a :class:`SchemaProblem` to ``out`` per problem.
    """
    if kind in _OWN:
        raise ValueError(f"node type {kind!r} is the validator's own")
    _CHECKS[kind] = check


def validate(value, node, path=()) -> list:
    """Every problem of ``value`` against schema ``node``, in document order.

    ``path`` is prefixed to each problem's path, for checking a part of a bigger object.
    """
    out: list = []
    _CHECKS[node["type"]](value, node, tuple(path), out)
    return out


def validate_eventbus(obj) -> list:
    """Every problem of a whole EventBus object against :data:`renderer.stages.spec.EVENTBUS`."""
    return validate(obj, spec.EVENTBUS)


def node_at(node, path):
    """The schema node at ``path``, or None when the path leaves the schema.

    Object fields take their name, map values any string key, array items an int
    index or ``"*"``. Anything below an ``any`` node is ``any``.
    """
    for seg in path:
        kind = node.get("type")
        if kind == "object":
            node = node["fields"].get(seg) if isinstance(seg, str) else None
        elif kind in ("map", "keyed"):
            node = node["values"] if isinstance(seg, str) else None
        elif kind == "array":
            ok = seg == "*" or (isinstance(seg, int) and not isinstance(seg, bool))
            node = node["items"] if ok else None
        elif kind == "any":
            continue
        elif kind == "nullable":
            node = node_at(node["node"], (seg,))
        else:
            return None
        if node is None:
            return None
    return node
