"""Go durations (``time.ParseDuration``): "72h", "1m30s", "-1.5h", "0".

The grammar and limits are Go's: a sequence of decimal numbers, each with a
unit (ns, us or µs, ms, s, m, h), an optional sign, and a total that fits in
an int64 of nanoseconds. There is no day unit.
"""

from __future__ import annotations

__all__ = ["duration_fix", "duration_ns", "is_duration", "parse_duration"]

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


def duration_ns(s: str) -> int:
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
        return duration_ns(s)
    except ValueError as err:
        raise ValueError(f"invalid duration {s!r}: {err}") from None


def is_duration(s) -> bool:
    """True if Go's ``time.ParseDuration`` accepts ``s`` ("72h", "1m30s", "-1.5h", "0")."""
    if not isinstance(s, str):
        return False
    try:
        duration_ns(s)
    except ValueError:
        return False
    return True


def duration_fix(text: str) -> str:
    """How to write ``text``, which Go could not parse, as a Go duration: days as hours where it has days."""
    import re

    days = re.fullmatch(r"\s*([0-9]+)\s*d(?:ays?)?\s*((?:[0-9]+\s*h)?)\s*", text)
    if days:
        hours = int(days.group(1)) * 24 + int((days.group(2) or "0h").rstrip("h ") or 0)
        return f"Go durations have no day unit: write {text.strip()!r} as '{hours}h'"
    if "d" in text:
        return "Go durations have no day unit: write days as hours, e.g. '24h'"
    return "use numbers with units ns, us, ms, s, m or h, e.g. '72h' or '1m30s'"
