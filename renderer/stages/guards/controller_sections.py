"""The checks of :mod:`.controller_rules`, one function per backend section (plus the pods' labels and the
stream config). Each cites the upstream code it follows (argoproj/argo-events v1.9.11 unless named)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from renderer import context
from renderer.stages import streamconfig
from renderer.stages.guards.model import Finding, plural, quote, value_path

ID = "controller-rules"
OWNED_POD_LABELS = ("controller", "eventbus-name", "owner-name")
"""Labels the controller puts on the bus's pods over the section's ``metadata.labels``
(installer/installer.go:57-63; jetstream.go:235-244, nats.go:648-657)."""
SASL_MECHANISMS_THAT_RUN = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
"""Of the mechanisms upstream declares (sasl.go:25-32), those its Kafka client can set up: it gives sarama
neither a token provider (OAUTHBEARER) nor GSS-API settings (sarama v1.43.0 config.go:644-661)."""
_KAFKA_VERSION = re.compile(r"0\.[0-9]+\.[0-9]+\.[0-9]+|[0-9]+\.[0-9]+\.[0-9]+")
"""sarama's ``ParseKafkaVersion`` (v1.43.0 utils.go:285-309): ``0.a.b.c`` before 1.0, ``a.b.c`` after."""


def missing(path: tuple, what: str, fix: str) -> Finding:
    """A required setting that is absent or empty."""
    return Finding(ID, path=path, actual=f"{path[-1]} is missing", expected=what, fix=fix)


def native(path: tuple, section: dict, facts) -> Iterator[Finding]:
    replicas = section.get("replicas")
    if isinstance(replicas, int) and replicas < 3:
        # installer/nats.go:622-626 (and 437-440): the StatefulSet and the streaming cluster get 3
        yield Finding(ID, path=path + ("replicas",),
                      actual=f"{plural(replicas, 'replica')} (the controller silently runs 3)", expected="at least 3",
                      fix=f"set {value_path(path + ('replicas',))} to 3 or more")
    auth = section.get("auth")
    if auth is not None and auth not in ("none", "token"):
        # installer/nats.go:358-360: any other strategy fails the deployment (UnsupportedAuthStrategy)
        yield Finding(ID, path=path + ("auth",), actual=f"auth {quote(auth)} (declared upstream, not supported)",
                      expected="none or token",
                      fix=f"set {value_path(path + ('auth',))} to token (the controller creates the Secret)")
    yield from pod_labels(path, section)


def nats_exotic(path: tuple, section: dict, facts) -> Iterator[Finding]:
    # validate.go:21-29
    if not section.get("url"):
        yield missing(path + ("url",), "the NATS streaming URL",
                      f"set {value_path(path + ('url',))}, e.g. nats://nats.messaging.svc:4222")
    if not section.get("clusterID"):
        yield missing(path + ("clusterID",), "the NATS streaming cluster ID",
                      f"set {value_path(path + ('clusterID',))} to the cluster ID of the NATS streaming server")
    auth = section.get("auth")
    if auth is not None and auth not in ("none", "token"):
        # pkg/eventbus/stan/base/stan.go:47-55: the streaming client knows none and token only
        yield Finding(ID, path=path + ("auth",),
                      actual=f"auth {quote(auth)} (the NATS streaming client of EventSources and Sensors supports "
                             "none and token only)", expected="none or token",
                      fix=f"set {value_path(path + ('auth',))} to token and name the Secret in accessSecret")
    elif auth == "token" and not section.get("accessSecret"):
        # eventsource/resource.go:251-272 and sensor/resource.go:212-233 mount auth.yaml only from
        # accessSecret; pkg/eventbus/driver.go:133-141 fails without it. Reported at auth, which asks for it.
        apath = path + ("accessSecret",)
        yield Finding(ID, path=path + ("auth",),
                      actual="auth token without accessSecret (EventSource and Sensor pods fail: they read the "
                             "token from the Secret it names)", expected="the Secret holding the token in accessSecret",
                      fix=f"set {value_path(apath)} to {{name: <secret>, key: <key>}}; the key holds 'token: <token>'")


