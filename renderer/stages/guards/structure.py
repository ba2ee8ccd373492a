"""Structural checks of what users write for the guards: a profile's ``guards`` block and an app's ``waivers``.

Types, required and known keys, known rule ids, levels, parameter types and
the expiry date format are checked here and nowhere else, through the one
function :func:`structural_errors`; what the blocks mean (merging a profile
chain, a built-in's floor, matching and expiring waivers) is decided by
:mod:`.configuration` and :mod:`.waivers` on blocks that passed these checks.
The single schema source of the files users write replaces this module.
"""

from __future__ import annotations

import re

from renderer.errors import InputError
from renderer.stages import sources
from renderer.stages.guards.model import LEVELS, RESERVED_KEYS, WAIVER_KEYS, quote
from renderer.stages.guards.registry import RULES

DATE = r"\d{4}-\d{2}-\d{2}"
"""How an expiry date is written: ``YYYY-MM-DD``."""
MANIFEST_PATH = r"(spec|metadata)([.\[]|$)"
"""How a waiver's path starts: it is a path of the manifest, not of the values."""


def structural_errors(doc, block: str, data) -> list[InputError]:
    """Every structural mistake of ``data``, the ``guards`` block of a profile or the ``waivers`` list of an
    app file (``block`` says which) read from ``doc``, as :class:`InputError` s located at file:line."""
    if block == "guards":
        return _guards_errors(doc, data or {})
    if block == "waivers":
        return _waivers_errors(doc, data or [])
    raise ValueError(f"no structural checks for {block!r}")


def closest_hint(word, choices) -> str:
    """``did you mean 'x'?`` for the closest of ``choices``, else the list of them."""
    import difflib

    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(choices)


def setting_level(value):
    """A ``level`` as read: YAML 1.1 reads an unquoted ``off`` as false."""
    return "off" if value is False else value


def _guards_errors(doc, guards: dict) -> list[InputError]:
    errors: list = []
    for rule_id, entry in guards.items():
        module = RULES.get(rule_id)
        if module is None:
            errors.append(doc.error(("guards", rule_id), f"unknown guard {rule_id!r}",
                                    hint=closest_hint(rule_id, RULES)))
            continue
        entry = {} if entry is None else entry
        if not isinstance(entry, dict):
            errors.append(doc.error(("guards", rule_id), f"guard {rule_id!r}: expected a mapping of settings, got "
                                    f"{sources.type_name(entry)}", hint="e.g. {level: error}"))
            continue
        for key, value in entry.items():
            at = ("guards", rule_id, key)
            if key == "level":
                value = setting_level(value)
                problem = None if value in LEVELS else f"expected one of {', '.join(LEVELS)}, got {quote(value)}"
            elif key == "waivable":
                problem = None if isinstance(value, bool) else f"expected true or false, got {quote(value)}"
            elif key in module.PARAMS:
                problem = module.PARAMS[key].problem(value)
            else:
                allowed = RESERVED_KEYS + tuple(module.PARAMS)
                errors.append(doc.error(at, f"guard {rule_id!r} has no setting {key!r}",
                                        hint=closest_hint(key, allowed)))
                continue
            if problem:
                errors.append(doc.error(at, f"guard {rule_id!r}: {key}: {problem}"))
            elif getattr(module, "MANDATORY", False) and (
                    (key == "level" and value != "error") or (key == "waivable" and value)):
                errors.append(doc.error(at, f"guard {rule_id!r} is always an error and never waivable: the Argo "
                                        "Events controller rejects or rewrites what it checks",
                                        hint=f"remove {key!r} from guards.{rule_id}"))
    return errors


def _waivers_errors(doc, waivers: list) -> list[InputError]:
    errors: list = []
    for index, entry in enumerate(waivers):
        base = ("waivers", index)
        if not isinstance(entry, dict):
            errors.append(doc.error(base, f"expected a waiver mapping, got {sources.type_name(entry)}",
                                    hint="rule, reason, owner, expires (YYYY-MM-DD) and optionally path"))
            continue
        for key in entry:
            if key not in WAIVER_KEYS:
                errors.append(doc.error(base + (key,), f"unknown waiver key {key!r}",
                                        hint=closest_hint(key, WAIVER_KEYS)))
        for key in ("rule", "owner", "expires"):
            if key not in entry:
                errors.append(doc.error(base, f"waiver is missing {key!r}",
                                        hint="a waiver needs rule, reason, owner and expires (YYYY-MM-DD)"))
        rule = entry.get("rule")
        if "rule" in entry and rule not in RULES:
            errors.append(doc.error(base + ("rule",), f"waiver names unknown guard {rule!r}",
                                    hint=closest_hint(rule, RULES)))
        for key in ("owner", "reason", "path"):
            value = entry.get(key)
            if key in entry and value is not None and not isinstance(value, str):
                errors.append(doc.error(base + (key,),
                                        f"waiver {key}: expected a string, got {sources.type_name(value)}"))
        if isinstance(entry.get("owner"), str) and not entry["owner"].strip():
            errors.append(doc.error(base + ("owner",), "waiver owner is empty", hint="name a person or team"))
        path = entry.get("path")
        if isinstance(path, str) and not re.match(MANIFEST_PATH, path):
            errors.append(doc.error(base + ("path",), f"waiver path {path!r} is not a manifest path",
                                    hint="copy the path from the report, e.g. spec.jetstream.replicas"))
        if "expires" in entry and expiry_date(entry["expires"]) is None:
            errors.append(doc.error(base + ("expires",), f"waiver expires {quote(entry['expires'])} is not a date",
                                    hint="write the last day the waiver holds as YYYY-MM-DD (UTC, inclusive)"))
    return errors


def expiry_date(value):
    """The :class:`datetime.date` an ``expires`` value names, or None when it names none."""
    if not (isinstance(value, str) and re.fullmatch(DATE, value)):
        return None
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
