"""Safe YAML loading that remembers where every key came from: the one YAML reader of the renderer.

Files in a repository are untrusted. Every file is composed into a node
graph by PyYAML's safe composer (libyaml's, the C one, where PyYAML was built
with it; the pure-Python one otherwise, which reads the same), and this
module builds plain Python values from the nodes itself. So it can:

* record the 1-based line and column of every key and list item (``Marks``);
* reject duplicate keys, non-string keys, merge keys and any tag beyond the
  core types (a ``!!python/...`` tag never constructs anything);
* bound input size, nesting depth and alias expansion ("billion laughs").

Timestamps are kept as the text the user wrote (``2026-12-31`` stays a string).
Lines end where PyYAML and go-yaml (libyaml's rules, both) end them: at
``\\n``, ``\\r``, and also U+0085, U+2028 and U+2029, so a key reviewers and
Argo CD see is a key the renderer sees.
"""

from __future__ import annotations

import functools
import os

from renderer import paths
from renderer.errors import InputError, Location

MAX_BYTES = 1024 * 1024
"""Largest file accepted (1 MiB): an EventBus layer is a few kilobytes."""
MAX_NODES = 50_000
"""Most values one file may expand to, aliases counted at every use."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted."""

Path_ = tuple  # a key path: str keys and int list indexes
Marks = dict  # Path_ -> (line, column), both 1-based


class Scalar(tuple):
    """A scalar as written, for readers that resolve scalars by other rules than YAML 1.1 (go-yaml's, say):
    ``text`` (the characters of the value, escapes resolved), ``plain`` (written without quotes or a block
    indicator) and ``value`` (what PyYAML makes of it)."""

    __slots__ = ()

    def __new__(cls, text: str, plain: bool, value):
        return tuple.__new__(cls, (text, plain, value))

    text = property(lambda self: self[0])
    plain = property(lambda self: self[1])
    value = property(lambda self: self[2])

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SCALAR_TAGS = frozenset((
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    _TIMESTAMP,
))


