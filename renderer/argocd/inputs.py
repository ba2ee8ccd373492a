"""What Argo CD asks the plugin for: ``ARGOCD_ENV_*`` variables and plugin parameters, as a render request.

Inputs, lowest precedence first (each level overrides the one before):

1. the app file ``eventbus-render.yaml`` (and the environment it selects);
2. ``ARGOCD_ENV_*`` (``spec.source.plugin.env``), an explicit allow-list:
   ``PROFILE``, ``ENVIRONMENT``, ``OVERLAYS`` (comma list), ``NAME``,
   ``NAMESPACE`` and ``VALUES`` (``PATH=VALUE`` lines). Other names are
   ignored with a warning: free-form variables never reach the renderer;
3. plugin parameters (``spec.source.plugin.parameters``), read from the
   ``ARGOCD_APP_PARAMETERS`` JSON (``PARAM_*`` only when the JSON is absent,
   since ``PARAM_*`` names mangle map keys such as ``jetstream.replicas``).
   Unknown parameter names are an error.

``ARGOCD_APP_NAMESPACE`` (the destination namespace) is the EventBus
namespace when nothing above names one. Nothing that changes with every
commit or every run (revision, time, ``ARGOCD_APP_NAME``) reaches the output:
:func:`revisions` and :func:`carriers` let ``generate`` refuse an output that
carries the revision anyway (Argo CD expands ``$VAR`` in ``plugin.env``).
The sidecar's own ``EVENTBUS_RENDER_INSTANCE_LABEL_KEY`` names the label key
its Argo CD tracks (``application.instanceLabelKey``); no object carries it.
Waivers and guard settings come only from the app file and the profiles, so
no variable or parameter can weaken a guard.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from renderer.errors import InputError
from renderer.suggest import closest, did_you_mean

ENV_PREFIX = "ARGOCD_ENV_"
ENV_SETTINGS = ("PROFILE", "ENVIRONMENT", "OVERLAYS", "NAME", "NAMESPACE", "VALUES")
"""The ``ARGOCD_ENV_*`` names read (an allow-list); anything else is ignored with a warning."""

PARAMETERS = {
    "environment": "string",
    "profile": "string",
    "overlays": "array",
    "values": "map",
    "name": "string",
    "namespace": "string",
}
"""Plugin parameters and their collection types, as announced in ``plugin.yaml``."""

PARAMETERS_JSON = "ARGOCD_APP_PARAMETERS"
INSTANCE_LABEL_KEY_ENV = "EVENTBUS_RENDER_INSTANCE_LABEL_KEY"
"""The sidecar's variable naming the label key its Argo CD tracks (argocd-cm ``application.instanceLabelKey``)."""
REVISION_VARIABLES = ("ARGOCD_APP_REVISION", "ARGOCD_APP_REVISION_SHORT_8", "ARGOCD_APP_REVISION_SHORT",
                      "ARGOCD_APP_SOURCE_TARGET_REVISION")
"""The build variables that name the commit being rendered (argo-cd v3.5.1 reposerver/repository/repository.go:
1827-1841), longest first; the target revision only when it is a commit id."""
_COMMIT = re.compile(r"[0-9A-Fa-f]{7,}")
"""A commit id, full or abbreviated: Argo CD's IsTruncatedCommitSHA (argo-cd v3.5.1 util/git/git.go:35-40)."""
_ARTICLE = {"string": "a", "array": "an", "map": "a"}
_PARAM_STRINGS = {"PROFILE": "profile", "ENVIRONMENT": "environment", "NAME": "name", "NAMESPACE": "namespace"}
_PARAM_OVERLAY = re.compile(r"OVERLAYS_(0|[1-9][0-9]*)")


@dataclass(slots=True)
class Inputs:
    """What env and parameters ask for, each setting with the source that set it."""

    settings: dict = field(default_factory=dict)  # profile/environment/name/namespace -> (value, source)
    overlays: tuple = ()
    overlays_source: str = ""
    layers: list = field(default_factory=list)  # env then parameter value layers
    warnings: list = field(default_factory=list)

    def value(self, key: str):
        """The value of setting ``key``, or ``None`` when nothing set it."""
        entry = self.settings.get(key)
        return entry[0] if entry else None


