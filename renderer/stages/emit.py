"""Deterministic, type-safe output: YAML for PyYAML and go-yaml alike, JSON, files.

The YAML writer is ours rather than PyYAML's dumper because the dumper
quotes by YAML 1.1 rules as PyYAML reads them, while Argo CD reads with
go-yaml, where ``y``, ``n`` and ``1e3`` are not strings either. Here a string
is written plain only when it starts with a letter, holds only a small safe
alphabet and is no boolean or null word in any YAML version; everything else
is double-quoted with every non-printable character escaped. Keys are sorted
(a few well-known keys first), so reordering a profile never changes output.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path

from renderer import context
from renderer.descriptors import write_all
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


_TEMPORARY = itertools.count()
"""Numbers of this process's temporary files (with the process id, unique among concurrent writers)."""
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_file(path, text: str | bytes, *, mode: int | None = None, dir_fd: int | None = None) -> str:
    """Write ``text`` to the file ``path`` atomically; every file the tool writes goes through here.

    The data goes to a new temporary file in the same folder (``.<name>.<pid>-<n>.tmp``),
    which is then renamed over ``path``: a reader sees the old file or the
    new one, never part of one, and a failure leaves no temporary file
    behind. The folder must exist. The file's permissions follow the umask
    (``0o666`` masked), or are exactly ``mode`` when given. Nothing is
    fsynced: every file written is output the tool can write again, and a
    rendered tree of thousands of files would pay one disk flush per file.
    A symlink at ``path`` is replaced, never followed. With ``dir_fd``,
    ``path`` is a name in the folder open as ``dir_fd``. Returns ``path`` as a string.
    """
    path = os.fspath(path)
    temp = _write_temporary(path, text, mode, dir_fd)
    try:
        os.replace(temp, path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        _unlink(temp, dir_fd)
        raise
    return path


def _write_temporary(path: str, text: str | bytes, mode: int | None, dir_fd: int | None) -> str:
    """Write ``text`` to a new temporary file beside ``path`` (see :func:`write_file`); its name."""
    folder, _, name = path.rpartition(os.sep)
    data = text.encode("utf-8") if text.__class__ is str else text
    prefix = f"{folder}{os.sep if folder or path.startswith(os.sep) else ''}.{name}.{os.getpid()}-"
    while True:
        temp = f"{prefix}{next(_TEMPORARY)}.tmp"
        try:
            fd = os.open(temp, _CREATE, 0o666, dir_fd=dir_fd)
            break
        except FileExistsError:  # left by a writer that was killed: take the next number
            continue
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            write_all(fd, data)
        finally:
            os.close(fd)
    except BaseException:
        _unlink(temp, dir_fd)
        raise
    return temp


def _unlink(path: str, dir_fd: int | None) -> None:
    try:
        os.unlink(path, dir_fd=dir_fd)
    except OSError:
        pass


_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def write_tree(directory: Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` (relative path -> text) under ``directory``, each with :func:`write_file`, mode 0644.

    Everything is rendered before this is called, and readers never see a
    partial file. No symlink is followed from ``directory`` down (``directory``
    included): every folder is opened relative to the one above it without
    following links, so a link planted at ``directory/<namespace>`` cannot
    send a file elsewhere. A write that fails (a full or read-only file
    system) is an :class:`OutputError` that leaves every file as it was: each is written to its temporary
    name before any is renamed into place, and the folders this call made are removed. Temporary files
    that killed writers left beside a file written are removed.
    """
    directory = Path(directory)
    made: list = []  # (descriptor of the parent, name), in the order made
    opened: list = []
    pending: list = []  # (descriptor of the folder, temporary name, name, relative path): written, not in place
    try:
        top = _open_folder(None, str(directory), made, opened, directory)
        for relative in sorted(files):
            *folders, name = relative.split("/")
            fd, shown = top, directory
            for folder in folders:
                shown = shown / folder
                fd = _open_folder(fd, folder, made, opened, shown)
            pending.append((fd, _write_temporary(name, files[relative], 0o644, fd), name, relative))
        written = []
        while pending:  # every file is written: now each goes in place (a rename does not fill a disk)
            fd, temp, name, relative = pending[0]
            os.replace(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
            pending.pop(0)
            _remove_stale_temporaries(fd, name)
            written.append(directory / relative)
    except BaseException as exc:
        for fd, temp, _, _ in pending:
            _unlink(temp, fd)
        for parent, name in reversed(made):
            try:
                os.rmdir(name, dir_fd=parent)
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise _write_error(exc, directory) from None
        raise
    finally:
        for fd in reversed(opened):
            os.close(fd)
    return written


def _remove_stale_temporaries(folder: int, name: str) -> None:
    """Remove the temporary files of ``name`` (:func:`write_file`'s) whose writer is no longer alive."""
    pattern = re.compile(re.escape(f".{name}.") + r"(\d+)-\d+\.tmp")
    for entry in os.listdir(folder):
        found = pattern.fullmatch(entry)
        if found is None:
            continue
        try:
            os.kill(int(found.group(1)), 0)
            continue  # its writer runs (or a process that took its number: leave it)
        except ProcessLookupError:
            pass
        except (OSError, OverflowError):
            continue
        try:
            os.unlink(entry, dir_fd=folder)
        except OSError:
            pass


def _open_folder(parent: int | None, name: str, made: list, opened: list, shown: Path) -> int:
    """Open (making it if missing) the folder ``name`` under the folder ``parent`` without following a symlink."""
    import stat

    if parent is None:  # the output folder itself: its missing parents are made too
        try:
            info = os.lstat(name)
        except FileNotFoundError:
            info = None
        if info is None:
            missing = []
            probe = Path(name)
            while not os.path.lexists(probe):
                missing.append(probe)
                if probe.parent == probe:
                    break
                probe = probe.parent
            for path in reversed(missing):
                os.mkdir(path)
                made.append((None, str(path)))
        elif stat.S_ISLNK(info.st_mode):
            raise InputError(f"output {str(shown)!r} is a symlink; refusing to follow it",
                             hint="pass the real folder with -o")
        elif not stat.S_ISDIR(info.st_mode):
            raise InputError(f"output path {str(shown)!r} exists and is not a directory")
    else:
        try:
            os.mkdir(name, dir_fd=parent)
            made.append((parent, name))
        except FileExistsError:
            pass
    try:
        fd = os.open(name, _FOLDER, dir_fd=parent)
    except OSError:
        try:
            link = stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode)
        except OSError:
            link = False
        if link:
            raise InputError(f"output {str(shown)!r} is a symlink; refusing to follow it",
                             hint="remove the link: nothing under the output folder may lead elsewhere") from None
        raise
    opened.append(fd)
    return fd


def _write_error(exc: OSError, directory: Path):
    """The :class:`~renderer.errors.OutputError` of a failed write under ``directory``."""
    import errno

    from renderer.errors import OutputError

    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and exc.filename:
        return OutputError(f"output path {str(directory)!r} holds a file where a folder should be "
                           f"({exc.filename}): {exc.strerror}")
    full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    return OutputError(f"could not write under {str(directory)!r}: {exc.strerror or exc}",
                       hint="free space on the device, or write somewhere else" if full
                       else "write to a folder this user can write, with -o DIR")
