"""Find and load the app file, profiles and overlays, safely: the load stage's front door.

Names resolve in the app directory's own ``profiles/`` and ``overlays/``
first, then in the repository layer (the nearest ``.eventbus-render/`` above
the app), then among the built-ins shipped in the package; nothing that could
leave its place is ever opened (:mod:`renderer.stages.tree`). A profile's
``extends`` resolves from the profile's own place down: an app profile may
extend a shared one, a shared one a built-in, never the other way, and a
profile extending its own name extends the one it shadows. Files
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
from renderer.stages import tree
from renderer.stages.catalog import available, everywhere, is_repository_file, real_path, template_folders
from renderer.stages.containment import confine
from renderer.stages.documents import Document, load_document
from renderer.stages.filechecks import (
    BACKENDS,
    check_app,
    check_name,
    check_overlay,
    check_profile,
    type_name,
)
from renderer.stages.tree import (
    APP,
    APP_ENTRIES,
    APP_FILE,
    BUILTIN,
    LAYER_FOLDER,
    REPOSITORY,
    REPOSITORY_MARK,
    Place,
    builtin_dir,
    entries,
    find_named,
    has_folder,
    local_folder,
    places,
    repository_layer,
    snapshot,
)
from renderer.suggest import did_you_mean

__all__ = [
    "APP", "APP_ENTRIES", "APP_FILE", "BACKENDS", "BUILTIN", "LAYER_FOLDER", "REPOSITORY", "REPOSITORY_MARK",
    "App", "Document", "Overlay", "Place", "Profile", "available", "builtin_dir", "check_name",
    "everywhere", "find_named", "has_folder", "is_repository_file", "load_app", "load_document",
    "load_overlay", "load_profile", "load_profile_chain", "local_folder", "places", "real_path", "repository_layer",
    "snapshot", "template_folders", "type_name", "unknown_name",
]


@dataclass(slots=True, frozen=True)
class Profile:
    """A profile: description, optional parent, values and guard configuration.

    ``place`` is where it was found; ``below`` the places under it, where
    its ``extends`` may lead and where a profile it shadows (same name) sits.
    """

    name: str
    doc: Document
    description: str = ""
    extends: str | None = None
    values: dict = field(default_factory=dict)
    guards: dict | None = None
    merge: dict = field(default_factory=dict)
    place: Place = tree.BUILTIN_PLACE
    below: tuple = ()

    @property
    def builtin(self) -> bool:
        """Whether it is one of the package's profiles."""
        return self.place.where == BUILTIN


@dataclass(slots=True, frozen=True)
class Overlay:
    """An overlay: description and values; ``place`` is where it was found."""

    name: str
    doc: Document
    description: str = ""
    values: dict = field(default_factory=dict)
    merge: dict = field(default_factory=dict)
    place: Place = tree.BUILTIN_PLACE

    @property
    def builtin(self) -> bool:
        """Whether it is one of the package's overlays."""
        return self.place.where == BUILTIN


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


def unknown_name(kind: str, name: str, where, doc: Document | None = None, path: tuple = ()) -> InputError:
    """The error for profile or overlay ``name`` that no place of ``where`` holds, with the closest known names."""
    names = available(kind, where)
    message = f"unknown {kind[:-1]} {name!r}"
    hint = did_you_mean(name, names) + f"known {kind}: {', '.join(names) or 'none'}"
    if doc is None:
        return InputError(message, hint=hint)
    return doc.error(path, message, hint=hint)


def _load(kind: str, name: str, where, referrer: Document | None, ref_path: tuple, check):
    """``(document, place, places below it)`` of profile or overlay ``name``, looked up in ``where``."""
    check_name(name, referrer, ref_path, kind[:-1])
    lookup = where if isinstance(where, tuple) else places(where)
    found = find_named(kind, name, lookup)
    if found is None:
        raise unknown_name(kind, name, lookup, referrer, ref_path)
    path, place = found
    doc = _checked(kind[:-1], load_document(path, place.display(kind, path.name)), check)
    return doc, place, lookup[lookup.index(place) + 1:]


def load_profile(name: str, where, *, referrer: Document | None = None,
                 ref_path: tuple = ("profile",)) -> Profile:
    """Load profile ``name`` (not its parents) from the places of ``where`` (an app directory, ``None`` for the
    built-ins alone, or a tuple of :class:`Place`)."""
    doc, place, below = _load("profiles", name, where, referrer, ref_path, check_profile)
    return Profile(name, doc, place=place, below=below, **_profile_fields(doc.data))


def load_profile_chain(name: str, where, *, referrer: Document | None = None,
                       ref_path: tuple = ("profile",)) -> list[Profile]:
    """Profile ``name`` and every profile it extends, base first. Cycles are an error.

    A profile's ``extends`` resolves from its own place down (an app profile
    may extend a shared one, a shared one a built-in, never upwards), and
    ``extends`` of its own name leads to the profile it shadows.
    """
    chain: list[Profile] = []
    current, doc, path, lookup = name, referrer, ref_path, places(where)
    while current is not None:
        profile = load_profile(current, lookup, referrer=doc, ref_path=path)
        if chain and any(p.name == profile.name and p.place == profile.place for p in chain):
            cycle = " -> ".join([p.name for p in chain] + [current])
            raise doc.error(path, f"profile 'extends' forms a cycle: {cycle}",
                            hint="remove one of the 'extends' links")
        chain.append(profile)
        current, doc, path = profile.extends, profile.doc, ("extends",)
        lookup = profile.below if current == profile.name else (profile.place,) + profile.below
        if current == profile.name and find_named("profiles", current, lookup) is None:
            raise doc.error(path, f"profile {current!r} extends its own name, and no profile {current!r} lies "
                            f"below its place ({profile.place.label})",
                            hint="a profile extending its own name extends the one it shadows in the repository "
                                 "layer or among the built-ins; name another profile")
    chain.reverse()
    return chain


def load_overlay(name: str, where, *, referrer: Document | None = None,
                 ref_path: tuple = ("overlays",)) -> Overlay:
    """Load overlay ``name`` from the places of ``where``."""
    doc, place, _ = _load("overlays", name, where, referrer, ref_path, check_overlay)
    return Overlay(name, doc, place=place, **_overlay_fields(doc.data))


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
