"""Find and load the app file, profiles and overlays, safely: the load stage's front door.

Names resolve in the app directory's own ``profiles/`` and ``overlays/``
first, then among the built-ins shipped in the package; nothing that could
leave the app directory is ever opened (:mod:`renderer.stages.tree`). Files
are parsed once per run and every caller gets its own copy
(:mod:`renderer.stages.documents`); their shape is checked by
:mod:`renderer.stages.filechecks`. This module builds the records
(:class:`App`, :class:`Profile`, :class:`Overlay`) and follows ``extends``.

The names other modules use are importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from renderer import context
from renderer.errors import InputError
from renderer.stages.documents import Document, display_path, load_document
from renderer.stages.filechecks import (
    BACKENDS,
    check_app,
    check_name,
    check_overlay,
    check_profile,
    type_name,
)
from renderer.stages.tree import (
    APP_ENTRIES,
    APP_FILE,
    available,
    builtin_dir,
    confine,
    entries,
    find_named,
    has_folder,
    local_folder,
    snapshot,
)

__all__ = [
    "APP_ENTRIES", "APP_FILE", "BACKENDS",
    "App", "Document", "Overlay", "Profile", "available", "builtin_dir", "check_name",
    "display_path", "find_named", "has_folder", "load_app", "load_document", "load_overlay",
    "load_profile", "load_profile_chain", "local_folder", "snapshot", "type_name",
]


@dataclass(slots=True, frozen=True)
class Profile:
    """A profile: description, optional parent, values and guard configuration."""

    name: str
    doc: Document
    description: str = ""
    extends: str | None = None
    values: dict = field(default_factory=dict)
    guards: dict | None = None
    merge: dict = field(default_factory=dict)
    builtin: bool = False


@dataclass(slots=True, frozen=True)
class Overlay:
    """An overlay: description and values."""

    name: str
    doc: Document
    description: str = ""
    values: dict = field(default_factory=dict)
    merge: dict = field(default_factory=dict)
    builtin: bool = False


@dataclass(slots=True, frozen=True)
class App:
    """The app file ``eventbus-render.yaml`` of one app directory."""

    root: Path
    doc: Document
    name: str = "default"
    namespace: str | None = None
    backend: str = ""
    profile: str = "dev"
    overlays: list = field(default_factory=list)
    values: dict = field(default_factory=dict)
    merge: dict = field(default_factory=dict)
    waivers: list = field(default_factory=list)
    environments: dict = field(default_factory=dict)
    description: str = ""
    default_environment: str | None = None


def _checked(kind: str, doc: Document, check) -> Document:
    """``doc`` after ``check(doc)``: a file's content is checked once per run."""
    done = context.cache("sources.checked")
    if (kind, doc.key) not in done:
        check(doc)
        done[(kind, doc.key)] = True
    return doc


def _profile_fields(data: dict) -> dict:
    return {"description": data.get("description", ""), "extends": data.get("extends"),
            "values": data.get("values") or {}, "guards": data.get("guards"), "merge": data.get("merge") or {}}


def _overlay_fields(data: dict) -> dict:
    return {"description": data.get("description", ""), "values": data.get("values") or {},
            "merge": data.get("merge") or {}}


def _app_fields(data: dict) -> dict:
    return {"name": data.get("name", "default"), "namespace": data.get("namespace"), "backend": data["backend"],
            "profile": data.get("profile", "dev"), "overlays": list(data.get("overlays") or ()),
            "values": data.get("values") or {}, "merge": data.get("merge") or {}, "waivers": data.get("waivers") or [],
            "environments": {name: env or {} for name, env in (data.get("environments") or {}).items()},
            "description": data.get("description", ""), "default_environment": data.get("defaultEnvironment")}


def did_you_mean(word: str, choices) -> str:
    """``"did you mean 'x'? "`` for the choice closest to ``word``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _unknown(kind: str, name: str, app_root: Path | None, doc: Document | None, path: tuple) -> InputError:
    names = available(kind, app_root)
    message = f"unknown {kind[:-1]} {name!r}"
    hint = did_you_mean(name, names) + f"known {kind}: {', '.join(names) or 'none'}"
    if doc is None:
        return InputError(message, hint=hint)
    return doc.error(path, message, hint=hint)


def load_profile(name: str, app_root: Path | None, *, referrer: Document | None = None,
                 ref_path: tuple = ("profile",)) -> Profile:
    """Load profile ``name`` (not its parents)."""
    check_name(name, referrer, ref_path, "profile")
    found = find_named("profiles", name, app_root)
    if found is None:
        raise _unknown("profiles", name, app_root, referrer, ref_path)
    path, builtin = found
    doc = _checked("profile", load_document(path, display_path(path, app_root)), check_profile)
    return Profile(name, doc, builtin=builtin, **_profile_fields(doc.data))


def load_profile_chain(name: str, app_root: Path | None, *, referrer: Document | None = None,
                       ref_path: tuple = ("profile",)) -> list[Profile]:
    """Profile ``name`` and every profile it extends, base first. Cycles are an error."""
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
    check_name(name, referrer, ref_path, "overlay")
    found = find_named("overlays", name, app_root)
    if found is None:
        raise _unknown("overlays", name, app_root, referrer, ref_path)
    path, builtin = found
    doc = _checked("overlay", load_document(path, display_path(path, app_root)), check_overlay)
    return Overlay(name, doc, builtin=builtin, **_overlay_fields(doc.data))


def load_app(app_dir) -> App:
    """Load and check the app file of ``app_dir``."""
    root = Path(app_dir)
    path = root / APP_FILE
    known = entries(app_dir)
    # a directory discovery listed with the app file in it, a regular file, needs no checking again
    if known is None or known.get(APP_FILE) != "file":
        if not root.is_dir():
            raise InputError(f"app directory {str(app_dir)!r} does not exist",
                             hint="pass --app DIR, a folder holding eventbus-render.yaml")
        if confine(root, APP_FILE, what="the app file") is None:
            raise InputError(f"no {APP_FILE} in app directory {str(app_dir)!r}",
                             hint=f"create {APP_FILE} with at least 'backend:' (one of {', '.join(BACKENDS)})")
    doc = _checked("app", load_document(path, APP_FILE), check_app)
    return App(root, doc, **_app_fields(doc.data))
