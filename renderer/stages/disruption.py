"""The PodDisruptionBudget rendered beside an EventBus whose pods Argo Events runs.

The controller runs a StatefulSet for a NATS native or JetStream bus and no
PodDisruptionBudget for it (nothing under argo-events v1.9.11
``pkg/reconciler/`` creates one), so a node drain may evict two of three
servers at once and take the quorum with them.
Upstream's HA guide asks for one (``docs/dr_ha_recommendations.md:101-118``).
This module holds every fact about it:

- which pods it protects: the labels the controller puts on every pod of the
  bus (:func:`pod_selector`);
- its name, derived from the bus (:func:`budget_name`), and its namespace, the
  bus's: both the renderer's, never a value's;
- the budget, from the values' ``disruptionBudget`` (its schema is in
  :mod:`renderer.stages.userfiles`, the one schema source of what users write);
- the strict shape of a ``policy/v1`` object (:data:`POD_DISRUPTION_BUDGET`), and
  where each of its values comes from in the values (:func:`values_path`).

Backends whose pods run elsewhere (NATS exotic, JetStream exotic, Kafka) get no budget.
"""

from __future__ import annotations

from renderer.stages import spec

KIND = "PodDisruptionBudget"
API_VERSION = "policy/v1"
POD_BACKENDS = ("nats-native", "jetstream")
"""Backends whose pods Argo Events runs (a StatefulSet per bus): the only ones a budget can protect."""
CONTROLLER_DEFAULT_REPLICAS = 3
"""The servers the controller runs when ``replicas`` is not written (``GetReplicas`` in upstream's
``pkg/apis/events/v1alpha1/jetstream_eventbus.go:90-95``; the NATS native default is the renderer's built-in 3)."""
VALUES_KEY = "disruptionBudget"
"""The values' section of the budget."""
EVICTION_POLICIES = ("IfHealthyBudget", "AlwaysAllow")
"""``spec.unhealthyPodEvictionPolicy`` of ``policy/v1``."""


def pod_selector(bus: str) -> dict:
    """The labels the controller puts on every pod of EventBus ``bus``.

    ``getLabels`` (argo-events v1.9.11 ``pkg/reconciler/eventbus/installer/installer.go:57-63``) gives both
    installers these labels (with ``owner-name``, which EventSource and Sensor pods carry too); the
    StatefulSet selects its pods by them and writes them over the bus's own pod labels
    (``nats.go:648-666``, ``jetstream.go:235-270``). Upstream's HA guide selects by the same two
    (``docs/dr_ha_recommendations.md:115-117``).
    """
    return {"controller": "eventbus-controller", "eventbus-name": bus}


def budget_name(bus: str) -> str:
    """The budget's name: ``eventbus-<bus>-pdb``, as upstream's HA guide names it (``dr_ha_recommendations.md:111``)."""
    return f"eventbus-{bus}-pdb"


def replica_count(section: dict) -> int:
    """The servers a backend section runs: its ``replicas`` when written, else the controller's default."""
    written = section.get("replicas")
    return written if isinstance(written, int) and not isinstance(written, bool) else CONTROLLER_DEFAULT_REPLICAS


def tolerance(replicas: int) -> int:
    """How many of ``replicas`` servers may be down while the rest keep a quorum: ``(replicas - 1) // 2``."""
    return max(0, (replicas - 1) // 2)


def unavailable(spec_: dict, replicas: int) -> tuple:
    """``(key, value, pods the budget lets go at once)`` of a budget's ``spec`` over ``replicas`` pods."""
    if spec_.get("minAvailable") is not None:
        return "minAvailable", spec_["minAvailable"], replicas - spec_["minAvailable"]
    return "maxUnavailable", spec_.get("maxUnavailable"), spec_.get("maxUnavailable") or 0


def budget(bus: str, namespace: str, backend: str, values: dict, labels: dict, annotations: dict) -> dict | None:
    """The ``policy/v1`` PodDisruptionBudget of bus ``bus``, or None (turned off, or a backend without pods).

    ``labels`` and ``annotations`` are the EventBus's own (the values' and the renderer's), so the two
    objects are tracked, pruned and reviewed alike. :func:`problems` checks what this returns.
    """
    setting = values.get(VALUES_KEY) or {}
    if backend not in POD_BACKENDS or not setting.get("enabled"):
        return None
    spec_ = {"selector": {"matchLabels": pod_selector(bus)}}
    for key in ("maxUnavailable", "minAvailable", "unhealthyPodEvictionPolicy"):
        if setting.get(key) is not None:
            spec_[key] = setting[key]
    return {"apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": budget_name(bus), "namespace": namespace, "labels": dict(labels),
                         "annotations": dict(annotations)},
            "spec": spec_}


def problems(manifest: dict) -> list:
    """Every problem of a budget as rendered: the strict ``policy/v1`` shape, and both bounds set at once (the
    API server refuses a budget with ``maxUnavailable`` and ``minAvailable``)."""
    from renderer.stages.validate import SchemaProblem, validate

    found = validate(manifest, POD_DISRUPTION_BUDGET)
    spec_ = manifest.get("spec") if isinstance(manifest.get("spec"), dict) else {}
    if spec_.get("maxUnavailable") is not None and spec_.get("minAvailable") is not None:
        found.append(SchemaProblem(("spec", "minAvailable"), "a PodDisruptionBudget takes maxUnavailable or "
                                   "minAvailable, not both (disruptionBudget.maxUnavailable is set too)",
                                   "write maxUnavailable: null beside minAvailable (the built-in defaults set "
                                   "maxUnavailable: 1), or remove minAvailable"))
    return found


def values_path(manifest_path: tuple) -> tuple:
    """The values path that feeds a path of the budget (``spec.maxUnavailable`` is ``disruptionBudget.maxUnavailable``);
    ``()`` for what the renderer computes (name, namespace, selector)."""
    path = tuple(manifest_path)
    if path[:1] == ("spec",) and path[1:2] != ("selector",) and len(path) > 1:
        return (VALUES_KEY,) + path[1:]
    if path[:2] in (("metadata", "labels"), ("metadata", "annotations")):
        return path[1:]
    return ()


# -- the strict shape of what is rendered: a subset of Kubernetes' policy/v1 ---------------------------------------

_COUNT = {"type": "integer", "format": "int32", "minimum": 0}
POD_DISRUPTION_BUDGET = {
    "type": "object",
    "fields": {
        "apiVersion": {"type": "string", "enum": [API_VERSION]},
        "kind": {"type": "string", "enum": [KIND]},
        "metadata": spec.OBJECT_META,
        "spec": {
            "type": "object",
            "fields": {
                # IntOrString upstream; the renderer writes counts only (a percentage of 3 servers rounds up)
                "maxUnavailable": _COUNT,
                "minAvailable": _COUNT,
                "selector": spec.LABEL_SELECTOR,
                "unhealthyPodEvictionPolicy": {"type": "string", "enum": list(EVICTION_POLICIES)},
            },
            "required": ["selector"],
        },
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
}
"""``policy/v1`` PodDisruptionBudget as the renderer writes it: closed objects, only the fields it sets. Kept a
subset of Kubernetes' own schema (tests/test_disruption_budget.py checks it against ``kubernetes-validate``'s
strict schemas)."""
