"""The schema of every file a user writes, declared once: app file, profile, overlay.

One source for two consumers. The renderer checks a file with :func:`check`,
which runs the one validator (:func:`renderer.stages.validate.validate`) over
these nodes; ``eventbus-render schema KIND`` turns the same nodes into the
editors' JSON Schemas (:mod:`renderer.commands.schema`). Neither has a rule of
its own, so the two accept and reject the same documents.

The nodes are those of :mod:`renderer.stages.spec`, plus four types
:mod:`renderer.stages.usertypes` registers with the validator:

- ``{"type": "text", "pattern": REGEX, "what": ..., "fix": ...}``: a string the
  whole of which ``REGEX`` matches. The regex is written in the common subset
  of Python's ``re`` and ECMA 262 (what JSON Schema's ``pattern`` is), and is
  the only statement of the rule: DNS labels, label keys and values, plain
  file names, real calendar dates (leap years included), merge strategies.
- ``{"type": "keyed", "keys": TEXT, "values": NODE}``: a map whose keys are
  checked too (label keys, environment names).
- ``{"type": "nullable", "node": NODE}``: ``null`` or ``NODE``.
- ``{"type": "choice", "enum": [...]}``: one of a few YAML scalars of any type,
  compared with their type (``false`` is not ``0``); how a guard's ``level``
  accepts the ``false`` that YAML 1.1 makes of an unquoted ``off``.

Any node may carry ``"doc"`` (the editor's description) and an object
``"name"`` (its definition name in the JSON Schema). A file is one layer of a
merge, so its ``values`` are :func:`partial`: no field is required there and
``null`` deletes a key. The guard settings of a profile and the rule a waiver
names come from the guard registry, passed in as ``rules`` (the guards package
sits above this module, which must stay importable by the loader).
"""

from __future__ import annotations

from renderer.stages import controller, disruption, spec, usertypes
from renderer.stages.spec import STR_LIST
from renderer.stages.validate import SchemaProblem, validate

__all__ = ["KINDS", "LEVELS", "BACKENDS", "VALUES", "LAYER_VALUES", "INSTANCE_LABEL", "INSTANCE_LABEL_KEY",
           "CONTROLLER", "check", "node", "partial", "nullable"]

KINDS = ("app", "profile", "overlay", "environment", "waiver", "guards", "values", "merge")
"""What :func:`check` knows: the three files, and parts of them a caller may check alone."""
LEVELS = ("off", "warning", "error")
"""Guard severities, weakest first."""
BACKENDS = tuple(spec.BACKEND_PATHS)


usertypes.register_all()


def nullable(node: dict) -> dict:
    """``null`` or ``node``."""
    return node if node["type"] in ("nullable", "any") else {"type": "nullable", "node": node}


def text(pattern: str, what: str, fix: str, doc: str = "") -> dict:
    """A string matching ``pattern`` as a whole; ``what`` completes "'x' is not ..."."""
    out = {"type": "text", "pattern": pattern, "what": what, "fix": fix}
    if doc:
        out["doc"] = doc
    return out


# -- formats: one regex each, for the renderer and the editors alike ----------------------------

_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_DNS_SUBDOMAIN = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
_LABEL_NAME = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]"
# [prefix/]name: the prefix a DNS subdomain of at most 253 characters, the name at most 63
_LABEL_KEY = rf"(?:(?=[^/]{{1,253}}/){_DNS_SUBDOMAIN}/)?{_LABEL_NAME}"
_LABEL_VALUE = r"(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?"
# a file stem: nothing that could leave the app directory
_NAME = r"(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,62}"
# YYYY-MM-DD of a day that exists (years 0001-9999, as Python's date); leap days in leap years only
_LEAP_YEAR = r"[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00"
_DATE = (r"(?!0000)[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
         rf"|02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:{_LEAP_YEAR})-02-29")
_MERGE_KEYS = r"\s*[^+\s][^+]*"
_STRATEGY = rf"replace|append|mergeBy:{_MERGE_KEYS}(?:\+{_MERGE_KEYS})*"

DNS_LABEL_HINT = "use lower-case letters, digits and '-', at most 63 characters"
EVENTBUS_NAME = text(_DNS_LABEL, "a valid EventBus name",
                     DNS_LABEL_HINT + " (the controller uses it as a label value and in Service names)",
                     "EventBus metadata.name (default: default).")
NAMESPACE = text(_DNS_LABEL, "a valid namespace name", DNS_LABEL_HINT, "EventBus namespace (default: argo-events).")
LABEL_KEY = text(_LABEL_KEY, "a valid Kubernetes label key",
                 "use [prefix/]name with letters, digits, '-', '_', '.' (name at most 63 characters, prefix a "
                 "DNS subdomain)")
