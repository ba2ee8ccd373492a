"""Fast, strict validation of plain data against the schema in :mod:`renderer.stages.spec`.

Pure Python and dependency-free: it walks the data once and collects every
problem, so a user fixes a whole file in one round instead of one error at a time.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from renderer.records import FrozenRecord

from . import spec

__all__ = [
    "SchemaProblem",
    "validate",
    "validate_eventbus",
    "register",
    "node_at",
    "format_path",
    "is_quantity",
    "parse_quantity",
    "is_duration",
    "parse_duration",
]


class SchemaProblem(FrozenRecord):
    """One schema violation: where (key path), what (one sentence) and how to fix it."""

    _fields = ("path", "message", "fix")

    def __init__(self, path: tuple, message: str, fix: str = ""):
        self._set_fields(path, message, fix)

    def __str__(self) -> str:
        return f"{format_path(self.path) or '<root>'}: {self.message}"


def format_path(path) -> str:
    """Render a key path for people: ``spec.jetstream.tolerations[0].effect``.

    Keys that are not plain identifiers (label keys such as ``app.kubernetes.io/name``)
    are bracketed so the dots inside them are not mistaken for nesting.
    """
    out = []
    for seg in path:
        if isinstance(seg, int) and not isinstance(seg, bool):
            out.append(f"[{seg}]")
        elif isinstance(seg, str) and seg and all(c.isalnum() or c in "_-" for c in seg):
            out.append(("." if out else "") + seg)
        else:
            out.append(f'["{seg}"]')
    return "".join(out)


# --- quantities ---------------------------------------------------------------

# The grammar of k8s.io/apimachinery resource.Quantity. "n" and "u" are not in
# upstream's written grammar but ParseQuantity accepts them.
_QUANTITY_RE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE])|[eE]([+-]?[0-9]+))?")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_INT32 = (-(2**31), 2**31 - 1)
_QUANTITY_MAX = Fraction(2**63 - 1)
_NANO = Fraction(1, 10**9)


def _match_quantity(s: str):
    m = _QUANTITY_RE.fullmatch(s)
    # The regex allows an empty number (so one pattern covers "1.", ".5" and "1"):
    # reject the case with no digit at all here.
    if m is None or not (m.group(2) or m.group(3)):
        return None
    exp = m.group(6)
    # ParseQuantity reads the exponent as an int32.
    if exp is not None and not _INT32[0] <= int(exp) <= _INT32[1]:
        return None
    return m


def is_quantity(s) -> bool:
    """True if ``s`` is a valid Kubernetes quantity: a string in its grammar or a number."""
    if isinstance(s, bool):
        return False
    if isinstance(s, int):
        return True
    if isinstance(s, float):
        return math.isfinite(s)
    return isinstance(s, str) and _match_quantity(s) is not None


_QUANTITIES: dict = {}


def parse_quantity(s) -> Fraction:
    """Exact value of a Kubernetes quantity (memoised for strings: the same sizes recur everywhere).

    See :func:`_parse_quantity`.
    """
    if s.__class__ is str:
        value = _QUANTITIES.get(s)
        if value is None:
            value = _parse_quantity(s)
            if len(_QUANTITIES) < 4096:
                _QUANTITIES[s] = value
        return value
    return _parse_quantity(s)


def _parse_quantity(s) -> Fraction:
    """Exact value of a Kubernetes quantity, so ``"50Gi" > "20000Mi"`` compares right.

    Mirrors ParseQuantity: a non-zero magnitude is rounded up to a whole nano unit
    and capped at 2**63-1. Raises ValueError on anything outside the grammar.
    """
    if isinstance(s, bool):
        raise ValueError(f"not a quantity: {s!r}")
    if isinstance(s, int):
        return _quantity_bounds(Fraction(s))
    if isinstance(s, float):
        if not math.isfinite(s):
            raise ValueError(f"not a quantity: {s!r}")
        # Kubernetes parses the number's text, so 0.1 means exactly 1/10, not
        # the nearest binary float: repr gives that shortest text back.
        s = repr(s)
    if not isinstance(s, str):
        raise ValueError(f"not a quantity: {s!r}")
    m = _match_quantity(s)
    if m is None:
        raise ValueError(f"not a valid Kubernetes quantity: {s!r}")
    sign, whole, frac, binary, decimal, exp = m.groups()
    digits = (whole or "") + (frac or "")
    mantissa = int(digits or "0")
    if mantissa == 0:
        return Fraction(0)
    # value = mantissa * 10**(power10 - len(frac)) * 2**power2
    power10 = -len(frac or "")
    power2 = 0
    if binary:
        power2 = _BINARY[binary]
    elif decimal:
        power10 += _DECIMAL[decimal]
    elif exp is not None:
        power10 += int(exp)
    # An int32 exponent could ask for 10**2_000_000_000: settle the extremes
    # without building such numbers.
    if power10 > len(digits) + 40:
        magnitude = _QUANTITY_MAX
    elif power10 < -(len(digits) + 40):
        magnitude = _NANO
    else:
        magnitude = Fraction(mantissa) * Fraction(10) ** power10 * 2**power2
    return _quantity_bounds(-magnitude if sign == "-" else magnitude)


def _quantity_bounds(value: Fraction) -> Fraction:
    magnitude = abs(value)
    if magnitude == 0:
        return Fraction(0)
    nanos = math.ceil(magnitude / _NANO)
    magnitude = min(nanos * _NANO, _QUANTITY_MAX)
    return -magnitude if value < 0 else magnitude


# --- durations ----------------------------------------------------------------

_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_DIGITS = "0123456789"


def _duration_ns(s: str) -> int:
    """Go's time.ParseDuration on ``s``; raises ValueError with the reason alone."""
    neg = False
    if s and s[0] in "+-":
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError("no number")
    limit = 1 << 63
    total = 0
    while s:
        # A number: [0-9]*(\.[0-9]*)? with at least one digit.
        i = 0
        while i < len(s) and s[i] in _DIGITS:
            i += 1
        whole, s = s[:i], s[i:]
        frac = ""
        if s and s[0] == ".":
            j = 1
            while j < len(s) and s[j] in _DIGITS:
                j += 1
            frac, s = s[1:j], s[j:]
        if not whole and not frac:
            raise ValueError("a number is missing")
        # A unit: everything up to the next digit or dot.
        j = 0
        while j < len(s) and s[j] not in _DIGITS and s[j] != ".":
            j += 1
        unit_name, s = s[:j], s[j:]
        if not unit_name:
            raise ValueError("missing unit")
        unit = _UNIT_NS.get(unit_name)
        if unit is None:
            raise ValueError(f"unknown unit '{unit_name}'")
        whole = whole.lstrip("0")
        if len(whole) > 19:  # beyond 2**63 already; spares int() a huge string
            raise ValueError("out of range")
        value = int(whole or "0")
        if value > limit // unit:
            raise ValueError("out of range")
        value *= unit
        if frac:
            # Go keeps the fraction as an integer plus a float scale, stops at
            # the first digit that would overflow, and adds it through float64.
            f, scale = 0, 1.0
            for c in frac:
                y = f * 10 + ord(c) - 48
                if f > (limit - 1) // 10 or y > limit:
                    break
                f, scale = y, scale * 10
            if f:
                value += int(float(f) * (unit / scale))
                if value > limit:
                    raise ValueError("out of range")
        total += value
        if total > limit:
            raise ValueError("out of range")
    if neg:
        return -total
    if total > limit - 1:
        raise ValueError("out of range")
    return total


