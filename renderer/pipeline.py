"""The render pipeline: load -> merge (with provenance) -> template -> validate -> guard.

Data flows one way. Each stage lives in its own module under
:mod:`renderer.stages`; this one only wires them together. Nothing here
prints or writes: callers (the commands, the Argo CD adapter, the pytest
plugin) decide what to do with a :class:`Rendered` or a
:class:`~renderer.errors.RendererError`.

A :class:`Rendered` is the caller's own: its values and manifest are built
for it, so changing them changes no later render (the caches of a run
(:mod:`renderer.context`) hold only what the stages keep to themselves).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from renderer import context
from renderer.errors import GuardError, InputError, Location
from renderer.paths import format_path, manifest_to_values
from renderer.stages import companions, controller, disruption, guards, sources, template, userfiles, yamlio
from renderer.stages import layers as layers_mod
from renderer.stages.checks import (
    Problem,
    check_identity,
    check_identity_kept,
    manifest_origin,
    problem_error,
    raise_all,
)
from renderer.stages.stack import (
    backend_path,
    choose_environment,
    collect_layers,
    merge_stack,
    select_environment,
    touched_sections,
    values_schema,
)
from renderer.stages.validate import validate, validate_eventbus

DEFAULT_NAMESPACE = "argo-events"
ANNOTATION_PREFIX = userfiles.RESERVED_PREFIX
MANAGED_BY = userfiles.MANAGED_BY
INSTANCE_LABEL = userfiles.INSTANCE_LABEL_KEY
"""The label Argo CD's label tracking owns by default; rendered objects leave it out (see :class:`InstanceLabel`)."""


@dataclass(slots=True)
class RenderRequest:
    """What to render: an app directory plus the caller's choices, highest precedence last."""

    app_dir: Path
    profile: str | None = None
    overlays: tuple = ()
    sets: tuple = ()
    set_strings: tuple = ()
    environment: str | None = None
    extra_layers: list = field(default_factory=list)
    name: str | None = None
    namespace: str | None = None
    default_namespace: str | None = None
    run_guards: bool = True
    today: object = None
    tracked_labels: tuple = ()
    """``(label key, who named it)`` pairs the deploying Argo CD tracks besides the profile's ``instanceLabel.key``
    (the plugin's ``EVENTBUS_RENDER_INSTANCE_LABEL_KEY``): no rendered object carries them."""
    repository_root: Path | None = None
    """The highest folder the lookup of the repository layer may reach (Argo CD: its copy of the repository);
    ``None``: up to the folder holding ``.git``, or the file system's root."""
    app: sources.App | None = None
    """The app file of ``app_dir`` as this run loaded it already (a bulk command loads it once to list its
    environments, then renders each); ``None``: loaded here. Stages never change what they are given."""

    def __post_init__(self):
        if self.extra_layers is None:
            self.extra_layers = []


@dataclass(frozen=True, slots=True)
class RenderedObject:
    """One object of a render: the EventBus, or a companion rendered beside it (:mod:`renderer.stages.companions`)."""

    kind: str
    name: str
    namespace: str
    manifest: dict

    def file(self, fmt: str = "yaml") -> str:
        """Its file under ``-o DIR``: ``<namespace>/<kind>-<name>.yaml`` (``.json`` for JSON), e.g.
        ``argo-events/eventbus-orders.yaml`` and ``argo-events/poddisruptionbudget-eventbus-orders-pdb.yaml``."""
        return f"{self.namespace}/{self.kind.lower()}-{self.name}.{'json' if fmt == 'json' else 'yaml'}"


@dataclass(slots=True)
class Rendered:
    """One rendered EventBus, the objects rendered beside it, and everything that explains them.

    ``companions`` are the manifests of the objects that follow the EventBus
    (a PodDisruptionBudget); :attr:`objects` lists all of them, EventBus first,
    which is how every command writes a render. ``builtin_text`` is the text
    the built-in templates wrote (``None`` when the app's own templates rendered it).
    """

    app: sources.App
    backend: str
    name: str
    namespace: str
    environment: str | None
    profiles: list
    overlays: list
    merged: layers_mod.Merged
    manifest: dict
    evaluation: object = None
    builtin_text: str | None = None
    companions: list = field(default_factory=list)

    @property
    def objects(self) -> list:
        """Every object of the render, EventBus first: :class:`RenderedObject` s."""
        out = [RenderedObject(companions.EVENTBUS, self.name, self.namespace, self.manifest)]
        out.extend(RenderedObject(m["kind"], m["metadata"]["name"], m["metadata"]["namespace"], m)
                   for m in self.companions)
        return out

    @property
    def manifests(self) -> list:
        """The manifests of :attr:`objects`, EventBus first."""
        return [self.manifest, *self.companions]

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
        """Origin of the value at a render path (``spec.x`` is values ``x``; a companion's path starts with its
        kind: :mod:`renderer.stages.companions`)."""
        kind, _ = companions.split(manifest_path)
        if kind != companions.EVENTBUS:
            values_path = companions.values_path(manifest_path)
            return self.merged.provenance.origin(values_path) if values_path else None
        return manifest_origin(self.merged.provenance, manifest_path, self.section_path)


