"""The schema of every file a user writes, declared once: app file, profile, overlay.

One source for two consumers. The renderer checks a file with :func:`check`,
which runs the one validator (:func:`renderer.stages.validate.validate`) over
these nodes; ``eventbus-render schema KIND`` turns the same nodes into the
editors' JSON Schemas (:mod:`renderer.commands.schema`). Neither has a rule of
its own, so the two accept and reject the same documents.

The nodes are those of :mod:`renderer.stages.spec`, plus the types and formats of
:mod:`renderer.stages.formats` (text, keyed, nullable, choice, all).

Any node may carry ``"doc"`` (the editor's description) and an object
``"name"`` (its definition name in the JSON Schema). A file is one layer of a
merge, so its ``values`` are :func:`partial`: no field is required there and
``null`` deletes a key. The guard settings of a profile and the rule a waiver
names come from the guard registry, passed in as ``rules`` (the guards package
sits above this module, which must stay importable by the loader).
"""

from __future__ import annotations

from renderer.stages import spec
from renderer.stages.formats import (  # noqa: F401  (the formats are part of this module's face)
    ANY_MAPPING,
    DATE,
    DNS_LABEL_HINT,
    EVENTBUS_NAME,
    LABEL_KEY,
    LABEL_VALUE,
    MANAGED_BY,
    MANAGED_BY_KEY,
    MANIFEST_PATH,
    NAME_HINT,
    NAMESPACE,
    NON_BLANK,
    NON_EMPTY,
    RESERVED_PREFIX,
    STRATEGY,
    VALUES_ANNOTATION_KEY,
    VALUES_LABEL_KEY,
    file_name,
    nullable,
    reserved_key,
    text,
)
from renderer.stages.validate import SchemaProblem, validate

__all__ = ["KINDS", "LEVELS", "BACKENDS", "VALUES", "LAYER_VALUES", "INSTANCE_LABEL", "INSTANCE_LABEL_KEY", "check",
           "node", "partial", "nullable"]

KINDS = ("app", "profile", "overlay", "environment", "waiver", "guards", "values", "merge")
"""What :func:`check` knows: the three files, and parts of them a caller may check alone."""
LEVELS = ("off", "warning", "error")
"""Guard severities, weakest first."""
BACKENDS = tuple(spec.BACKEND_PATHS)


# -- values -------------------------------------------------------------------------------------

_SPREAD_MODE = {"type": "string", "enum": ["none", "preferred", "required"]}
_WEIGHT = {"type": "integer", "minimum": 1, "maximum": 100}
VALUES = {
    "type": "object", "name": "Values",
    "doc": "Values merged over the lower layers: one section per backend with the upstream EventBus field names, "
           "plus labels, annotations and spread. null deletes a key.",
    "fields": {
        **spec.EVENTBUS["fields"]["spec"]["fields"],
        "labels": {"type": "keyed", "keys": VALUES_LABEL_KEY, "values": LABEL_VALUE},
        "annotations": {"type": "keyed", "keys": VALUES_ANNOTATION_KEY, "values": spec.STR},
        "spread": {"type": "object", "fields": {"zones": _SPREAD_MODE, "hosts": _SPREAD_MODE,
                                                "zoneWeight": _WEIGHT, "hostWeight": _WEIGHT}},
    },
}
"""The merged values a render checks: the spec's backend sections plus the renderer's conveniences."""


def partial(node: dict) -> dict:
    """``node`` as one layer may write it: no field is required, and ``null`` may stand for any field or map
    value (it deletes the key). List items stay as they are: a layer writes a list whole. Objects named in
    :mod:`renderer.stages.spec` keep their name (``SECRET_KEY_SELECTOR`` is ``SecretKeySelector``)."""
    names = {id(value): "".join(part.capitalize() for part in name.split("_")) for name, value in vars(spec).items()
             if name.isupper() and isinstance(value, dict) and value.get("type") == "object"}
    done: dict = {}  # shared nodes stay shared, by the identity of the original within this one call

    def walk(node: dict) -> dict:
        kind = node["type"]
        if kind not in ("object", "map", "keyed", "array", "nullable"):
            return node
        if id(node) in done:
            return done[id(node)]
        out = done[id(node)] = {key: value for key, value in node.items() if key != "required"}
        if kind == "object":
            out["fields"] = {key: nullable(walk(sub)) for key, sub in node["fields"].items()}
            if id(node) in names:
                out.setdefault("name", names[id(node)])
        elif kind in ("map", "keyed"):
            out["values"] = nullable(walk(node["values"]))
        else:
            key = "items" if kind == "array" else "node"
            out[key] = walk(node[key])
        return out

    return walk(node)


