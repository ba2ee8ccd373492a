"""Find and load the app file, profiles and overlays, safely.

Names resolve in the app directory's own ``profiles/`` and ``overlays/``
first, then among the built-ins shipped in the package. A name is a plain
file stem: nothing that could leave the app directory (``../x``, an absolute
path, a symlink pointing outside) is ever opened.

Parsed files are cached: package files for the process, others while their
size and modification time are unchanged, or, inside a :class:`snapshot`
(one bulk command), once per path. Files with the same display name and
bytes are one parsed document wherever they sit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from renderer.errors import InputError, Location
from renderer.records import Record
from renderer.stages import yamlio

APP_FILE = "eventbus-render.yaml"
BACKENDS = ("nats-native", "nats-exotic", "jetstream", "jetstream-exotic", "kafka")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


_BUILTIN_DIRS: dict = {}


def builtin_dir(kind: str) -> Path:
    """Folder of built-in ``profiles`` or ``overlays``: in the package, or the checkout's top level."""
    found = _BUILTIN_DIRS.get(kind)
    if found is None:
        inside = _PACKAGE_DIR / kind
        found = _BUILTIN_DIRS[kind] = inside if inside.is_dir() else _PACKAGE_DIR.parent / kind
    return found


class Document(Record):
    """One loaded YAML file: its data, key marks and display name.

    Documents are shared (files with the same name and bytes are one
    document): nothing may change one, and ``path`` is only the first file
    it was read from.
    """

    _fields = ("path", "display", "data", "marks")

    def __init__(self, path: Path | None, display: str, data: dict, marks: dict):
        self.path = path
        self.display = display
        self.data = data
        self.marks = marks

    def where(self, key_path: tuple) -> Location:
        """Location of ``key_path`` (or its nearest marked ancestor) in this file."""
        probe = tuple(key_path)
        while probe not in self.marks and probe:
            probe = probe[:-1]
        line, column = self.marks.get(probe, (None, None))
        return Location(self.display, line, column, yamlio.format_path(key_path) or None)

    def error(self, key_path: tuple, message: str, hint: str | None = None) -> InputError:
        """An :class:`InputError` located at ``key_path`` of this file."""
        return InputError(message, location=self.where(key_path), hint=hint)


class Profile(Record):
    """A profile: description, optional parent, values and guard configuration."""

    _fields = ("name", "doc", "description", "extends", "values", "guards", "merge", "builtin")

    def __init__(self, name: str, doc: Document, description: str = "", extends: str | None = None,
                 values: dict | None = None, guards: dict | None = None, merge: dict | None = None,
                 builtin: bool = False):
        self.name = name
        self.doc = doc
        self.description = description
        self.extends = extends
        self.values = {} if values is None else values
        self.guards = guards
        self.merge = {} if merge is None else merge
        self.builtin = builtin


class Overlay(Record):
    """An overlay: description and values."""

    _fields = ("name", "doc", "description", "values", "merge", "builtin")

    def __init__(self, name: str, doc: Document, description: str = "", values: dict | None = None,
                 merge: dict | None = None, builtin: bool = False):
        self.name = name
        self.doc = doc
        self.description = description
        self.values = {} if values is None else values
        self.merge = {} if merge is None else merge
        self.builtin = builtin


class App(Record):
    """The app file ``eventbus-render.yaml`` of one app directory."""

    _fields = ("root", "doc", "name", "namespace", "backend", "profile", "overlays", "values", "merge", "waivers",
               "environments", "description")

    def __init__(self, root: Path, doc: Document, name: str = "default", namespace: str | None = None,
                 backend: str = "", profile: str = "dev", overlays: list | None = None, values: dict | None = None,
                 merge: dict | None = None, waivers: list | None = None, environments: dict | None = None,
                 description: str = ""):
        self.root = root
        self.doc = doc
        self.name = name
        self.namespace = namespace
        self.backend = backend
        self.profile = profile
        self.overlays = [] if overlays is None else overlays
        self.values = {} if values is None else values
        self.merge = {} if merge is None else merge
        self.waivers = [] if waivers is None else waivers
        self.environments = {} if environments is None else environments
        self.description = description


