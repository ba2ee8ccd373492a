"""Behaviour of the strict EventBus schema (renderer.stages.spec) and its validator (renderer.stages.validate)."""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from renderer.paths import format_path
from renderer.stages import spec
from renderer.stages.validate import (
    SchemaProblem,
    is_duration,
    is_quantity,
    node_at,
    parse_duration,
    parse_quantity,
    validate,
    validate_eventbus,
)

REPO = Path(__file__).resolve().parents[1]


def _upstream_dir() -> Path | None:
    """The read-only copy of upstream facts: $ARGO_EVENTS_UPSTREAM, or shared/ beside the clone."""
    candidates = [
        os.environ.get("ARGO_EVENTS_UPSTREAM"),
        REPO.parent / "shared" / "upstream" / "argo-events",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


UPSTREAM = _upstream_dir()
EXAMPLES = sorted((UPSTREAM / "examples").glob("*.yaml")) if UPSTREAM and (UPSTREAM / "examples").is_dir() else []


def eventbus(**spec_body) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventBus",
        "metadata": {"name": "default"},
        "spec": spec_body,
    }


def messages(problems) -> list[str]:
    return [p.message for p in problems]


def only(problems) -> SchemaProblem:
    assert len(problems) == 1, problems
    return problems[0]


# --- upstream examples and full objects -----------------------------------------


@pytest.mark.parametrize("path", EXAMPLES or [None], ids=lambda p: p.name if p else "absent")
def test_every_upstream_example_validates_without_problems(path):
    if path is None:
        pytest.skip("upstream examples folder is absent")
    for doc in yaml.safe_load_all(path.read_text()):
        if doc is not None:
            assert validate_eventbus(doc) == []


FULL_POD_FIELDS = {
    "containerTemplate": {
        "imagePullPolicy": "IfNotPresent",
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": 1, "memory": "1Gi", "ephemeral-storage": 0.5},
            "claims": [{"name": "gpu", "request": "one"}],
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            "privileged": False,
            "procMount": "Default",
            "readOnlyRootFilesystem": True,
            "runAsGroup": 1000,
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seLinuxOptions": {"user": "u", "role": "r", "type": "t", "level": "s0"},
            "seccompProfile": {"type": "RuntimeDefault"},
            "appArmorProfile": {"type": "Localhost", "localhostProfile": "p"},
            "windowsOptions": {"runAsUserName": "x", "hostProcess": False},
        },
    },
    "metricsContainerTemplate": {"resources": {"requests": {"cpu": "10m"}}},
    "persistence": {"storageClassName": "standard", "accessMode": "ReadWriteOnce", "volumeSize": "20Gi"},
    "metadata": {"labels": {"app.kubernetes.io/part-of": "events"}, "annotations": {"a": "b"}},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "events", "effect": "NoSchedule"},
        {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    ],
    "securityContext": {
        "fsGroup": 2000,
        "fsGroupChangePolicy": "OnRootMismatch",
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "seLinuxChangePolicy": "Recursive",
        "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/nats.json"},
        "supplementalGroups": [3000, 4000],
        "supplementalGroupsPolicy": "Merge",
        "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}],
    },
    "imagePullSecrets": [{"name": "regcred"}],
    "serviceAccountName": "eventbus",
    "priorityClassName": "high",
    "priority": 1000,
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]},
                ]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [{"key": "cpu", "operator": "Gt", "values": ["4"]}]}}
            ],
        },
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"a": "b"}}}
            ]
        },
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "topology.kubernetes.io/zone",
                        "labelSelector": {
                            "matchExpressions": [{"key": "eventbus-name", "operator": "Exists"}],
                        },
                        "namespaceSelector": {},
                        "namespaces": ["argo-events"],
                        "matchLabelKeys": ["pod-template-hash"],
                        "mismatchLabelKeys": ["tenant"],
                    },
                }
            ]
        },
    },
}


def test_a_jetstream_bus_using_every_field_validates():
    body = dict(
        FULL_POD_FIELDS,
        version="2.10.10",
        replicas=3,
        reloaderContainerTemplate={"resources": {"limits": {"memory": "64Mi"}}},
        settings="max_file_store: 1GB\n",
        startArgs=["-D"],
        streamConfig="maxAge: 72h\n",
        maxPayload="1MB",
    )
    assert validate_eventbus(eventbus(jetstream=body)) == []


def test_a_native_nats_bus_using_every_field_validates():
    body = dict(
        FULL_POD_FIELDS,
        replicas=3,
        auth="token",
        maxAge="72h",
        maxMsgs=1_000_000,
        maxBytes="1GB",
        maxSubs=1000,
        maxPayload="1MB",
        raftHeartbeatTimeout="2s",
        raftElectionTimeout="2s",
        raftLeaseTimeout="1s",
        raftCommitTimeout="100ms",
    )
    assert validate_eventbus(eventbus(nats={"native": body})) == []


