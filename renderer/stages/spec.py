"""The project's own strict schema of an Argo Events v1.9 EventBus object.

Plain data only, so importing it costs next to nothing. Every node is a dict:

- ``{"type": "object", "fields": {name: NODE}, "required": [names]}``: a closed
  object (no ``required``: none is); any other key is an error. Two optional keys
  let the validator explain common mistakes better than "unknown field":
  ``"removed": {name: (message, fix)}`` for fields upstream dropped, and
  ``"renamed": {wrong: right}`` for names people confuse with the real one.
- ``{"type": "map", "values": NODE}``: free-form string keys.
- ``{"type": "array", "items": NODE}``
- ``{"type": "string"}``, optionally with ``"enum": [...]``.
- ``{"type": "integer"}``, optionally with ``"format"`` int32 / int64 / uint64
  (the Go type, which bounds the value). A bool is never an integer.
- ``{"type": "boolean"}``
- ``{"type": "quantity"}``: a Kubernetes resource.Quantity (string or number).
- ``{"type": "duration"}``: a string Go's ``time.ParseDuration`` accepts.
- ``{"type": "any"}``: free-form (unused today: nothing in an EventBus is).

:mod:`renderer.stages.userfiles` adds a few node types (patterns, dates, keyed
maps, null) for the files users write, around these values.

Field names and required lists follow upstream's ``api/jsonschema/schema.json``
(identical at v1.9.11); tests/test_validate.py walks both side by side so the two
cannot drift apart. Where upstream only says "string", this schema is stricter
when the real consumer (Go's duration parser, the Kubernetes API server) only
accepts a closed set of values.
"""

# --- primitives -------------------------------------------------------------

STR = {"type": "string"}
BOOL = {"type": "boolean"}
INT32 = {"type": "integer", "format": "int32"}
INT64 = {"type": "integer", "format": "int64"}
# Go *uint64 fields: a negative number fails to unmarshal, so bound them at 0.
UINT64 = {"type": "integer", "format": "uint64"}
QUANTITY = {"type": "quantity"}
DURATION = {"type": "duration"}
STR_MAP = {"type": "map", "values": STR}
STR_LIST = {"type": "array", "items": STR}

# Kubernetes' own validation rejects anything outside these sets, so a typo here
# would only surface when the controller's StatefulSet is refused.
_PROFILE_TYPE = {"type": "string", "enum": ["Localhost", "RuntimeDefault", "Unconfined"]}

# --- Kubernetes core types ----------------------------------------------------

SECRET_KEY_SELECTOR = {"type": "object", "fields": {"key": STR, "name": STR, "optional": BOOL}, "required": ["key"]}

LOCAL_OBJECT_REFERENCE = {"type": "object", "fields": {"name": STR}}

TOLERATION = {
    "type": "object",
    "fields": {
        "key": STR,
        "operator": {"type": "string", "enum": ["Exists", "Equal"]},
        "value": STR,
        "effect": {"type": "string", "enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
        "tolerationSeconds": INT64,
    },
}

SELINUX_OPTIONS = {"type": "object", "fields": {"user": STR, "role": STR, "type": STR, "level": STR}}

SECCOMP_PROFILE = {"type": "object", "fields": {"type": _PROFILE_TYPE, "localhostProfile": STR}, "required": ["type"]}

APPARMOR_PROFILE = {"type": "object", "fields": {"type": _PROFILE_TYPE, "localhostProfile": STR}, "required": ["type"]}

WINDOWS_OPTIONS = {
    "type": "object",
    "fields": {
        "gmsaCredentialSpecName": STR,
        "gmsaCredentialSpec": STR,
        "runAsUserName": STR,
        "hostProcess": BOOL,
    },
}

CAPABILITIES = {"type": "object", "fields": {"add": STR_LIST, "drop": STR_LIST}}

SECURITY_CONTEXT = {
    "type": "object",
    "fields": {
        "allowPrivilegeEscalation": BOOL,
        "appArmorProfile": APPARMOR_PROFILE,
        "capabilities": CAPABILITIES,
        "privileged": BOOL,
        "procMount": {"type": "string", "enum": ["Default", "Unmasked"]},
        "readOnlyRootFilesystem": BOOL,
        "runAsGroup": INT64,
        "runAsNonRoot": BOOL,
        "runAsUser": INT64,
        "seLinuxOptions": SELINUX_OPTIONS,
        "seccompProfile": SECCOMP_PROFILE,
        "windowsOptions": WINDOWS_OPTIONS,
    },
}

SYSCTL = {"type": "object", "fields": {"name": STR, "value": STR}, "required": ["name", "value"]}

POD_SECURITY_CONTEXT = {
    "type": "object",
    "fields": {
        "appArmorProfile": APPARMOR_PROFILE,
        "fsGroup": INT64,
        "fsGroupChangePolicy": {"type": "string", "enum": ["OnRootMismatch", "Always"]},
        "runAsGroup": INT64,
        "runAsNonRoot": BOOL,
        "runAsUser": INT64,
        "seLinuxChangePolicy": {"type": "string", "enum": ["MountOption", "Recursive"]},
        "seLinuxOptions": SELINUX_OPTIONS,
        "seccompProfile": SECCOMP_PROFILE,
        "supplementalGroups": {"type": "array", "items": INT64},
        "supplementalGroupsPolicy": {"type": "string", "enum": ["Merge", "Strict"]},
        "sysctls": {"type": "array", "items": SYSCTL},
        "windowsOptions": WINDOWS_OPTIONS,
    },
}

RESOURCE_REQUIREMENTS = {
    "type": "object",
    "fields": {
        "claims": {
            "type": "array",
            "items": {
                "type": "object",
                "fields": {"name": STR, "request": STR},
                "required": ["name"],
            },
        },
        "limits": {"type": "map", "values": QUANTITY},
        "requests": {"type": "map", "values": QUANTITY},
    },
}

LABEL_SELECTOR = {
    "type": "object",
    "fields": {
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "fields": {
                    "key": STR,
                    "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": STR_LIST,
                },
                "required": ["key", "operator"],
            },
        },
        "matchLabels": STR_MAP,
    },
}