@dataclass(slots=True, frozen=True)
class InstanceLabel:
    """A profile chain's ``instanceLabel``: the label key Argo CD tracks, whether objects carry it, who named it.

    Under Argo CD's ``label`` tracking the owner of a live object is read from this label alone (argo-cd v3.5.1
    util/argo/resource_tracking.go:69-91, controller/cache/cache.go:564-567): an EventBus applied some other way
    with ``app.kubernetes.io/instance: default`` belongs to an Application named ``default``, which can prune
    it. So rendered objects leave the label out unless a profile sets ``emit: true``.
    """

    key: str = INSTANCE_LABEL
    emit: bool = False
    named_by: str = "Argo CD's default application.instanceLabelKey"


def instance_label(profiles: list) -> InstanceLabel:
    """The ``instanceLabel`` of a profile chain (base first): each profile overrides the fields it sets."""
    out = InstanceLabel()
    for profile in profiles:
        setting = profile.doc.data.get("instanceLabel") or {}
        if setting.get("key") is not None:
            out = replace(out, key=setting["key"], named_by=f"instanceLabel.key of profile {profile.name!r}")
        if setting.get("emit") is not None:
            out = replace(out, emit=setting["emit"])
    return out


def tracked_labels(instance: InstanceLabel, request_keys: tuple) -> tuple:
    """``(key, who named it)`` of every label key no rendered object may carry; a profile's opt-in covers its key."""
    keys = {} if instance.emit else {instance.key: instance.named_by}
    for key, named_by in request_keys:
        if not (instance.emit and key == instance.key):
            keys.setdefault(key, named_by)
    return tuple(keys.items())


_TRACKED = ("Argo CD's resource tracking owns this label ({}): under label tracking a live object that carries it "
            "belongs to the Application of that name, which can prune it")


def _tracked_fix(key: str) -> str:
    setting = "{emit: true}" if key == INSTANCE_LABEL else f"{{key: {key}, emit: true}}"
    return f"remove it; a profile that accepts the risk sets instanceLabel: {setting} (see the README)"


def check_tracked_labels(labels: dict, values: dict, tracked: tuple, provenance) -> None:
    """Refuse a label under a key Argo CD tracks: located where it was set when the values set it.

    A standard label can only be under a key the request names (the profile's own key is left out of them):
    the profile names another key than the Argo CD that deploys it, and the output would differ from a local
    render's, so that is an error too.
    """
    own = values.get("labels") or {}
    errors = []
    for key, named_by in tracked:
        if key in own:
            errors.append(problem_error(Problem(_TRACKED.format(named_by), _tracked_fix(key)),
                                        provenance.origin(("labels", key)), ("labels", key)))
        elif key in labels:
            errors.append(InputError(
                f"{format_path(('metadata', 'labels', key))}: the standard label {key!r} is the one this Argo CD's "
                f"resource tracking owns ({named_by}), so Argo CD would not get what eventbus-render render prints",
                hint=f"name the key in the profile: instanceLabel: {{key: {key}}}"))
    raise_all(errors)


def object_metadata(name: str, values: dict, profile: str, overlays: list, environment: str | None,
                    instance: InstanceLabel = InstanceLabel()):
    """Labels and annotations of the EventBus object: the standard ones, the values', and what rendered it.

    The label under the key Argo CD tracks (:class:`InstanceLabel`) is left out, unless the profile opts in:
    then it carries the EventBus name.
    """
    labels = {
        "app.kubernetes.io/name": "eventbus",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "eventbus",
        "app.kubernetes.io/part-of": "argo-events",
    }
    if instance.emit:
        labels[instance.key] = name
    labels.update(values.get("labels") or {})
    labels[userfiles.MANAGED_BY_KEY] = MANAGED_BY
    if not instance.emit:
        labels.pop(instance.key, None)
    annotations = dict(values.get("annotations") or {})
    annotations[ANNOTATION_PREFIX + "profile"] = profile
    if overlays:
        annotations[ANNOTATION_PREFIX + "overlays"] = ",".join(o.name for o in overlays)
    if environment:
        annotations[ANNOTATION_PREFIX + "environment"] = environment
    return labels, annotations