def parse_duration(s: str) -> int:
    """Nanoseconds of a Go duration string, with ``time.ParseDuration``'s grammar and limits.

    Raises ValueError where Go returns an error: "", "1d", "h", ".s", overflow, ...
    """
    if not isinstance(s, str):
        raise ValueError(f"not a duration: {s!r}")
    try:
        return _duration_ns(s)
    except ValueError as err:
        raise ValueError(f"invalid duration {s!r}: {err}") from None


def is_duration(s) -> bool:
    """True if Go's ``time.ParseDuration`` accepts ``s`` ("72h", "1m30s", "-1.5h", "0")."""
    if not isinstance(s, str):
        return False
    try:
        _duration_ns(s)
    except ValueError:
        return False
    return True


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
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string '{shown}'"
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


def _closest(word: str, choices) -> str | None:
    lowered = word.lower()
    for choice in choices:
        if choice.lower() == lowered:
            return choice
    import difflib  # only paid for when there is a mistake to explain

    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


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
    guess = _closest(key, fields)
    if guess is not None:
        return SchemaProblem(path, f"unknown field '{key}' (did you mean '{guess}'?)", f"rename it to '{guess}'")
    return SchemaProblem(path, f"unknown field '{key}'", "remove it; allowed here: " + ", ".join(fields))


def _check_object(value, node, path, out):
    if not isinstance(value, dict):
        out.append(_type_problem("object", value, path))
        return
    # Missing fields belong to the object itself, so they come before its children.
    for name in node.get("required", ()):
        if name not in value:
            out.append(SchemaProblem(path, f"missing required field '{name}'", f"add '{name}'"))
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
        guess = _closest(value, enum) if value else None
        fix = f"use '{guess}'" if guess else "use one of " + ", ".join(enum)
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


def _check_quantity(value, node, path, out):
    if isinstance(value, str):
        if _match_quantity(value) is None:
            fix = "write a number with an optional suffix: Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or an exponent like 1e3"
            for tail in ("iB", "B"):
                head = value[: -len(tail)]
                if value.endswith(tail) and head and _match_quantity(head) is not None:
                    fix = f"drop the '{tail}': '{head}'" + (f" (or '{head}i' for powers of 1024)" if tail == "B" else "")
                    break
            out.append(SchemaProblem(path, f"'{value}' is not a valid Kubernetes quantity", fix))
    elif not is_quantity(value):
        out.append(_type_problem("quantity", value, path))