POD_AFFINITY_TERM = {
    "type": "object",
    "fields": {
        "labelSelector": LABEL_SELECTOR,
        "matchLabelKeys": STR_LIST,
        "mismatchLabelKeys": STR_LIST,
        "namespaceSelector": LABEL_SELECTOR,
        "namespaces": STR_LIST,
        "topologyKey": STR,
    },
    "required": ["topologyKey"],
}

WEIGHTED_POD_AFFINITY_TERM = {
    "type": "object",
    "fields": {"podAffinityTerm": POD_AFFINITY_TERM, "weight": INT32},
    "required": ["weight", "podAffinityTerm"],
}

# PodAffinity and PodAntiAffinity have the same shape.
POD_AFFINITY = {
    "type": "object",
    "fields": {
        "preferredDuringSchedulingIgnoredDuringExecution": {"type": "array", "items": WEIGHTED_POD_AFFINITY_TERM},
        "requiredDuringSchedulingIgnoredDuringExecution": {"type": "array", "items": POD_AFFINITY_TERM},
    },
}

_NODE_SELECTOR_REQUIREMENTS = {
    "type": "array",
    "items": {
        "type": "object",
        "fields": {
            "key": STR,
            "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]},
            "values": STR_LIST,
        },
        "required": ["key", "operator"],
    },
}

NODE_SELECTOR_TERM = {
    "type": "object",
    "fields": {"matchExpressions": _NODE_SELECTOR_REQUIREMENTS, "matchFields": _NODE_SELECTOR_REQUIREMENTS},
}

NODE_AFFINITY = {
    "type": "object",
    "fields": {
        "preferredDuringSchedulingIgnoredDuringExecution": {
            "type": "array",
            "items": {
                "type": "object",
                "fields": {"preference": NODE_SELECTOR_TERM, "weight": INT32},
                "required": ["weight", "preference"],
            },
        },
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "type": "object",
            "fields": {"nodeSelectorTerms": {"type": "array", "items": NODE_SELECTOR_TERM}},
            "required": ["nodeSelectorTerms"],
        },
    },
}

AFFINITY = {
    "type": "object",
    "fields": {"nodeAffinity": NODE_AFFINITY, "podAffinity": POD_AFFINITY, "podAntiAffinity": POD_AFFINITY},
}

# --- Argo Events types --------------------------------------------------------

CONTAINER_TEMPLATE = {
    "type": "object",
    "fields": {
        "resources": RESOURCE_REQUIREMENTS,
        "imagePullPolicy": {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]},
        "securityContext": SECURITY_CONTEXT,
    },
}

# The pods' metadata (upstream type Metadata), not the EventBus' ObjectMeta.
POD_METADATA = {"type": "object", "fields": {"labels": STR_MAP, "annotations": STR_MAP}}

PERSISTENCE = {
    "type": "object",
    "fields": {
        "storageClassName": STR,
        "accessMode": {
            "type": "string",
            "enum": ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"],
        },
        "volumeSize": QUANTITY,
    },
}

TLS_CONFIG = {
    "type": "object",
    "fields": {
        "caCertSecret": SECRET_KEY_SELECTOR,
        "clientCertSecret": SECRET_KEY_SELECTOR,
        "clientKeySecret": SECRET_KEY_SELECTOR,
        "enabled": BOOL,
        "insecureSkipVerify": BOOL,
    },
}