LABEL_VALUE = text(_LABEL_VALUE, "a valid Kubernetes label value",
                   "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
NAME_HINT = "use a file name from profiles/ or overlays/ without directories, e.g. 'prod'"
DATE = text(_DATE, "a date", "write the last day the waiver holds as YYYY-MM-DD (UTC, inclusive)",
            "Last day the waiver holds (YYYY-MM-DD, UTC, inclusive).")
STRATEGY = text(_STRATEGY, "a merge strategy", "use replace, append or mergeBy:KEY (mergeBy:key+effect for several "
                "keys)")
NON_BLANK = text(r"[\s\S]*\S[\s\S]*", "the name of a person or team", "name a person or team",
                 "Person or team answerable for it.")
NON_EMPTY = text(r"[\s\S]+", "a non-empty string", "write a value or remove the entry")
_IN_OBJECT = r"(?:spec|metadata)(?:[.\[][\s\S]*)?"  # a path of the EventBus; a companion's follows its kind
MANIFEST_PATH = text(rf"{_IN_OBJECT}|{disruption.KIND}(?:\.{_IN_OBJECT})?", "a manifest path",
                     "copy the path from the report, e.g. spec.jetstream.replicas",
                     "Manifest path of the value the waiver accepts, as the report prints it, e.g. "
                     "spec.jetstream.replicas.")


def file_name(what: str) -> dict:
    """A profile, overlay or environment name: a plain file stem."""
    return text(_NAME, "a plain name", NAME_HINT, f"Name of {what} (a file stem, no folders).")


# -- values -------------------------------------------------------------------------------------

_SPREAD_MODE = {"type": "string", "enum": ["none", "preferred", "required"]}
_WEIGHT = {"type": "integer", "minimum": 1, "maximum": 100}
_BUDGET = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
VALUES = {
    "type": "object", "name": "Values",
    "doc": "Values merged over the lower layers: one section per backend with the upstream EventBus field names, "
           "plus labels, annotations and spread. null deletes a key.",
    "fields": {
        **spec.EVENTBUS["fields"]["spec"]["fields"],
        "labels": {"type": "keyed", "keys": LABEL_KEY, "values": LABEL_VALUE},
        "annotations": {"type": "keyed", "keys": LABEL_KEY, "values": spec.STR},
        "spread": {"type": "object", "fields": {"zones": _SPREAD_MODE, "hosts": _SPREAD_MODE,
                                                "zoneWeight": _WEIGHT, "hostWeight": _WEIGHT}},
        "disruptionBudget": {"type": "object", "name": "DisruptionBudget", "fields": {
            "enabled": dict(spec.BOOL, doc="Render a policy/v1 PodDisruptionBudget beside a nats-native or "
                                           "jetstream bus (the other backends run no pods of their own)."),
            "maxUnavailable": dict(_BUDGET, doc="Bus pods a drain may evict at once; at most (replicas - 1) // 2 "
                                                "keeps the quorum. A count: a percentage of 3 pods rounds up."),
            "minAvailable": dict(_BUDGET, doc="Instead of maxUnavailable (write maxUnavailable: null): bus pods "
                                              "that must stay available, fewer than replicas."),
            "unhealthyPodEvictionPolicy": {"type": "string", "enum": list(disruption.EVICTION_POLICIES)}},
            "doc": "The PodDisruptionBudget of the bus pods, named eventbus-<name>-pdb in the bus's namespace."},
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


CONTROLLER = nullable({
    "type": "object", "name": "Controller", "noun": "controller key",
    "doc": "The Argo Events controller of the cluster: its release and, where the cluster's controller config "
           "differs from that release's, its JetStream versions and default streamConfig.",
    "fields": {
        "release": nullable({"type": "string", "enum": list(controller.RELEASES),
                             "doc": f"The Argo Events controller release (default: {controller.DEFAULT_RELEASE})."}),
        "jetstreamVersions": nullable(dict(STR_LIST, items=NON_EMPTY, doc="The controller config's JetStream "
                                                                          "versions.")),
        "streamConfig": nullable(dict(spec.STR, doc="The controller config's default JetStream streamConfig.")),
    },
})
"""A profile's ``controller``: facts about the cluster's Argo Events controller (:mod:`renderer.stages.controller`)."""


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
    out = {"type": "object", "fields": fields, "doc": module.DESCRIPTION, "noun": "setting"}
    if getattr(module, "MOVED", None):
        out["removed"] = dict(module.MOVED)
    return nullable(out)


def _rules_nodes(rules) -> tuple[dict, dict]:
    """``(guards, waiver)`` nodes for a guard registry (rule id -> rule module), or without one."""
    if rules is None:
        guards = {"type": "map", "values": nullable(usertypes.MAPPING)}
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
        "instanceLabel": INSTANCE_LABEL, "controller": CONTROLLER}, "noun": "key"}
    return {"app": app, "profile": profile, "overlay": OVERLAY, "environment": ENVIRONMENT, "waiver": waiver,
            "guards": guards, "values": LAYER_VALUES, "merge": MERGE}


def _signature(rules) -> tuple:
    """What the nodes of a registry are computed from (a registry's nodes are built once per process)."""
    if rules is None:
        return ()
    return tuple((rule_id, getattr(module, "MANDATORY", False), module.DESCRIPTION,
                  tuple((key, p.kind, p.doc, tuple(p.choices), p.nullable) for key, p in module.PARAMS.items()),
                  tuple(getattr(module, "MOVED", {}).items()))
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
