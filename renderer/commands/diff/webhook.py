"""What the cluster makes of an update: what the Argo Events webhook refuses, what recreates the bus, and what
points a disruption budget at other pods (:func:`notices`, per kind of object).

An EventBus update is checked by upstream's admission webhook,
``ValidateUpdate`` in argo-events ``pkg/webhook/validator/eventbus.go``
(lines 38-87 at commit 1b84a0f; ``authChanged`` at line 89): the backend
family (NATS, JetStream, JetStream exotic) cannot change, nor NATS native
versus exotic, nor NATS ``auth`` (unset is the same as ``none``), nor
JetStream ``streamConfig``. Kafka has no case there, so a move to Kafka is
allowed, but the bus is a new one. Renaming an EventBus or moving it to
another namespace is never refused, and silently recreates it.
"""

from __future__ import annotations

from renderer.commands.diff.model import RECREATE, REFUSED, SELECTOR, Notice

STATEFUL_BACKENDS = ("nats-native", "jetstream")
"""Backends whose EventBus runs a StatefulSet with volumes of its own."""
FAMILY = {"nats-native": "nats", "nats-exotic": "nats", "jetstream": "jetstream",
          "jetstream-exotic": "jetstreamExotic", "kafka": "kafka"}
"""The field of ``spec`` each backend sets: the webhook compares these."""
REFUSED_HINT = ("the Argo Events webhook refuses this update; to apply it, delete the EventBus and let it be "
                "created again (EventSources and Sensors stop meanwhile, and messages on the bus are lost)")


def backend_of(manifest: dict) -> str:
    """The backend a manifest's ``spec`` selects (``nats-native``, ``jetstream``...)."""
    spec = manifest.get("spec") or {}
    if "nats" in spec:
        nats = spec.get("nats") or {}
        return "nats-exotic" if "exotic" in nats and "native" not in nats else "nats-native"
    if "jetstream" in spec:
        return "jetstream"
    if "jetstreamExotic" in spec:
        return "jetstream-exotic"
    if "kafka" in spec:
        return "kafka"
    return "unknown"


def auth_changed(old, new) -> bool:
    """Upstream's ``authChanged``: an unset auth is the same as ``none``."""
    return (old or "none") != (new or "none")


def immutable_changes(old: dict, new: dict) -> list:
    """Notices for an update of ``old`` to ``new`` that upstream's webhook refuses, or that recreates the bus."""
    old_backend, new_backend = backend_of(old), backend_of(new)
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if FAMILY.get(old_backend) != FAMILY.get(new_backend):
        what = f"backend changes from {old_backend} to {new_backend}"
        if new_backend == "kafka":
            return [Notice(RECREATE, what, "the webhook allows it, but EventSources and Sensors move to a new bus "
                                           f"and messages on the old one are lost{orphans(old_backend)}")]
        return [Notice(REFUSED, what, "the implementation of an EventBus is immutable; " + REFUSED_HINT)]
    if new_backend != old_backend and FAMILY.get(new_backend) == "nats":
        return [Notice(REFUSED, f"NATS changes from {old_backend.split('-')[1]} to {new_backend.split('-')[1]}",
                       "spec.nats.native versus spec.nats.exotic is immutable; " + REFUSED_HINT)]
    notices = []
    if new_backend in ("nats-native", "nats-exotic"):
        kind = new_backend.split("-")[1]
        old_auth = ((old_spec.get("nats") or {}).get(kind) or {}).get("auth")
        new_auth = ((new_spec.get("nats") or {}).get(kind) or {}).get("auth")
        if auth_changed(old_auth, new_auth):
            notices.append(Notice(REFUSED, f"spec.nats.{kind}.auth is immutable ({old_auth or 'none'} -> "
                                           f"{new_auth or 'none'})", REFUSED_HINT))
    if new_backend == "jetstream":
        old_stream = (old_spec.get("jetstream") or {}).get("streamConfig")
        new_stream = (new_spec.get("jetstream") or {}).get("streamConfig")
        if old_stream != new_stream:
            what = "set" if old_stream is None else ("removed" if new_stream is None else "changed")
            notices.append(Notice(REFUSED, f"spec.jetstream.streamConfig is immutable (it is {what})", REFUSED_HINT))
    return notices


def orphans(backend: str) -> str:
    """What a bus of ``backend`` leaves behind when it is replaced (a clause, or nothing)."""
    if backend in STATEFUL_BACKENDS:
        return "; the old bus's StatefulSet and volumes are left behind"
    return ""


def rename_notice(base, head) -> Notice:
    """The notice for an EventBus that its app now renders under another name or namespace (two entries)."""
    if base.namespace != head.namespace and base.name != head.name:
        what = f"EventBus {base.ident} becomes {head.ident}"
    elif base.namespace != head.namespace:
        what = f"EventBus {base.name} moves from namespace {base.namespace} to {head.namespace}"
    else:
        what = f"EventBus {base.ident} is renamed to {head.name}"
    detail = "a new EventBus is created instead of the old one being updated"
    if base.backend in STATEFUL_BACKENDS:
        detail += ("; the old bus's StatefulSet and volumes are orphaned (or deleted with it when pruned) and its "
                   "messages are not carried over")
    return Notice(RECREATE, what, detail + f"; EventSources and Sensors must name the new bus (eventBusName: "
                                           f"{head.name})")


def notices(base, head) -> list:
    """The notices of an update of :class:`~renderer.commands.diff.model.Version` ``base`` to ``head`` (their
    manifests at hand): an EventBus's by the webhook's rules (a rename by :func:`rename_notice`), a
    PodDisruptionBudget's by :func:`selector_notices`."""
    if head.entry.kind == "PodDisruptionBudget":
        return selector_notices(base.manifest, head.manifest)
    if base.entry.key != head.entry.key:
        return [rename_notice(base.entry, head.entry)]
    return immutable_changes(base.manifest, head.manifest)


def _selector_text(selector) -> str:
    labels = (selector or {}).get("matchLabels") or {}
    shown = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    rest = " and expressions" if (selector or {}).get("matchExpressions") else ""
    return (shown or "nothing") + rest


def selector_notices(old: dict, new: dict) -> list:
    """A notice when a PodDisruptionBudget's selector changes: it protects other pods from then on.

    The API server accepts the update (``policy/v1`` selectors are mutable), so nothing refuses it: the pods
    the old selector matched may be evicted together from the moment it applies, and a budget that selects
    no pod of its bus protects none.
    """
    old_selector = (old.get("spec") or {}).get("selector")
    new_selector = (new.get("spec") or {}).get("selector")
    if old_selector == new_selector:
        return []
    return [Notice(SELECTOR, f"spec.selector changes from {_selector_text(old_selector)} to "
                             f"{_selector_text(new_selector)}",
                   "the budget protects other pods from the moment it applies: the pods it selected before may be "
                   "evicted together; check that it selects the bus's pods (controller: eventbus-controller, "
                   "eventbus-name: <the bus>)")]
