"""The one path type: where a value sits in values, a manifest or a user file.

A path is a tuple of segments: a ``str`` is a mapping key, an ``int`` a list
index. Every place that prints a path (errors, ``explain``, guard reports,
waivers, ``diff``, SARIF) prints it with :func:`format_path`, and every place
that reads one a user wrote (``--set``, ``explain PATH``, waivers, Argo CD
parameters) reads it with :func:`parse_path`.

The printed form::

    jetstream.tolerations[0].effect
    metadata.labels["app.kubernetes.io/name"]

Keys made of letters, digits, ``_`` and ``-`` are joined with dots; any other
key is written in brackets and double quotes (``"`` and ``\\`` inside it are
escaped with a backslash); list indexes are written ``[N]``.

:func:`parse_path` reads that form, and also the form Helm users type for
``--set``, where a backslash escapes a dot inside a key:
``labels.app\\.kubernetes\\.io/name``. Both give the same path.
"""

from __future__ import annotations

from renderer.errors import InputError

KeyPath = tuple
"""A path: a tuple of ``str`` keys and ``int`` indexes."""

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _plain(key: str) -> bool:
    return bool(key) and all(c in _PLAIN for c in key)


def format_path(path) -> str:
    """A path as printed: ``spec.jetstream.tolerations[0].effect``, ``metadata.labels["a.b/c"]``."""
    out = []
    for seg in path:
        if isinstance(seg, int) and not isinstance(seg, bool):
            out.append(f"[{seg}]")
        elif isinstance(seg, str) and _plain(seg):
            out.append(("." if out else "") + seg)
        else:
            text = str(seg).replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{text}"]')
    return "".join(out)


def parse_path(text: str, *, what: str = "path", example: str = "jetstream.replicas") -> KeyPath:
    """Read a path as :func:`format_path` prints it (or with ``\\.`` escaping dots in a key).

    ``what`` names where the path came from in the error (``--set``, ``explain``, ``waiver path``).
    """
    parts: list = []
    i, n = 0, len(text)
    current: str | None = None  # the key being read, None between segments

    def fail(problem: str):
        raise InputError(f"{what} {text!r} {problem}", hint=f"write it as printed in reports, e.g. {example}")

    expect_key = True  # at the start, and after a dot
    while i < n:
        c = text[i]
        if c == "[":
            if current is not None:
                parts.append(current)
                current = None
            elif expect_key and parts:
                fail(f"has an empty key before the '[' at column {i + 1}")
            if i + 1 < n and text[i + 1] == '"':
                j, key = i + 2, []
                while j < n and text[j] != '"':
                    if text[j] == "\\" and j + 1 < n:
                        j += 1
                    key.append(text[j])
                    j += 1
                if j + 1 >= n or text[j + 1] != "]":
                    fail(f"has an unclosed [\"...\"] at column {i + 1}")
                parts.append("".join(key))
                i = j + 2
            else:
                j = text.find("]", i)
                digits = text[i + 1:j] if j > 0 else ""
                if not digits.isdigit() or not digits.isascii():
                    fail(f"has a bad index at column {i + 1} (write [0], [1], ... or [\"key\"])")
                parts.append(int(digits))
                i = j + 1
            expect_key = False
            continue
        if c == ".":
            if current is not None:
                parts.append(current)
                current = None
            elif expect_key:
                fail(f"has an empty key at column {i + 1}")
            expect_key = True
            i += 1
            continue
        if not expect_key and current is None:
            fail(f"needs a '.' before the key at column {i + 1}")
        if c == "\\" and i + 1 < n:
            i += 1
            c = text[i]
        current = (current or "") + c
        i += 1
    if current is not None:
        parts.append(current)
    elif expect_key:
        fail("ends without a key" if text else "is empty")
    return tuple(parts)


def manifest_to_values(path, section: tuple = ()) -> KeyPath:
    """The values path that feeds a manifest path (``spec.x`` is values ``x``); ``()`` when none does."""
    path = tuple(path)
    if path[:1] == ("spec",):
        return path[1:]
    if path[:2] == ("metadata", "labels"):
        return ("labels",) + path[2:]
    if path[:2] == ("metadata", "annotations"):
        return ("annotations",) + path[2:]
    return ()


def is_under(path, prefix) -> bool:
    """True if ``path`` is ``prefix`` or lies below it."""
    return tuple(path[: len(prefix)]) == tuple(prefix)


def lookup(data, path, default=None):
    """The value at ``path`` inside nested mappings and lists, or ``default`` when there is none there."""
    for part in path:
        if isinstance(data, dict) and part in data or (
                isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)):
            data = data[part]
        else:
            return default
    return data
