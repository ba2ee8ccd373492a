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
from renderer.stages import userfiles
from renderer.suggest import did_you_mean

BACKENDS = userfiles.BACKENDS
NAME = re.compile(userfiles.file_name("a profile, overlay or environment")["pattern"])
"""A plain name of a profile, overlay or environment (a file stem: no directories), as the schema says."""


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


def check_name(name, doc, path: tuple, kind: str) -> str:
    """A profile or overlay name must be a plain name: no path separators, no ``..``."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
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


def _check(doc, kind: str) -> None:
    """Every problem of ``doc`` as a file of ``kind``, from the one schema source, located at its key."""
    from renderer.stages.checks import raise_all

    problems = userfiles.check(kind, _without_values(doc.data))
    raise_all([doc.error(p.path, p.message, hint=p.fix or None) for p in problems])


def _without_values(data: dict) -> dict:
    """``data`` with each ``values`` mapping emptied: values are checked once merged, against the same schema
    (:data:`renderer.stages.userfiles.VALUES`), where each is located at the layer that set it and one
    environment's mistake fails that environment alone. A ``values`` that is not a mapping stays, to be
    reported here."""
    out = dict(data)
    if isinstance(out.get("values"), dict):
        out["values"] = {}
    environments = out.get("environments")
    if isinstance(environments, dict):
        out["environments"] = {name: dict(env, values={}) if isinstance(env, dict) and isinstance(
            env.get("values"), dict) else env for name, env in environments.items()}
    return out


def check_profile(doc) -> None:
    """Check a profile file: ``description``, ``extends``, ``values``, ``guards``, ``merge``."""
    extends = doc.data.get("extends")
    if isinstance(extends, str):
        check_name(extends, doc, ("extends",), "profile")
    _check(doc, "profile")


def check_overlay(doc) -> None:
    """Check an overlay file: ``description``, ``values``, ``merge``."""
    _check(doc, "overlay")


def check_app(doc) -> None:
    """Check an app file, its ``environments`` one by one."""
    # names that would leave the app directory are refused first, with a message that says so
    data = doc.data
    _check_names(doc, (), data)
    environments = data.get("environments")
    for env_name, env in (environments.items() if isinstance(environments, dict) else ()):
        if isinstance(env, dict):
            _check_names(doc, ("environments", env_name), env)
    _check(doc, "app")
    default = data.get("defaultEnvironment")
    if default is not None and default not in (environments or {}):
        known = ", ".join(environments or {}) or "none (the app file lists no 'environments')"
        raise doc.error(("defaultEnvironment",), f"defaultEnvironment {default!r} is not one of the app's environments",
                        hint=did_you_mean(default, environments or {}) + f"known environments: {known}")


def _check_names(doc, where: tuple, data: dict) -> None:
    if isinstance(data.get("profile"), str):
        check_name(data["profile"], doc, where + ("profile",), "profile")
    overlays = data.get("overlays")
    for index, name in enumerate(overlays if isinstance(overlays, list) else ()):
        if isinstance(name, str):
            check_name(name, doc, where + ("overlays", index), "overlay")
