"""What the cluster makes of an update: what the Argo Events webhook refuses, what Kubernetes refuses the
controller, what recreates the bus (argoproj/argo-events v1.9.11), and what points a disruption budget at
other pods (:func:`notices`, per kind of object).

The validating webhook is an optional extension (manifests/extensions/validating-webhook); where it is
installed, ``ValidateUpdate`` (pkg/webhook/validator/eventbus.go:38-87, ``authChanged`` at 89-100) refuses
a change of the backend family (NATS, JetStream, JetStream exotic), of NATS native versus exotic, of NATS
``auth`` (unset is ``none``) and of JetStream ``streamConfig``. Without it the controller takes the update,
and each notice says what it then does. Kafka has no case there, so a move to Kafka is allowed, but the
bus is a new one.

Whatever the webhook says, Kubernetes refuses a change to a StatefulSet's ``volumeClaimTemplates``: a
change to ``persistence`` makes the controller's update of the bus's StatefulSet fail
(installer/jetstream.go:221-228 and 112-115; installer/nats.go:379-390), and the bus stays with its
``Deployed`` condition false until the StatefulSet is replaced. Renaming an EventBus or moving it to
another namespace is never refused, and silently recreates it.
"""

from __future__ import annotations

from renderer.commands.diff.model import RECREATE, REFUSED, SELECTOR, STUCK, Notice

STATEFUL_BACKENDS = ("nats-native", "jetstream")
"""Backends whose EventBus runs a StatefulSet with volumes of its own."""
FAMILY = {"nats-native": "nats", "nats-exotic": "nats", "jetstream": "jetstream",
          "jetstream-exotic": "jetstreamExotic", "kafka": "kafka"}
"""The field of ``spec`` each backend sets: the webhook compares these."""
RECREATE_STEPS = ("to apply it, delete the EventSources and Sensors that use the bus (the controller does not "
                  "finish deleting an EventBus they still name, installer/installer.go:73-90), then the EventBus, "
                  "and create them again; the messages on the bus are lost")
MOVE = ("the controller installs the new backend beside the old one (installer/installer.go:40-55) and EventSources "
        "and Sensors move to it: the messages on the old bus are lost{}")
STATEFULSET = {"jetstream": "eventbus-{}-js", "nats-native": "eventbus-{}-stan"}
"""The name of the StatefulSet the controller runs for an EventBus (installer/jetstream.go:791-793,
installer/nats.go:966-968)."""
VOLUME_DEFAULTS = {"jetstream": "20Gi", "nats-native": "10Gi"}
"""``volumeSize`` when persistence names none (installer/jetstream.go:459-463, installer/nats.go:767-771)."""


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


def _refused(message: str, otherwise: str, steps: str = RECREATE_STEPS, why: str = "") -> Notice:
    return Notice(REFUSED, message, f"{why + ': ' if why else ''}refused by the Argo Events webhook when it is "
                                    f"installed; otherwise {otherwise}; {steps}")


