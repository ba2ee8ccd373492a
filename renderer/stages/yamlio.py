"""Safe YAML loading that remembers where every key came from.

Files in a repository are untrusted. Plain block YAML (what app files,
profiles and overlays hold) is read by :mod:`renderer.stages.yamlfast`, exactly as
PyYAML would read it but without importing it; anything else is composed into
a node graph by PyYAML's safe (C, where present) composer, from which this
module builds plain Python values itself. Either way it can:

* record the 1-based line and column of every key and list item (``Marks``);
* reject duplicate keys, non-string keys, merge keys and any tag beyond the
  core types (a ``!!python/...`` tag never constructs anything);
* bound input size, nesting depth and alias expansion ("billion laughs").

Timestamps are kept as the text the user wrote (``2026-12-31`` stays a string).
"""

from __future__ import annotations

import os
import re
import sys


class _LazyPattern:
    """A regular expression compiled on first use."""

    def __init__(self, compile_, pattern, flags):
        self._source = (compile_, pattern, flags)
        self._compiled = None

    def __getattr__(self, name):
        if self._compiled is None:
            compile_, pattern, flags = self._source
            self._compiled = compile_(pattern, flags)
        return getattr(self._compiled, name)


_YAML_READER_PATTERN = "[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD"


def import_yaml_lean() -> None:
    """Import PyYAML without compiling, at import, the one regex only its pure-Python reader uses.

    ``yaml.reader`` compiles a Unicode character class of the whole of
    Unicode when it is imported: about 6 ms, a twentieth of a cold render,
    for a pattern the C (libyaml) loader the renderer uses never touches.
    Here that one pattern is compiled on first use instead; every other
    ``re.compile`` call during the import is unchanged, and nothing changes
    once the import is done. Runs once, when PyYAML is first needed.
    """
    if "yaml" in sys.modules:
        return

    compile_ = re.compile

    def lazy_compile(pattern, flags=0):
        if isinstance(pattern, str) and pattern.startswith(_YAML_READER_PATTERN):
            return _LazyPattern(compile_, pattern, flags)
        return compile_(pattern, flags)

    re.compile = lazy_compile
    try:
        import yaml  # noqa: F401
    finally:
        re.compile = compile_


_PYYAML: list = []


def _pyyaml():
    """``(yaml, Loader, constructor)``: PyYAML, imported on first need (:mod:`renderer.stages.yamlfast` reads most files
    without it), with its C composer where present (several times faster; the pure one behaves the same)."""
    if not _PYYAML:
        import_yaml_lean()
        import yaml

        loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
        _PYYAML.extend((yaml, loader, yaml.constructor.SafeConstructor()))
    return _PYYAML


from renderer.errors import InputError, Location  # noqa: E402
from renderer.stages import yamlfast  # noqa: E402

MAX_BYTES = 1024 * 1024
"""Largest file accepted (1 MiB): an EventBus layer is a few kilobytes."""
MAX_NODES = 50_000
"""Most values one file may expand to, aliases counted at every use."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted."""

Path_ = tuple  # a key path: str keys and int list indexes
Marks = dict  # Path_ -> (line, column), both 1-based

_STR = "tag:yaml.org,2002:str"
_SCALAR_TAGS = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}


def _fail(source: str, node, message: str, key: str | None = None, hint: str | None = None):
    mark = node.start_mark
    raise InputError(message, location=Location(source, mark.line + 1, mark.column + 1, key), hint=hint)


