"""A fast reader for plain block YAML: the style app files, profiles and overlays are written in.

PyYAML's composer builds a node, two marks and a resolver call for every
value before :mod:`renderer.yamlio` turns the nodes into Python values;
for the small files of a repository that is most of the cost of reading
them. This reader handles the subset such files use, line by line:

* block mappings whose keys are plain (or simply quoted) strings;
* block sequences, indented or not under their key, with ``- key: value``
  items;
* plain, single-quoted and double-quoted (escape-free) one-line scalars,
  ``[]`` and ``{}``, and comments.

It types plain scalars with PyYAML's own resolver table and constructors,
and records the same marks (line and column of every key and list item)
as :func:`renderer.yamlio.load`, so a document it accepts comes out exactly
as PyYAML would read it (a differential test holds it to that). Anything
else, and anything wrong, it declines by returning ``None``: block
scalars, flow collections, anchors, aliases, tags, multi-line scalars,
escapes, tabs, CR, document markers, duplicate keys, keys that are not
strings, odd indentation. The caller then reads the file with PyYAML,
which also words the error when there is one.
"""

from __future__ import annotations

import re

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.reader import Reader
from yaml.resolver import Resolver

_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_TYPED = frozenset(("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
                    "tag:yaml.org,2002:null"))
_RESOLVERS = Resolver.yaml_implicit_resolvers
_WILDCARD = _RESOLVERS.get(None, [])
_CONSTRUCTORS = SafeConstructor.yaml_constructors
_CONSTRUCTOR = SafeConstructor()
_NON_PRINTABLE = Reader.NON_PRINTABLE
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""What :data:`_NON_PRINTABLE` finds in ASCII text, checked much faster."""
_KEYS: dict = {}
"""Split ``key: rest`` lines by their key part: keys repeat in every file."""
_PLAINS: dict = {}
"""Values of plain scalars seen before (immutable: strings, numbers, booleans, null)."""
_CACHE_LIMIT = 16384
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
MAX_DEPTH = 64


class _Decline(Exception):
    """Raised anywhere in the reader: the document is not in the subset."""


def parse(text: str):
    """``(value, marks)`` of ``text``, or ``None`` when it is not plain block YAML (or not valid)."""
    if "\t" in text or "\r" in text or (_CONTROL.search(text) if text.isascii() else (
            "\ufeff" in text or _NON_PRINTABLE.search(text))):
        return None
    lines = []
    for number, line in enumerate(text.split("\n")):
        content = line.lstrip(" ")
        if not content or content[0] == "#":
            continue
        indent = len(line) - len(content)
        if indent == 0 and content.startswith(("---", "...", "%")):
            return None
        content = content.rstrip(" ")
        dash = content == "-" or content.startswith("- ")
        lines.append((number + 1, indent, content, dash, None if dash else _split_key(content)))
    if not lines:
        return None, {}
    reader = _Reader(lines)
    try:
        first = lines[0]
        if first[4] is None:
            return None  # a document that is not a mapping: rare, left to PyYAML
        value = reader.mapping(0, first[1], (), 1)
        if reader.position != len(lines):
            return None
    except _Decline:
        return None
    reader.marks.setdefault((), (first[0], first[1] + 1))
    return value, reader.marks


class _Reader:
    def __init__(self, lines: list):
        self.lines = lines
        self.position = 0
        self.marks: dict = {}

    def block(self, indent: int, path: tuple, depth: int):
        if depth > MAX_DEPTH:
            raise _Decline
        if self.lines[self.position][3]:
            return self.sequence(indent, path, depth)
        return self.mapping(self.position, indent, path, depth)

    def mapping(self, start: int, indent: int, path: tuple, depth: int) -> dict:
        lines, out, marks = self.lines, {}, self.marks
        position, count = start, len(lines)
        while position < count:
            number, line_indent, _, dash, split = lines[position]
            if line_indent < indent:
                break
            if line_indent > indent or dash or split is None:
                raise _Decline
            key, rest = split
            if key in out:
                raise _Decline
            sub = path + (key,)
            marks[sub] = (number, line_indent + 1)
            position += 1
            if rest:
                out[key] = _scalar(rest)
                if position < count and lines[position][1] > indent:
                    raise _Decline  # a continued scalar, or a value where none may be
                continue
            self.position = position
            if position < count and lines[position][1] > indent:
                out[key] = self.block(lines[position][1], sub, depth + 1)
            elif position < count and lines[position][1] == indent and lines[position][3]:
                out[key] = self.sequence(indent, sub, depth + 1)  # a sequence not indented under its key
            else:
                out[key] = None
            position = self.position
        self.position = position
        return out

    def sequence(self, indent: int, path: tuple, depth: int) -> list:
        lines, out, marks = self.lines, [], self.marks
        position, count = self.position, len(lines)
        while position < count:
            number, line_indent, content, dash, _ = lines[position]
            if line_indent != indent or not dash:
                if line_indent > indent:
                    raise _Decline
                break
            sub = path + (len(out),)
            rest = content[1:].lstrip(" ")
            column = line_indent + len(content) - len(rest)
            if not rest or rest[0] == "#":
                position += 1
                if position >= count or lines[position][1] <= indent:
                    raise _Decline  # an empty item: rare, left to PyYAML
                marks[sub] = (lines[position][0], lines[position][1] + 1)
                self.position = position
                out.append(self.block(lines[position][1], sub, depth + 1))
                position = self.position
                continue
            if rest == "-" or rest.startswith("- "):
                raise _Decline
            marks[sub] = (number, column + 1)
            split = _split_key(rest)
            if split is not None:
                # "- key: value": a mapping whose keys line up under the first one
                lines[position] = (number, column, rest, False, split)
                out.append(self.mapping(position, column, sub, depth + 1))
                position = self.position
                continue
            out.append(_scalar(rest))
            position += 1
            if position < count and lines[position][1] > indent:
                raise _Decline
        self.position = position
        return out


def _split_key(content: str):
    """``(key, rest)`` of a ``key: rest`` line (``rest`` empty for ``key:``), or ``None``."""
    first = content[0]
    if first == '"' or first == "'":
        end = content.find(first, 1)
        if end < 0 or (first == '"' and "\\" in content[1:end]) or (first == "'" and content[end + 1:end + 2] == "'"):
            return None
        after = content[end + 1:]
        if not after.startswith(":") or (len(after) > 1 and after[1] != " "):
            return None
        rest = after[1:].lstrip(" ")
        return content[1:end], ("" if rest[:1] == "#" else rest)
    cut = content.find(": ")
    if cut >= 0:
        key, rest = content[:cut], content[cut + 2:].lstrip(" ")
    elif content.endswith(":"):
        key, rest = content[:-1], ""
    else:
        return None
    plain = _KEYS.get(key)
    if plain is None:
        plain = bool(key) and first not in _INDICATORS and key[-1] != " " and " #" not in key \
            and _resolve(key) == _STR
        if len(_KEYS) < _CACHE_LIMIT:
            _KEYS[key] = plain
    if not plain:
        return None
    return key, ("" if rest[:1] == "#" else rest)


def _scalar(rest: str):
    first = rest[0]
    if first == '"':
        end = rest.find('"', 1)
        if end < 0 or "\\" in rest[1:end]:
            raise _Decline
        _comment_only(rest[end + 1:])
        return rest[1:end]
    if first == "'":
        end = rest.find("'", 1)
        while end >= 0 and rest[end + 1:end + 2] == "'":
            end = rest.find("'", end + 2)
        if end < 0:
            raise _Decline
        _comment_only(rest[end + 1:])
        return rest[1:end].replace("''", "'")
    if rest == "[]":
        return []
    if rest == "{}":
        return {}
    if first in _INDICATORS and not (first == "-" and len(rest) > 1 and rest[1] != " "):
        raise _Decline
    cut = rest.find(" #")
    if cut >= 0:
        rest = rest[:cut].rstrip(" ")
    value = _PLAINS.get(rest, _UNSEEN)
    if value is not _UNSEEN:
        return value
    if ": " in rest or rest.endswith(":"):
        raise _Decline
    tag = _resolve(rest)
    if tag == _STR or tag == _TIMESTAMP:
        value = rest
    elif tag in _TYPED:
        value = _CONSTRUCTORS[tag](_CONSTRUCTOR, ScalarNode(tag, rest))
    else:
        raise _Decline
    if len(_PLAINS) < _CACHE_LIMIT:
        _PLAINS[rest] = value
    return value


_UNSEEN = object()


def _comment_only(tail: str) -> None:
    if tail and not (tail[0] == " " and tail.lstrip(" ")[:1] in ("", "#")):
        raise _Decline


def _resolve(value: str) -> str:
    """The tag PyYAML's resolver gives a plain scalar."""
    for tag, pattern in _RESOLVERS.get(value[0] if value else "", ()):
        if pattern.match(value):
            return tag
    for tag, pattern in _WILDCARD:
        if pattern.match(value):
            return tag
    return _STR
