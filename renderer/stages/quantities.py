"""Kubernetes quantities (``resource.Quantity``): the grammar and exact values.

The grammar is that of k8s.io/apimachinery's ``ParseQuantity``: a signed
decimal number with a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix
(n u m k M G T P E) or an exponent (``1e3``). Values are exact fractions, so
``"50Gi" > "20000Mi"`` compares right.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from renderer import context

__all__ = ["is_quantity", "match_quantity", "parse_quantity"]

# "n" and "u" are not in upstream's written grammar but ParseQuantity accepts them.
_QUANTITY_RE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE])|[eE]([+-]?[0-9]+))?")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_INT32 = (-(2**31), 2**31 - 1)
_QUANTITY_MAX = Fraction(2**63 - 1)
_NANO = Fraction(1, 10**9)


def match_quantity(s: str):
    """The match of ``s`` against the quantity grammar, or ``None`` when ``s`` is not a quantity."""
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
    return isinstance(s, str) and match_quantity(s) is not None


def parse_quantity(s) -> Fraction:
    """Exact value of a Kubernetes quantity (strings remembered for the current run: sizes recur).

    Mirrors ParseQuantity: a non-zero magnitude is rounded up to a whole nano unit
    and capped at 2**63-1. Raises ValueError on anything outside the grammar.
    """
    if s.__class__ is str:
        seen = context.cache("quantities")
        value = seen.get(s)
        if value is None:
            value = seen[s] = _parse_quantity(s)
        return value
    return _parse_quantity(s)


def _parse_quantity(s) -> Fraction:
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
    m = match_quantity(s)
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
