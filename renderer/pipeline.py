"""The render pipeline: load -> merge (with provenance) -> template -> validate -> guard.

Data flows one way. Each stage lives in its own module; this one only wires
them together and maps problems back to the layer, file and line that set
the offending value. Nothing here prints or writes: callers (the command
line, the Argo CD adapter, the review tools) decide what to do with a
:class:`Rendered` or a :class:`~renderer.errors.RendererError`.
"""

from __future__ import annotations

import re
from pathlib import Path

from renderer.errors import GuardError, InputError, Location, MultipleErrors
from renderer.paths import format_path
from renderer.records import FrozenRecord, Record
from renderer.stages import guards, sources, spec, template, yamlio
from renderer.stages import layers as layers_mod
from renderer.stages.validate import node_at, validate, validate_eventbus

DEFAULT_NAMESPACE = "argo-events"
SELECTOR_KEYS = ("controller", "eventbus-name")
"""Labels the Argo Events controller puts on an EventBus's pods."""
ANNOTATION_PREFIX = "eventbus-render/"
MANAGED_BY = "eventbus-render"

_DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def backend_path(backend: str) -> tuple:
    """Path of ``backend``'s section, both under ``spec`` and in the values."""
    return spec.BACKEND_PATHS[backend]


_VALUES_SCHEMA: dict = {}


def values_schema() -> dict:
    """Schema of merged values: every backend section of the spec plus the renderer's conveniences."""
    if _VALUES_SCHEMA:
        return _VALUES_SCHEMA
    spec_fields = spec.EVENTBUS["fields"]["spec"]["fields"]
    string_map = {"type": "map", "values": {"type": "string"}}
    spread_mode = {"type": "string", "enum": ["none", "preferred", "required"]}
    weight = {"type": "integer", "minimum": 1, "maximum": 100}
    fields = dict(spec_fields)
    fields.update({
        "labels": string_map,
        "annotations": string_map,
        "spread": {"type": "object", "fields": {"zones": spread_mode, "hosts": spread_mode,
                                                 "zoneWeight": weight, "hostWeight": weight}},
    })
    _VALUES_SCHEMA.update({"type": "object", "fields": fields})
    return _VALUES_SCHEMA


class RenderRequest(Record):
    """What to render: an app directory plus the caller's choices, highest precedence last."""

    _fields = ("app_dir", "profile", "overlays", "sets", "set_strings", "environment", "extra_layers", "name",
               "namespace", "default_namespace", "run_guards", "today")

    def __init__(self, app_dir: Path, profile: str | None = None, overlays: tuple = (), sets: tuple = (),
                 set_strings: tuple = (), environment: str | None = None, extra_layers: list | None = None,
                 name: str | None = None, namespace: str | None = None, default_namespace: str | None = None,
                 run_guards: bool = True, today: object = None):
        self.app_dir = app_dir
        self.profile = profile
        self.overlays = overlays
        self.sets = sets
        self.set_strings = set_strings
        self.environment = environment
        self.extra_layers = [] if extra_layers is None else extra_layers
        self.name = name
        self.namespace = namespace
        self.default_namespace = default_namespace
        self.run_guards = run_guards
        self.today = today


