"""A fast reader for plain block YAML: the style app files, profiles and overlays are written in.

PyYAML's composer builds a node, two marks and a resolver call for every
value before :mod:`renderer.stages.yamlio` turns the nodes into Python values;
for the small files of a repository that is most of the cost of reading
them, and importing PyYAML at all is a tenth of a fresh process's start.
This reader handles the subset such files use, line by line, without
PyYAML:

* block mappings whose keys are plain (or simply quoted) strings;
* block sequences, indented or not under their key, with ``- key: value``
  items;
* plain, single-quoted and double-quoted (escape-free) one-line scalars,
  ``[]`` and ``{}``, one-line flow mappings and sequences of plain
  scalars (``{level: error, min: 3}``), literal block scalars (``|``,
  ``|-``, ``|+``) under a key, and comments.

It types plain scalars by YAML 1.1's implicit rules (those of PyYAML's
resolver: ``yes`` is true, ``0755`` octal, ``1:20`` sexagesimal, ``1e3`` a
string) and records the same marks (line and column of every key and list
item) as :func:`renderer.stages.yamlio.load`, so a document it accepts comes out
exactly as PyYAML would read it (a differential test holds it to that).
Anything else, and anything wrong, it declines by returning ``None``:
folded scalars, nested flow collections, anchors, aliases, tags,
multi-line scalars, escapes, tabs, CR, document markers, duplicate keys,
keys that are not strings, odd indentation. The caller then reads the file
with PyYAML, which also words the error when there is one.
"""

from __future__ import annotations

import math
import re

