"""Structural checks of what users write for the guards: a profile's ``guards`` block and an app's ``waivers``.

Types, required and known keys, known rule ids, levels, parameter types and
the expiry date format are checked by the one schema source of the files
users write (:func:`renderer.stages.userfiles.check`); :func:`structural_errors`
turns its problems into :class:`InputError` s located at file:line. What the
blocks mean (merging a profile chain, a built-in's floor, matching and
expiring waivers) is decided by :mod:`.configuration` and :mod:`.waivers` on
blocks that passed these checks.
"""

from __future__ import annotations

import re

from renderer.errors import InputError
from renderer.stages import userfiles
from renderer.stages.guards.registry import RULES

_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
"""The only form :func:`expiry_date` reads (``date.fromisoformat`` alone takes others too)."""


def structural_errors(doc, block: str, data) -> list[InputError]:
    """Every structural mistake of ``data``, the ``guards`` block of a profile or the ``waivers`` list of an
    app file (``block`` says which) read from ``doc``, as :class:`InputError` s located at file:line."""
    if block == "guards":
        return _guards_errors(doc, data or {})
    if block == "waivers":
        return _waivers_errors(doc, data or [])
    raise ValueError(f"no structural checks for {block!r}")


def setting_level(value):
    """A ``level`` as read: YAML 1.1 reads an unquoted ``off`` as false."""
    return "off" if value is False else value


def _guards_errors(doc, guards: dict) -> list[InputError]:
    problems = userfiles.check("guards", guards, RULES, ("guards",))
    return [doc.error(p.path, _guard_message(p), hint=p.fix or None) for p in problems]


def _guard_message(problem) -> str:
    """Problems inside one guard's settings name the guard: ``guard 'persistence': minVolumeSize: ...``."""
    path = problem.path
    if problem.message.startswith("guard "):
        return problem.message
    if len(path) >= 3:
        return f"guard {path[1]!r}: {path[2]}: {problem.message}"
    if len(path) == 2 and not problem.message.startswith("unknown guard"):
        return f"guard {path[1]!r}: {problem.message}"
    return problem.message


def _waivers_errors(doc, waivers: list) -> list[InputError]:
    if not isinstance(waivers, list):
        problems = userfiles.check("app", {"backend": "jetstream", "waivers": waivers}, RULES)
    else:
        problems = [p for index, entry in enumerate(waivers)
                    for p in userfiles.check("waiver", entry, RULES, ("waivers", index))]
    return [doc.error(p.path, p.message, hint=p.fix or None) for p in problems]


def expiry_date(value):
    """The :class:`datetime.date` an ``expires`` value names, or None when it names none."""
    if not (isinstance(value, str) and re.fullmatch(_ISO_DATE, value)):
        return None
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