# -- ARGOCD_ENV_* -------------------------------------------------------------------------------


def value_lines(text: str) -> list:
    """The lines of ``ARGOCD_ENV_VALUES``: split at ``\\n`` only (a ``\\r`` before it is stripped with the line's
    spaces). ``str.splitlines`` also splits at U+2028, U+2029, U+0085, VT, FF, FS, GS and RS, which a value may
    hold: one of them must not start a second ``PATH=VALUE``."""
    return text.split("\n")


def read_env(environ, inputs: Inputs) -> None:
    """Read the allow-listed ``ARGOCD_ENV_*`` variables into ``inputs``."""
    for key in sorted(environ):
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):]
        value = environ[key]
        if name not in ENV_SETTINGS:
            close = closest(name, ENV_SETTINGS)
            inputs.warnings.append(
                f"warning: ignoring {key}" + (f" (did you mean {ENV_PREFIX}{close[0]}?)" if close else "")
                + ": eventbus-render reads only " + ", ".join(ENV_PREFIX + n for n in ENV_SETTINGS))
            continue
        if not value.strip():
            continue
        if name == "OVERLAYS":
            names = tuple(part.strip() for part in value.split(",") if part.strip())
            if names:
                inputs.overlays, inputs.overlays_source = names, key
        elif name == "VALUES":
            for number, line in enumerate(value_lines(value), 1):
                text = line.strip()
                if text and not text.startswith("#"):
                    inputs.layers.append(value_layer("env", key, text, line=number))
        else:
            inputs.settings[name.lower()] = (value.strip(), key)


# -- parameters ---------------------------------------------------------------------------------


def _parse_parameters_json(raw: str) -> list:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"{PARAMETERS_JSON} is not valid JSON ({exc})") from None
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InputError(f"{PARAMETERS_JSON} must be a JSON array of parameters")
    out = []
    for item in data:
        name = item.get("name")
        if not isinstance(name, str):
            raise InputError(f"{PARAMETERS_JSON}: a parameter has no name")
        kinds = [kind for kind in ("string", "array", "map") if item.get(kind) is not None]
        out.append((name, kinds, item))
    return out


def _params_from_env_vars(environ) -> list:
    """Parameters from ``PARAM_*`` variables (only when ``ARGOCD_APP_PARAMETERS`` is absent).

    Argo CD upper-cases the names and replaces every character outside
    ``[A-Z0-9_]`` by ``_``, so map keys cannot be recovered: ``values`` is
    refused here rather than guessed.
    """
    found: dict = {}
    overlays: dict = {}
    unknown = []
    for key in sorted(environ):
        if not key.startswith("PARAM_"):
            continue
        rest = key[len("PARAM_"):]
        match = _PARAM_OVERLAY.fullmatch(rest)
        if rest in _PARAM_STRINGS:
            name = _PARAM_STRINGS[rest]
            found[name] = (name, ["string"], {"string": environ[key]})
        elif match:
            overlays[int(match.group(1))] = environ[key]
        elif rest.startswith("VALUES_"):
            raise InputError(
                f"{key}: the values parameter cannot be read from PARAM_* variables, whose names lose the "
                f"case and dots of its keys", hint=f"Argo CD sends it in {PARAMETERS_JSON}; check that "
                f"the sidecar passes that variable through")
        else:
            unknown.append(key)
    if unknown:
        raise InputError("unknown plugin parameter variable" + ("s " if len(unknown) > 1 else " ")
                         + ", ".join(unknown), hint="parameters: " + ", ".join(PARAMETERS))
    if overlays:
        if sorted(overlays) != list(range(len(overlays))):
            raise InputError("PARAM_OVERLAYS_* must be numbered from 0 without gaps")
        found["overlays"] = ("overlays", ["array"], {"array": [overlays[i] for i in sorted(overlays)]})
    return list(found.values())