_STR = "str"
# YAML 1.1 implicit types of plain scalars, as PyYAML resolves them: the first matching pattern among
# those registered for the scalar's first character wins; anything else is a string. (Timestamps stay
# strings here, as they do in renderer.stages.yamlio, so they need no pattern.)
_BOOL = re.compile(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
_FLOAT = re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
                    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
                  r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_OTHER = re.compile(r"^(?:<<|=|!|&|\*)$")  # merge keys, the value key and lone indicators: never ours
_RESOLVERS: dict = {"": [("null", _NULL)], "~": [("null", _NULL)], "<": [("other", _OTHER)],
                    "=": [("other", _OTHER)], "!": [("other", _OTHER)], "&": [("other", _OTHER)],
                    "*": [("other", _OTHER)], ".": [("float", _FLOAT)]}
for _first in "yYtTfFoO":
    _RESOLVERS[_first] = [("bool", _BOOL)]
for _first in "nN":
    _RESOLVERS[_first] = [("bool", _BOOL), ("null", _NULL)]
for _first in "-+0123456789":
    _RESOLVERS[_first] = [("float", _FLOAT), ("int", _INT)]
_NON_PRINTABLE_PATTERN = "[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]"
_NON_PRINTABLE: list = []  # compiled on first non-ASCII text: the class spans all of Unicode
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""What :data:`_NON_PRINTABLE` finds in ASCII text, checked much faster."""
_KEYS: dict = {}
"""Split ``key: rest`` lines by their key part: keys repeat in every file."""
_PLAINS: dict = {}
"""Values of plain scalars seen before (immutable: strings, numbers, booleans, null)."""
_CACHE_LIMIT = 16384
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_STOP = frozenset("[]{}#&*!|>'\"%@`?\\")
"""Characters that end the flow collections this reader handles (nesting, quotes, comments, tags...)."""
MAX_DEPTH = 64


class _Decline(Exception):
    """Raised anywhere in the reader: the document is not in the subset."""


def parse(text: str):
    """``(value, marks)`` of ``text``, or ``None`` when it is not plain block YAML (or not valid)."""
    if "\t" in text or "\r" in text:
        return None
    if text.isascii():
        if _CONTROL.search(text):
            return None
    else:
        if not _NON_PRINTABLE:
            _NON_PRINTABLE.append(re.compile(_NON_PRINTABLE_PATTERN))
        if "\ufeff" in text or _NON_PRINTABLE[0].search(text):
            return None
    raw = text.split("\n")
    lines = []
    index, count = 0, len(raw)
    while index < count:
        line = raw[index]
        index += 1
        number = index  # 1-based
        content = line.lstrip(" ")
        if not content or content[0] == "#":
            continue
        indent = len(line) - len(content)
        if indent == 0 and content.startswith(("---", "...", "%")):
            return None
        content = content.rstrip(" ")
        dash = content == "-" or content.startswith("- ")
        split = None if dash else _split_key(content)
        if split is not None and split[1][:1] == "|":
            block = _literal(split[1], raw, index, indent, text.endswith("\n"))
            if block is None:
                return None
            literal, index = block
            split = (split[0], literal)
        lines.append((number, indent, content, dash, split))
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


class _Literal(str):
    """The text of a literal block scalar, standing where a one-line value would."""


def _literal(header: str, raw: list, start: int, parent: int, final_newline: bool):
    """``(text, index of the next line)`` of the literal block scalar whose header (``|`` or ``|-``) ends
    line ``start``; ``None`` for anything else (keep chomping, an indentation indicator, odd lines)."""
    chomp = header[1:2]
    tail = header[1:] if chomp != "-" else header[2:]
    if chomp == "+" or (tail and not (tail[0] == " " and tail.lstrip(" ")[:1] in ("", "#"))):
        return None
    body: list = []
    blanks = 0
    indent = None
    index = start
    while index < len(raw):
        line = raw[index]
        if not line:
            blanks += 1
            index += 1
            continue
        content = line.lstrip(" ")
        if not content:
            return None  # a line of spaces only: indentation rules PyYAML knows best
        width = len(line) - len(content)
        if indent is None:
            if width <= parent:
                break
            indent = width
        elif width < indent:
            if width <= parent:
                break
            return None  # less indented than the block but more than its key: an error
        body.extend([""] * blanks)
        blanks = 0
        body.append(line[indent:])
        index += 1
    if indent is None or (index == len(raw) and not final_newline and not blanks):
        return None  # an empty block, or one whose last line has no line break
    text = "\n".join(body)
    # blank lines after the block belong to no key: the next line is where the block ended
    return _Literal(text if chomp == "-" else text + "\n"), index - blanks


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
                if rest.__class__ is _Literal:
                    out[key] = str(rest)
                else:
                    column = line_indent + len(lines[position - 1][2]) - len(rest)
                    out[key] = self.value(rest, number, column, sub, depth)
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
            out.append(self.value(rest, number, column, sub, depth))
            position += 1
            if position < count and lines[position][1] > indent:
                raise _Decline
        self.position = position
        return out

    def value(self, rest: str, number: int, column: int, path: tuple, depth: int):
        """The one-line value ``rest`` (starting at 0-based ``column``): a scalar or a flow collection."""
        first = rest[0]
        if (first == "{" or first == "[") and rest not in ("{}", "[]"):
            return self.flow(rest, number, column, path, depth)
        return _scalar(rest)

    def flow(self, rest: str, number: int, column: int, path: tuple, depth: int):
        """``{key: value, ...}`` or ``[value, ...]`` of plain scalars, on one line."""
        closing = "}" if rest[0] == "{" else "]"
        end = rest.find(closing)
        if end < 0 or depth + 1 > MAX_DEPTH:
            raise _Decline
        _comment_only(rest[end + 1:])
        inner = rest[1:end]
        if not inner.strip(" ") or any(char in _FLOW_STOP for char in inner):
            raise _Decline
        marks = self.marks
        out: dict | list = {} if closing == "}" else []
        offset = column + 1
        for item in inner.split(","):
            text = item.strip(" ")
            if not text:
                raise _Decline  # an empty entry ("a,,b", a trailing comma)
            at = offset + len(item) - len(item.lstrip(" "))
            offset += len(item) + 1
            if closing == "]":
                if ":" in text:
                    raise _Decline
                marks[path + (len(out),)] = (number, at + 1)
                out.append(_scalar(text))
                continue
            key, colon, value = text.partition(": ")
            key, value = key.rstrip(" "), value.lstrip(" ")
            if not colon or not key or not value or ":" in key or ":" in value or key in out \
                    or key[0] in _INDICATORS or _resolve(key) != _STR:
                raise _Decline
            marks[path + (key,)] = (number, at + 1)
            out[key] = _scalar(value)
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
    if tag == _STR:
        value = rest
    elif tag == "other":
        raise _Decline
    else:
        try:
            value = _CONSTRUCT[tag](rest)
        except ValueError:  # e.g. "0b_": the pattern matches, the number does not exist
            raise _Decline from None
    if len(_PLAINS) < _CACHE_LIMIT:
        _PLAINS[rest] = value
    return value


def _int(text: str) -> int:
    text = text.replace("_", "")
    sign = -1 if text[0] == "-" else 1
    if text[0] in "+-":
        text = text[1:]
    if text == "0":
        return 0
    if text.startswith("0b"):
        return sign * int(text[2:], 2)
    if text.startswith("0x"):
        return sign * int(text[2:], 16)
    if text[0] == "0":
        return sign * int(text, 8)
    if ":" in text:  # sexagesimal: 1:20 is 80
        total = 0
        for part in text.split(":"):
            total = total * 60 + int(part)
        return sign * total
    return sign * int(text)


def _float(text: str) -> float:
    text = text.replace("_", "").lower()
    sign = -1 if text[0] == "-" else 1
    if text[0] in "+-":
        text = text[1:]
    if text == ".inf":
        return sign * math.inf
    if text == ".nan":
        return math.nan
    if ":" in text:  # summed from the seconds up, as PyYAML does: the rounding is the same
        total, base = 0.0, 1
        for part in reversed(text.split(":")):
            total += float(part) * base
            base *= 60
        return sign * total
    return sign * float(text)


_CONSTRUCT = {
    "bool": lambda text: text.lower() in ("yes", "true", "on"),
    "null": lambda text: None,
    "int": _int,
    "float": _float,
}


_UNSEEN = object()


def _comment_only(tail: str) -> None:
    if tail and not (tail[0] == " " and tail.lstrip(" ")[:1] in ("", "#")):
        raise _Decline


def _resolve(value: str) -> str:
    """The YAML 1.1 type of a plain scalar: ``str``, ``bool``, ``null``, ``int``, ``float`` or ``other``."""
    for tag, pattern in _RESOLVERS.get(value[0] if value else "", ()):
        if pattern.match(value):
            return tag
    return _STR