LAYER_VALUES = partial(VALUES)
"""The values of one file (a layer)."""
MERGE = nullable({"type": "map", "values": STRATEGY,
                  "doc": "How lists at a value path merge: replace (default), append, or mergeBy:KEY[+KEY...]. "
                         "Keys are dotted paths; * matches any one key."})
DESCRIPTION = dict(spec.STR, doc="What this file is for (shown by eventbus-render list).")


INSTANCE_LABEL_KEY = "app.kubernetes.io/instance"
"""The label Argo CD's label tracking owns unless argocd-cm's ``application.instanceLabelKey`` names another
(argo-cd v3.5.1 common/common.go:190, util/settings/settings.go:892-902)."""
INSTANCE_LABEL = nullable({
    "type": "object", "name": "InstanceLabel", "noun": "instanceLabel key",
    "doc": "The label Argo CD's resource tracking owns. Rendered objects leave it out unless emit is true: under "
           "label tracking a live object carrying it belongs to the Application of that name, which can prune it.",
    "fields": {
        "key": nullable(dict(LABEL_KEY, doc=f"The label key Argo CD tracks: argocd-cm's application.instanceLabelKey "
                                            f"(default: {INSTANCE_LABEL_KEY}).")),
        "emit": nullable(dict(spec.BOOL, doc="Put KEY: <EventBus name> on the EventBus again, and let values set "
                                             "KEY (default: false). See the risk in the README.")),
    },
})
"""A profile's ``instanceLabel``: which label key Argo CD tracks, and whether rendered objects carry it."""


def _overlay_names(doc: str) -> dict:
    return nullable({"type": "array", "items": file_name("an overlay"), "doc": doc})


ENVIRONMENT = {
    "type": "object",
    "doc": "One environment the app is deployed to; its settings override the app's.",
    "fields": {
        "description": spec.STR,
        "name": dict(EVENTBUS_NAME, doc="EventBus name in this environment."),
        "namespace": dict(NAMESPACE, doc="Namespace in this environment."),
        "profile": file_name("the profile of this environment"),
        "overlays": _overlay_names("Overlays applied after the app's own, in order."),
        "values": nullable(LAYER_VALUES),
    },
    "noun": "key",
}
OVERLAY = {"type": "object", "fields": {"description": DESCRIPTION, "values": nullable(LAYER_VALUES), "merge": MERGE},
           "noun": "key"}


# -- guards and waivers, from the guard registry ------------------------------------------------


def param_node(param) -> dict:
    """The node of one guard parameter (``renderer.stages.guards.Param``)."""
    kind = param.kind
    if kind == "int":
        out = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    elif kind == "bool":
        out = dict(spec.BOOL)
    elif kind == "quantity":
        out = dict(spec.QUANTITY)
    elif kind == "choice":
        out = {"type": "string", "enum": list(param.choices)}
    elif kind == "strings":
        out = {"type": "array", "items": NON_EMPTY}
    else:
        raise ValueError(f"unknown guard parameter kind {kind!r}")
    out["doc"] = param.doc
    return nullable(out) if param.nullable else out


def _guard(rule_id: str, module) -> dict:
    mandatory = getattr(module, "MANDATORY", False)
    always = f"guard {rule_id!r} is always an error and never waivable: the Argo Events controller rejects or " \
             "rewrites what it checks"
    level = {"type": "choice", "enum": ["error"], "message": always, "fix": f"remove 'level' from guards.{rule_id}"} \
        if mandatory else {"type": "choice", "enum": [*LEVELS, False], "names": list(LEVELS)}  # YAML 1.1: off is false
    waivable = {"type": "choice", "enum": [False], "message": always,
                "fix": f"remove 'waivable' from guards.{rule_id}"} if mandatory else dict(spec.BOOL)
    level["doc"] = always if mandatory else "error fails the render, warning is reported, off disables the guard."
    waivable["doc"] = always if mandatory else "Whether an app file may waive violations."
    fields = {"level": level, "waivable": waivable}
    fields.update((key, param_node(param)) for key, param in module.PARAMS.items())
    return nullable({"type": "object", "fields": fields, "doc": module.DESCRIPTION, "noun": "setting"})