APP_KEYS = ("description", "name", "namespace", "backend", "profile", "overlays", "values", "merge",
            "waivers", "environments")
PROFILE_KEYS = ("description", "extends", "values", "guards", "merge")
OVERLAY_KEYS = ("description", "values", "merge")
ENVIRONMENT_KEYS = ("description", "name", "namespace", "profile", "overlays", "values")
APP_ENTRIES = frozenset((APP_FILE, "profiles", "overlays", "templates"))
"""What of an app directory the renderer looks at: the app file and the layer folders."""


def display_path(path: Path, root: Path | None) -> str:
    """A path as shown in messages: relative to the app root, or ``builtin:`` for packaged files."""
    text = str(path)
    if root is not None:
        prefix = str(root).rstrip("/") + "/"
        if text.startswith(prefix):
            return text[len(prefix):]
    for kind in ("profiles", "overlays"):
        prefix = str(builtin_dir(kind)) + "/"
        if text.startswith(prefix):
            return f"builtin:{kind}/{text[len(prefix):]}"
    return path.name


def check_keys(doc: Document, data: dict, allowed: tuple, where: tuple = (), what: str = "key") -> None:
    """Reject keys of ``data`` not in ``allowed``, with a did-you-mean."""
    for key in data:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
            raise doc.error(where + (key,), f"unknown {what} {key!r}", hint=hint)


def expect(doc: Document, path: tuple, value, kind: type | tuple, what: str):
    """Type-check one field of a loaded file."""
    if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise doc.error(path, f"expected {what}, got a boolean")
    if not isinstance(value, kind):
        raise doc.error(path, f"expected {what}, got {type_name(value)}")
    return value


def type_name(value) -> str:
    """Human name of a YAML value's type."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


def check_name(name, doc: Document | None, path: tuple, kind: str) -> str:
    """A profile or overlay name must be a plain name: no path separators, no ``..``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        shown = name if isinstance(name, str) else type_name(name)
        message = f"{kind} name {shown!r} is not a plain name" if isinstance(name, str) else \
            f"{kind} name must be a string, got {shown}"
        hint = "use a file name from profiles/ or overlays/ without directories, e.g. 'prod'"
        if isinstance(name, str) and ("/" in name or "\\" in name or name.startswith(".")):
            message = f"{kind} name {shown!r} would leave the app directory"
        if doc is None:
            raise InputError(message, hint=hint)
        raise doc.error(path, message, hint=hint)
    return name


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


_PACKAGE_PREFIXES = (str(_PACKAGE_DIR) + os.sep, str(_PACKAGE_DIR.parent / "profiles") + os.sep,
                     str(_PACKAGE_DIR.parent / "overlays") + os.sep)
_DOCUMENTS: dict = {}
"""Parsed files by (path, display, size, mtime): profiles and overlays shared by many apps load once."""

_SNAPSHOT: dict | None = None
"""While :class:`snapshot` is active: what was found on disk, by path (the tree is read once)."""


class snapshot:
    """Read the repository as it is when the block starts: for one bulk render (``render --all``, ``diff``).

    Outside a snapshot every lookup asks the file system again (a long-lived
    process must see edits). Inside one, an app file, a folder listing or a
    parsed file is looked up once per path and then remembered until the
    block ends, which spares a render of many apps most of its ``stat``
    calls. Forked workers inherit the snapshot of their parent. Nesting is
    allowed; the outermost block owns the memory.
    """

    def __enter__(self):
        global _SNAPSHOT
        self.owner = _SNAPSHOT is None
        if self.owner:
            _SNAPSHOT = {}
        return self

    def know(self, app_dir: str, entries: dict) -> None:
        """Record what ``app_dir`` holds of :data:`APP_ENTRIES` (name -> ``file``, ``dir``, ``link`` or
        ``other``; a name missing is not there), as a directory listing just read it."""
        if _SNAPSHOT is not None:
            _SNAPSHOT[("entries", app_dir)] = entries

    def __exit__(self, *exc):
        global _SNAPSHOT
        if self.owner:
            _SNAPSHOT = None
        return False