def read_parameters(environ, inputs: Inputs, *, strict: bool = True) -> None:
    """Read plugin parameters into ``inputs`` (they override ``ARGOCD_ENV_*``).

    ``strict`` makes unknown names and wrong collection types errors; the
    parameters announcement reads leniently, so that the Parameters tab still
    opens for a user who has to remove a wrong parameter.
    """
    raw = environ.get(PARAMETERS_JSON)
    if raw is not None:
        source = PARAMETERS_JSON
        entries = _parse_parameters_json(raw)
    else:
        source = "PARAM_*"
        entries = _params_from_env_vars(environ)
    seen = set()
    unknown = []
    for name, kinds, item in entries:
        if name not in PARAMETERS:
            unknown.append(name)
            continue
        if name in seen:
            if strict:
                raise InputError(f"plugin parameter {name!r} is set twice")
            continue
        seen.add(name)
        expected = PARAMETERS[name]
        if kinds != [expected] and kinds:
            if strict:
                got = " and ".join(kinds)
                raise InputError(f"plugin parameter {name!r} must be {_ARTICLE[expected]} {expected}, got {got}",
                                 hint=f"set it as '{expected}:' in spec.source.plugin.parameters")
            continue
        _read_parameter(inputs, name, expected, item.get(expected), source, strict)
    if unknown and strict:
        close = [found[0] for found in (closest(n, PARAMETERS) for n in unknown) if found]
        raise InputError("unknown plugin parameter" + ("s " if len(unknown) > 1 else " ")
                         + ", ".join(repr(n) for n in unknown),
                         hint=(f"did you mean {', '.join(repr(c) for c in close)}? " if close else "")
                         + "eventbus-render accepts: " + ", ".join(PARAMETERS))


def _read_parameter(inputs: Inputs, name: str, expected: str, value, source: str, strict: bool) -> None:
    """One known parameter of collection type ``expected`` into ``inputs``."""
    where = f"parameter {name}"
    if expected == "string":
        if not isinstance(value, str):
            if strict:
                raise InputError(f"plugin parameter {name!r} must be a string")
            return
        if value.strip():
            inputs.settings[name] = (value.strip(), where)
    elif expected == "array":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            if strict:
                raise InputError(f"plugin parameter {name!r} must be an array of strings")
            return
        names = tuple(v.strip() for v in value if v.strip())
        if names:
            inputs.overlays, inputs.overlays_source = names, where
    else:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            if strict:
                raise InputError(f"plugin parameter {name!r} must be a map of strings")
            return
        for path in sorted(value):
            if strict:
                inputs.layers.append(value_layer("parameter", source, f"{path}={value[path]}"))


def value_layer(kind: str, source: str, text: str, line: int | None = None):
    """One ``PATH=VALUE`` from env or parameters as a layer, typed exactly like ``--set``."""
    from renderer.stages import yamlio
    from renderer.stages.layers import Layer
    from renderer.stages.stack import parse_set, values_schema

    label = "values" if kind == "parameter" else source
    where = f"{source} line {line}" if line else source
    if "=" not in text:
        raise InputError(f"{where}: {yamlio.shown(text)} is not PATH=VALUE", hint="e.g. jetstream.replicas=5")
    try:
        layer = parse_set(text, force_string=False, schema=values_schema(), flag=label)
    except InputError as exc:
        raise InputError(f"{where}: {exc.message}",
                         hint="the value is a YAML scalar or flow collection; quote strings that "
                              "could read as something else, e.g. '\"on\"'") from None
    name = f"{label} {text}"
    return Layer(kind=kind, name=name, file=source, values=layer.values, marks={(): (line, 1)} if line else {},
                 notes={(): name})


# -- the request --------------------------------------------------------------------------------


def read_inputs(environ, *, strict: bool = True) -> Inputs:
    """Env and parameters, parameters winning."""
    inputs = Inputs()
    read_env(environ, inputs)
    read_parameters(environ, inputs, strict=strict)
    return inputs


SOURCE_PATH = "ARGOCD_APP_SOURCE_PATH"
"""``spec.source.path``, sent with every request (argo-cd v3.5.1 reposerver/repository/repository.go:1838, 2633)."""