def test_exotic_and_kafka_buses_using_every_field_validate():
    secret = {"name": "s", "key": "k", "optional": True}
    tls = {"caCertSecret": secret, "clientCertSecret": secret, "clientKeySecret": secret,
           "enabled": True, "insecureSkipVerify": False}
    obj = eventbus(
        nats={"exotic": {"url": "nats://nats:4222", "clusterID": "c", "auth": "token", "accessSecret": secret}},
        jetstreamExotic={"url": "nats://js:4222", "accessSecret": secret, "streamConfig": "", "tls": tls},
        kafka={
            "url": "kafka:9092",
            "topic": "events",
            "version": "3.6.0",
            "tls": tls,
            "sasl": {"mechanism": "SCRAM-SHA-512", "userSecret": secret, "passwordSecret": secret},
            "consumerGroup": {"groupName": "g", "oldest": True, "rebalanceStrategy": "sticky"},
            "partitioner": "hash",
        },
    )
    obj["metadata"] = {"name": "b", "namespace": "ns", "labels": {"a": "b"}, "annotations": {"c": "d"}}
    assert validate_eventbus(obj) == []


# --- unknown, removed and renamed fields ------------------------------------------


def test_a_typo_in_a_field_name_suggests_the_real_name():
    problem = only(validate_eventbus(eventbus(jetstream={"replcas": 3})))
    assert problem.path == ("spec", "jetstream", "replcas")
    assert problem.message == "unknown field 'replcas' (did you mean 'replicas'?)"
    assert "replicas" in problem.fix


def test_a_field_with_the_wrong_case_suggests_the_real_name():
    problem = only(validate_eventbus(eventbus(nats={"exotic": {"clusterId": "c"}})))
    assert problem.message == "unknown field 'clusterId' (did you mean 'clusterID'?)"


def test_an_unknown_field_without_a_close_match_lists_the_allowed_fields():
    problem = only(validate_eventbus(eventbus(kafka={"zzzzzz": 1})))
    assert problem.message == "unknown field 'zzzzzz'"
    assert "consumerGroup" in problem.fix


def test_antiAffinity_is_reported_as_removed_in_v1_5_with_its_replacement():
    problem = only(validate_eventbus(eventbus(nats={"native": {"antiAffinity": True}})))
    assert problem.path == ("spec", "nats", "native", "antiAffinity")
    assert problem.message == "field 'antiAffinity' was removed in Argo Events v1.5; use affinity.podAntiAffinity"
    assert problem.fix


def test_startOldest_in_a_kafka_consumer_group_points_to_oldest():
    obj = eventbus(kafka={"consumerGroup": {"groupName": "g", "startOldest": True}})
    problem = only(validate_eventbus(obj))
    assert problem.path == ("spec", "kafka", "consumerGroup", "startOldest")
    assert problem.message == "unknown field 'startOldest' (the field is called 'oldest')"


def test_kubernetes_types_are_closed_objects_too():
    obj = eventbus(jetstream={"containerTemplate": {"securityContext": {"runAsUsr": 1}}})
    problem = only(validate_eventbus(obj))
    assert problem.message == "unknown field 'runAsUsr' (did you mean 'runAsUser'?)"


def test_metadata_accepts_only_name_namespace_labels_and_annotations():
    obj = eventbus(jetstream={})
    obj["metadata"]["uid"] = "1234"
    problem = only(validate_eventbus(obj))
    assert problem.path == ("metadata", "uid")
    assert problem.message.startswith("unknown field 'uid'")


def test_status_is_not_part_of_a_rendered_eventbus():
    obj = eventbus(jetstream={})
    obj["status"] = {}
    assert only(validate_eventbus(obj)).path == ("status",)


# --- types ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, "3", "3x", 3.0, None, [3]])
def test_an_integer_field_rejects_anything_but_an_integer(value):
    problem = only(validate_eventbus(eventbus(jetstream={"replicas": value})))
    assert problem.path == ("spec", "jetstream", "replicas")
    assert problem.message.startswith("expected integer, got ")


def test_a_wrong_type_message_shows_the_value():
    problem = only(validate_eventbus(eventbus(jetstream={"replicas": "3x"})))
    assert problem.message == "expected integer, got string '3x'"
    problem = only(validate_eventbus(eventbus(jetstream={"replicas": True})))
    assert problem.message == "expected integer, got boolean true"