class Rendered(Record):
    """One rendered EventBus and everything that explains it.

    ``builtin_text`` is the text the built-in templates wrote (``None`` when the
    app's own templates rendered it).
    """

    _fields = ("app", "backend", "name", "namespace", "environment", "profiles", "overlays", "merged", "manifest",
               "evaluation", "builtin_text")

    def __init__(self, app: sources.App, backend: str, name: str, namespace: str, environment: str | None,
                 profiles: list, overlays: list, merged: layers_mod.Merged, manifest: dict,
                 evaluation: object = None, builtin_text: str | None = None):
        self.app = app
        self.backend = backend
        self.name = name
        self.namespace = namespace
        self.environment = environment
        self.profiles = profiles
        self.overlays = overlays
        self.merged = merged
        self.manifest = manifest
        self.evaluation = evaluation
        self.builtin_text = builtin_text

    @property
    def values(self) -> dict:
        """The merged values."""
        return self.merged.values

    @property
    def profile(self):
        """The profile asked for (the last of the chain)."""
        return self.profiles[-1]

    @property
    def section_path(self) -> tuple:
        """Path of the chosen backend's section in the values (and under ``spec``)."""
        return backend_path(self.backend)

    def origin(self, values_path: tuple):
        """Origin of the value at ``values_path``."""
        return self.merged.provenance.origin(values_path)

    def origin_of_manifest_path(self, manifest_path: tuple):
        """Origin of the value at a path of the rendered manifest (``spec.x`` is values ``x``)."""
        return manifest_origin(self.merged.provenance, manifest_path, self.section_path)


def manifest_to_values_path(path: tuple, section: tuple) -> tuple:
    """Map a manifest path to the values path that feeds it (``()`` when none does)."""
    path = tuple(path)
    if path[:1] == ("spec",):
        return path[1:]
    if path[:2] == ("metadata", "labels"):
        return ("labels",) + path[2:]
    if path[:2] == ("metadata", "annotations"):
        return ("annotations",) + path[2:]
    return ()


def manifest_origin(provenance, manifest_path: tuple, section: tuple):
    """Origin of a manifest value; anti-affinity terms the user did not write come from ``spread``."""
    values_path = manifest_to_values_path(manifest_path, section)
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


# -- layers -------------------------------------------------------------------------------------


_DEFAULTS: dict = {}
"""The defaults layers of each backend: package files, read once per process."""


def _defaults_layers(backend: str) -> list:
    found = _DEFAULTS.get(backend)
    if found is None:
        found = []
        for stem, kind_name in (("common", "common"), (backend, backend)):
            path = _DEFAULTS_DIR / f"{stem}.yaml"
            doc = sources.load_document(path, f"builtin:defaults/{stem}.yaml")
            found.append(layers_mod.Layer("defaults", kind_name, doc.display, doc.data.get("values") or {},
                                          doc.marks, ("values",), doc.data.get("merge") or {}))
        _DEFAULTS[backend] = found
    return list(found)


def _doc_layer(kind: str, name: str, doc: sources.Document, values: dict, merge: dict,
               prefix: tuple = ("values",), merge_prefix: tuple = ("merge",)) -> layers_mod.Layer:
    return layers_mod.Layer(kind, name, doc.display, values, doc.marks, prefix, merge, merge_prefix)


def parse_set(text: str, *, force_string: bool, schema: dict, flag: str = "--set") -> layers_mod.Layer:
    """One ``--set PATH=VALUE`` as a layer of its own.

    The value is a YAML scalar (or flow collection), except where the schema
    types the field as a string (or quantity, duration): there it stays exactly
    as typed, so ``--set kafka.version=2.10`` is ``"2.10"``. ``null`` deletes.
    """
    if "=" not in text:
        raise InputError(f"{flag} {text!r} is not PATH=VALUE", hint=f"e.g. {flag} jetstream.replicas=5")
    raw_path, raw = text.split("=", 1)
    path = parse_value_path(raw_path, flag)
    if raw in ("null", "~") and not force_string:
        value = None
    else:
        node = node_at(schema, tuple("*" if isinstance(p, int) else p for p in path))
        stringly = node is not None and node.get("type") in ("string", "quantity", "duration")
        if force_string or stringly:
            value = raw
        else:
            try:
                value, _ = yamlio.load(raw, f"{flag} {raw_path}")
            except InputError as exc:
                raise InputError(f"{flag} {text!r}: value is not valid YAML ({exc.message})",
                                 hint=f"quote it for the shell, or use --set-string {raw_path}=...") from None
    nested: object = value
    for part in reversed(path):
        nested = layers_mod.IndexPatch({part: nested}) if isinstance(part, int) else {part: nested}
    if not isinstance(nested, dict) or isinstance(nested, layers_mod.IndexPatch):
        raise InputError(f"{flag} {text!r}: the path must start with a key", hint="e.g. jetstream.replicas=5")
    return layers_mod.Layer("set", f"{flag} {text}", flag, nested, notes={(): f"{flag} {text}"})