def _entries(app_root) -> dict | None:
    """What a snapshot knows of ``app_root``'s :data:`APP_ENTRIES`, or ``None``."""
    return _SNAPSHOT.get(("entries", str(app_root))) if _SNAPSHOT is not None else None


def local_folder(app_root, kind: str) -> dict | None:
    """The YAML files of the app's own ``kind`` folder: ``{file name: is a symlink}``; ``None`` without one.

    Only regular files and symlinks count (a folder named ``x.yaml`` does not).
    When the folder itself is a symlink every file counts as one: each must be
    checked to stay inside the app directory.
    """
    key = ("folder", str(app_root), kind)
    if _SNAPSHOT is not None and key in _SNAPSHOT:
        return _SNAPSHOT[key]
    known = _entries(app_root)
    if known is not None and kind not in known:
        _SNAPSHOT[key] = None  # discovery saw no such folder
        return None
    found: dict | None = None
    folder = os.path.join(app_root, kind)
    try:
        with os.scandir(folder) as entries:
            linked = os.path.islink(folder)
            found = {}
            for entry in entries:
                if linked or entry.is_symlink():
                    found[entry.name] = True
                elif entry.is_file():
                    found[entry.name] = False
    except OSError:
        found = None
    if _SNAPSHOT is not None:
        _SNAPSHOT[key] = found
    return found


def has_folder(app_root, name: str) -> bool:
    """Whether the app directory holds a folder ``name`` (remembered inside a :class:`snapshot`)."""
    if app_root is None:
        return False
    if _SNAPSHOT is None:
        return os.path.isdir(os.path.join(app_root, name))
    key = ("isdir", str(app_root), name)
    found = _SNAPSHOT.get(key)
    if found is None:
        known = _entries(app_root)
        kind = known.get(name) if known is not None else "link"
        found = _SNAPSHOT[key] = kind == "dir" or (kind == "link" and os.path.isdir(os.path.join(app_root, name)))
    return found


def load_document(path: Path, display: str) -> Document:
    """Load one YAML mapping file (cached per process while the file is unchanged).

    Callers must not mutate the returned document's data: every consumer copies.
    """
    text = str(path)
    if text.startswith(_PACKAGE_PREFIXES):
        key = (text, display)  # the package's own files do not change under a running process
    elif _SNAPSHOT is not None:  # read once per snapshot, without asking whether the file changed
        key = ("document", text, display)
        document = _SNAPSHOT.get(key)
        if document is None:
            document = _SNAPSHOT[key] = _load_document(path, display)
        return document
    else:
        try:
            stat = os.stat(path)
            key = (text, display, stat.st_size, stat.st_mtime_ns, stat.st_ino)
        except OSError:
            key = None
    cached = _DOCUMENTS.get(key) if key is not None else None
    if cached is not None:
        return cached
    document = _load_document(path, display)
    if key is not None:
        if len(_DOCUMENTS) > 4096:
            _DOCUMENTS.clear()
        _DOCUMENTS[key] = document
    return document


_BY_CONTENT: dict = {}
"""Parsed documents by (display name, bytes): a file copied into many app directories is parsed once,
and, being one document, shares the merged-layer and check caches that are keyed by document."""


def _load_document(path: Path, display: str) -> Document:
    raw = yamlio.read_file(path, display)
    key = (display, raw)
    document = _BY_CONTENT.get(key)
    if document is not None:
        return document
    data, marks = yamlio.load(raw, display)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping at the top level, got {type_name(data)}",
                         location=Location(display, 1, 1))
    document = Document(path, display, data, marks)
    if len(raw) <= 64 * 1024:
        if len(_BY_CONTENT) > 4096:
            _BY_CONTENT.clear()
        _BY_CONTENT[key] = document
    return document


