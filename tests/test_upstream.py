"""The renderer agrees with the real Argo Events controller and the clients its pods run, spec by spec.

One table: each row names the upstream source it follows (argoproj/argo-events v1.9.11 unless another
project is named, with the version its go.mod pins), an EventBus ``spec`` as a user would write it, what
the controller or the runtime does with it, and what the renderer must do:

- ``RUNS``: it renders, the manifest holds the spec as written, and no controller rule objects;
- ``refused(PATH)``: the ``controller-rules`` guard fails the render at manifest path ``PATH``;
- ``invalid(PATH)``: the schema refuses the value at values path ``PATH`` (exit 2);
- ``writes(PATH, VALUE)``: it renders, with ``VALUE`` at ``PATH`` where the controller would write it.

Then every example EventBus upstream ships or documents (``../shared/upstream/argo-events/examples/`` and
``docs/eventbus/*.md``) is rendered the same way and must do what upstream says it does. docs/controller.md
summarises the table; a test keeps every source cited here listed there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
import yaml

from renderer.errors import GuardError, InputError, MultipleErrors
from renderer.pipeline import RenderRequest, render
from tests.conftest import ROOT, SHARED_UPSTREAM, write_app

RUNS = ("runs",)
BARE_PROFILE = "description: the controller rules and nothing else\nguards:\n  controller-rules: {level: error}\n"


def refused(path: str) -> tuple:
    return ("refused", path)


def invalid(path: str) -> tuple:
    return ("invalid", path)


def writes(path: str, value) -> tuple:
    return ("writes", path, value)


@dataclass(frozen=True)
class Row:
    cite: str
    spec: dict
    upstream: str
    expect: tuple
    profile: str = ""
    files: dict = field(default_factory=dict)


V = "pkg/reconciler/eventbus/validate.go"
INSTALLER = "pkg/reconciler/eventbus/installer"
JS_RUNTIME = "pkg/eventbus/jetstream/base/jetstream.go"
KAFKA = "pkg/eventbus/kafka/base/kafka.go"
NATS_SERVER = "nats-server v2.10.29 server/stream.go"
SINGLE = {"version": "2.10.29", "replicas": 1}
"""A single-server JetStream bus."""
STREAM_1 = {**SINGLE, "streamConfig": "replicas: 1\n"}
"""A single-server JetStream bus whose streams have the one replica it can hold."""

ROWS = [
    # -- the controller's validation (validate.go, also run by the optional webhook on create) --------------
    Row(f"{V}:14-20", {"nats": {"native": {}, "exotic": {"url": "nats://n:4222", "clusterID": "c"}}},
        "refused: native and exotic cannot be defined together", refused("spec.nats"),
        files={"templates/nats-native.yaml.j2": "apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata: "
               "{name: x}\nspec:\n  nats: {native: {}, exotic: {url: 'nats://n:4222', clusterID: c}}\n"}),
    Row(f"{V}:23-25", {"nats": {"exotic": {"url": "nats://n:4222"}}}, "refused: clusterID is missing",
        refused("spec.nats.exotic.clusterID")),
    Row(f"{V}:26-28", {"nats": {"exotic": {"clusterID": "c"}}}, "refused: url is missing",
        refused("spec.nats.exotic.url")),
    Row(f"{V}:32-34", {"jetstream": {"version": ""}}, "refused: a version needs to be specified",
        refused("spec.jetstream.version")),
    Row(f"{V}:35-37", {"jetstream": {"version": "2.10.29", "replicas": 2}}, "refused: 1 or at least 3 replicas",
        refused("spec.jetstream.replicas")),
    Row(f"{V}:35-37", {"jetstream": {"version": "2.10.29", "replicas": 0}}, "refused: 1 or at least 3 replicas",
        refused("spec.jetstream.replicas")),
    Row(f"{V}:35-37", {"jetstream": {"version": "2.10.29", "replicas": 5}}, "runs five servers", RUNS),
    Row(f"{V}:39-43", {"kafka": {"topic": "t"}}, "refused: url is missing", refused("spec.kafka.url")),
    Row(f"{V}:44-48", {"jetstreamExotic": {"streamConfig": ""}}, "refused: url is missing",
        refused("spec.jetstreamExotic.url")),
    Row(f"{INSTALLER}/installer.go:40-55", {"jetstream": STREAM_1, "kafka": {"url": "k:9092"}},
        "takes nats, then jetstream, then kafka, then jetstreamExotic, and ignores the rest", refused("spec"),
        files={"templates/jetstream.yaml.j2": "apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata: "
               "{name: x}\nspec:\n  jetstream: {version: '2.10.29', replicas: 1, streamConfig: 'replicas: 1'}\n"
               "  kafka: {url: 'k:9092'}\n"}),
    # -- NATS native: the controller's installer -------------------------------------------------------------
    Row(f"{INSTALLER}/nats.go:622-626", {"nats": {"native": {"replicas": 1}}}, "runs 3 replicas, not 1",
        refused("spec.nats.native.replicas")),
    Row(f"{INSTALLER}/nats.go:84-88", {"nats": {"native": {}}}, "auth defaults to none, replicas to 3",
        writes("spec.nats.native.auth", "none")),
    Row(f"{INSTALLER}/nats.go:358-360", {"nats": {"native": {"auth": "basic"}}},
        "the deployment fails: UnsupportedAuthStrategy", refused("spec.nats.native.auth")),
    Row(f"{INSTALLER}/nats.go:441-448", {"nats": {"native": {"maxAge": "7d"}}},
        "time.ParseDuration fails: the ConfigMap is never built", invalid("nats.native.maxAge")),
    Row(f"{INSTALLER}/nats.go:465-496", {"nats": {"native": {"raftLeaseTimeout": "1 s"}}},
        "time.ParseDuration fails: the ConfigMap is never built", invalid("nats.native.raftLeaseTimeout")),
    Row(f"{INSTALLER}/nats.go:441-448", {"nats": {"native": {"maxAge": "72h", "raftCommitTimeout": "100ms"}}},
        "Go durations run", RUNS),
    Row(f"{INSTALLER}/nats.go:648-657", {"nats": {"native": {"metadata": {"labels": {"eventbus-name": "other"}}}}},
        "the controller's pod labels overwrite the section's",
        refused("spec.nats.native.metadata.labels.eventbus-name")),
    Row(f"{INSTALLER}/nats.go:648-657", {"nats": {"native": {"metadata": {"labels": {"team": "a"}}}}},
        "other pod labels reach the pods", RUNS),
    # -- NATS exotic: the streaming client of EventSources and Sensors ---------------------------------------
    Row("pkg/eventbus/stan/base/stan.go:47-55",
        {"nats": {"exotic": {"url": "nats://n:4222", "clusterID": "c", "auth": "basic",
                             "accessSecret": {"name": "s", "key": "k"}}}},
        "the pods fail: unsupported auth strategy", refused("spec.nats.exotic.auth")),
    Row("pkg/eventbus/driver.go:129-141", {"nats": {"exotic": {"url": "nats://n:4222", "clusterID": "c",
                                                               "auth": "token"}}},
        "the pods fail: auth.yaml is mounted only from accessSecret (pkg/reconciler/sensor/resource.go:212-233)",
        refused("spec.nats.exotic.auth")),
    Row("pkg/eventbus/driver.go:129-141", {"nats": {"exotic": {"url": "nats://n:4222", "clusterID": "c",
                                                               "auth": "token",
                                                               "accessSecret": {"name": "s", "key": "k"}}}},
        "token auth from the Secret", RUNS),
    Row("pkg/eventbus/driver.go:129-132", {"nats": {"exotic": {"url": "nats://n:4222", "clusterID": "c"}}},
        "no auth", RUNS),
    # -- JetStream: versions and pods ------------------------------------------------------------------------
    Row(f"{INSTALLER}/jetstream.go:189-192", {"jetstream": {**STREAM_1, "version": "2.10.30"}},
        "the StatefulSet is never created: unsupported version (pkg/reconciler/config.go:82-95)",
        refused("spec.jetstream.version")),
    Row("manifests/base/controller-manager/controller-config.yaml:33-78", {"jetstream": {**STREAM_1,
                                                                                         "version": "latest"}},
        "listed by the controller", RUNS),
    Row("manifests/base/controller-manager/controller-config.yaml (v1.9.2-v1.9.9)",
        {"jetstream": {**STREAM_1, "version": "2.10.29"}}, "not listed before v1.9.10: unsupported version",
        refused("spec.jetstream.version"), profile="controller: {release: v1.9.5}\n"),
    Row("manifests/base/controller-manager/controller-config.yaml (v1.9.2-v1.9.9)",
        {"jetstream": {**STREAM_1, "version": "2.10.10"}}, "listed from v1.9.2 to v1.9.9", RUNS,
        profile="controller: {release: v1.9.5}\n"),
    Row(f"{INSTALLER}/jetstream.go:235-244", {"jetstream": {**STREAM_1, "metadata": {"labels": {"controller": "x"}}}},
        "the controller's pod labels overwrite the section's", refused("spec.jetstream.metadata.labels.controller")),
    Row("pkg/apis/events/v1alpha1/jetstream_eventbus.go:90-95", {"jetstream": {"version": "2.10.29"}},
        "no replicas is 3 (the renderer writes it)", writes("spec.jetstream.replicas", 3)),
    # -- JetStream streamConfig: the controller's viper merge ------------------------------------------------
    Row(f"{INSTALLER}/jetstream.go:81-91", {"jetstream": {**STREAM_1, "streamConfig": "Replicas: 1\n"}},
        "viper reads keys without case (viper v1.21.0 util.go:89-100)", RUNS),
    Row(f"{INSTALLER}/jetstream.go:81-91", {"jetstream": {**STREAM_1, "streamConfig": "replicas: '1'\n"}},
        "cast reads a quoted number (cast v1.10.0 number.go:138-160)", RUNS),
    Row(f"{INSTALLER}/jetstream.go:87-91", {"jetstream": {"version": "2.10.29", "streamConfig": ""}},
        "an empty text merges nothing: the default stream config holds", RUNS),
    Row(f"{INSTALLER}/jetstream.go:87-91", {"jetstream": {"version": "2.10.29", "streamConfig": "# none\n"}},
        "comments only merge nothing", RUNS),
    Row(f"{INSTALLER}/jetstream.go:87-91", {"jetstream": {**STREAM_1, "streamConfig": "- replicas: 1\n"}},
        "MergeConfig fails: the bus is not deployed", refused("spec.jetstream.streamConfig")),
    Row(f"{INSTALLER}/jetstream.go:81-91", {"jetstream": SINGLE},
        "the default stream config asks for 3 replicas on one server (controller-config.yaml:22-32)",
        refused("spec.jetstream.streamConfig")),
    Row(f"{INSTALLER}/jetstream.go:81-91", {"jetstream": SINGLE},
        "a cluster whose default stream config asks for 1 replica", RUNS,
        profile="controller:\n  streamConfig: |\n    replicas: 1\n"),
    Row("viper v1.21.0 viper.go:1974-1988", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nmaxAge:\n"}},
        "a key without a value drops the default: the stream gets 0", refused("spec.jetstream.streamConfig")),
    Row("viper v1.21.0 util.go:89-100", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nREPLICAS: 1\n"}},
        "two keys equal but for case: one wins by Go's map order", refused("spec.jetstream.streamConfig")),
    # -- JetStream streamConfig: what the pods read ----------------------------------------------------------
    Row(f"{JS_RUNTIME}:154-165", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nmaxAges: 24h\n"}},
        "only seven keys are read: maxAges is ignored", refused("spec.jetstream.streamConfig")),
    Row(f"{JS_RUNTIME}:160", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nmaxAge: 7d\n"}},
        "cast cannot read 7d: maxAge 0, no limit (cast v1.10.0 time.go:86-91)", refused("spec.jetstream.streamConfig")),
    Row(f"{JS_RUNTIME}:160", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nmaxAge: 3600\n"}},
        "a bare number is nanoseconds (cast v1.10.0 time.go:70-77)", refused("spec.jetstream.streamConfig")),
    Row(f"{JS_RUNTIME}:160", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nmaxAge: 72h\n"}},
        "a Go duration", RUNS),
    Row(f"{JS_RUNTIME}:161", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nmaxBytes: 1GB\n"}},
        "cast cannot read 1GB: maxBytes 0, no limit", refused("spec.jetstream.streamConfig")),
    Row(f"{JS_RUNTIME}:161", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nmaxBytes: 1073741824\n"}},
        "a count of bytes", RUNS),
    Row(f"{JS_RUNTIME}:159", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nmaxMsgs: 1.5\n"}},
        "cast cuts 1.5 to 1", refused("spec.jetstream.streamConfig")),
    Row(f"{JS_RUNTIME}:184-190", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nretention: 3\n"}},
        "the pods fail: invalid int for RetentionPolicy", refused("spec.jetstream.streamConfig")),
    Row(f"{JS_RUNTIME}:143-147", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nretention: WorkQueue\n"}},
        "cast cannot read WorkQueue: retention 0, Limits", refused("spec.jetstream.streamConfig")),
    Row(f"{JS_RUNTIME}:184-190", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nretention: 2\n"}},
        "WorkQueue", RUNS),
    Row(f"{JS_RUNTIME}:192-197", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\ndiscard: 2\n"}},
        "the pods fail: invalid int for DiscardPolicy", refused("spec.jetstream.streamConfig")),
    Row("argo-events v1.9.2 eventbus/jetstream/base/jetstream.go",
        {"jetstream": {**STREAM_1, "version": "2.10.10", "streamConfig": "replicas: 1\nretention: 1\n"}},
        "retention is read from v1.9.3 on: ignored before", refused("spec.jetstream.streamConfig"),
        profile="controller: {release: v1.9.2}\n"),
    Row(f"{NATS_SERVER}:1209-1210", {"jetstream": {"version": "2.10.29", "replicas": 7,
                                                   "streamConfig": "replicas: 6\n"}},
        "the server refuses: maximum replicas is 5", refused("spec.jetstream.streamConfig")),
    Row(f"{NATS_SERVER}:418-419", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 3\n"}},
        "one server refuses streams of more than one replica", refused("spec.jetstream.streamConfig")),
    Row("nats-server v2.10.29 server/jetstream_cluster.go:6199-6204",
        {"jetstream": {"version": "2.10.29", "replicas": 3, "streamConfig": "replicas: 5\n"}},
        "no peers for 5 replicas on 3 servers", refused("spec.jetstream.streamConfig")),
    Row(f"{NATS_SERVER}:1241-1243", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nmaxAge: 50ms\n"}},
        "the server refuses: max age needs to be >= 100ms", refused("spec.jetstream.streamConfig")),
    Row(f"{NATS_SERVER}:1247-1250", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nmaxAge: 1m\n"}},
        "the default duplicates window (300s) is longer than maxAge: the server refuses",
        refused("spec.jetstream.streamConfig")),
    Row(f"{NATS_SERVER}:1247-1250", {"jetstream": {**STREAM_1, "streamConfig": "replicas: 1\nmaxAge: 1m\n"
                                                                                 "duplicates: 30s\n"}},
        "a window within maxAge", RUNS),
    Row("nats-server v2.10.29 server/filestore.go:2015", {"jetstream": {**STREAM_1,
                                                                        "streamConfig": "replicas: 1\nmaxAge: -1h\n"}},
        "a negative age passes the server's checks and expires every message", refused("spec.jetstream.streamConfig")),
    # -- JetStream exotic: passed on as written, read by the pods --------------------------------------------
    Row(f"{INSTALLER}/exotic_jetstream.go:27-37", {"jetstreamExotic": {"url": "nats://j:4222", "streamConfig": ""}},
        "no default stream config under it: the stream gets NATS's own defaults", RUNS),
    Row(f"{JS_RUNTIME}:133-138", {"jetstreamExotic": {"url": "nats://j:4222", "streamConfig": "just text"}},
        "the pods fail: ReadConfig cannot read a scalar", refused("spec.jetstreamExotic.streamConfig")),
    Row(f"{INSTALLER}/exotic_jetstream.go:27-37", {"jetstreamExotic": {"url": "nats://j:4222",
                                                                     "streamConfig": "replicas: 3\n"}},
        "the servers are not the controller's: any replica count up to 5", RUNS),
    Row("pkg/apis/events/v1alpha1/jetstream_eventbus.go:107 (v1.9.4)",
        {"jetstreamExotic": {"url": "nats://j:4222", "tls": {"caCertSecret": {"name": "ca", "key": "ca.crt"}}}},
        "tls is read from v1.9.4 on", refused("spec.jetstreamExotic.tls"), profile="controller: {release: v1.9.3}\n"),
    # -- Kafka: the controller writes back, sarama runs ------------------------------------------------------
    Row(f"{INSTALLER}/kafka.go:32-34", {"kafka": {"url": "k:9092"}},
        "the first reconcile stores topic <namespace>-<name> (controller.go:60-65, 87)",
        writes("spec.kafka.topic", "argo-events-default")),
    Row(f"{INSTALLER}/kafka.go:32-34", {"kafka": {"url": "k:9092", "topic": "events"}}, "a topic is kept", RUNS),
    Row("pkg/eventbus/kafka/sensor/kafka_sensor.go:50-55", {"kafka": {"url": "k:9092",
                                                                     "consumerGroup": {"oldest": True}}},
        "no groupName: each Sensor uses <namespace>-<sensor>", RUNS),
    Row(f"{KAFKA}:76-83", {"kafka": {"url": "k:9092", "version": "3.6"}},
        "the pods fail: sarama cannot parse it (sarama v1.43.0 utils.go:285-309)", refused("spec.kafka.version")),
    Row(f"{KAFKA}:76-83", {"kafka": {"url": "k:9092", "version": "latest"}},
        "the pods fail: sarama cannot parse it", refused("spec.kafka.version")),
    Row(f"{KAFKA}:76-83", {"kafka": {"url": "k:9092", "version": "0.11.0.2"}}, "a pre-1.0 version sarama parses",
        RUNS),
    Row(f"{KAFKA}:37,57", {"kafka": {"url": "k:9092", "version": "0.10.2.0"}},
        "the pods fail: idempotent producer and read-committed need 0.11 (sarama config.go:757-760, 810-812)",
        refused("spec.kafka.version")),
    Row(f"{KAFKA}:101-111", {"kafka": {"url": "k:9092", "sasl": {"userSecret": {"name": "u", "key": "u"}}}},
        "the pods fail: secret key selector is nil (pkg/shared/util/util.go:145-148)",
        refused("spec.kafka.sasl")),
    Row(f"{KAFKA}:86-112", {"kafka": {"url": "k:9092", "sasl": {"mechanism": "OAUTHBEARER",
                                                                "userSecret": {"name": "u", "key": "u"},
                                                                "passwordSecret": {"name": "u", "key": "p"}}}},
        "sarama refuses: no token provider (sarama config.go:644-647)", refused("spec.kafka.sasl.mechanism")),
    Row("pkg/apis/events/v1alpha1/sasl.go:25-32", {"kafka": {"url": "k:9092", "sasl": {"mechanism": "SCRAM"}}},
        "silently PLAIN", invalid("kafka.sasl.mechanism")),
    Row(f"{KAFKA}:60-73", {"kafka": {"url": "k:9092", "partitioner": "sticky"}}, "silently random",
        invalid("kafka.partitioner")),
    Row(f"{KAFKA}:47-54", {"kafka": {"url": "k:9092", "consumerGroup": {"rebalanceStrategy": "cooperative"}}},
        "silently range", invalid("kafka.consumerGroup.rebalanceStrategy")),
    Row(f"{KAFKA}:47-73", {"kafka": {"url": "k:9092", "partitioner": "hash",
                                     "consumerGroup": {"rebalanceStrategy": "sticky"}}}, "hash and sticky", RUNS),
    Row("pkg/apis/events/v1alpha1/kafka_eventbus.go:25 (v1.9.8)", {"kafka": {"url": "k:9092", "partitioner": "hash"}},
        "partitioner is read from v1.9.8 on", refused("spec.kafka.partitioner"),
        profile="controller: {release: v1.9.7}\n"),
    Row("pkg/apis/events/v1alpha1/eventsource_types.go:508-517", {"kafka": {"url": "k:9092",
                                                                           "consumerGroup": {"startOldest": True}}},
        "no such field (it is oldest): dropped", invalid("kafka.consumerGroup.startOldest")),
]


DOCS = "docs/eventbus"
_SECRET = {"name": "my-secret", "key": "secret-key"}
DOC_EXAMPLES = [
    Row(f"{DOCS}/jetstream.md:7-17", {"jetstream": {"version": "latest"}},
        "the simplest JetStream bus: 3 replicas", writes("spec.jetstream.replicas", 3)),
    Row(f"{DOCS}/jetstream.md:43-62", {"jetstream": {
        "version": "latest", "replicas": 5,
        "persistence": {"storageClassName": "standard", "accessMode": "ReadWriteOnce", "volumeSize": "10Gi"},
        "streamConfig": "maxAge: 24h\n", "settings": "max_file_store: 1GB\n", "startArgs": ["-D"]}},
        "a more involved JetStream bus", RUNS),
    Row(f"{DOCS}/jetstream.md:78-90", {"jetstreamExotic": {"url": "nats://my-nats-server:4222",
                                                             "accessSecret": _SECRET, "streamConfig": ""}},
        "an exotic JetStream bus with an empty streamConfig", RUNS),
    Row(f"{DOCS}/jetstream.md:109-116", {"jetstreamExotic": {"url": "nats://my-nats-server:4222",
                                                               "accessSecret": {"name": "nats-auth",
                                                                                "key": "password"}}},
        "password authentication from a Secret", RUNS),
    Row(f"{DOCS}/jetstream.md:126-140", {"jetstreamExotic": {"url": "nats://my-nats-server:4222", "tls": {
        "caCertSecret": {"name": "nats-tls", "key": "ca.crt"},
        "clientCertSecret": {"name": "nats-tls", "key": "tls.crt"},
        "clientKeySecret": {"name": "nats-tls", "key": "tls.key"}}}}, "TLS to the exotic server", RUNS),
    Row(f"{DOCS}/kafka.md:12-20", {"kafka": {"url": "kafka:9092", "topic": "example"}}, "a Kafka bus", RUNS),
    Row(f"{DOCS}/kafka.md:47-58", {"kafka": {"url": "kafka:9092", "tls": {
        "caCertSecret": {"name": "my-secret", "key": "ca-cert-key"},
        "clientCertSecret": {"name": "my-secret", "key": "client-cert-key"},
        "clientKeySecret": {"name": "my-secret", "key": "client-key-key"}}}}, "TLS to the brokers", RUNS),
    Row(f"{DOCS}/kafka.md:64-73", {"kafka": {"url": "kafka:9092", "sasl": {
        "mechanism": "PLAIN", "passwordSecret": {"key": "password", "name": "my-user"},
        "userSecret": {"key": "user", "name": "my-user"}}}}, "SASL PLAIN from a Secret", RUNS),
    # the docs name a field the Go type calls oldest (pkg/apis/events/v1alpha1/eventsource_types.go:513): the
    # controller drops it, so the renderer refuses it with the right name rather than run it silently otherwise
    Row(f"{DOCS}/kafka.md:84-88", {"kafka": {"url": "kafka:9092", "consumerGroup": {"startOldest": True}}},
        "documented as consumerGroup.startOldest, read as oldest: dropped", invalid("kafka.consumerGroup.startOldest")),
    Row(f"{DOCS}/stan.md:10-18", {"nats": {"native": {}}}, "the simplest native bus: 3 replicas",
        writes("spec.nats.native.replicas", 3)),
    Row(f"{DOCS}/stan.md:27-41", {"nats": {"native": {
        "replicas": 3, "auth": "token",
        "persistence": {"storageClassName": "standard", "accessMode": "ReadWriteOnce", "volumeSize": "10Gi"}}}},
        "token auth and persistent volumes", RUNS),
    Row(f"{DOCS}/stan.md:61-63", {"nats": {"native": {"antiAffinity": True}}}, "removed in v1.5: dropped",
        invalid("nats.native.antiAffinity")),
    Row(f"{DOCS}/stan.md:128-142", {"nats": {"exotic": {"url": "nats://xxxxx:xxx", "clusterID": "cluster-id",
                                                        "auth": "token", "accessSecret": _SECRET}}},
        "an existing NATS streaming service with token auth", RUNS),
    Row(f"{DOCS}/antiaffinity.md:10-22", {"jetstream": {"version": "latest", "affinity": {"podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
            "labelSelector": {"matchLabels": {"controller": "eventbus-controller", "eventbus-name": "default"}},
            "topologyKey": "kubernetes.io/hostname"}}]}}}}, "best-effort host anti-affinity", RUNS),
    Row(f"{DOCS}/antiaffinity.md:24-34", {"nats": {"native": {"affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"controller": "eventbus-controller", "eventbus-name": "default"}},
            "topologyKey": "kubernetes.io/hostname"}]}}}}}, "required host anti-affinity", RUNS),
]
"""The EventBus examples of upstream's docs (v1.9.11), each as the documentation presents it."""