def parse_value_path(text: str, flag: str = "--set") -> tuple:
    """``jetstream.tolerations[0].key`` -> ``('jetstream', 'tolerations', 0, 'key')`` (``\\.`` escapes a dot)."""
    parts: list = []
    for piece in layers_mod.split_pattern(text):
        match = re.fullmatch(r"(.*?)((?:\[\d+\])*)", piece, re.S)
        key, indexes = match.group(1), match.group(2)
        if not key:
            raise InputError(f"{flag} path {text!r} has an empty key", hint="e.g. jetstream.replicas")
        parts.append(key)
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", indexes))
    return tuple(parts)


# -- the pipeline -------------------------------------------------------------------------------


def _select_environment(app: sources.App, environment: str | None) -> dict:
    if environment is None:
        return {}
    if environment not in app.environments:
        known = ", ".join(app.environments) or "none (the app file has no 'environments')"
        raise InputError(f"unknown environment {environment!r}", location=Location(sources.APP_FILE),
                         hint=f"known environments: {known}")
    return app.environments[environment]


def collect_layers(app: sources.App, request: RenderRequest, env: dict):
    """Load profiles and overlays and build the ordered list of layers."""
    doc = app.doc
    env_prefix = ("environments", request.environment) if request.environment else ()
    if request.profile is not None:
        sources.check_name(request.profile, None, (), "profile")
        profiles = sources.load_profile_chain(request.profile, app.root)
    elif "profile" in env:
        profiles = sources.load_profile_chain(env["profile"], app.root, referrer=doc,
                                              ref_path=env_prefix + ("profile",))
    else:
        profiles = sources.load_profile_chain(app.profile, app.root, referrer=doc)
    overlays = []
    for index, name in enumerate(app.overlays):
        overlays.append(sources.load_overlay(name, app.root, referrer=doc, ref_path=("overlays", index)))
    for index, name in enumerate(env.get("overlays") or []):
        overlays.append(sources.load_overlay(name, app.root, referrer=doc,
                                             ref_path=env_prefix + ("overlays", index)))
    for name in request.overlays:
        sources.check_name(name, None, (), "overlay")
        overlays.append(sources.load_overlay(name, app.root))

    stack = _defaults_layers(app.backend)
    for profile in profiles:
        stack.append(_doc_layer("profile", profile.name, profile.doc, profile.values, profile.merge))
    for overlay in overlays:
        stack.append(_doc_layer("overlay", overlay.name, overlay.doc, overlay.values, overlay.merge))
    stack.append(_doc_layer("app", sources.APP_FILE, doc, app.values, app.merge))
    if env:
        stack.append(_doc_layer("environment", request.environment, doc, env.get("values") or {}, {},
                                prefix=env_prefix + ("values",)))
    stack.extend(request.extra_layers)
    schema = values_schema()
    for text in request.sets:
        stack.append(parse_set(text, force_string=False, schema=schema))
    for text in request.set_strings:
        stack.append(parse_set(text, force_string=True, schema=schema, flag="--set-string"))
    return profiles, overlays, stack


_BASE_KINDS = ("defaults", "profile", "overlay")
_BASE_CACHE: dict = {}
"""Merged lower layers (defaults, profiles, overlays) shared by every app that uses the same files."""