_BUILTIN_FOUND: dict = {}


def _contained(path: str, root: Path) -> bool:
    """Whether ``path`` (inside ``root`` by name) stays inside it: cheap when nothing is a symlink."""
    if not os.path.islink(path) and not os.path.islink(os.path.dirname(path)):
        return True
    return _inside(Path(path), root)


def find_named(kind: str, name: str, app_root: Path | None) -> tuple[Path, bool] | None:
    """Path of profile/overlay ``name``: the app's own first, then built-in. ``(path, builtin)``."""
    if app_root is not None and _SNAPSHOT is not None:
        listing = local_folder(app_root, kind) or {}
        for suffix in (".yaml", ".yml"):
            file_name = name + suffix
            if file_name in listing:
                candidate = Path(os.path.join(app_root, kind, file_name))
                if listing[file_name] and not _inside(candidate, Path(app_root)):
                    raise InputError(f"{kind[:-1]} {name!r} is a symlink that leaves the app directory",
                                     location=Location(f"{kind}/{candidate.name}"),
                                     hint="replace the symlink by the file itself")
                return candidate, False
    elif app_root is not None:
        local_dir = os.path.join(app_root, kind)
        for suffix in (".yaml", ".yml") if os.path.isdir(local_dir) else ():
            candidate = os.path.join(local_dir, f"{name}{suffix}")
            if os.path.isfile(candidate) or os.path.islink(candidate):
                candidate = Path(candidate)
                if not _contained(str(candidate), app_root):
                    raise InputError(f"{kind[:-1]} {name!r} is a symlink that leaves the app directory",
                                     location=Location(f"{kind}/{candidate.name}"),
                                     hint="replace the symlink by the file itself")
                return candidate, False
    key = (kind, name)
    if key not in _BUILTIN_FOUND:  # the package's files do not change while we run
        base = builtin_dir(kind)
        _BUILTIN_FOUND[key] = next(((base / f"{name}{suffix}", True) for suffix in (".yaml", ".yml")
                                    if (base / f"{name}{suffix}").is_file()), None)
    return _BUILTIN_FOUND[key]


def available(kind: str, app_root: Path | None) -> dict[str, tuple[Path, bool]]:
    """Every profile or overlay visible from ``app_root``: name -> (path, builtin), sorted by name."""
    found: dict[str, tuple[Path, bool]] = {}
    dirs = [(builtin_dir(kind), True)]
    if app_root is not None:
        dirs.append((app_root / kind, False))
    for folder, builtin in dirs:
        if not folder.is_dir():
            continue
        for entry in sorted(os.listdir(folder)):
            stem, dot, ext = entry.rpartition(".")
            if dot and ext in ("yaml", "yml") and _NAME.fullmatch(stem):
                path = folder / entry
                if not builtin and not _inside(path, app_root):
                    continue
                found[stem] = (path, builtin)
    return dict(sorted(found.items()))


def _unknown(kind: str, name: str, app_root: Path | None, doc: Document | None, path: tuple) -> InputError:
    known = ", ".join(available(kind, app_root)) or "none"
    message = f"unknown {kind[:-1]} {name!r}"
    hint = f"known {kind}: {known}"
    if doc is None:
        return InputError(message, hint=hint)
    return doc.error(path, message, hint=hint)


def _merge_spec(doc: Document, data: dict) -> dict:
    merge = data.get("merge") or {}
    expect(doc, ("merge",), merge, dict, "a mapping of value paths to merge strategies")
    return merge


