"""Checks of merged values that point at the layer, file and line that set the offending value.

Schema problems of the values and of the rendered manifest, the EventBus
name and namespace, and label and annotation keys and values all end in an
:class:`~renderer.errors.InputError` located where the value was set. The
identity of a rendered object (:func:`check_identity_kept`) is checked after
templating: it comes from the app file, never from a template.
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


API_VERSION = "argoproj.io/v1alpha1"
KIND = "EventBus"
_IDENTITY_HINT = ("write apiVersion and kind as they are, metadata from the template's name, namespace, labels "
                  "and annotations variables; set name and namespace in the app file (or Argo CD's destination)")


def identity(name: str, namespace: str, labels: dict, annotations: dict) -> dict:
    """What a rendered object must carry, by manifest path: apiVersion, kind, name, namespace, and the labels and
    annotations the renderer owns (:func:`renderer.stages.userfiles.reserved_key`) with their values."""
    out = {("apiVersion",): API_VERSION, ("kind",): KIND, ("metadata", "name"): name,
           ("metadata", "namespace"): namespace}
    for section, entries in (("labels", labels), ("annotations", annotations)):
        for key, value in entries.items():
            if userfiles.reserved_key(key):
                out[("metadata", section, key)] = value
    return out


def check_identity_kept(manifest: dict, name: str, namespace: str, labels: dict, annotations: dict,
                        template_file: str) -> None:
    """Refuse a rendered object that does not carry the identity the renderer gave it (:func:`identity`): a
    template rewrote or left out its apiVersion, kind, name or namespace, or one of the renderer's labels and
    annotations, or added one."""
    metadata = manifest.get("metadata")
    if metadata.__class__ is dict and manifest.get("apiVersion") == API_VERSION and manifest.get("kind") == KIND \
            and metadata.get("name") == name and metadata.get("namespace") == namespace \
            and metadata.get("labels") == labels and metadata.get("annotations") == annotations:
        return  # what the built-in templates write: every label and annotation as given
    expected = identity(name, namespace, labels, annotations)
    metadata = metadata if isinstance(metadata, dict) else {}
    found = {("apiVersion",): manifest.get("apiVersion", _NOTHING), ("kind",): manifest.get("kind", _NOTHING),
             ("metadata", "name"): metadata.get("name", _NOTHING),
             ("metadata", "namespace"): metadata.get("namespace", _NOTHING)}
    for section in ("labels", "annotations"):
        entries = metadata.get(section)
        for key, value in (entries.items() if isinstance(entries, dict) else ()):
            if isinstance(key, str) and userfiles.reserved_key(key):
                found[("metadata", section, key)] = value
    errors = []
    for path in sorted(set(expected) | set(found), key=lambda p: (len(p), p)):
        want, got = expected.get(path, _NOTHING), found.get(path, _NOTHING)
        if want != got or type(want) is not type(got):
            errors.append(InputError(f"the template wrote {_written(got)}; it must be {_written(want)}: an "
                                     "EventBus's identity comes from the app file, not from a template",
                                     location=Location(template_file, key=format_path(path)), hint=_IDENTITY_HINT))
    raise_all(errors)


_NOTHING = type("Nothing", (), {"__repr__": lambda self: "nothing"})()


def _written(value) -> str:
    if value is _NOTHING:
        return "nothing"
    if value is None:
        return "null"
    return repr(value) if isinstance(value, str) and len(value) <= 80 else f"a {type(value).__name__}"