def merge_stack(stack: list, base_count: int):
    """Merge ``stack``; the lower ``base_count`` layers come from a per-process cache.

    Returns the merged values and whether the cached lower part is valid on its
    own (then only the sections the upper layers touch need validating again).
    """
    base_layers = stack[:base_count]
    # empty mappings may be fresh objects on every call: only non-empty ones are keyed by identity
    key = tuple((layer.kind, layer.name, layer.file, id(layer.values) if layer.values else 0, id(layer.marks),
                 id(layer.merge) if layer.merge else 0) for layer in base_layers)
    entry = _BASE_CACHE.get(key)
    if entry is None:
        base = layers_mod.merge_layers(base_layers)
        # the layers are kept in the entry so the ids in the key stay theirs
        entry = (base, not validate(base.values, values_schema()), base_layers)
        if len(_BASE_CACHE) > 256:
            _BASE_CACHE.clear()
        _BASE_CACHE[key] = entry
    base, base_valid, _ = entry
    upper = stack[base_count:]
    return layers_mod.merge_layers(upper, start=base.copy(_touched_sections(upper))), base_valid


def _touched_sections(layers: list) -> set:
    return {key for layer in layers for key in (layer.values or {})}


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


def _raise_all(errors: list) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultipleErrors(errors)


def _check_identity(name: str, namespace: str, origin_of) -> None:
    if not _DNS_LABEL.fullmatch(name) or len(name) > 63:
        raise InputError(f"EventBus name {name!r} is not a valid name", location=origin_of("name"),
                         hint="use lower-case letters, digits and '-', at most 63 characters "
                              "(the controller uses it as a label value)")
    if not _DNS_LABEL.fullmatch(namespace) or len(namespace) > 63:
        raise InputError(f"namespace {namespace!r} is not a valid namespace name", location=origin_of("namespace"),
                         hint="use lower-case letters, digits and '-', at most 63 characters")


_GOOD_METADATA: set = set()
"""Label and annotation keys, and ``("value", text)`` label values, already found valid."""


def _check_metadata_maps(values: dict, provenance) -> list:
    errors = []
    good = _GOOD_METADATA
    for kind in ("labels", "annotations"):
        for key, value in (values.get(kind) or {}).items():
            if key in good and (kind != "labels" or not isinstance(value, str) or ("value", value) in good):
                continue
            prefix, slash, name = key.rpartition("/")
            ok = bool(_LABEL_NAME.fullmatch(name)) and len(name) <= 63 and (
                not slash or (bool(_DNS_SUBDOMAIN.fullmatch(prefix)) and len(prefix) <= 253))
            if not ok:
                errors.append(problem_error(_Problem(f"{kind[:-1]} key {key!r} is not a valid Kubernetes key",
                                                     "use [prefix/]name with letters, digits, '-', '_', '.'"),
                                            provenance.origin((kind, key)), (kind, key)))
            elif kind == "labels" and isinstance(value, str) and (
                    not _LABEL_VALUE.fullmatch(value) or len(value) > 63):
                errors.append(problem_error(_Problem(f"label value {value!r} is not a valid Kubernetes label value",
                                                     "at most 63 letters, digits, '-', '_' or '.', starting and "
                                                     "ending with a letter or digit"),
                                            provenance.origin((kind, key)), (kind, key)))
            elif len(good) < 65536:
                good.add(key)
                if kind == "labels" and isinstance(value, str):
                    good.add(("value", value))
    return errors


class _Problem(FrozenRecord):
    _fields = ("message", "fix")

    def __init__(self, message: str, fix: str = ""):
        self._set_fields(message, fix)


def object_metadata(name: str, values: dict, profile: str, overlays: list, environment: str | None):
    """Labels and annotations of the EventBus object: the standard ones, the values', and what rendered it."""
    labels = {
        "app.kubernetes.io/name": "eventbus",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "eventbus",
        "app.kubernetes.io/part-of": "argo-events",
    }
    labels.update(values.get("labels") or {})
    labels["app.kubernetes.io/managed-by"] = MANAGED_BY
    annotations = dict(values.get("annotations") or {})
    annotations[ANNOTATION_PREFIX + "profile"] = profile
    if overlays:
        annotations[ANNOTATION_PREFIX + "overlays"] = ",".join(o.name for o in overlays)
    if environment:
        annotations[ANNOTATION_PREFIX + "environment"] = environment
    return labels, annotations


