"""replica-count: enough replicas, and an odd count, for NATS native and JetStream."""

from __future__ import annotations

import pytest

RULE = "replica-count"
JS = "spec.jetstream.replicas"
NATIVE = "spec.nats.native.replicas"


@pytest.mark.parametrize("backend, values, expected", [
    ("jetstream", {"jetstream": {"replicas": 3}}, []),
    ("jetstream", {"jetstream": {"replicas": 5}}, []),
    ("jetstream", {"jetstream": {"replicas": None}}, []),  # omitted: the controller runs 3
    ("jetstream", {"jetstream": {"replicas": 4}}, [JS]),
    ("jetstream", {"jetstream": {"replicas": 6}}, [JS]),
    ("jetstream", {"jetstream": {"replicas": 1, "streamConfig": "replicas: 1\n"}}, [JS]),
    ("nats-native", {"nats": {"native": {"replicas": 3}}}, []),
    ("nats-native", {"nats": {"native": {"replicas": 7}}}, []),
    ("nats-native", {"nats": {"native": {"replicas": 4}}}, [NATIVE]),
    ("nats-native", {"nats": {"native": {"replicas": 2}}}, [NATIVE]),
    ("kafka", {"kafka": {"topic": "t"}}, []),  # no replicas to count
], ids=["3", "5", "omitted", "4-even", "6-even", "1-too-few", "native-3", "native-7", "native-4-even",
        "native-2-too-few", "kafka-has-none"])
def test_counts_below_the_minimum_or_even_are_violations(violations, backend, values, expected):
    assert violations(RULE, backend, values) == expected


@pytest.mark.parametrize("guard, count, expected", [
    ("{level: error, min: 5}", 3, [JS]),
    ("{level: error, min: 5}", 5, []),
    ("{level: error, max: 5}", 7, [JS]),
    ("{level: error, max: 5}", 5, []),
    ("{level: error, odd: false}", 4, []),
    ("{level: error, min: 1}", 1, []),
], ids=["min-5-rejects-3", "min-5-accepts-5", "max-5-rejects-7", "max-5-accepts-5", "even-allowed", "min-1"])
def test_the_profile_sets_minimum_maximum_and_oddness(violations, guard, count, expected):
    profile = f"guards:\n  replica-count: {guard}\n"
    values = {"jetstream": {"replicas": count, "streamConfig": f"replicas: {min(count, 3)}\n"}}
    assert violations(RULE, "jetstream", values, profile="team",
                      files={"profiles/team.yaml": profile}) == expected


def test_an_even_count_names_actual_expected_provenance_and_the_nearest_odd_counts(findings):
    [finding] = findings(RULE, "jetstream", {"jetstream": {"replicas": 4}})
    assert str(finding) == (
        "error[replica-count] spec.jetstream.replicas: 4 replicas, expected an odd count of at least 3\n"
        "  set by overlay 'case' (overlays/case.yaml:3)\n"
        "  fix: set jetstream.replicas to 3 or 5")


def test_a_count_from_the_command_line_is_attributed_to_the_flag(findings):
    [finding] = findings(RULE, "jetstream", sets=["jetstream.replicas=6"])
    assert finding.origin.layer == "set"
    assert "set on the command line by --set jetstream.replicas=6" in str(finding)
    assert finding.fix == "set jetstream.replicas to 5 or 7"


def test_a_maximum_appears_in_the_expectation(findings):
    [finding] = findings(RULE, "jetstream", {"jetstream": {"replicas": 9}}, profile="team",
                         files={"profiles/team.yaml": "guards:\n  replica-count: {max: 7}\n"})
    assert finding.expected == "an odd count between 3 and 7"
    assert finding.fix == "set jetstream.replicas to 5 or 7"