@functools.cache
def _pyyaml():
    """``(yaml, Loader, constructor)``: PyYAML, imported on first need, with its C composer where present
    (several times faster than the pure-Python one, which reads the same)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    return yaml, loader, yaml.constructor.SafeConstructor()


def _fail(source: str, node, message: str, key: str | None = None, hint: str | None = None):
    mark = node.start_mark
    raise InputError(message, location=Location(source, mark.line + 1, mark.column + 1, key), hint=hint)


class _Builder:
    """Plain values and marks from a composed node graph, within the limits."""

    __slots__ = ("source", "marks", "count", "raw")

    def __init__(self, source: str, raw: bool = False):
        self.source = source
        self.marks: Marks = {}
        self.count = 0
        self.raw = raw

    def build(self, node, path: Path_, depth: int):
        self.count += 1
        if self.count > MAX_NODES:
            _fail(self.source, node, f"document expands to more than {MAX_NODES} values (alias expansion limit)",
                  hint="remove the anchors and aliases that multiply the document")
        if depth > MAX_DEPTH:
            _fail(self.source, node, f"nesting deeper than {MAX_DEPTH} levels (or a recursive alias)")
        kind = node.id  # "scalar", "sequence" or "mapping" (no import of PyYAML's node classes needed)
        if kind == "scalar":
            if self.raw:
                return Scalar(node.value, not node.style,  # plain: None (Python composer) or "" (C)
                              node.value if node.tag == _STR else self.scalar(node, path))
            if node.tag == _STR:
                return node.value
            return self.scalar(node, path)
        if kind == "sequence":
            return self.sequence(node, path, depth)
        if kind == "mapping":
            return self.mapping(node, path, depth)
        _fail(self.source, node, "unsupported YAML node")  # pragma: no cover

    def sequence(self, node, path: Path_, depth: int) -> list:
        if node.tag != _SEQ:
            _fail(self.source, node, f"tag {node.tag!r} is not allowed", key=paths.format_path(path) or None)
        out = []
        marks, build = self.marks, self.build
        for index, item in enumerate(node.value):
            sub = path + (index,)
            mark = item.start_mark
            marks[sub] = (mark.line + 1, mark.column + 1)
            out.append(build(item, sub, depth + 1))
        return out

    def mapping(self, node, path: Path_, depth: int) -> dict:
        if node.tag != _MAP:
            _fail(self.source, node, f"tag {node.tag!r} is not allowed", key=paths.format_path(path) or None)
        out: dict = {}
        marks, build = self.marks, self.build
        for key_node, value_node in node.value:
            if key_node.tag != _STR or key_node.id != "scalar":
                self.bad_key(key_node, path)
            key = key_node.value
            sub = path + (key,)
            if key in out:
                first = marks.get(sub, (None,))[0]
                _fail(self.source, key_node, f"duplicate key {key!r} (first set on line {first})",
                      key=paths.format_path(sub), hint="keep one of the two")
            mark = key_node.start_mark
            marks[sub] = (mark.line + 1, mark.column + 1)
            out[key] = build(value_node, sub, depth + 1)
        return out

    def bad_key(self, key_node, path: Path_):
        scalar_key = key_node.id == "scalar"
        if scalar_key and key_node.tag == "tag:yaml.org,2002:merge":
            _fail(self.source, key_node, "merge keys ('<<') are not supported",
                  key=paths.format_path(path) or None, hint="write the keys out, or use a profile or overlay")
        shown = key_node.value if scalar_key else "a collection"
        _fail(self.source, key_node, f"key {shown!r} is not a string", key=paths.format_path(path) or None,
              hint=f'quote it: "{shown}"' if scalar_key else None)

    def scalar(self, node, path: Path_):
        tag = node.tag
        if tag not in _SCALAR_TAGS:
            _fail(self.source, node, f"tag {tag!r} is not allowed", key=paths.format_path(path) or None,
                  hint="only plain strings, numbers, booleans and null are accepted")
        if tag == _TIMESTAMP:
            return node.value
        yaml, _, constructor = _pyyaml()
        try:
            return constructor.yaml_constructors[tag](constructor, node)
        except (ValueError, yaml.YAMLError) as exc:  # pragma: no cover - resolver and constructor agree
            _fail(self.source, node, f"bad {tag.rsplit(':', 1)[-1]} value: {exc}")


def load(text: str | bytes, source: str, raw: bool = False) -> tuple[object, Marks]:
    """Parse one YAML document; return its value and the marks of every key path.

    ``source`` is the display name used in messages. An empty document is ``None``.
    With ``raw``, every scalar (not the keys) is a :class:`Scalar`: its text as written besides its value.
    Raises :class:`InputError` naming the file, line and column of any problem.
    """
    size = len(text)
    if size > MAX_BYTES:
        raise InputError(f"file is {size} bytes; the limit is {MAX_BYTES}", location=Location(source))
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_utf8(text, exc.start, source) from None
    yaml, loader, _ = _pyyaml()
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        tab = _indenting_tab(text, mark.line if mark else None)
        if tab is not None:
            raise InputError("a tab in indentation", location=Location(source, *tab),
                             hint="YAML does not allow tabs there: indent with spaces") from None
        problem = exc.problem or "malformed YAML"
        if exc.context and exc.context not in problem:
            problem = f"{exc.context}, {problem}" if "expected a single document" not in exc.context else \
                "holds more than one YAML document; only one is allowed"
        raise InputError(f"malformed YAML: {problem}",
                         location=Location(source, mark.line + 1 if mark else None,
                                           mark.column + 1 if mark else None)) from None
    except yaml.YAMLError as exc:
        raise InputError(f"malformed YAML: {exc}", location=Location(source)) from None
    except RecursionError:  # the pure-Python composer recurses once per level (libyaml stops at 1,000)
        raise InputError("nesting too deep (or a recursive alias)", location=Location(source)) from None
    if node is None:
        return None, {}
    builder = _Builder(source, raw)
    try:
        value = builder.build(node, (), 0)
    except RecursionError:
        raise InputError("nesting too deep (or a recursive alias)", location=Location(source)) from None
    builder.marks.setdefault((), (node.start_mark.line + 1, node.start_mark.column + 1))
    return value, builder.marks


def _not_utf8(data: bytes, start: int, source: str) -> InputError:
    """The error for a byte that is not UTF-8 at offset ``start``: its line and column (in characters)."""
    line_start = data.rfind(b"\n", 0, start) + 1
    line = data.count(b"\n", 0, start) + 1
    column = len(data[line_start:start].decode("utf-8", "replace")) + 1
    return InputError(f"not UTF-8 text: byte 0x{data[start]:02x} cannot be read",
                      location=Location(source, line, column),
                      hint="save the file as UTF-8 (a byte like this usually means Latin-1, Windows-1252 or UTF-16)")


def _indenting_tab(text: str, error_line: int | None) -> tuple[int, int] | None:
    """``(line, column)`` (1-based) of a tab in the indentation at or just before ``error_line`` (0-based)."""
    if error_line is None:
        return None
    lines = text.split("\n")
    for number in range(min(error_line, len(lines) - 1), max(error_line - 2, -1), -1):
        line = lines[number]
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return number + 1, indent.index("\t") + 1
    return None


def read_file(path, display: str) -> bytes:
    """The bytes of a file (at most :data:`MAX_BYTES` + 1: :func:`load` refuses more)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            parts, size = [], 0
            while size <= MAX_BYTES:
                part = os.read(fd, MAX_BYTES + 1 - size)
                if not part:
                    break
                parts.append(part)
                size += len(part)
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", location=Location(display)) from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _pairs_without_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_constant(name):
    raise ValueError(f"{name} is not a valid value")


@functools.cache
def _json_decoders():
    """The two JSON decoders of :func:`load_structured` (keys may repeat / may not), built on first use."""
    import json

    return (json.JSONDecoder(parse_constant=_reject_constant),
            json.JSONDecoder(object_pairs_hook=_pairs_without_duplicates, parse_constant=_reject_constant))


def load_structured(text: str, source: str, unique_keys: bool = False) -> object:
    """Parse a template's output: JSON fast (the built-in templates write JSON), else strict YAML.

    JSON is YAML too, so both paths accept the same documents; the JSON path is
    an order of magnitude faster, which matters when a repository holds
    thousands of apps. Duplicate keys and NaN/Infinity are refused on both.
    ``unique_keys`` says the text cannot repeat a key (the built-in templates
    write every mapping through the ``yaml`` filter, from a dict), which spares
    a check per mapping.
    """
    if text.lstrip().startswith("{"):
        try:
            return _json_decoders()[0 if unique_keys else 1].decode(text)
        except ValueError as exc:
            if "duplicate key" in str(exc) or "is not a valid value" in str(exc):
                raise InputError(str(exc), location=Location(source)) from None
    value, _ = load(text, source)
    return value