def test_integers_outside_their_go_type_are_rejected():
    obj = eventbus(nats={"native": {"replicas": 2**31, "maxMsgs": -1, "maxSubs": 2**64 - 1}})
    problems = validate_eventbus(obj)
    assert [p.path[-1] for p in problems] == ["replicas", "maxMsgs"]
    assert "int32" in problems[0].message and "uint64" in problems[1].message


def test_an_unquoted_number_is_not_accepted_as_a_string():
    problem = only(validate_eventbus(eventbus(jetstream={"version": 2.1})))
    assert problem.message == "expected string, got number 2.1"
    assert "quote" in problem.fix


def test_a_quoted_boolean_is_not_accepted_as_a_boolean():
    obj = eventbus(kafka={"consumerGroup": {"groupName": "g", "oldest": "true"}})
    problem = only(validate_eventbus(obj))
    assert problem.message == "expected boolean, got string 'true'"
    assert problem.fix == "remove the quotes"


def test_label_values_must_be_strings():
    obj = eventbus(jetstream={"metadata": {"labels": {"enabled": True}}})
    problem = only(validate_eventbus(obj))
    assert problem.path == ("spec", "jetstream", "metadata", "labels", "enabled")


def test_a_null_section_is_reported_not_ignored():
    problem = only(validate_eventbus(eventbus(jetstream=None)))
    assert problem.message == "expected object, got null"


def test_a_list_where_an_object_belongs_is_reported():
    problem = only(validate_eventbus(eventbus(jetstream={"persistence": ["20Gi"]})))
    assert problem.message == "expected object, got array"


def test_a_consumer_group_without_a_name_is_valid_each_sensor_names_its_own():
    # kafka/sensor/kafka_sensor.go:50-55 (v1.9.11): no groupName is <namespace>-<sensor>
    assert validate_eventbus(eventbus(kafka={"consumerGroup": {"oldest": True}})) == []


def test_the_top_level_required_fields_are_reported():
    assert messages(validate_eventbus({})) == [
        "missing required field 'apiVersion'",
        "missing required field 'kind'",
        "missing required field 'metadata'",
        "missing required field 'spec'",
    ]
    assert messages(validate_eventbus([])) == ["expected object, got array"]


def test_kubernetes_required_fields_are_enforced():
    obj = eventbus(jetstream={
        "securityContext": {"seccompProfile": {"localhostProfile": "x"}},
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}]}},
    })
    assert messages(validate_eventbus(obj)) == [
        "missing required field 'type'",
        "missing required field 'podAffinityTerm'",
    ]


# --- enums ------------------------------------------------------------------------


def test_an_access_mode_outside_the_enum_lists_the_allowed_values():
    problem = only(validate_eventbus(eventbus(jetstream={"persistence": {"accessMode": "ReadWriteSome"}})))
    assert problem.message == (
        "'ReadWriteSome' is not one of ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod"
    )


def test_an_enum_value_in_the_wrong_case_suggests_the_right_spelling():
    obj = eventbus(jetstream={"containerTemplate": {"imagePullPolicy": "always"}})
    assert only(validate_eventbus(obj)).fix == "use 'Always'"


@pytest.mark.parametrize(
    "body, path",
    [
        ({"tolerations": [{"operator": "Contains"}]}, ("tolerations", 0, "operator")),
        ({"tolerations": [{"effect": "NoScheduleEver"}]}, ("tolerations", 0, "effect")),
        ({"securityContext": {"fsGroupChangePolicy": "Sometimes"}}, ("securityContext", "fsGroupChangePolicy")),
        (
            {"containerTemplate": {"securityContext": {"seccompProfile": {"type": "Default"}}}},
            ("containerTemplate", "securityContext", "seccompProfile", "type"),
        ),
    ],
)
def test_kubernetes_enums_are_enforced(body, path):
    problem = only(validate_eventbus(eventbus(jetstream=body)))
    assert problem.path == ("spec", "jetstream") + path
    assert " is not one of " in problem.message


@pytest.mark.parametrize("auth", ["none", "token", "basic"])
def test_nats_auth_accepts_every_upstream_strategy(auth):
    # Rejecting "basic" is a guard's decision, not the schema's.
    assert validate_eventbus(eventbus(nats={"native": {"auth": auth}, "exotic": {"auth": auth}})) == []


def test_nats_auth_rejects_unknown_strategies():
    problem = only(validate_eventbus(eventbus(nats={"native": {"auth": "jwt"}})))
    assert problem.message == "'jwt' is not one of none, token, basic"


def test_apiVersion_and_kind_must_be_the_eventbus_ones():
    obj = eventbus(jetstream={})
    obj["apiVersion"] = "argoproj.io/v1"
    obj["kind"] = "Sensor"
    assert [p.path for p in validate_eventbus(obj)] == [("apiVersion",), ("kind",)]


