"""pod-priority: NATS native and JetStream pods name a priority class (upstream argo-events v1.9.11
docs/dr_ha_recommendations.md:92-99); `priority` alone is not allowed where Priority admission is enabled
(pkg/apis/events/v1alpha1/jetstream_eventbus.go:56-59)."""

from __future__ import annotations

import pytest

RULE = "pod-priority"
JS = "spec.jetstream.priorityClassName"
NATIVE = "spec.nats.native.priorityClassName"
CLUSTER = {"profiles/cluster.yaml": "extends: prod\nguards:\n  pod-priority: "
                                    "{level: error, classes: [eventbus-critical, system-cluster-critical]}\n"}


@pytest.mark.parametrize("backend, values, expected", [
    ("jetstream", None, []),  # the harness names a class
    ("jetstream", {"jetstream": {"priorityClassName": None}}, [JS]),
    ("jetstream", {"jetstream": {"priorityClassName": None, "priority": 1000000}}, [JS]),
    ("jetstream", {"jetstream": {"priorityClassName": ""}}, [JS]),
    ("nats-native", {"nats": {"native": {"priorityClassName": None}}}, [NATIVE]),
    ("nats-native", {"nats": {"native": {"priorityClassName": "anything"}}}, []),  # no list: any class
    ("kafka", None, []),
    ("jetstream-exotic", None, []),
], ids=["named", "missing", "priority-only", "empty", "native-missing", "native-any", "kafka", "js-exotic"])
def test_bus_pods_without_a_priority_class_are_violations(violations, backend, values, expected):
    assert violations(RULE, backend, values) == expected


def test_prod_warns_because_classes_belong_to_each_cluster(findings):
    [finding] = findings(RULE, "jetstream", {"jetstream": {"priorityClassName": None}})
    assert finding.level == "warning"
    assert finding.actual == "no priorityClassName (the pods get the cluster's default priority)"
    assert finding.fix == "set jetstream.priorityClassName to the class your cluster gives critical workloads"


def test_priority_without_a_class_says_admission_refuses_it(findings):
    [finding] = findings(RULE, "jetstream", {"jetstream": {"priorityClassName": None, "priority": 1000}})
    assert finding.actual == ("priority 1000 without priorityClassName (Priority admission fills priority from the "
                              "class and prevents setting it)")


@pytest.mark.parametrize("name, expected", [
    ("eventbus-critical", []),
    ("system-cluster-critical", []),
    ("batch-low", [JS]),
    (None, [JS]),
])
def test_a_cluster_profile_makes_it_an_error_and_names_its_classes(findings, name, expected):
    found = findings(RULE, "jetstream", {"jetstream": {"priorityClassName": name}}, profile="cluster", files=CLUSTER)
    assert [f.path_text for f in found] == expected
    for finding in found:
        assert finding.level == "error"
        assert finding.expected == "one of eventbus-critical, system-cluster-critical"
        assert finding.fix == "set jetstream.priorityClassName to eventbus-critical"


def test_a_local_prod_may_narrow_the_built_in_any_class_to_a_list(evaluate):
    files = {"profiles/prod.yaml": "guards:\n  pod-priority: {level: warning, classes: [eventbus-critical]}\n"}
    config = evaluate("jetstream", profile="prod", files=files).config
    assert config[RULE].params["classes"] == ["eventbus-critical"]  # a list is stricter than any class
