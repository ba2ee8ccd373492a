"""The node types user files add to the validator, and the formats their strings follow: one regex each.

Part of the one schema source of user files (:mod:`renderer.stages.userfiles`,
which re-exports its public names). The types it registers with the validator:

- ``{"type": "text", "pattern": REGEX, "what": ..., "fix": ...}``: a string the
  whole of which ``REGEX`` matches. The regex is written in the common subset
  of Python's ``re`` and ECMA 262 (what JSON Schema's ``pattern`` is), and is
  the only statement of the rule: DNS labels, label keys and values, plain
  file names, real calendar dates (leap years included), merge strategies.
- ``{"type": "keyed", "keys": TEXT, "values": NODE}``: a map whose keys are
  checked too (label keys, environment names).
- ``{"type": "nullable", "node": NODE}``: ``null`` or ``NODE``.
- ``{"type": "choice", "enum": [...]}``: one of a few YAML scalars of any type,
  compared with their type (``false`` is not ``0``); how a guard's ``level``
  accepts the ``false`` that YAML 1.1 makes of an unquoted ``off``.
- ``{"type": "all", "nodes": [...]}``: every node holds; the first that does not
  says why (a label key that is valid, and not one the renderer owns).

The reserved keys: labels and annotations under ``eventbus-render/`` and the
label ``app.kubernetes.io/managed-by`` are the renderer's own, so no value may
set one (:data:`VALUES_LABEL_KEY`, :data:`VALUES_ANNOTATION_KEY`), and a
template must write exactly the renderer's (``checks.check_identity_kept``).
"""

from __future__ import annotations

import re

from renderer.stages.validate import SchemaProblem, register, validate

# -- the node types added to the validator -------------------------------------------

_STRING = {"type": "string"}
ANY_MAPPING = {"type": "map", "values": {"type": "any"}}


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
        out.extend(validate(value, ANY_MAPPING, path))
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
    import difflib  # only paid for when there is a mistake to explain

    close = difflib.get_close_matches(value, shown, n=1) if isinstance(value, str) else []
    fix = node.get("fix") or (f"use '{close[0]}'" if close else "use one of " + ", ".join(shown))
    message = node.get("message") or f"{_show(value)} is not one of " + ", ".join(shown)
    out.append(SchemaProblem(path, message, fix))


register("text", _check_text)
register("keyed", _check_keyed)
register("nullable", _check_nullable)
register("choice", _check_choice)


def _check_all(value, node, path, out):
    for sub in node["nodes"]:
        problems = validate(value, sub, path)
        if problems:
            out.extend(problems)
            return


register("all", _check_all)


def nullable(node: dict) -> dict:
    """``null`` or ``node``."""
    return node if node["type"] in ("nullable", "any") else {"type": "nullable", "node": node}


def text(pattern: str, what: str, fix: str, doc: str = "") -> dict:
    """A string matching ``pattern`` as a whole; ``what`` completes "'x' is not ..."."""
    out = {"type": "text", "pattern": pattern, "what": what, "fix": fix}
    if doc:
        out["doc"] = doc
    return out


# -- formats: one regex each, for the renderer and the editors alike ----------------------------

_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_DNS_SUBDOMAIN = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
_LABEL_NAME = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]"
# [prefix/]name: the prefix a DNS subdomain of at most 253 characters, the name at most 63
_LABEL_KEY = rf"(?:(?=[^/]{{1,253}}/){_DNS_SUBDOMAIN}/)?{_LABEL_NAME}"
_LABEL_VALUE = r"(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?"
# a file stem: nothing that could leave the app directory
_NAME = r"(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,62}"
# YYYY-MM-DD of a day that exists (years 0001-9999, as Python's date); leap days in leap years only
_LEAP_YEAR = r"[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00"
_DATE = (r"(?!0000)[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
         rf"|02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:{_LEAP_YEAR})-02-29")
_MERGE_KEYS = r"\s*[^+\s][^+]*"
_STRATEGY = rf"replace|append|mergeBy:{_MERGE_KEYS}(?:\+{_MERGE_KEYS})*"

DNS_LABEL_HINT = "use lower-case letters, digits and '-', at most 63 characters"
EVENTBUS_NAME = text(_DNS_LABEL, "a valid EventBus name",
                     DNS_LABEL_HINT + " (the controller uses it as a label value and in Service names)",
                     "EventBus metadata.name (default: default).")
NAMESPACE = text(_DNS_LABEL, "a valid namespace name", DNS_LABEL_HINT, "EventBus namespace (default: argo-events).")
LABEL_KEY = text(_LABEL_KEY, "a valid Kubernetes label key",
                 "use [prefix/]name with letters, digits, '-', '_', '.' (name at most 63 characters, prefix a "
                 "DNS subdomain)")
RESERVED_PREFIX = "eventbus-render/"
"""Labels and annotations under this prefix are the renderer's own (the profile, overlays, environment and
waivers that rendered the object): no value and no template sets one."""
MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY = "eventbus-render"
"""The one label the renderer sets that values cannot: ``managed-by`` says which tool owns the object."""
_RESERVED_FIX = ("remove it: keys under eventbus-render/ and the label app.kubernetes.io/managed-by belong to the "
                 "renderer, which writes them on every object")
_NOT_RESERVED_LABEL = text(r"(?!eventbus-render/|app\.kubernetes\.io/managed-by(?![\s\S]))[\s\S]*",
                           "a label the values may set: it belongs to the renderer", _RESERVED_FIX)
_NOT_RESERVED_ANNOTATION = text(r"(?!eventbus-render/)[\s\S]*",
                                "an annotation the values may set: it belongs to the renderer", _RESERVED_FIX)
VALUES_LABEL_KEY = {"type": "all", "nodes": [LABEL_KEY, _NOT_RESERVED_LABEL]}
VALUES_ANNOTATION_KEY = {"type": "all", "nodes": [LABEL_KEY, _NOT_RESERVED_ANNOTATION]}


def reserved_key(key: str) -> bool:
    """Whether a label or annotation key is the renderer's own."""
    return key.startswith(RESERVED_PREFIX) or key == MANAGED_BY_KEY


LABEL_VALUE = text(_LABEL_VALUE, "a valid Kubernetes label value",
                   "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
NAME_HINT = "use a file name from profiles/ or overlays/ without directories, e.g. 'prod'"
DATE = text(_DATE, "a date", "write the last day the waiver holds as YYYY-MM-DD (UTC, inclusive)",
            "Last day the waiver holds (YYYY-MM-DD, UTC, inclusive).")
STRATEGY = text(_STRATEGY, "a merge strategy", "use replace, append or mergeBy:KEY (mergeBy:key+effect for several "
                "keys)")
NON_BLANK = text(r"[\s\S]*\S[\s\S]*", "the name of a person or team", "name a person or team",
                 "Person or team answerable for it.")
NON_EMPTY = text(r"[\s\S]+", "a non-empty string", "write a value or remove the entry")
MANIFEST_PATH = text(r"(?:spec|metadata)(?:[.\[][\s\S]*)?", "a manifest path",
                     "copy the path from the report, e.g. spec.jetstream.replicas",
                     "Manifest path of the value the waiver accepts, as the report prints it, e.g. "
                     "spec.jetstream.replicas.")


def file_name(what: str) -> dict:
    """A profile, overlay or environment name: a plain file stem."""
    return text(_NAME, "a plain name", NAME_HINT, f"Name of {what} (a file stem, no folders).")