@pytest.mark.parametrize("kafka, path, message", [
    ({"partitioner": "custom"}, ("spec", "kafka", "partitioner"),
     "'custom' is not one of random, hash, roundrobin, manual"),
    ({"partitioner": "Hash"}, ("spec", "kafka", "partitioner"),
     "'Hash' is not one of random, hash, roundrobin, manual"),
    ({"consumerGroup": {"rebalanceStrategy": "x"}}, ("spec", "kafka", "consumerGroup", "rebalanceStrategy"),
     "'x' is not one of range, sticky, roundrobin"),
    ({"sasl": {"mechanism": "SCRAM-SHA-1"}}, ("spec", "kafka", "sasl", "mechanism"),
     "'SCRAM-SHA-1' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, GSSAPI"),
], ids=["partitioner", "partitioner-case", "rebalance", "mechanism"])
def test_kafka_partitioner_rebalance_strategy_and_sasl_mechanism_are_enums(kafka, path, message):
    # upstream runs random, range and PLAIN for any other value (kafka/base/kafka.go:47-73, sasl.go:25-32)
    [problem] = validate_eventbus(eventbus(kafka=kafka))
    assert (problem.path, problem.message) == (path, message)


# --- quantities ---------------------------------------------------------------------


def test_quantities_compare_by_value_across_suffixes():
    assert parse_quantity("50Gi") > parse_quantity("20000Mi")
    assert parse_quantity("20Gi") > parse_quantity("20000Mi")
    assert parse_quantity("1Gi") == parse_quantity("1024Mi")
    assert parse_quantity("1G") < parse_quantity("1Gi")


@pytest.mark.parametrize(
    "text, value",
    [
        ("1.5Gi", Fraction(3 * 2**29)),
        ("100m", Fraction(1, 10)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("2E", Fraction(2 * 10**18)),
        ("500u", Fraction(1, 2000)),
        ("3n", Fraction(3, 10**9)),
        ("-1.5Ki", Fraction(-1536)),
        ("+.5", Fraction(1, 2)),
        ("1.", Fraction(1)),
        ("0", Fraction(0)),
        ("1e-12", Fraction(1, 10**9)),  # rounded up to a whole nano, as Kubernetes does
        ("1e100", Fraction(2**63 - 1)),  # capped, as Kubernetes does
        (5, Fraction(5)),
        (0.1, Fraction(1, 10)),
        (1e-05, Fraction(1, 100000)),
    ],
)
def test_parse_quantity_follows_the_kubernetes_grammar(text, value):
    assert is_quantity(text)
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["10GB", "1e", "", ".", "Gi", "1 Gi", "1.5.5", "1gi", "1e1.5", "1Ki1", "1e99999999999",
                                  True])
def test_bad_quantities_are_rejected(text):
    assert not is_quantity(text)
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_a_quantity_field_accepts_integers_and_rejects_booleans():
    ok = eventbus(jetstream={"containerTemplate": {"resources": {"requests": {"cpu": 2, "memory": "1Gi"}}}})
    assert validate_eventbus(ok) == []
    bad = eventbus(jetstream={"persistence": {"volumeSize": True}})
    assert only(validate_eventbus(bad)).message == "expected quantity, got boolean true"


def test_a_bad_volume_size_suggests_a_valid_spelling():
    problem = only(validate_eventbus(eventbus(jetstream={"persistence": {"volumeSize": "10GB"}})))
    assert problem.message == "'10GB' is not a valid Kubernetes quantity"
    assert "'10G'" in problem.fix and "'10Gi'" in problem.fix


# --- durations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, ns",
    [
        ("72h", 72 * 3600 * 10**9),
        ("1h30m", 5400 * 10**9),
        ("1m30s", 90 * 10**9),
        ("-1.5h", -5400 * 10**9),
        ("300ms", 300 * 10**6),
        ("500ms", 500 * 10**6),
        ("1.5us", 1500),
        ("2µs", 2000),
        ("0", 0),
        ("-0", 0),
        ("+5s", 5 * 10**9),
        (".5s", 5 * 10**8),
        ("1h0m0s", 3600 * 10**9),
        ("9223372036854775807ns", 2**63 - 1),
        ("-9223372036854775808ns", -(2**63)),
    ],
)
def test_go_durations_are_accepted(text, ns):
    assert is_duration(text)
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    "text", ["", "1d", "h", "1", "00", "1.5", ".s", "1 h", "1hh", "-", "+", "1h-5m", "9223372036854775808ns", None, 5]
)
def test_strings_go_rejects_are_not_durations(text):
    assert not is_duration(text)
    with pytest.raises(ValueError):
        parse_duration(text)


