"""The Argo Events controller a cluster runs: what a profile declares about it, and what it writes back.

A profile names the controller release of its cluster and, when the cluster's
``argo-events-controller-config`` differs from that release's manifests, the
JetStream versions it lists and its default ``streamConfig``::

    controller:
      release: v1.9.5
      jetstreamVersions: ["2.10.10", "2.10.29"]
      streamConfig: |
        maxAge: 72h
        replicas: 3

A child profile overrides the keys it sets. Without any, the facts are those of
:data:`DEFAULT_RELEASE`, the release the built-in profiles assume. Facts per release come from
``manifests/base/controller-manager/controller-config.yaml`` and the Go types at each tag of
argoproj/argo-events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from renderer.errors import InputError, MultipleErrors

__all__ = ["DEFAULT_RELEASE", "RELEASES", "Controller", "at_least", "of_profiles", "write_backs"]

RELEASES = tuple(f"v1.9.{n}" for n in range(12))
"""The controller releases whose EventBus API the renderer knows (the v1.9 line)."""
DEFAULT_RELEASE = "v1.9.11"
"""The release assumed when no profile names one (the built-in profiles name it too)."""

_BASE_VERSIONS = ("latest", "2.8.1", "2.8.1-alpine", "2.8.2", "2.8.2-alpine", "2.9.1", "2.9.12", "2.9.16")
_VERSIONS = (("v1.9.0", _BASE_VERSIONS), ("v1.9.2", _BASE_VERSIONS + ("2.10.10",)),
             ("v1.9.10", _BASE_VERSIONS + ("2.10.29",)))
"""``eventBus.jetstream.versions`` of the controller config, from the first release that lists them
(controller-config.yaml at v1.9.0 and v1.9.1; v1.9.2 to v1.9.9 add 2.10.10; v1.9.10 and v1.9.11 list
2.10.29 instead)."""
_STREAM_CONFIG = (("v1.9.0", "maxMsgs: 50000\nmaxAge: 168h\nmaxBytes: -1\nreplicas: 3\nduplicates: 300s\n"),
                  ("v1.9.3", "maxMsgs: 50000\nmaxAge: 168h\nmaxBytes: -1\nreplicas: 3\nduplicates: 300s\n"
                             "retention: 0\ndiscard: 0\n"))
"""``eventBus.jetstream.streamConfig`` of the controller config, comments left out (v1.9.3 adds
``retention`` and ``discard``)."""
SINCE = {
    ("streamConfig", "retention"): "v1.9.3",
    ("streamConfig", "discard"): "v1.9.3",
    ("jetstreamExotic", "tls"): "v1.9.4",
    ("kafka", "partitioner"): "v1.9.8",
}
"""Settings read only from a release on: the stream's ``retention`` and ``discard``
(pkg/eventbus/jetstream/base/jetstream.go), JetStream exotic ``tls`` and Kafka ``partitioner`` (fields of
pkg/apis/events/v1alpha1/jetstream_eventbus.go and kafka_eventbus.go). An older controller drops them."""


def at_least(release: str, since: str) -> bool:
    """True if ``release`` is ``since`` or later."""
    return RELEASES.index(release) >= RELEASES.index(since)


def _of_release(table, release: str):
    found = table[0][1]
    for first, value in table:
        if at_least(release, first):
            found = value
    return found


@dataclass(frozen=True, slots=True)
class Controller:
    """The controller of a profile's cluster: release, listed JetStream versions, default stream config.

    ``named_by`` says, per fact, which profile set it (absent: the release's own manifests).
    """

    release: str = DEFAULT_RELEASE
    jetstream_versions: tuple = _of_release(_VERSIONS, DEFAULT_RELEASE)
    stream_config: str = _of_release(_STREAM_CONFIG, DEFAULT_RELEASE)
    named_by: dict = field(default_factory=dict)

    def reads(self, *path: str) -> bool:
        """True if this release reads the setting at ``path`` (a key of :data:`SINCE`, or any other)."""
        since = SINCE.get(tuple(path))
        return since is None or at_least(self.release, since)

    def source(self, fact: str) -> str:
        """Who declared ``fact`` (``release``, ``jetstreamVersions`` or ``streamConfig``)."""
        return self.named_by.get(fact) or f"the controller config of Argo Events {self.release}"

    def stream_keys(self) -> tuple:
        """The stream config keys this release reads."""
        from renderer.stages.streamconfig import KEYS

        return tuple(key for key in KEYS if self.reads("streamConfig", key))


def of_profiles(profiles: list) -> Controller:
    """The controller of a profile chain (base first); each profile's ``controller`` overrides what it sets.

    A profile's own ``streamConfig`` is read as the controller reads it: a mistake there is an input
    error at its line.
    """
    from renderer import context

    key = tuple((p.name, p.builtin, p.doc.key) for p in profiles)
    cache = context.cache("controller")
    found = cache.get(key)
    if found is None:
        found = cache[key] = _resolve(profiles)
    return found


def _resolve(profiles: list) -> Controller:
    release, versions, stream, named_by = DEFAULT_RELEASE, None, None, {}
    for profile in profiles:
        setting = profile.doc.data.get("controller") or {}
        for key in ("release", "jetstreamVersions", "streamConfig"):
            if setting.get(key) is not None:
                where = profile.doc.where(("controller", key))
                named_by[key] = f"controller.{key} of profile {profile.name!r} ({where})"
        if setting.get("release") is not None:
            release = setting["release"]
        if setting.get("jetstreamVersions") is not None:
            versions = tuple(setting["jetstreamVersions"])
        if setting.get("streamConfig") is not None:
            stream = (setting["streamConfig"], profile)
    facts = Controller(release, versions or _of_release(_VERSIONS, release),
                       stream[0] if stream else _of_release(_STREAM_CONFIG, release), named_by)
    if stream:
        _check_stream_config(facts, stream[1])
    return facts


def _check_stream_config(facts: Controller, profile) -> None:
    from renderer.stages.streamconfig import cross_problems, effective, read

    parsed = read(facts.stream_config, facts.stream_keys())
    location = profile.doc.where(("controller", "streamConfig"))
    errors = [InputError(f"{key or 'streamConfig'} (line {line} of the text): {message}" if line else message,
                         location=location, hint=fix) for line, key, message, fix in parsed.problems]
    if parsed.state == "invalid" and not errors:  # pragma: no cover - read() always says why
        errors.append(InputError("streamConfig is not a mapping", location=location))
    if not errors:
        errors = [InputError(message, location=location, hint=fix)
                  for _, message, fix in cross_problems(effective(None, parsed))]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultipleErrors(errors)


def write_backs(manifest: dict, name: str, namespace: str) -> list[tuple]:
    """Write into ``manifest`` what the controller writes into the stored spec; return the paths written.

    The one write-back of v1.9: a Kafka bus without a ``topic`` gets ``<namespace>-<name>``
    (installer/kafka.go:32-34), stored by the update that adds the controller's finalizer on the first
    reconcile (pkg/reconciler/eventbus/controller.go:60-65, 87). The finalizer itself
    (``metadata.finalizers: [eventbus-controller]``) is left to the controller, which adds and removes it:
    rendered, it would hold an EventBus whose controller is gone from ever being deleted.
    """
    spec = manifest.get("spec")
    kafka = spec.get("kafka") if isinstance(spec, dict) else None
    if isinstance(kafka, dict) and not kafka.get("topic"):
        kafka["topic"] = f"{namespace}-{name}"
        return [("spec", "kafka", "topic")]
    return []
