"""zone-anti-affinity: pods spread across zones and hosts by terms whose selector really selects this EventBus."""

from __future__ import annotations

import pytest

from renderer.stages.guards.zone_anti_affinity import selector_matches

RULE = "zone-anti-affinity"
ANTI = "spec.jetstream.affinity.podAntiAffinity"
TERM0 = ANTI + ".requiredDuringSchedulingIgnoredDuringExecution[0]"
ZONE = "topology.kubernetes.io/zone"
OWN = {"controller": "eventbus-controller", "eventbus-name": "default"}


def own_term(selector=None, key=ZONE, **extra) -> dict:
    """Values writing one required anti-affinity term of the user's own (spread off)."""
    term = {"topologyKey": key, **extra}
    if selector is not None:
        term["labelSelector"] = selector
    return {"spread": {"zones": "none"},
            "jetstream": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}}


@pytest.mark.parametrize("values, expected", [
    (None, []),
    ({"spread": {"zones": "preferred"}}, [ANTI]),
    ({"spread": {"zones": "none"}}, [ANTI]),
    ({"spread": {"hosts": "preferred"}}, [ANTI]),
    ({"spread": {"zones": "none", "hosts": "none"}}, [ANTI, ANTI]),
    (own_term({"matchLabels": OWN}), []),
    (own_term({"matchLabels": {**OWN, "eventbus-name": "old-bus"}}),
     [TERM0 + ".labelSelector.matchLabels.eventbus-name", ANTI]),
    (own_term({"matchLabels": {"controller": "eventbus-controller"}}), [TERM0 + ".labelSelector", ANTI]),
    (own_term(), [TERM0 + ".labelSelector", ANTI]),
    (own_term({"matchExpressions": [{"key": "eventbus-name", "operator": "In", "values": ["default"]}]}), []),
    (own_term({"matchExpressions": [{"key": "eventbus-name", "operator": "NotIn", "values": ["default"]}]}),
     [TERM0 + ".labelSelector", ANTI]),
    (own_term({"matchLabels": OWN}, namespaces=["argo-events"]), []),
    (own_term({"matchLabels": OWN}, namespaces=["elsewhere"]), [TERM0 + ".namespaces", ANTI]),
    ({**own_term({"matchLabels": {"bus": "payments"}}),
      "jetstream": {**own_term({"matchLabels": {"bus": "payments"}})["jetstream"],
                    "metadata": {"labels": {"bus": "payments"}}}}, []),
], ids=["prod-spread", "zones-preferred", "zones-none", "hosts-preferred", "no-spread-at-all", "own-term",
        "own-term-other-bus-name", "own-term-every-bus", "own-term-no-selector", "own-term-match-expressions",
        "own-term-not-in", "own-term-own-namespace", "own-term-other-namespace", "own-term-own-pod-label"])
def test_zones_and_hosts_are_spread_by_terms_that_select_this_eventbus(violations, values, expected):
    assert violations(RULE, "jetstream", values) == expected


def test_native_nats_is_held_to_the_same_spread(violations):
    assert violations(RULE, "nats-native", {"spread": {"zones": "preferred"}}) == [
        "spec.nats.native.affinity.podAntiAffinity"]


def test_exotic_backends_have_no_pods_to_spread(violations):
    assert violations(RULE, "kafka", {"spread": {"zones": "none", "hosts": "none"}}) == []


def test_a_selector_left_over_from_another_eventbus_name_is_a_violation(findings):
    values = {"jetstream": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": ZONE, "labelSelector": {"matchLabels": OWN}}]}}}}
    [finding] = findings(RULE, "jetstream", values, name="payments")
    assert finding.path_text == TERM0 + ".labelSelector.matchLabels.eventbus-name"
    assert finding.actual == (f"anti-affinity term on {ZONE}: it selects eventbus-name 'default', "
                              "not this EventBus 'payments'")
    assert finding.origin.file == "overlays/case.yaml"
    assert "eventbus-name: payments" in finding.fix


def test_a_missing_spread_is_attributed_to_the_layer_that_set_spread(findings):
    [finding] = findings(RULE, "jetstream", {"spread": {"zones": "preferred"}})
    assert str(finding) == (
        "error[zone-anti-affinity] spec.jetstream.affinity.podAntiAffinity: the spread across "
        f"{ZONE} is only preferred (the scheduler may still co-locate replicas), expected a required "
        f"podAntiAffinity term on {ZONE}\n"
        "  set by overlay 'case' (overlays/case.yaml:3)\n"
        "  fix: set spread.zones to required (or add the term to jetstream.affinity.podAntiAffinity)")


@pytest.mark.parametrize("zones, expected", [("preferred", []), ("none", [ANTI])])
def test_staging_accepts_a_preferred_spread_but_warns_without_one(evaluate, zones, expected):
    evaluation = evaluate("jetstream", {"spread": {"zones": zones}}, profile="staging")
    found = [f for f in evaluation.findings if f.rule == RULE]
    assert [f.path_text for f in found] == expected
    assert all(f.level == "warning" for f in found)


@pytest.mark.parametrize("selector, matches", [
    (None, False),
    ({}, True),
    ({"matchLabels": {"a": "1"}}, True),
    ({"matchLabels": {"a": "2"}}, False),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "b", "operator": "Exists"}]}, False),
    ({"matchExpressions": [{"key": "b", "operator": "DoesNotExist"}]}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["2"]}]}, True),
])
def test_label_selectors_follow_kubernetes_semantics(selector, matches):
    assert selector_matches(selector, {"a": "1"}) is matches
