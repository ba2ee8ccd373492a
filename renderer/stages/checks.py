"""Checks of merged values that point at the layer, file and line that set the offending value.

Schema problems of the values and of the rendered manifest, the EventBus
name and namespace, and label and annotation keys and values all end in an
:class:`~renderer.errors.InputError` located where the value was set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from renderer import context
from renderer.errors import InputError, Location, MultipleErrors
from renderer.paths import format_path, manifest_to_values

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem found outside the schema: a message and how to fix it."""

    message: str
    fix: str = ""


def problem_error(problem, origin, key_path: tuple) -> InputError:
    """An :class:`InputError` for a schema problem, located where the value was set."""
    if origin is not None:
        location = Location(origin.file, origin.line, origin.column, format_path(key_path))
        if origin.layer == "set":
            message = f"{problem.message} (set by {origin.name})"
        elif origin.layer in ("parameter", "env"):
            message = f"{problem.message} (set by {origin.layer} {origin.name})"
        else:
            message = problem.message
    else:
        location = Location("<rendered manifest>", None, None, format_path(key_path))
        message = problem.message
    return InputError(message, location=location, hint=getattr(problem, "fix", "") or None)


def raise_all(errors: list) -> None:
    """Raise the one error, or all of them together; nothing when the list is empty."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultipleErrors(errors)


def manifest_origin(provenance, manifest_path: tuple, section: tuple):
    """Origin of a manifest value; anti-affinity terms the user did not write come from ``spread``."""
    values_path = manifest_to_values(manifest_path, section)
    if not values_path:
        return None
    affinity = section + ("affinity", "podAntiAffinity")
    if values_path[: len(affinity)] == affinity:
        settings = None
        probe = values_path
        while len(probe) >= len(affinity) and not settings:
            settings = provenance.settings(probe)
            probe = probe[:-1]
        if not settings:
            return provenance.origin(("spread",))
    return provenance.origin(values_path)


def check_identity(name: str, namespace: str, origin_of) -> None:
    """The EventBus name and namespace are DNS labels (the controller uses the name as a label value)."""
    if not _DNS_LABEL.fullmatch(name) or len(name) > 63:
        raise InputError(f"EventBus name {name!r} is not a valid name", location=origin_of("name"),
                         hint="use lower-case letters, digits and '-', at most 63 characters "
                              "(the controller uses it as a label value)")
    if not _DNS_LABEL.fullmatch(namespace) or len(namespace) > 63:
        raise InputError(f"namespace {namespace!r} is not a valid namespace name", location=origin_of("namespace"),
                         hint="use lower-case letters, digits and '-', at most 63 characters")


def _key_ok(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    return bool(_LABEL_NAME.fullmatch(name)) and len(name) <= 63 and (
        not slash or (bool(_DNS_SUBDOMAIN.fullmatch(prefix)) and len(prefix) <= 253))


def _label_value_ok(value: str) -> bool:
    return bool(_LABEL_VALUE.fullmatch(value)) and len(value) <= 63


def check_metadata_maps(values: dict, provenance) -> list:
    """Errors for label and annotation keys, and label values, that Kubernetes would refuse."""
    errors = []
    good = context.cache("valid-metadata")  # keys and ("value", text) label values already found valid
    for kind in ("labels", "annotations"):
        for key, value in (values.get(kind) or {}).items():
            if key in good and (kind != "labels" or not isinstance(value, str) or ("value", value) in good):
                continue
            if not _key_ok(key):
                errors.append(problem_error(Problem(f"{kind[:-1]} key {key!r} is not a valid Kubernetes key",
                                                    "use [prefix/]name with letters, digits, '-', '_', '.'"),
                                            provenance.origin((kind, key)), (kind, key)))
            elif kind == "labels" and isinstance(value, str) and not _label_value_ok(value):
                errors.append(problem_error(Problem(f"label value {value!r} is not a valid Kubernetes label value",
                                                    "at most 63 letters, digits, '-', '_' or '.', starting and "
                                                    "ending with a letter or digit"),
                                            provenance.origin((kind, key)), (kind, key)))
            else:
                good[key] = True
                if kind == "labels" and isinstance(value, str):
                    good[("value", value)] = True
    return errors