def _rules_nodes(rules) -> tuple[dict, dict]:
    """``(guards, waiver)`` nodes for a guard registry (rule id -> rule module), or without one."""
    if rules is None:
        guards = {"type": "map", "values": nullable(ANY_MAPPING)}
        rule = text(r"[\s\S]+", "a guard id", "name the guard the waiver is for, e.g. replica-count")
    else:
        guards = {"type": "object", "fields": {rule_id: _guard(rule_id, module) for rule_id, module in rules.items()},
                  "noun": "guard"}
        rule = {"type": "string", "enum": list(rules)}
    guards["doc"] = "Guards this profile enables, with their level and parameters."
    waiver = {
        "type": "object",
        "fields": {"rule": dict(rule, doc="The guard waived."), "path": MANIFEST_PATH,
                   "value": {"type": "any", "doc": "The manifest value at path the waiver accepts, as the report "
                                                   "prints it (null: nothing set there). Any other value is not "
                                                   "waived."},
                   "environments": nullable({"type": "array", "items": file_name("an environment of this app"),
                                             "doc": "Environments the waiver holds in (default: all)."}),
                   "reason": nullable(dict(spec.STR, doc="Why the violation is acceptable.")),
                   "owner": NON_BLANK, "expires": DATE},
        # a waiver without a reason is the guard 'waiver''s finding, naming its owner, not a malformed file
        "required": ["rule", "path", "value", "owner", "expires"],
        "noun": "waiver key",
    }
    return guards, waiver


def _documents(rules) -> dict:
    guards, waiver = _rules_nodes(rules)
    waivers = nullable({"type": "array", "items": waiver,
                        "doc": "Accepted guard violations, each with a reason, an owner and an expiry date."})
    environments = nullable({"type": "keyed", "keys": file_name("an environment"), "values": nullable(ENVIRONMENT),
                             "doc": "Environments rendered by render --all and compared by diff."})
    app = {
        "type": "object",
        "fields": {
            "description": DESCRIPTION,
            "name": EVENTBUS_NAME,
            "namespace": nullable(NAMESPACE),
            "backend": {"type": "string", "enum": list(BACKENDS), "doc": "The bus implementation."},
            "profile": file_name("the default profile (default: dev)"),
            "overlays": _overlay_names("Overlays applied after the profile, in order."),
            "values": nullable(LAYER_VALUES),
            "merge": MERGE,
            "waivers": waivers,
            "environments": environments,
            "defaultEnvironment": file_name("the environment rendered when none is chosen (one of 'environments')"),
        },
        "required": ["backend"],
        "noun": "key",
    }
    profile = {"type": "object", "fields": {"description": DESCRIPTION, "extends": nullable(file_name(
        "the parent profile")), "values": nullable(LAYER_VALUES), "guards": nullable(guards), "merge": MERGE,
        "instanceLabel": INSTANCE_LABEL}, "noun": "key"}
    return {"app": app, "profile": profile, "overlay": OVERLAY, "environment": ENVIRONMENT, "waiver": waiver,
            "guards": guards, "values": LAYER_VALUES, "merge": MERGE}


def _signature(rules) -> tuple:
    """What the nodes of a registry are computed from (a registry's nodes are built once per process)."""
    if rules is None:
        return ()
    return tuple((rule_id, getattr(module, "MANDATORY", False), module.DESCRIPTION,
                  tuple((key, p.kind, p.doc, tuple(p.choices), p.nullable) for key, p in module.PARAMS.items()))
                 for rule_id, module in rules.items())


_BUILT: dict = {}
"""Nodes by registry signature: schema data, immutable once built (the validator compiles each node once)."""


def node(kind: str, rules=None) -> dict:
    """The schema node of ``kind`` (see :data:`KINDS`); ``rules`` is the guard registry (rule id -> module)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    key = _signature(rules)
    built = _BUILT.get(key)
    if built is None:
        built = _BUILT[key] = _documents(rules)
    return built[kind]


def check(kind: str, data, rules=None, path: tuple = ()) -> list[SchemaProblem]:
    """Every problem of ``data`` as a file (or part of one, at ``path``) of ``kind``, in document order.

    Without ``rules`` the settings of each guard and the rule a waiver names are only checked for shape.
    """
    return validate(data, node(kind, rules), path)