def copy_root(app_dir, environ) -> Path | None:
    """The top of Argo CD's copy of the repository, above which the repository layer is never looked for: the app
    directory without the end of ``ARGOCD_APP_SOURCE_PATH`` it shares (all of it; less in a copy of the common folder
    of the manifest-generate-paths, argo-cd v3.5.1 reposerver/repository/repository.go:2329-2333, whose
    ``AppRelPath`` is relative to that folder, util/cmp/stream.go:132). ``None`` outside Argo CD or when no end
    is shared."""
    import os

    parts = [part for part in (environ.get(SOURCE_PATH) or "").split("/") if part not in ("", ".")]
    app = Path(os.path.abspath(app_dir))
    shared = 0
    while shared < min(len(parts), len(app.parts) - 1) and app.parts[-1 - shared] == parts[-1 - shared]:
        shared += 1
    if environ.get(SOURCE_PATH) is None or ".." in parts or (parts and not shared):
        return None
    return Path(*app.parts[:len(app.parts) - shared])


def check_names(inputs: Inputs, app_root: Path, where=None) -> None:
    """Names from env and parameters, checked up front so that errors say where they came from.

    ``where`` are the places names resolve in (:func:`renderer.stages.tree.places`), by default those of
    ``app_root``."""
    from renderer.stages import sources

    where = app_root if where is None else where

    checks = [("profile", "profiles", inputs.settings.get("profile"))]
    checks += [("overlay", "overlays", (name, inputs.overlays_source)) for name in inputs.overlays]
    for kind, folder, entry in checks:
        if entry is None:
            continue
        name, where = entry
        try:
            sources.check_name(name, None, (), kind)
        except InputError as exc:
            raise InputError(f"{where}: {exc.message}", hint=exc.hint) from None
        if sources.find_named(folder, name, where) is None:
            names = sources.available(folder, where)
            raise InputError(f"{where}: unknown {kind} {name!r}",
                             hint=did_you_mean(name, names) + f"known {folder}: {', '.join(names) or 'none'}")
    from renderer.stages import userfiles
    from renderer.stages.validate import validate

    for key, node in (("name", userfiles.EVENTBUS_NAME), ("namespace", userfiles.NAMESPACE)):
        entry = inputs.settings.get(key)
        for problem in validate(entry[0], node) if entry else ():
            raise InputError(f"{entry[1]}: {problem.message}", hint=problem.fix or None)


def tracked_label_keys(environ) -> tuple:
    """``(key, who named it)`` of the label key the sidecar says its Argo CD tracks; empty when it says nothing."""
    key = (environ.get(INSTANCE_LABEL_KEY_ENV) or "").strip()
    if not key:
        return ()
    from renderer.stages import userfiles
    from renderer.stages.validate import validate

    for problem in validate(key, userfiles.LABEL_KEY):
        raise InputError(f"{INSTANCE_LABEL_KEY_ENV}: {problem.message}", hint=problem.fix or None)
    return ((key, f"{INSTANCE_LABEL_KEY_ENV} of the plugin's environment"),)


def build_request(app_dir, environ, inputs: Inputs | None = None):
    """The :class:`~renderer.pipeline.RenderRequest` Argo CD's environment asks for."""
    from renderer.pipeline import RenderRequest
    from renderer.stages import sources

    inputs = inputs if inputs is not None else read_inputs(environ)
    ceiling = copy_root(app_dir, environ)
    check_names(inputs, Path(app_dir), sources.places(Path(app_dir), ceiling))
    return RenderRequest(
        app_dir=Path(app_dir),
        profile=inputs.value("profile"),
        overlays=inputs.overlays,
        environment=inputs.value("environment"),
        extra_layers=list(inputs.layers),
        name=inputs.value("name"),
        namespace=inputs.value("namespace"),
        default_namespace=(environ.get("ARGOCD_APP_NAMESPACE") or "").strip() or None,
        tracked_labels=tracked_label_keys(environ),
        repository_root=ceiling,
    )
