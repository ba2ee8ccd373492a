"""The structural checks of the files users write: app file, environments, profiles, overlays.

Everything here decides whether a loaded file has the right shape (known
keys, the type of each field, plain names for profiles, overlays and
environments) and words the error, located at the key, when it has not.
:mod:`renderer.stages.sources` calls :func:`check_app`, :func:`check_profile`
and :func:`check_overlay` on each document it loads (once per run for the
same content) before it builds a record from it; nothing here builds
records or touches the disk.
"""

from __future__ import annotations

import re

from renderer.errors import InputError, Location

BACKENDS = ("nats-native", "nats-exotic", "jetstream", "jetstream-exotic", "kafka")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
"""A plain name of a profile, overlay or environment (a file stem: no directories)."""

APP_KEYS = ("description", "name", "namespace", "backend", "profile", "overlays", "values", "merge",
            "waivers", "environments")
PROFILE_KEYS = ("description", "extends", "values", "guards", "merge")
OVERLAY_KEYS = ("description", "values", "merge")
ENVIRONMENT_KEYS = ("description", "name", "namespace", "profile", "overlays", "values")


def type_name(value) -> str:
    """Human name of a YAML value's type."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping"}.get(type(value), type(value).__name__)


def top_level_mapping(data, display: str) -> dict:
    """The top level of a user file: a mapping (an empty file is an empty one)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping at the top level, got {type_name(data)}",
                         location=Location(display, 1, 1))
    return data


def check_keys(doc, data: dict, allowed: tuple, where: tuple = (), what: str = "key") -> None:
    """Reject keys of ``data`` not in ``allowed``, with a did-you-mean."""
    for key in data:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
            raise doc.error(where + (key,), f"unknown {what} {key!r}", hint=hint)


def expect(doc, path: tuple, value, kind: type | tuple, what: str):
    """Type-check one field of a loaded file."""
    if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise doc.error(path, f"expected {what}, got a boolean")
    if not isinstance(value, kind):
        raise doc.error(path, f"expected {what}, got {type_name(value)}")
    return value


def check_name(name, doc, path: tuple, kind: str) -> str:
    """A profile or overlay name must be a plain name: no path separators, no ``..``."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
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


def check_merge(doc, data: dict) -> None:
    """The ``merge`` block of a file maps value paths to merge strategies."""
    expect(doc, ("merge",), data.get("merge") or {}, dict, "a mapping of value paths to merge strategies")


def check_overlay_list(doc, path: tuple, value) -> None:
    """A list of overlay names (``None`` is none)."""
    if value is None:
        return
    expect(doc, path, value, list, "a list of overlay names")
    for index, item in enumerate(value):
        check_name(item, doc, path + (index,), "overlay")


def check_profile(doc) -> None:
    """Check a profile file: ``description``, ``extends``, ``values``, ``guards``, ``merge``."""
    data = doc.data
    check_keys(doc, data, PROFILE_KEYS)
    expect(doc, ("description",), data.get("description", ""), str, "a string")
    extends = data.get("extends")
    if extends is not None:
        check_name(extends, doc, ("extends",), "profile")
    expect(doc, ("values",), data.get("values") or {}, dict, "a mapping")
    guards = data.get("guards")
    if guards is not None:
        expect(doc, ("guards",), guards, dict, "a mapping of guard ids to settings")
    check_merge(doc, data)


def check_overlay(doc) -> None:
    """Check an overlay file: ``description``, ``values``, ``merge``."""
    data = doc.data
    check_keys(doc, data, OVERLAY_KEYS)
    expect(doc, ("description",), data.get("description", ""), str, "a string")
    expect(doc, ("values",), data.get("values") or {}, dict, "a mapping")
    check_merge(doc, data)


def check_app(doc) -> None:
    """Check an app file, its ``environments`` one by one."""
    data = doc.data
    check_keys(doc, data, APP_KEYS)
    expect(doc, ("description",), data.get("description", ""), str, "a string")
    expect(doc, ("name",), data.get("name", "default"), str, "a string")
    namespace = data.get("namespace")
    if namespace is not None:
        expect(doc, ("namespace",), namespace, str, "a string")
    if "backend" not in data:
        raise doc.error((), "missing required key 'backend'", hint=f"set backend: to one of {', '.join(BACKENDS)}")
    backend = data["backend"]
    if backend not in BACKENDS:
        import difflib

        close = difflib.get_close_matches(str(backend), BACKENDS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(BACKENDS)}"
        raise doc.error(("backend",), f"unknown backend {backend!r}", hint=hint)
    check_name(data.get("profile", "dev"), doc, ("profile",), "profile")
    check_overlay_list(doc, ("overlays",), data.get("overlays"))
    expect(doc, ("values",), data.get("values") or {}, dict, "a mapping")
    check_merge(doc, data)
    expect(doc, ("waivers",), data.get("waivers") or [], list, "a list of waivers")
    environments = data.get("environments") or {}
    expect(doc, ("environments",), environments, dict, "a mapping of environment names to settings")
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
        check_overlay_list(doc, ("environments", env_name, "overlays"), env.get("overlays"))
        expect(doc, ("environments", env_name, "values"), env.get("values") or {}, dict, "a mapping")
