"""Checks of merged values that point at the layer, file and line that set the offending value.

Schema problems of the values and of the rendered manifest, the EventBus
name and namespace, and label and annotation keys and values all end in an
:class:`~renderer.errors.InputError` located where the value was set.
"""

from __future__ import annotations

from dataclasses import dataclass

from renderer.errors import InputError, Location, MultipleErrors
from renderer.paths import format_path, manifest_to_values
from renderer.stages import userfiles
from renderer.stages.validate import validate


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
    for key, value, node in (("name", name, userfiles.EVENTBUS_NAME), ("namespace", namespace, userfiles.NAMESPACE)):
        for problem in validate(value, node):
            raise InputError(problem.message, location=origin_of(key), hint=problem.fix or None)