def test_duration_fields_reject_a_day_unit_with_a_hint():
    obj = eventbus(nats={"native": {"maxAge": "1d", "raftLeaseTimeout": "1s", "raftCommitTimeout": 100}})
    problems = validate_eventbus(obj)
    assert [p.path[-1] for p in problems] == ["maxAge", "raftCommitTimeout"]
    assert problems[0].message.startswith("'1d' is not a valid duration")
    assert "24h" in problems[0].fix


# --- reporting --------------------------------------------------------------------


def test_all_problems_are_reported_at_once_in_document_order():
    obj = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventBus",
        "metadata": {"name": "default", "labels": {"a": 1}},
        "spec": {
            "nats": {"native": {"antiAffinity": True, "maxAge": "1d"}},
            "jetstream": {
                "replcas": 3,
                "version": 2.9,
                "persistence": {"accessMode": "ReadWriteSome", "volumeSize": "10GB"},
                "tolerations": [{"effect": "Never"}],
            },
            "kafka": {"consumerGroup": {"startOldest": True}},
        },
    }
    problems = validate_eventbus(obj)
    assert [p.path for p in problems] == [
        ("metadata", "labels", "a"),
        ("spec", "nats", "native", "antiAffinity"),
        ("spec", "nats", "native", "maxAge"),
        ("spec", "jetstream", "replcas"),
        ("spec", "jetstream", "version"),
        ("spec", "jetstream", "persistence", "accessMode"),
        ("spec", "jetstream", "persistence", "volumeSize"),
        ("spec", "jetstream", "tolerations", 0, "effect"),
        ("spec", "kafka", "consumerGroup", "startOldest"),
    ]
    assert all(isinstance(p, SchemaProblem) and p.message for p in problems)


def test_the_input_is_not_modified():
    obj = eventbus(jetstream={"replcas": 3, "tolerations": [{"effect": "x"}]})
    before = copy.deepcopy(obj)
    validate_eventbus(obj)
    assert obj == before


def test_validate_checks_a_part_against_a_sub_node_with_a_path_prefix():
    node = node_at(spec.EVENTBUS, ("spec", "kafka"))
    problem = only(validate({"consumerGroup": {"oldest": "yes"}}, node, ("spec", "kafka")))
    assert problem.path == ("spec", "kafka", "consumerGroup", "oldest")


def test_a_problem_prints_as_a_readable_path_and_message():
    problem = SchemaProblem(("spec", "jetstream", "tolerations", 0, "effect"), "bad")
    assert str(problem) == "spec.jetstream.tolerations[0].effect: bad"
    assert format_path(("metadata", "labels", "app.kubernetes.io/name")) == 'metadata.labels["app.kubernetes.io/name"]'
    assert str(SchemaProblem((), "expected object, got null")) == "<root>: expected object, got null"