def render(request: RenderRequest) -> Rendered:
    """Render one EventBus. Raises :class:`InputError` (exit 2) or :class:`GuardError` (exit 1)."""
    app = sources.load_app(request.app_dir)
    env = _select_environment(app, request.environment)
    profiles, overlays, stack = collect_layers(app, request, env)
    base_count = next((i for i, layer in enumerate(stack) if layer.kind not in _BASE_KINDS), len(stack))
    merged, base_valid = merge_stack(stack, base_count)
    provenance = merged.provenance
    values = merged.values

    if base_valid:
        # the lower layers are valid on their own: only what the upper layers touched can be wrong
        touched = _touched_sections(stack[base_count:])
        checked = {key: values[key] for key in values if key in touched}
    else:
        checked = values
    errors = [problem_error(p, provenance.origin(p.path), p.path) for p in validate(checked, values_schema())]
    errors.extend(_check_metadata_maps(values, provenance))
    _raise_all(errors)

    def origin_of(key: str) -> Location:
        if request.environment and key in env:
            return app.doc.where(("environments", request.environment, key))
        return app.doc.where((key,))

    name = request.name or env.get("name") or app.name
    namespace = (request.namespace or env.get("namespace") or app.namespace or request.default_namespace
                 or DEFAULT_NAMESPACE)
    _check_identity(name, namespace, origin_of)

    section_path = backend_path(app.backend)
    section = values
    for part in section_path:
        section = section.get(part) or {}
    selector = {"controller": "eventbus-controller", "eventbus-name": name}
    labels, annotations = object_metadata(name, values, profiles[-1].name, overlays, request.environment)
    context = {
        "name": name,
        "namespace": namespace,
        "backend": app.backend,
        "section": section,
        "values": values,
        "labels": labels,
        "annotations": annotations,
        # keys deleted with null fall back to the built-in defaults (the lowest layer)
        "spread": {**(stack[0].values.get("spread") or {}), **(values.get("spread") or {})},
        "selector": selector,
        "profile": profiles[-1].name,
        "overlays": [o.name for o in overlays],
        "environment": request.environment,
    }
    # the package-only environment unless the app has templates of its own
    template_root = app.root if sources.has_folder(app.root, "templates") else None
    text = template.render(app.backend, context, template_root)
    manifest = yamlio.load_structured(text, f"templates/{app.backend}{template.TEMPLATE_SUFFIX}",
                                      unique_keys=template_root is None)
    if not isinstance(manifest, dict):
        raise InputError("the template did not produce a mapping",
                         location=Location(f"templates/{app.backend}{template.TEMPLATE_SUFFIX}"))

    rendered = Rendered(app, app.backend, name, namespace, request.environment, profiles, overlays, merged,
                        manifest, builtin_text=text if template_root is None else None)
    errors = []
    for problem in validate_eventbus(manifest):
        values_path = manifest_to_values_path(problem.path, section_path)
        errors.append(problem_error(problem, manifest_origin(provenance, problem.path, section_path),
                                    values_path or problem.path))
    _raise_all(errors)

    if request.run_guards:
        evaluation = guards.evaluate(rendered, today=request.today)
        rendered.evaluation = evaluation
        if evaluation.waivers:
            manifest["metadata"].setdefault("annotations", {})[ANNOTATION_PREFIX + "waivers"] = ",".join(
                evaluation.waivers)
        if evaluation.errors:
            count = len(evaluation.errors)
            raise GuardError(f"error: {count} guard violation{'s' if count != 1 else ''}; nothing was rendered",
                             guards.format_report(evaluation), evaluation.findings)
    return rendered


def output_filename(rendered: Rendered) -> str:
    """File name of a rendered object under ``-o DIR``."""
    return f"{rendered.namespace}/eventbus-{rendered.name}.yaml"