def format_path(path: Path_) -> str:
    """Render a key path as users write it: ``jetstream.tolerations[0].key``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part).replace(".", "\\.") if "." in str(part) else str(part)
            out += ("." if out else "") + text
    return out


class _Builder:
    def __init__(self, source: str):
        self.source = source
        self.marks: Marks = {}
        self.count = 0

    def build(self, node, path: Path_, depth: int):
        self.count += 1
        if self.count > MAX_NODES:
            _fail(self.source, node, f"document expands to more than {MAX_NODES} values (alias expansion limit)",
                  hint="remove the anchors and aliases that multiply the document")
        if depth > MAX_DEPTH:
            _fail(self.source, node, f"nesting deeper than {MAX_DEPTH} levels (or a recursive alias)")
        kind = node.id  # "scalar", "sequence" or "mapping" (no import of PyYAML's node classes needed)
        if kind == "scalar":
            return self.scalar(node, path)
        if kind == "sequence":
            if node.tag != "tag:yaml.org,2002:seq":
                _fail(self.source, node, f"tag {node.tag!r} is not allowed", key=format_path(path) or None)
            out = []
            for index, item in enumerate(node.value):
                sub = path + (index,)
                self.marks[sub] = (item.start_mark.line + 1, item.start_mark.column + 1)
                out.append(self.build(item, sub, depth + 1))
            return out
        if kind == "mapping":
            if node.tag != "tag:yaml.org,2002:map":
                _fail(self.source, node, f"tag {node.tag!r} is not allowed", key=format_path(path) or None)
            out = {}
            for key_node, value_node in node.value:
                scalar_key = key_node.id == "scalar"
                if not scalar_key or key_node.tag != _STR:
                    if scalar_key and key_node.tag == "tag:yaml.org,2002:merge":
                        _fail(self.source, key_node, "merge keys ('<<') are not supported",
                              key=format_path(path) or None, hint="write the keys out, or use a profile or overlay")
                    shown = key_node.value if scalar_key else "a collection"
                    _fail(self.source, key_node, f"key {shown!r} is not a string", key=format_path(path) or None,
                          hint=f'quote it: "{shown}"' if scalar_key else None)
                key = key_node.value
                sub = path + (key,)
                if key in out:
                    first = self.marks.get(sub, (None,))[0]
                    _fail(self.source, key_node, f"duplicate key {key!r} (first set on line {first})",
                          key=format_path(sub), hint="keep one of the two")
                self.marks[sub] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.build(value_node, sub, depth + 1)
            return out
        _fail(self.source, node, "unsupported YAML node")  # pragma: no cover

    def scalar(self, node, path: Path_):
        tag = node.tag
        if tag not in _SCALAR_TAGS:
            _fail(self.source, node, f"tag {tag!r} is not allowed", key=format_path(path) or None,
                  hint="only plain strings, numbers, booleans and null are accepted")
        if tag == _STR or tag == "tag:yaml.org,2002:timestamp":
            return node.value
        yaml, _, constructor = _pyyaml()
        try:
            return constructor.yaml_constructors[tag](constructor, node)
        except (ValueError, yaml.YAMLError) as exc:  # pragma: no cover - resolver and constructor agree
            _fail(self.source, node, f"bad {tag.rsplit(':', 1)[-1]} value: {exc}")


def load(text: str | bytes, source: str) -> tuple[object, Marks]:
    """Parse one YAML document; return its value and the marks of every key path.

    ``source`` is the display name used in messages. An empty document is ``None``.
    Raises :class:`InputError` naming the file, line and column of any problem.
    """
    size = len(text)
    if size > MAX_BYTES:
        raise InputError(f"file is {size} bytes; the limit is {MAX_BYTES}", location=Location(source))
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})", location=Location(source)) from None
    fast = yamlfast.parse(text)
    if fast is not None:  # plain block YAML, read exactly as PyYAML would, about twice as fast
        return fast
    return load_composed(text, source)


def load_composed(text: str, source: str) -> tuple[object, Marks]:
    """:func:`load` through PyYAML's composer alone (the reference :mod:`renderer.stages.yamlfast` is held to)."""
    yaml, loader, _ = _pyyaml()
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "malformed YAML"
        if exc.context and exc.context not in problem:
            problem = f"{exc.context}, {problem}" if "expected a single document" not in exc.context else \
                "holds more than one YAML document; only one is allowed"
        raise InputError(f"malformed YAML: {problem}",
                         location=Location(source, mark.line + 1 if mark else None,
                                           mark.column + 1 if mark else None)) from None
    except yaml.YAMLError as exc:
        raise InputError(f"malformed YAML: {exc}", location=Location(source)) from None
    if node is None:
        return None, {}
    builder = _Builder(source)
    try:
        value = builder.build(node, (), 0)
    except RecursionError:
        raise InputError("nesting too deep (or a recursive alias)", location=Location(source)) from None
    builder.marks.setdefault((), (node.start_mark.line + 1, node.start_mark.column + 1))
    return value, builder.marks


def load_file(path, display: str) -> tuple[object, Marks]:
    """Read and :func:`load` a file, checking its size before reading it whole."""
    return load(read_file(path, display), display)


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


_JSON = None  # the two decoders of load_structured, built on first use


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
        import json

        global _JSON
        if _JSON is None:
            _JSON = (json.JSONDecoder(parse_constant=_reject_constant),
                     json.JSONDecoder(object_pairs_hook=_pairs_without_duplicates, parse_constant=_reject_constant))
        try:
            return _JSON[0 if unique_keys else 1].decode(text)
        except ValueError as exc:
            if "duplicate key" in str(exc) or "is not a valid value" in str(exc):
                raise InputError(str(exc), location=Location(source)) from None
    value, _ = load(text, source)
    return value
