"""capacity: replicas fit the zones and nodes a profile declares, under required anti-affinity."""

from __future__ import annotations

import pytest

RULE = "capacity"
JS = "spec.jetstream.replicas"


def cluster(zones=3, per_zone=None) -> dict:
    """A cluster profile extending prod that declares its zones (and nodes per zone)."""
    settings = f"zones: {zones}" + (f", nodesPerZone: {per_zone}" if per_zone else "")
    profile = f"extends: prod\nguards:\n  capacity: {{{settings}}}\n"
    return {"profile": "cluster", "files": {"profiles/cluster.yaml": profile}}


@pytest.mark.parametrize("values, options, expected", [
    ({"jetstream": {"replicas": 3}}, cluster(3), []),
    ({"jetstream": {"replicas": 5}}, cluster(3), [JS]),
    ({"jetstream": {"replicas": 5}}, cluster(5), []),
    ({"jetstream": {"replicas": 5}, "spread": {"zones": "preferred"}}, cluster(3, 2), []),
    ({"jetstream": {"replicas": 7}, "spread": {"zones": "preferred"}}, cluster(3, 2), [JS]),
    ({"jetstream": {"replicas": 5}, "spread": {"zones": "preferred", "hosts": "preferred"}}, cluster(1, 1), []),
    ({"jetstream": {"replicas": 5}}, {}, []),
], ids=["3-on-3-zones", "5-on-3-zones", "5-on-5-zones", "5-on-6-nodes", "7-on-6-nodes", "nothing-required",
        "zones-undeclared"])
def test_required_anti_affinity_cannot_place_more_replicas_than_zones_or_nodes(violations, values, options,
                                                                                expected):
    assert violations(RULE, "jetstream", values, **options) == expected


def test_native_counts_below_three_are_counted_as_the_three_the_controller_runs(violations):
    assert violations(RULE, "nats-native", {"nats": {"native": {"replicas": 1}}}, **cluster(2)) == [
        "spec.nats.native.replicas"]


def test_a_term_that_selects_another_eventbus_constrains_nothing_and_is_not_counted(violations):
    term = {"topologyKey": "topology.kubernetes.io/zone",
            "labelSelector": {"matchLabels": {"controller": "eventbus-controller", "eventbus-name": "old-bus"}}}
    values = {"spread": {"zones": "none"}, "jetstream": {"replicas": 5, "affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [term]}}}}
    assert violations(RULE, "jetstream", values, **cluster(3)) == []


def test_an_unschedulable_count_says_how_many_pods_stay_pending(findings):
    [finding] = findings(RULE, "jetstream", {"jetstream": {"replicas": 5}}, **cluster(3))
    assert finding.message == ("5 replicas with required zone anti-affinity on 3 zones (2 can never be scheduled), "
                               "expected at most 3 replicas (one per zone)")
    assert finding.fix == "set jetstream.replicas to 3, or set spread.zones to preferred"
    assert finding.origin.file == "overlays/case.yaml"
