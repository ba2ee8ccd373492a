"""Deterministic, type-safe output: YAML for PyYAML and go-yaml alike, and JSON (files: :mod:`.writer`).

The YAML writer is ours rather than PyYAML's dumper because the dumper
quotes by YAML 1.1 rules as PyYAML reads them, while Argo CD reads with
go-yaml, where ``y``, ``n`` and ``1e3`` are not strings either. Here a string
is written plain only when it starts with a letter, holds only a small safe
alphabet and is no boolean or null word in any YAML version; everything else
is double-quoted with every non-printable character escaped. Keys are sorted
(a few well-known keys first), so reordering a profile never changes output.
"""

from __future__ import annotations

import json
import re

from renderer import context
from renderer.errors import InputError

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./@+-]*(?::[A-Za-z0-9_./@+-]+)*")
# words any YAML 1.1 or 1.2 parser (go-yaml v2 included) reads as booleans or null
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
# conventional order of an object's top keys and of its metadata; everything else is sorted
_TOP_RANK = {key: index for index, key in enumerate(("apiVersion", "kind", "metadata", "spec"))}
_META_RANK = {key: index for index, key in enumerate(("name", "namespace"))}
# characters YAML does not allow raw in a document (or that confuse readers)
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def quote(text: str) -> str:
    """A double-quoted YAML scalar that every YAML parser reads back as exactly ``text``."""
    return _UNPRINTABLE.sub(_escape, json.dumps(text, ensure_ascii=False))


def scalar(value, strings: dict | None = None) -> str:
    """One scalar as YAML text; ``strings`` remembers the written form of short strings (of one run)."""
    if strings is not None and value.__class__ is str:
        text = strings.get(value)
        if text is not None:
            return text
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError(f"the number {value!r} cannot be written to a manifest")
        # YAML 1.1 (PyYAML) needs a dot in the mantissa and a signed exponent
        mantissa, e, exponent = repr(value).partition("e")
        if "." not in mantissa:
            mantissa += ".0"
        if e and exponent[0] not in "+-":
            exponent = "+" + exponent
        return mantissa + (("e" + exponent) if e else "")
    if isinstance(value, str):  # not seen before (the cache is checked first)
        text = value if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED else quote(value)
        if strings is not None and len(strings) < 65536 and len(value) < 256:
            strings[value] = text
        return text
    raise TypeError(f"cannot emit {type(value).__name__}")  # pragma: no cover - values come from YAML


def _block_ok(text: str) -> bool:
    """Whether a multi-line string can be written as a literal block (``|``) safely."""
    if "\n" not in text or "\r" in text or _UNPRINTABLE.search(text) or "\t" in text:
        return False
    lines = text.split("\n")
    if any(line.strip() == "" and line for line in lines):
        return False  # whitespace-only lines confuse indentation detection
    first = next((line for line in lines if line), "")
    return bool(first) and not first[0].isspace() and not text.endswith("\n\n") and not text.startswith("\n")


def _sorted_items(mapping: dict, rank: dict | None = None):
    if not rank:
        return sorted(mapping.items())
    return sorted(mapping.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))


class _Memo:
    """What one run's writer remembers (:func:`renderer.context.cache`): a few dozen keys and the same
    labels and names make up every manifest, so their written forms are worked out once per run."""

    __slots__ = ("strings", "heads")

    def __init__(self):
        self.strings: dict = {}  # string -> its written form (short strings only)
        self.heads: dict = {}  # indentation -> {key: "<pad>key:"}


def _memo() -> _Memo:
    cache = context.cache("emit")
    memo = cache.get("memo")
    if memo is None:
        memo = cache["memo"] = _Memo()
    return memo


def _head(heads: dict, indent: int, key, strings: dict) -> str:
    written = " " * indent + scalar(key, strings) + ":"
    if key.__class__ is str and len(key) < 256 and len(heads) < 4096:
        heads[key] = written
    return written


def _emit(value, indent: int, out: list, memo: _Memo, rank: dict | None = None) -> None:
    if value.__class__ is dict:
        strings = memo.strings
        heads = memo.heads.get(indent)
        if heads is None:
            heads = memo.heads[indent] = {}
        items = sorted(value.items()) if rank is None else _sorted_items(value, rank)
        for key, sub in items:
            head = heads.get(key) if key.__class__ is str else None
            if head is None:
                head = _head(heads, indent, key, strings)
            cls = sub.__class__
            if cls is str:
                if "\n" not in sub:
                    text = strings.get(sub)
                    out.append(f"{head} {text if text is not None else scalar(sub, strings)}")
                    continue
                _emit_member(head, sub, indent, out, memo)
            elif cls is dict or cls is list:
                if rank is _TOP_RANK and key == "metadata" and cls is dict and sub:
                    out.append(head)
                    _emit(sub, indent + 2, out, memo, _META_RANK)
                    continue
                _emit_member(head, sub, indent, out, memo)
            else:
                out.append(f"{head} {scalar(sub, strings)}")
    elif isinstance(value, list):
        dash = " " * indent + "-"
        for item in value:
            _emit_member(dash, item, indent, out, memo, in_list=True)


def _emit_member(head: str, value, indent: int, out: list, memo: _Memo, in_list: bool = False) -> None:
    cls = value.__class__
    if cls is dict and value:
        if in_list:
            # first key on the dash line, the rest aligned under it
            start = len(out)
            _emit(value, indent + 2, out, memo)
            out[start] = head + " " + out[start].lstrip(" ")
        else:
            out.append(head)
            _emit(value, indent + 2, out, memo)
    elif cls is list and value:
        out.append(head)
        _emit(value, indent + 2 if in_list else indent, out, memo)
    elif cls is dict:
        out.append(head + " {}")
    elif cls is list:
        out.append(head + " []")
    elif cls is str and _block_ok(value):
        chomp = "" if value.endswith("\n") else "-"
        out.append(f"{head} |{chomp}")
        body_pad = " " * (indent + 2)
        for line in value.rstrip("\n").split("\n") if chomp == "" else value.split("\n"):
            out.append(body_pad + line if line else "")
    else:
        out.append(f"{head} {scalar(value, memo.strings)}")


def to_yaml(obj: dict) -> str:
    """One object as a YAML document (no leading ``---``), ending in a newline."""
    out: list = []
    _emit(obj, 0, out, _memo(), _TOP_RANK)
    return "\n".join(out) + "\n"


def yaml_stream(objects: list) -> str:
    """Several objects as a YAML stream, each document started by ``---``."""
    return "".join("---\n" + to_yaml(obj) for obj in objects)


def _canonical(value, rank: dict | None = None):
    if isinstance(value, dict):
        return {key: _canonical(sub, _META_RANK if rank is _TOP_RANK and key == "metadata" else None)
                for key, sub in _sorted_items(value, rank)}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def to_json(objects: list) -> str:
    """Objects as JSON: one object as itself, several as a ``v1`` ``List``."""
    doc = objects[0] if len(objects) == 1 else {"apiVersion": "v1", "kind": "List", "items": objects}
    doc = _canonical(doc, _TOP_RANK) if len(objects) == 1 else {
        "apiVersion": "v1", "kind": "List", "items": [_canonical(o, _TOP_RANK) for o in objects]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