def load_profile(name: str, app_root: Path | None, *, referrer: Document | None = None,
                 ref_path: tuple = ("profile",)) -> Profile:
    """Load profile ``name`` (not its parents)."""
    check_name(name, referrer, ref_path, "profile")
    found = find_named("profiles", name, app_root)
    if found is None:
        raise _unknown("profiles", name, app_root, referrer, ref_path)
    path, builtin = found
    doc = load_document(path, display_path(path, app_root))
    cached = _CHECKED.get(("profile", id(doc)))
    if cached is not None and cached.doc is doc:
        return cached
    data = doc.data
    check_keys(doc, data, PROFILE_KEYS)
    description = expect(doc, ("description",), data.get("description", ""), str, "a string")
    extends = data.get("extends")
    if extends is not None:
        check_name(extends, doc, ("extends",), "profile")
    values = data.get("values") or {}
    expect(doc, ("values",), values, dict, "a mapping")
    guards = data.get("guards")
    if guards is not None:
        expect(doc, ("guards",), guards, dict, "a mapping of guard ids to settings")
    return _remember("profile", doc, Profile(name, doc, description, extends, values, guards,
                                             _merge_spec(doc, data), builtin))


_CHECKED: dict = {}
"""Checked profiles and overlays by document: shared by every app that uses them."""


def _remember(kind: str, doc: Document, checked):
    if len(_CHECKED) > 4096:
        _CHECKED.clear()
    _CHECKED[(kind, id(doc))] = checked
    return checked


def _remembered(kind: str, name, app_root, load):
    """``load()``, remembered by kind, name and app directory inside a :class:`snapshot`."""
    if _SNAPSHOT is None or name.__class__ is not str:
        return load()
    key = (kind, name, str(app_root))
    found = _SNAPSHOT.get(key)
    if found is None:
        found = _SNAPSHOT[key] = load()
    return found


def load_profile_chain(name: str, app_root: Path | None, *, referrer: Document | None = None,
                       ref_path: tuple = ("profile",)) -> list[Profile]:
    """Profile ``name`` and every profile it extends, base first. Cycles are an error."""
    return list(_remembered("profile chain", name, app_root,
                            lambda: _load_profile_chain(name, app_root, referrer=referrer, ref_path=ref_path)))


def _load_profile_chain(name: str, app_root: Path | None, *, referrer: Document | None = None,
                        ref_path: tuple = ("profile",)) -> list[Profile]:
    chain: list[Profile] = []
    seen: list[str] = []
    current, doc, path = name, referrer, ref_path
    while current is not None:
        if current in seen:
            cycle = " -> ".join(seen + [current])
            raise doc.error(path, f"profile 'extends' forms a cycle: {cycle}",
                            hint="remove one of the 'extends' links")
        seen.append(current)
        profile = load_profile(current, app_root, referrer=doc, ref_path=path)
        chain.append(profile)
        current, doc, path = profile.extends, profile.doc, ("extends",)
    chain.reverse()
    return chain


def load_overlay(name: str, app_root: Path | None, *, referrer: Document | None = None,
                 ref_path: tuple = ("overlays",)) -> Overlay:
    """Load overlay ``name``."""
    return _remembered("overlay", name, app_root,
                       lambda: _load_overlay(name, app_root, referrer=referrer, ref_path=ref_path))


def _load_overlay(name: str, app_root: Path | None, *, referrer: Document | None = None,
                  ref_path: tuple = ("overlays",)) -> Overlay:
    check_name(name, referrer, ref_path, "overlay")
    found = find_named("overlays", name, app_root)
    if found is None:
        raise _unknown("overlays", name, app_root, referrer, ref_path)
    path, builtin = found
    doc = load_document(path, display_path(path, app_root))
    cached = _CHECKED.get(("overlay", id(doc)))
    if cached is not None and cached.doc is doc:
        return cached
    check_keys(doc, doc.data, OVERLAY_KEYS)
    description = expect(doc, ("description",), doc.data.get("description", ""), str, "a string")
    values = doc.data.get("values") or {}
    expect(doc, ("values",), values, dict, "a mapping")
    return _remember("overlay", doc, Overlay(name, doc, description, values, _merge_spec(doc, doc.data), builtin))


def _overlay_list(doc: Document, path: tuple, value) -> list:
    if value is None:
        return []
    expect(doc, path, value, list, "a list of overlay names")
    for index, item in enumerate(value):
        check_name(item, doc, path + (index,), "overlay")
    return list(value)