# Any other mechanism silently runs PLAIN (sasl.go:25-32); that OAUTHBEARER and GSSAPI fail is a guard's job.
_MECHANISM = {"type": "string", "enum": ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"]}
SASL_CONFIG = {"type": "object", "fields": {"mechanism": _MECHANISM, "userSecret": SECRET_KEY_SELECTOR,
                                            "passwordSecret": SECRET_KEY_SELECTOR}}

# rebalanceStrategy: upstream silently runs "range" for any other value (kafka/base/kafka.go:47-54).
# No groupName is fine: each Sensor then uses <namespace>-<sensor> (kafka/sensor/kafka_sensor.go:50-55).
KAFKA_CONSUMER_GROUP = {
    "type": "object",
    "fields": {"groupName": STR, "oldest": BOOL,
               "rebalanceStrategy": {"type": "string", "enum": ["range", "sticky", "roundrobin"]}},
    "renamed": {"startOldest": "oldest"},
}

# "basic" is a valid upstream value; rejecting it is a guard's job, not the schema's.
NATS_AUTH = {"type": "string", "enum": ["none", "token", "basic"]}

NATIVE_STRATEGY = {
    "type": "object",
    "fields": {
        "replicas": INT32,
        "auth": NATS_AUTH,
        "persistence": PERSISTENCE,
        "containerTemplate": CONTAINER_TEMPLATE,
        "metricsContainerTemplate": CONTAINER_TEMPLATE,
        "nodeSelector": STR_MAP,
        "tolerations": {"type": "array", "items": TOLERATION},
        "metadata": POD_METADATA,
        "securityContext": POD_SECURITY_CONTEXT,
        "maxAge": DURATION,
        "imagePullSecrets": {"type": "array", "items": LOCAL_OBJECT_REFERENCE},
        "serviceAccountName": STR,
        "priorityClassName": STR,
        "priority": INT32,
        "affinity": AFFINITY,
        "maxMsgs": UINT64,
        "maxBytes": STR,
        "maxSubs": UINT64,
        "maxPayload": STR,
        "raftHeartbeatTimeout": DURATION,
        "raftElectionTimeout": DURATION,
        "raftLeaseTimeout": DURATION,
        "raftCommitTimeout": DURATION,
    },
    # Left out of "fields" on purpose, so old manifests get a precise message.
    "removed": {
        "antiAffinity": (
            "field 'antiAffinity' was removed in Argo Events v1.5; use affinity.podAntiAffinity",
            "delete antiAffinity and set affinity.podAntiAffinity with a term on topologyKey kubernetes.io/hostname",
        ),
    },
}

NATS_CONFIG = {
    "type": "object",
    "fields": {"url": STR, "clusterID": STR, "auth": NATS_AUTH, "accessSecret": SECRET_KEY_SELECTOR},
}

NATS_BUS = {"type": "object", "fields": {"native": NATIVE_STRATEGY, "exotic": NATS_CONFIG}}

JETSTREAM_BUS = {
    "type": "object",
    "fields": {
        "version": STR,
        "replicas": INT32,
        "containerTemplate": CONTAINER_TEMPLATE,
        "reloaderContainerTemplate": CONTAINER_TEMPLATE,
        "metricsContainerTemplate": CONTAINER_TEMPLATE,
        "persistence": PERSISTENCE,
        "metadata": POD_METADATA,
        "nodeSelector": STR_MAP,
        "tolerations": {"type": "array", "items": TOLERATION},
        "securityContext": POD_SECURITY_CONTEXT,
        "imagePullSecrets": {"type": "array", "items": LOCAL_OBJECT_REFERENCE},
        "priorityClassName": STR,
        "priority": INT32,
        "affinity": AFFINITY,
        "serviceAccountName": STR,
        # settings and streamConfig are YAML documents embedded as strings.
        "settings": STR,
        "startArgs": STR_LIST,
        "streamConfig": STR,
        "maxPayload": STR,
    },
}

JETSTREAM_CONFIG = {
    "type": "object",
    "fields": {"url": STR, "accessSecret": SECRET_KEY_SELECTOR, "streamConfig": STR, "tls": TLS_CONFIG},
}

# partitioner: upstream silently runs "random" for any other value (kafka/base/kafka.go:60-73).
KAFKA_BUS = {
    "type": "object",
    "fields": {
        "url": STR,
        "topic": STR,
        "version": STR,
        "tls": TLS_CONFIG,
        "sasl": SASL_CONFIG,
        "consumerGroup": KAFKA_CONSUMER_GROUP,
        "partitioner": {"type": "string", "enum": ["random", "hash", "roundrobin", "manual"]},
    },
}

EVENTBUS_SPEC = {
    "type": "object",
    "fields": {"nats": NATS_BUS, "jetstream": JETSTREAM_BUS, "jetstreamExotic": JETSTREAM_CONFIG, "kafka": KAFKA_BUS},
}

# Only what a rendered manifest may carry; server-set fields (uid, generation,
# managedFields, ...) do not belong in a GitOps source.
OBJECT_META = {
    "type": "object",
    "fields": {"name": STR, "namespace": STR, "labels": STR_MAP, "annotations": STR_MAP},
    "required": ["name"],
}

EVENTBUS = {
    "type": "object",
    "fields": {
        "apiVersion": {"type": "string", "enum": ["argoproj.io/v1alpha1"]},
        "kind": {"type": "string", "enum": ["EventBus"]},
        "metadata": OBJECT_META,
        "spec": EVENTBUS_SPEC,
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
}

# Where each backend's section sits under spec.
BACKEND_PATHS = {
    "nats-native": ("nats", "native"),
    "nats-exotic": ("nats", "exotic"),
    "jetstream": ("jetstream",),
    "jetstream-exotic": ("jetstreamExotic",),
    "kafka": ("kafka",),
}