def test_problems_are_frozen_and_comparable():
    problem = SchemaProblem(("a",), "m")
    assert problem == SchemaProblem(("a",), "m", "") and hash(problem) == hash(SchemaProblem(("a",), "m"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.message = "x"  # type: ignore[misc]
    assert dataclasses.replace(problem, fix="f") == SchemaProblem(("a",), "m", "f")


def test_a_node_type_registered_from_outside_is_checked_by_the_same_walk():
    from renderer.stages import validate as validate_module

    def check_even(value, node, path, out):
        if not isinstance(value, int) or value % 2:
            out.append(SchemaProblem(path, f"{value!r} is not even", "use an even number"))

    validate_module.register("test-even", check_even)
    schema = {"type": "object", "fields": {"n": {"type": "test-even"}, "m": {"type": "array",
                                                                          "items": {"type": "test-even"}}}}
    assert validate({"n": 2, "m": [4, 6]}, schema) == []
    assert validate({"n": 3, "m": [4, 5]}, schema) == [SchemaProblem(("n",), "3 is not even", "use an even number"),
                                                       SchemaProblem(("m", 1), "5 is not even", "use an even number")]


def test_the_validators_own_node_types_cannot_be_replaced():
    from renderer.stages import validate as validate_module

    with pytest.raises(ValueError, match="'string' is the validator's own"):
        validate_module.register("string", lambda value, node, path, out: None)


# --- node_at ------------------------------------------------------------------------


def test_node_at_follows_object_fields():
    assert node_at(spec.EVENTBUS, ("spec", "jetstream", "version")) == {"type": "string"}
    assert node_at(spec.EVENTBUS, ()) is spec.EVENTBUS


def test_node_at_follows_array_items_by_index_or_star_and_map_values_by_any_key():
    effect = node_at(spec.EVENTBUS, ("spec", "jetstream", "tolerations", "*", "effect"))
    assert effect["enum"] == ["NoSchedule", "PreferNoSchedule", "NoExecute"]
    assert node_at(spec.EVENTBUS, ("spec", "jetstream", "tolerations", 3, "effect")) is effect
    assert node_at(spec.EVENTBUS, ("spec", "jetstream", "nodeSelector", "kubernetes.io/os")) == {"type": "string"}
    limits = ("spec", "jetstream", "containerTemplate", "resources", "limits", "cpu")
    assert node_at(spec.EVENTBUS, limits) == {"type": "quantity"}


def test_node_at_returns_none_when_the_path_leaves_the_schema():
    assert node_at(spec.EVENTBUS, ("spec", "jetstream", "replcas")) is None
    assert node_at(spec.EVENTBUS, ("spec", "jetstream", "version", "x")) is None
    assert node_at(spec.EVENTBUS, ("spec", "jetstream", "tolerations", "effect")) is None
    assert node_at(spec.EVENTBUS, ("spec", "nats", "native", "antiAffinity")) is None


def test_backend_paths_lead_to_object_nodes_of_the_spec():
    assert set(spec.BACKEND_PATHS) == {"nats-native", "nats-exotic", "jetstream", "jetstream-exotic", "kafka"}
    for path in spec.BACKEND_PATHS.values():
        assert node_at(spec.EVENTBUS, ("spec",) + path)["type"] == "object"


def test_node_types_in_the_schema_are_all_known():
    known = {"object", "map", "array", "string", "integer", "boolean", "quantity", "duration", "any"}
    seen: set[int] = set()

    def walk(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        assert node["type"] in known, node
        if node["type"] == "object":
            assert set(node.get("required", [])) <= set(node["fields"]), node
            assert not set(node.get("removed", {})) & set(node["fields"])
            for child in node["fields"].values():
                walk(child)
        elif node["type"] == "map":
            walk(node["values"])
        elif node["type"] == "array":
            walk(node["items"])

    walk(spec.EVENTBUS)


# --- cost -----------------------------------------------------------------------


def test_the_spec_module_imports_nothing_but_typing():
    tree = ast.parse((REPO / "renderer" / "stages" / "spec.py").read_text())
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.Import):
            assert all(alias.name == "typing" for alias in stmt.names)
        elif isinstance(stmt, ast.ImportFrom):
            assert stmt.module == "typing"


def test_validating_a_clean_object_loads_neither_difflib_nor_jsonschema():
    code = (
        "import sys\n"
        "from renderer.stages.validate import validate_eventbus\n"
        "obj = {'apiVersion': 'argoproj.io/v1alpha1', 'kind': 'EventBus', 'metadata': {'name': 'x'},"
        " 'spec': {'jetstream': {'version': 'latest', 'persistence': {'volumeSize': '1Gi'}}}}\n"
        "assert validate_eventbus(obj) == []\n"
        "print(sorted(m for m in ('difflib', 'jsonschema') if m in sys.modules))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


# --- cross-check against upstream's JSON schema ------------------------------------

SPEC_DEF = "io.argoproj.events.v1alpha1.EventBusSpec"
QUANTITY_DEF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# Upstream fields we leave out on purpose, per upstream definition. Empty today:
# the removed NativeStrategy.antiAffinity is already gone from upstream's schema.
UPSTREAM_FIELDS_WE_OMIT: dict[str, set[str]] = {}
# Fields upstream's JSON schema calls required that nothing requires in an EventBus: KafkaConsumerGroup is shared
# with the Kafka EventSource, whose groupName has no omitempty; the CRD has no schema, and a Sensor names its
# group <namespace>-<sensor> when the bus names none (kafka/sensor/kafka_sensor.go:50-55 at v1.9.11).
UPSTREAM_REQUIRED_WE_DROP = {"io.argoproj.events.v1alpha1.KafkaConsumerGroup": {"groupName"}}
# Upstream types strings only; where Go parses the string as a duration, so do we.
DURATION_FIELDS = {
    ("io.argoproj.events.v1alpha1.NativeStrategy", name)
    for name in ("maxAge", "raftHeartbeatTimeout", "raftElectionTimeout", "raftLeaseTimeout", "raftCommitTimeout")
}
# Upstream's integer format says int64 where the Go field is *uint64.
UINT64_FIELDS = {("io.argoproj.events.v1alpha1.NativeStrategy", "maxMsgs"),
                 ("io.argoproj.events.v1alpha1.NativeStrategy", "maxSubs")}


@pytest.fixture(scope="module")
def upstream_definitions():
    if UPSTREAM is None:
        pytest.skip("shared upstream folder is absent")
    for name in ("schema.json", "eventbus.schema.json"):
        path = UPSTREAM / name
        if path.is_file():
            return json.loads(path.read_text())["definitions"]
    pytest.skip("no upstream JSON schema in the shared folder")


def _object_nodes(node, found=None):
    """Every object node reachable from ``node``, by identity."""
    found = {} if found is None else found
    kind = node["type"]
    if kind == "object":
        if id(node) in found:
            return found
        found[id(node)] = node
        for child in node["fields"].values():
            _object_nodes(child, found)
    elif kind == "map":
        _object_nodes(node["values"], found)
    elif kind == "array":
        _object_nodes(node["items"], found)
    return found


def _compare(defs, ours, prop, owner, field, drift, visited):
    """Compare our node with an upstream property schema, recursing into objects."""
    where = f"{owner}.{field}"
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        target = defs[name]
        if name == QUANTITY_DEF:
            if ours["type"] != "quantity":
                drift.append(f"{where}: upstream Quantity, ours {ours['type']}")
        elif target.get("type") == "object" and "properties" in target:
            _compare_object(defs, ours, name, drift, visited, where)
        else:
            _compare(defs, ours, {k: v for k, v in target.items() if k != "description"}, owner, field, drift, visited)
        return
    kind = prop.get("type")
    if kind == "array":
        if ours["type"] != "array":
            drift.append(f"{where}: upstream array, ours {ours['type']}")
        else:
            _compare(defs, ours["items"], prop["items"], owner, field + "[]", drift, visited)
    elif kind == "object" and "additionalProperties" in prop:
        if ours["type"] != "map":
            drift.append(f"{where}: upstream map, ours {ours['type']}")
        else:
            _compare(defs, ours["values"], prop["additionalProperties"], owner, field + "{}", drift, visited)
    elif kind == "string":
        expected = "duration" if (owner, field) in DURATION_FIELDS else "string"
        if ours["type"] != expected:
            drift.append(f"{where}: expected {expected}, ours {ours['type']}")
    elif kind == "integer":
        if ours["type"] != "integer":
            drift.append(f"{where}: upstream integer, ours {ours['type']}")
        else:
            expected = "uint64" if (owner, field.rstrip("[]")) in UINT64_FIELDS else prop.get("format")
            if ours.get("format") != expected:
                drift.append(f"{where}: upstream format {expected}, ours {ours.get('format')}")
    elif kind == "boolean":
        if ours["type"] != "boolean":
            drift.append(f"{where}: upstream boolean, ours {ours['type']}")
    else:
        drift.append(f"{where}: upstream type {kind!r} is not handled by this test")


def _compare_object(defs, ours, name, drift, visited, where):
    if ours["type"] != "object":
        drift.append(f"{where}: upstream object {name}, ours {ours['type']}")
        return
    if (id(ours), name) in visited:
        return
    visited[(id(ours), name)] = ours
    upstream = defs[name]
    props = upstream.get("properties", {})
    expected = set(props) - UPSTREAM_FIELDS_WE_OMIT.get(name, set())
    ours_fields = set(ours["fields"])
    for missing in sorted(expected - ours_fields):
        drift.append(f"{name}: upstream field {missing!r} missing from ours")
    for extra in sorted(ours_fields - set(props)):
        drift.append(f"{name}: our field {extra!r} is not upstream")
    required = set(upstream.get("required", [])) - UPSTREAM_REQUIRED_WE_DROP.get(name, set())
    if required != set(ours.get("required", [])):
        theirs, mine = sorted(required), sorted(ours.get("required", []))
        drift.append(f"{name}: required {theirs} vs ours {mine}")
    for field, prop in props.items():
        if field in ours["fields"]:
            _compare(defs, ours["fields"][field], prop, name, field, drift, visited)


def test_the_schema_matches_upstream_field_for_field(upstream_definitions):
    drift: list[str] = []
    visited: dict = {}
    _compare_object(upstream_definitions, spec.EVENTBUS_SPEC, SPEC_DEF, drift, visited, "spec")
    assert drift == []
    # Every object node under spec was paired with an upstream definition.
    paired = {key[0] for key in visited}
    unpaired = [n for i, n in _object_nodes(spec.EVENTBUS_SPEC).items() if i not in paired]
    assert unpaired == []


def test_the_top_level_and_metadata_are_subsets_of_upstream(upstream_definitions):
    top = upstream_definitions["io.argoproj.events.v1alpha1.EventBus"]["properties"]
    assert set(spec.EVENTBUS["fields"]) == set(top) - {"status"}
    meta = upstream_definitions["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    assert set(spec.OBJECT_META["fields"]) <= set(meta)
    assert spec.EVENTBUS["fields"]["apiVersion"]["enum"] == [top["apiVersion"]["const"]]
    assert spec.EVENTBUS["fields"]["kind"]["enum"] == [top["kind"]["const"]]


def test_removed_antiAffinity_is_not_in_upstream_either(upstream_definitions):
    native = upstream_definitions["io.argoproj.events.v1alpha1.NativeStrategy"]["properties"]
    assert "antiAffinity" not in native
    assert "antiAffinity" in spec.NATIVE_STRATEGY["removed"]


# --- the walk on data drawn from the schema -------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from renderer.stages.stack import values_schema  # noqa: E402

_EXAMPLES = int(os.environ.get("EVENTBUS_RENDER_HYPOTHESIS_EXAMPLES", "60"))
_ODD = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**64), st.floats(allow_nan=True), st.text(max_size=4),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                 st.sampled_from([1, "1", True, 0, -1, 2**31, 2**63, "x"]))


def _instance(data, node, odds, depth=0):
    """Data shaped by schema ``node``; with ``odds`` N, about one node in N is of a wrong shape or value."""
    def slip() -> bool:
        return bool(odds) and data.draw(st.integers(0, odds - 1)) == 0

    if slip():
        return data.draw(_ODD)
    kind = node["type"]
    if kind == "object":
        names = sorted(node["fields"])
        chosen = data.draw(st.lists(st.sampled_from(names), max_size=3 if depth < 5 else 0, unique=True)) \
            if names else []
        if not slip():
            chosen += [n for n in node.get("required", ()) if n not in chosen]
        out = {name: _instance(data, node["fields"][name], odds, depth + 1) for name in chosen}
        if slip():
            out[data.draw(st.sampled_from(["bogus", 3, "replica", ""]))] = 1
        return out
    if kind == "map":
        keys = data.draw(st.lists(st.sampled_from(["a", "b/c", 1] if slip() else ["a", "b/c"]), max_size=2,
                                  unique=True))
        return {key: _instance(data, node["values"], odds, depth + 1) for key in keys}
    if kind == "keyed":  # a map whose keys are checked too (labels, annotations)
        keys = data.draw(st.lists(st.sampled_from(["a", "example.com/b-c", "bad key!", 1] if slip() else
                                                  ["a", "example.com/b-c"]), max_size=2, unique=True))
        return {key: _instance(data, node["values"], odds, depth + 1) for key in keys}
    if kind == "text":
        return data.draw(st.from_regex(node["pattern"], fullmatch=True).filter(lambda s: len(s) < 64))
    if kind == "array":
        return [_instance(data, node["items"], odds, depth + 1) for _ in range(data.draw(st.integers(0, 2)))]
    if kind == "string":
        enum = node.get("enum")
        if enum:
            return data.draw(st.sampled_from(list(enum) + ["nope"] if slip() else list(enum)))
        return data.draw(st.text(max_size=3))
    if kind == "integer":
        low, high = node.get("minimum", 0 if node.get("format") == "uint64" else -5), node.get("maximum", 100)
        if slip():
            return data.draw(st.sampled_from([2**31, -(2**31) - 1, 2**63, 2**64, True, 1.0, low - 1, high + 1]))
        return data.draw(st.integers(max(low, -5), min(high, 100)))
    if kind == "boolean":
        return data.draw(st.sampled_from(["true", 1] if slip() else [True, False]))
    if kind == "quantity":
        return data.draw(st.sampled_from(["abc", "10GiB", "", True, float("inf"), "1e99999999999"] if slip()
                                         else ["1Gi", "10", "1.5", 3, 2.5, "1e3", ".5", "100m"]))
    if kind == "duration":
        return data.draw(st.sampled_from(["3d", "", 5, "h"] if slip() else ["72h", "1m30s", "-1.5h", "0"]))
    return data.draw(_ODD)


def _at(value, path):
    for seg in path:
        value = value[seg]
    return value


@pytest.mark.parametrize("schema", ["eventbus", "values"])
@settings(max_examples=_EXAMPLES * 5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_data_shaped_by_the_schema_has_no_problems(schema, data):
    node = spec.EVENTBUS if schema == "eventbus" else values_schema()
    value = _instance(data, node, 0)
    assert validate(value, node) == []


@pytest.mark.parametrize("schema", ["eventbus", "values"])
@settings(max_examples=_EXAMPLES * 5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_problem_names_a_place_that_exists_in_the_data(schema, data):
    node = spec.EVENTBUS if schema == "eventbus" else values_schema()
    value = _instance(data, node, data.draw(st.sampled_from([200, 50, 10, 3])))
    problems = validate(value, node, ("prefix",))
    for problem in problems:
        assert problem.path[:1] == ("prefix",) and problem.message, problem
        _at(value, problem.path[1:])  # a missing field is reported at its object, which exists