def _check_duration(value, node, path, out):
    if not isinstance(value, str):
        out.append(_type_problem("duration string", value, path))
        return
    try:
        _duration_ns(value)
    except ValueError as err:
        fix = "use numbers with units ns, us, ms, s, m or h, e.g. '72h' or '1m30s'"
        if "d" in value:
            fix = "Go durations have no day unit: write days as hours, e.g. '24h'"
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


def validate(value, node, path=()) -> list:
    """Every problem of ``value`` against schema ``node``, in document order.

    ``path`` is prefixed to each problem's path, for checking a part of a bigger object.
    Valid data (nearly every render) is recognised by :func:`is_valid` alone; the
    walk that names each problem runs only when there is one.
    """
    if is_valid(value, node):
        return []
    out: list = []
    _CHECKS[node["type"]](value, node, tuple(path), out)
    return out


# --- the fast yes/no check ------------------------------------------------------
#
# Each schema node compiles (once, on first use) into a closure that answers only
# "is this valid?": no paths, no problem objects, no lookups in the schema. It
# accepts exactly what the _check_* functions above accept (a property test
# holds the two to that), so validate() can skip the full walk when it says yes.

_COMPILED: dict = {}


def is_valid(value, node) -> bool:
    """Whether ``value`` has no problem at all against schema ``node``."""
    check = _COMPILED.get(id(node))
    if check is None:
        check = _compile(node)
    return check(value)


def _compile(node):
    key = id(node)
    compiled = _COMPILED.get(key)
    if compiled is not None:
        return compiled
    slot: list = []

    def deferred(value):  # recursive schemas: a node may reach itself
        return slot[0](value)

    _COMPILED[key] = deferred
    compiled = _BUILDERS[node["type"]](node)
    slot.append(compiled)
    # keep the node alive with its closure, so its id is never reused by another node
    _COMPILED[key] = compiled
    _KEEP.append(node)
    return compiled


_KEEP: list = []


def _build_object(node):
    required = tuple(node.get("required", ()))
    fields = {name: _compile(sub) for name, sub in node["fields"].items()}
    get = fields.get

    def check(value):
        if value.__class__ is not dict and not isinstance(value, dict):
            return False
        for name in required:
            if name not in value:
                return False
        for key, child in value.items():
            sub = get(key) if key.__class__ is str else None
            if sub is None or not sub(child):
                return False
        return True
    return check


def _build_map(node):
    sub = _compile(node["values"])

    def check(value):
        if not isinstance(value, dict):
            return False
        for key, child in value.items():
            if not isinstance(key, str) or not sub(child):
                return False
        return True
    return check


def _build_array(node):
    sub = _compile(node["items"])

    def check(value):
        if not isinstance(value, (list, tuple)):
            return False
        for child in value:
            if not sub(child):
                return False
        return True
    return check


def _build_string(node):
    enum = node.get("enum")
    if enum is None:
        return lambda value: isinstance(value, str)
    allowed = frozenset(enum)
    return lambda value: isinstance(value, str) and value in allowed


def _build_integer(node):
    bounds = []
    fmt = node.get("format")
    if fmt is not None:
        bounds.append(_INT_RANGES[fmt])
    low, high = node.get("minimum"), node.get("maximum")
    if low is not None or high is not None:
        bounds.append((low, high))

    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        for low, high in bounds:
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        return True
    return check


def _build_boolean(node):
    return lambda value: isinstance(value, bool)


def _build_quantity(node):
    return lambda value: _match_quantity(value) is not None if isinstance(value, str) else is_quantity(value)


def _build_duration(node):
    return is_duration


def _build_any(node):
    return lambda value: True


_BUILDERS = {
    "object": _build_object,
    "map": _build_map,
    "array": _build_array,
    "string": _build_string,
    "integer": _build_integer,
    "boolean": _build_boolean,
    "quantity": _build_quantity,
    "duration": _build_duration,
    "any": _build_any,
}


def register(kind: str, check, build) -> None:
    """Add a node type defined outside this module (:mod:`renderer.stages.userfiles` adds its own).

    ``check(value, node, path, out)`` appends a :class:`SchemaProblem` per problem;
    ``build(node)`` returns a function that only answers whether a value is valid.
    """
    if kind in _CHECKS and _CHECKS[kind].__module__ == __name__:
        raise ValueError(f"node type {kind!r} is the validator's own")
    _CHECKS[kind] = check
    _BUILDERS[kind] = build


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
        elif kind == "map":
            node = node["values"] if isinstance(seg, str) else None
        elif kind == "array":
            ok = seg == "*" or (isinstance(seg, int) and not isinstance(seg, bool))
            node = node["items"] if ok else None
        elif kind == "any":
            continue
        else:
            return None
        if node is None:
            return None
    return node