def render(request: RenderRequest) -> Rendered:
    """Render one EventBus. Raises :class:`InputError` (exit 2) or :class:`GuardError` (exit 1)."""
    with context.run():
        return _render(request)


def _render(request: RenderRequest) -> Rendered:
    app = request.app if request.app is not None else sources.load_app(request.app_dir)
    # an app file with environments renders the one chosen (or its defaultEnvironment), never the bare base
    environment = choose_environment(app, request.environment)
    if environment != request.environment:
        request = replace(request, environment=environment)
    env = select_environment(app, environment)
    where = sources.places(app.root, request.repository_root)
    profiles, overlays, stack = collect_layers(app, request, env, where)
    merged, base_valid, base_count = merge_stack(stack)
    # from here on the merged values are this render's own: the run's cache keeps the lower layers' merge
    merged = layers_mod.Merged(layers_mod.copy_values(merged.values), merged.provenance, merged.strategies,
                               merged.layers)
    provenance = merged.provenance
    values = merged.values

    if base_valid:
        # the lower layers are valid on their own: only what the upper layers touched can be wrong
        touched = touched_sections(stack[base_count:])
        checked = {key: values[key] for key in values if key in touched}
    else:
        checked = values
    errors = [problem_error(p, provenance.origin(p.path), p.path) for p in validate(checked, values_schema())]
    raise_all(errors)

    def origin_of(key: str) -> Location:
        if request.environment and key in env:
            return app.doc.where(("environments", request.environment, key))
        return app.doc.where((key,))

    name = request.name or env.get("name") or app.name
    namespace = (request.namespace or env.get("namespace") or app.namespace or request.default_namespace
                 or DEFAULT_NAMESPACE)
    check_identity(name, namespace, origin_of)

    section_path = backend_path(app.backend)
    section = values
    for part in section_path:
        section = section.get(part) or {}
    selector = disruption.pod_selector(name)
    instance = instance_label(profiles)
    tracked = tracked_labels(instance, request.tracked_labels)
    labels, annotations = object_metadata(name, values, profiles[-1].name, overlays, request.environment, instance)
    check_tracked_labels(labels, values, tracked, provenance)
    context_vars = {
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
    # the package-only environment unless the app or its repository layer has templates
    folders = sources.template_folders(where)
    text = template.render(app.backend, context_vars, folders)
    source = template.source_of(app.backend, folders) if folders else \
        f"templates/{app.backend}{template.TEMPLATE_SUFFIX}"
    manifest = yamlio.load_structured(text, source, unique_keys=not folders)
    if not isinstance(manifest, dict):
        raise InputError("the template did not produce a mapping", location=Location(source))
    check_identity_kept(manifest, name, namespace, labels, annotations, source)

    # what the controller writes into the stored spec is written here too, so the manifest is the live object
    controller.write_backs(manifest, name, namespace)
    # the objects beside the bus are the renderer's own: its name and namespace, the values' budget
    beside = companions.build(name, namespace, app.backend, values, labels, annotations)
    rendered = Rendered(app, app.backend, name, namespace, request.environment, profiles, overlays, merged,
                        manifest, builtin_text=None if folders else text, companions=beside)
    errors = []
    for problem in validate_eventbus(manifest):
        values_path = manifest_to_values(problem.path, section_path)
        errors.append(problem_error(problem, manifest_origin(provenance, problem.path, section_path),
                                    values_path or problem.path))
    for problem in companions.problems(beside):
        values_path = companions.values_path(problem.path)
        errors.append(problem_error(problem, rendered.origin_of_manifest_path(problem.path),
                                    values_path or problem.path))
    raise_all(errors)
    written = manifest.get("metadata", {}).get("labels") or {}
    for key, named_by in tracked:
        if key in written:  # an app's own template wrote it
            raise InputError(_TRACKED.format(named_by), hint=_tracked_fix(key).replace("it;", "it from the template;"),
                             location=Location(source, key=format_path(("metadata", "labels", key))))

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