def _app(tmp_path, row: Row, index: int):
    spec = row.spec
    if "nats" in spec:
        backend = "nats-exotic" if "exotic" in spec["nats"] and not row.files else "nats-native"
    else:
        backend = {"jetstream": "jetstream", "jetstreamExotic": "jetstream-exotic", "kafka": "kafka"}[next(iter(spec))]
    values = {k: v for k, v in spec.items() if k in ("jetstream", "kafka", "jetstreamExotic")} if not row.files \
        else {}
    if "nats" in spec and not row.files:
        values["nats"] = spec["nats"]
    app = yaml.safe_dump({"backend": backend, "profile": "bare", "values": values}, sort_keys=False)
    files = {"profiles/bare.yaml": BARE_PROFILE + row.profile, **row.files}
    return write_app(tmp_path / f"row{index}", app, files)


def _outcome(root):
    try:
        return "ok", render(RenderRequest(root))
    except GuardError as exc:
        return "guard", exc
    except (InputError, MultipleErrors) as exc:
        return "input", exc


def _lookup(data, path: str):
    for part in path.split("."):
        data = data[part]
    return data


def _subset(written, rendered, path=""):
    """Every key and value of ``written`` is in ``rendered``, unchanged."""
    if isinstance(written, dict):
        assert isinstance(rendered, dict), path
        for key, value in written.items():
            assert key in rendered, f"{path}.{key} is gone"
            _subset(value, rendered[key], f"{path}.{key}")
    else:
        assert rendered == written, f"{path}: {rendered!r} is not {written!r}"