def jetstream(path: tuple, section: dict, facts) -> Iterator[Finding]:
    version = section.get("version")
    listed = facts.jetstream_versions
    shown = ", ".join(listed)
    where = facts.source("jetstreamVersions")
    if not version:
        # validate.go:32-34
        yield missing(path + ("version",), "a JetStream version the controller lists",
                      f"set {value_path(path + ('version',))} to one of {shown}")
    elif version not in listed:
        # jetstream.go:189-192 with pkg/reconciler/config.go:82-95: the StatefulSet is never created
        yield Finding(ID, path=path + ("version",), actual=f"version {quote(version)} is not one the controller lists",
                      expected=f"one of {shown} ({where})",
                      fix=f"set {value_path(path + ('version',))} to one of {shown}")
    replicas = section.get("replicas")
    rejected = isinstance(replicas, int) and (replicas == 2 or replicas <= 0)
    if rejected:
        # validate.go:35-37
        yield Finding(ID, path=path + ("replicas",),
                      actual=f"{plural(replicas, 'replica')} (the controller rejects it)",
                      expected="1 or at least 3",
                      fix=f"set {value_path(path + ('replicas',))} to 3 (or 1 for a single server)")
    # jetstream_eventbus.go:90-95: no replicas is 3; a rejected count has no servers to compare the streams with
    servers = None if rejected else (replicas if isinstance(replicas, int) else 3)
    yield from stream_config(path, section, facts, servers, merged=True)
    yield from pod_labels(path, section)


def jetstream_exotic(path: tuple, section: dict, facts) -> Iterator[Finding]:
    if not section.get("url"):  # validate.go:44-48
        yield missing(path + ("url",), "the JetStream server URL",
                      f"set {value_path(path + ('url',))}, e.g. nats://jetstream.messaging.svc:4222")
    yield from unread(path, section, facts, ("jetstreamExotic", "tls"), "EventSources and Sensors connect without it")
    # installer/exotic_jetstream.go:27-37: the text reaches the pods as written, with no default under it
    yield from stream_config(path, section, facts, None, merged=False)


def kafka(path: tuple, section: dict, facts) -> Iterator[Finding]:
    if not section.get("url"):  # validate.go:39-43
        yield missing(path + ("url",), "the Kafka brokers",
                      f"set {value_path(path + ('url',))}, e.g. kafka-0.kafka.data.svc:9093")
    version = section.get("version")
    vpath = path + ("version",)
    if isinstance(version, str) and version:
        # pkg/eventbus/kafka/base/kafka.go:76-83: sarama parses it, and the pods fail on an error
        if not _KAFKA_VERSION.fullmatch(version):
            yield Finding(ID, path=vpath, actual=f"version {quote(version)} is not one sarama can parse",
                          expected="major.minor.patch such as 3.6.0 (0.a.b.c before Kafka 1.0)",
                          fix=f"write {value_path(vpath)} in full, e.g. 3.6.0")
        elif version.startswith("0.") and tuple(int(p) for p in version.split(".")[1:3]) < (11, 0):
            # kafka.go:37 and 57 ask for read-committed reads and an idempotent producer, which sarama
            # refuses below 0.11.0.0 (config.go:757-760, 810-812)
            yield Finding(ID, path=vpath, actual=f"version {quote(version)} is older than 0.11.0.0 (the client's "
                                                 "idempotent producer and read-committed consumer need 0.11)",
                          expected="0.11.0.0 or later", fix=f"set {value_path(vpath)} to the brokers' version")
    sasl = section.get("sasl")
    if isinstance(sasl, dict):
        spath = path + ("sasl",)
        for key in ("userSecret", "passwordSecret"):
            if not sasl.get(key):
                # kafka.go:101-111 reads both Secrets; pkg/shared/util/util.go:145-148 fails on a missing one.
                # Reported at sasl, the setting that asks for it.
                yield Finding(ID, path=spath, actual=f"sasl without {key} (EventSource and Sensor pods fail)",
                              expected=f"the Secret holding the SASL {key[:-6]} in {key}",
                              fix=f"set {value_path(spath + (key,))} to {{name: <secret>, key: <key>}}")
        mechanism = sasl.get("mechanism")
        if mechanism is not None and mechanism not in SASL_MECHANISMS_THAT_RUN:
            yield Finding(ID, path=spath + ("mechanism",),
                          actual=f"mechanism {quote(mechanism)} (declared upstream, but the client configures "
                                 "neither an OAuth token provider nor GSS-API, so sarama refuses it)",
                          expected="one of " + ", ".join(SASL_MECHANISMS_THAT_RUN),
                          fix=f"set {value_path(spath + ('mechanism',))} to SCRAM-SHA-512 or PLAIN")
    yield from unread(path, section, facts, ("kafka", "partitioner"), "the producer uses the random partitioner")