def load_app(app_dir) -> App:
    """Load and check the app file of ``app_dir`` (once per path inside a :class:`snapshot`)."""
    if _SNAPSHOT is not None:
        key = ("app", str(app_dir))
        app = _SNAPSHOT.get(key)
        if app is None:
            app = _SNAPSHOT[key] = _load_app(app_dir)
        return app
    return _load_app(app_dir)


def _load_app(app_dir) -> App:
    root = Path(app_dir)
    path = root / APP_FILE
    known = _entries(app_dir)
    # a directory discovery listed with the app file in it, a regular file, needs no checking again
    if known is None or known.get(APP_FILE) != "file":
        if not root.is_dir():
            raise InputError(f"app directory {str(app_dir)!r} does not exist",
                             hint="pass --app DIR, a folder holding eventbus-render.yaml")
        if not path.is_file():
            raise InputError(f"no {APP_FILE} in app directory {str(app_dir)!r}",
                             hint=f"create {APP_FILE} with at least 'backend:' (one of {', '.join(BACKENDS)})")
        if not _contained(str(path), root):
            raise InputError(f"{APP_FILE} is a symlink that leaves the app directory",
                             location=Location(APP_FILE))
    doc = load_document(path, APP_FILE)
    cached = _APPS.get(id(doc))
    if cached is not None and cached.doc is doc and cached.root == root:
        return cached
    app = _check_app(root, doc)
    if len(_APPS) > 4096:
        _APPS.clear()
    _APPS[id(doc)] = app
    return app


_APPS: dict = {}
"""Checked app files by document (the document cache keeps them while the file is unchanged)."""


def _check_app(root: Path, doc: Document) -> App:
    data = doc.data
    check_keys(doc, data, APP_KEYS)
    app = App(root=root, doc=doc)
    app.description = expect(doc, ("description",), data.get("description", ""), str, "a string")
    app.name = expect(doc, ("name",), data.get("name", "default"), str, "a string")
    namespace = data.get("namespace")
    if namespace is not None:
        app.namespace = expect(doc, ("namespace",), namespace, str, "a string")
    if "backend" not in data:
        raise doc.error((), "missing required key 'backend'", hint=f"set backend: to one of {', '.join(BACKENDS)}")
    backend = data["backend"]
    if backend not in BACKENDS:
        import difflib

        close = difflib.get_close_matches(str(backend), BACKENDS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(BACKENDS)}"
        raise doc.error(("backend",), f"unknown backend {backend!r}", hint=hint)
    app.backend = backend
    app.profile = check_name(data.get("profile", "dev"), doc, ("profile",), "profile")
    app.overlays = _overlay_list(doc, ("overlays",), data.get("overlays"))
    app.values = data.get("values") or {}
    expect(doc, ("values",), app.values, dict, "a mapping")
    app.merge = _merge_spec(doc, data)
    app.waivers = data.get("waivers") or []
    expect(doc, ("waivers",), app.waivers, list, "a list of waivers")
    environments = data.get("environments") or {}
    expect(doc, ("environments",), environments, dict, "a mapping of environment names to settings")
    checked = {}
    for env_name, env in environments.items():
        check_name(env_name, doc, ("environments", env_name), "environment")
        env = env or {}
        expect(doc, ("environments", env_name), env, dict, "a mapping")
        check_keys(doc, env, ENVIRONMENT_KEYS, ("environments", env_name))
        for key in ("name", "namespace", "description"):
            if key in env:
                expect(doc, ("environments", env_name, key), env[key], str, "a string")
        if "profile" in env:
            check_name(env["profile"], doc, ("environments", env_name, "profile"), "profile")
        _overlay_list(doc, ("environments", env_name, "overlays"), env.get("overlays"))
        expect(doc, ("environments", env_name, "values"), env.get("values") or {}, dict, "a mapping")
        checked[env_name] = env
    app.environments = checked
    return app