@pytest.mark.parametrize("row", ROWS + DOC_EXAMPLES, ids=[f"{r.cite}: {r.upstream}" for r in ROWS + DOC_EXAMPLES])
def test_the_renderer_does_what_upstream_does(tmp_path, row):
    _agree(tmp_path, row)


def _examples() -> list:
    folder = SHARED_UPSTREAM / "examples"
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


@pytest.mark.skipif(not _examples(), reason="../shared/upstream/argo-events/examples is not beside the project")
@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_every_example_eventbus_upstream_ships_renders_as_written(tmp_path, path):
    # examples/eventbus/native.yaml and the stress tests' EventBus objects (see ../shared SOURCE.md)
    manifest = yaml.safe_load(path.read_text())
    _agree(tmp_path, Row(f"examples/{path.name}", manifest["spec"], "an example upstream runs", RUNS))


def _agree(tmp_path, row: Row):
    kind, result = _outcome(_app(tmp_path, row, 0))
    expect = row.expect
    if expect[0] in ("runs", "writes"):
        assert kind == "ok", f"{row.upstream}, but: {getattr(result, 'message', '')} {getattr(result, 'report', '')}"
        spec = result.manifest["spec"]
        _subset(row.spec, spec)
        findings = [f for f in result.evaluation.findings if f.rule == "controller-rules"]
        assert findings == []
        if expect[0] == "writes":
            assert _lookup({"spec": spec}, expect[1]) == expect[2]
    elif expect[0] == "refused":
        assert kind == "guard", f"{row.upstream}, but the renderer gave {kind}: {result!r}"
        paths = [f.path_text for f in result.findings if f.rule == "controller-rules" and f.level == "error"]
        assert expect[1] in paths, (paths, result.report)
    else:
        assert kind == "input", f"{row.upstream}, but the renderer gave {kind}"
        errors = result.errors if isinstance(result, MultipleErrors) else [result]
        assert any(e.location and e.location.key == expect[1] for e in errors), [e.render() for e in errors]


def test_every_cited_source_is_listed_in_docs_controller_md():
    text = (ROOT / "docs" / "controller.md").read_text().replace("`", "")
    for row in ROWS + DOC_EXAMPLES:
        source = re.split(r":[0-9]| \(", row.cite)[0]
        assert source in text, source