def unread(path: tuple, section: dict, facts, setting: tuple, effect: str) -> Iterator[Finding]:
    """A ``setting`` (a key of ``controller.SINCE``) the profile's controller release does not read yet;
    ``effect`` says what runs instead."""
    key = setting[-1]
    if section.get(key) is not None and not facts.reads(*setting):
        from renderer.stages.controller import SINCE

        since, fpath = SINCE[setting], path + (key,)
        yield Finding(ID, path=fpath, actual=f"{key} is not read by Argo Events {facts.release} (added in {since}): "
                                             f"{effect}",
                      expected=f"no {key}, or a controller of {since} or later",
                      fix=f"remove {value_path(fpath)}, or name the cluster's release in the profile's "
                          "controller.release")


def pod_labels(path: tuple, section: dict) -> Iterator[Finding]:
    labels = (section.get("metadata") or {}).get("labels") if isinstance(section.get("metadata"), dict) else None
    for key in OWNED_POD_LABELS:
        if isinstance(labels, dict) and key in labels:
            lpath = path + ("metadata", "labels", key)
            yield Finding(ID, path=lpath, actual=f"pod label {quote(key)} is set by the controller itself, which "
                                                 f"overwrites {quote(labels[key])} on the pods",
                          expected="none of " + ", ".join(OWNED_POD_LABELS),
                          fix=f"remove {value_path(lpath)}; use a label of your own")


def stream_config(path: tuple, section: dict, facts, servers: int | None, merged: bool) -> Iterator[Finding]:
    """The stream config as the pods read it (:mod:`renderer.stages.streamconfig`); with ``servers``, the
    streams' replicas fit on them. ``merged``: the controller's default stream config lies under it."""
    text = section.get("streamConfig")
    spath = path + ("streamConfig",)
    keys = facts.stream_keys()
    own = _read(text, keys) if isinstance(text, str) else None
    if own is not None:
        for line, key, message, fix in own.problems:
            where = f"line {line}: " if line else ""
            yield Finding(ID, path=spath, actual=f"{where}{key + ' ' if key else 'streamConfig '}{message}",
                          fix=f"{fix} (in {value_path(spath)})")
        if own.state == "invalid":
            return
    default = _read(facts.stream_config, keys) if merged else None
    values = streamconfig.effective(default, own)
    if own is not None and not own.problems:
        for _key, message, fix in streamconfig.cross_problems(values):
            yield Finding(ID, path=spath, actual=message, fix=f"{fix} (in {value_path(spath)})")
    if servers is None:
        return
    # nats-server: 0 replicas mean 1 (stream.go:1206-1208); one server refuses more (stream.go:418-419), a
    # cluster finds no peers for more than it has (jetstream_cluster.go:6199-6204)
    effective = values["replicas"] or 1
    if effective > servers:
        servers_text = plural(servers, "server")
        if own is not None and "replicas" in own.entries:
            actual = f"streams ask for {effective} replicas but the bus runs {servers_text}"
            fix = f"set replicas in {value_path(spath)} to {servers}"
        else:
            actual = (f"streams get the controller's default of {effective} replicas "
                      f"({facts.source('streamConfig')}) but the bus runs {servers_text}")
            fix = f"add 'replicas: {servers}' to {value_path(spath)}"
        yield Finding(ID, path=spath, actual=actual, expected=f"stream replicas of at most {servers}", fix=fix)


def _read(text: str, keys: tuple):
    """:func:`streamconfig.read`, once per run for each text (the same few come from the profiles)."""
    seen = context.cache("guards.stream-config")
    found = seen.get((text, keys))
    if found is None:
        found = seen[(text, keys)] = streamconfig.read(text, keys)
    return found