def immutable_changes(old: dict, new: dict) -> list:
    """Notices for an update of ``old`` to ``new`` that the cluster refuses, or that recreates the bus."""
    old_backend, new_backend = backend_of(old), backend_of(new)
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if FAMILY.get(old_backend) != FAMILY.get(new_backend):
        what = f"backend changes from {old_backend} to {new_backend}"
        if new_backend == "kafka":
            return [Notice(RECREATE, what, "the webhook allows it, but EventSources and Sensors move to a new bus "
                                           f"and messages on the old one are lost{orphans(old_backend)}")]
        return [_refused(what, MOVE.format(orphans(old_backend, running=True)),
                         why="the implementation of an EventBus is immutable")]
    if new_backend != old_backend and FAMILY.get(new_backend) == "nats":
        return [_refused(f"NATS changes from {old_backend.split('-')[1]} to {new_backend.split('-')[1]}",
                         MOVE.format(orphans(old_backend, running=True)),
                         why="spec.nats.native versus spec.nats.exotic is immutable")]
    notices = []
    if new_backend in ("nats-native", "nats-exotic"):
        kind = new_backend.split("-")[1]
        old_auth = ((old_spec.get("nats") or {}).get(kind) or {}).get("auth")
        new_auth = ((new_spec.get("nats") or {}).get(kind) or {}).get("auth")
        if auth_changed(old_auth, new_auth):
            otherwise = ("the controller replaces the auth Secrets for the new strategy (installer/nats.go:226-361) "
                         "but not the running NATS servers, whose StatefulSet does not change: they keep the old "
                         "one until their pods restart, and clients and servers disagree until then"
                         if kind == "native" else
                         "EventSources and Sensors connect with the new strategy, which the server must already "
                         "accept")
            notices.append(_refused(f"spec.nats.{kind}.auth is immutable ({old_auth or 'none'} -> "
                                    f"{new_auth or 'none'})", otherwise))
    if new_backend == "jetstream":
        old_stream = (old_spec.get("jetstream") or {}).get("streamConfig")
        new_stream = (new_spec.get("jetstream") or {}).get("streamConfig")
        if old_stream != new_stream:
            what = "set" if old_stream is None else ("removed" if new_stream is None else "changed")
            notices.append(_refused(
                f"spec.jetstream.streamConfig is immutable (it is {what})",
                "the new settings never apply: the stream already exists, and EventSources and Sensors create it "
                "only when it is missing (pkg/eventbus/jetstream/base/jetstream.go:122-127)",
                "to apply it, change the stream 'default' on the JetStream servers (nats stream edit), or "
                + RECREATE_STEPS.removeprefix("to apply it, ")))
    if new_backend == old_backend and new_backend in STATEFUL_BACKENDS:
        notices.extend(persistence_changes(old, new, new_backend))
    return notices


def _persistence(manifest: dict, backend: str) -> dict | None:
    """The volume claim a manifest makes the controller write: per field, ``(value compared, value shown)``."""
    section = manifest.get("spec") or {}
    for key in ("nats", "native") if backend == "nats-native" else ("jetstream",):
        section = section.get(key) or {}
    persistence = section.get("persistence")
    if not isinstance(persistence, dict):
        return None
    from renderer.stages.validate import is_quantity, parse_quantity

    size = persistence.get("volumeSize") or VOLUME_DEFAULTS[backend]
    storage_class, mode = persistence.get("storageClassName"), persistence.get("accessMode") or "ReadWriteOnce"
    return {"storageClassName": (storage_class, storage_class or "unset"), "accessMode": (mode, mode),
            "volumeSize": (parse_quantity(size) if is_quantity(size) else size, str(size))}


def persistence_changes(old: dict, new: dict, backend: str) -> list:
    """A notice when the volumes the StatefulSet claims change: Kubernetes refuses the controller's update."""
    before, after = _persistence(old, backend), _persistence(new, backend)
    prefix = "spec.nats.native.persistence" if backend == "nats-native" else "spec.jetstream.persistence"
    if before is None or after is None:
        if before is after:
            return []
        what = f"{prefix} is {'added' if before is None else 'removed'}"
    else:
        changed = [f"{key} {before[key][1]} -> {after[key][1]}" for key in before if before[key][0] != after[key][0]]
        if not changed:
            return []
        what = f"{prefix} changes ({', '.join(changed)})"
    name = (new.get("metadata") or {}).get("name", "<name>")
    namespace = (new.get("metadata") or {}).get("namespace", "<namespace>")
    statefulset = STATEFULSET[backend].format(name)
    return [Notice(STUCK, what, f"Kubernetes refuses the controller's update of StatefulSet {statefulset} (its "
                                "volumeClaimTemplates cannot change), so the EventBus stays Deployed=False, with or "
                                f"without the webhook; way out: kubectl -n {namespace} delete statefulset "
                                f"{statefulset} --cascade=orphan, and the controller creates it again from the new "
                                "spec while the pods keep running (the existing volumes keep their size and class: "
                                "expand each PVC if its storage class allows it), or recreate the bus for new "
                                "volumes (its messages are lost)")]


def orphans(backend: str, running: bool = False) -> str:
    """What a bus of ``backend`` leaves behind when it is replaced (a clause, or nothing)."""
    if backend in STATEFUL_BACKENDS:
        if running:
            return ", and the old StatefulSet runs on until the EventBus is deleted"
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
