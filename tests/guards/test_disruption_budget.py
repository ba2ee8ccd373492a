"""disruption-budget: a NATS native or JetStream bus has a budget that selects its pods, keeps its quorum and lets a
drain through (upstream argo-events v1.9.11 docs/dr_ha_recommendations.md:101-118 recommends maxUnavailable 1 for
3 replicas; the controller itself creates none)."""

from __future__ import annotations

import pytest

from renderer.pipeline import RenderRequest, render
from renderer.stages import guards
from tests.guards.conftest import TODAY, write_case

RULE = "disruption-budget"
MAX = "PodDisruptionBudget.spec.maxUnavailable"
MIN = "PodDisruptionBudget.spec.minAvailable"


def budget(maximum=1, minimum=None, enabled=True) -> dict:
    return {"disruptionBudget": {"enabled": enabled, "maxUnavailable": maximum, "minAvailable": minimum}}


def js(replicas: int, **budget_options) -> dict:
    stream = {} if replicas >= 3 else {"streamConfig": "replicas: 1\n"}
    return {"jetstream": {"replicas": replicas, **stream}, **budget(**budget_options)}


def native(replicas: int, **budget_options) -> dict:
    return {"nats": {"native": {"replicas": replicas}}, **budget(**budget_options)}


@pytest.mark.parametrize("backend, values, expected", [
    ("jetstream", None, []),  # the prod profile's budget: maxUnavailable 1 of 3
    ("jetstream", js(3), []),
    ("jetstream", js(4), []),  # 4 survive one loss, like 3
    ("jetstream", js(5, maximum=2), []),
    ("jetstream", js(5), []),  # 1 of 5: safe, drains are slower
    ("jetstream", js(3, maximum=2), [MAX]),  # two of three: the quorum goes
    ("jetstream", js(4, maximum=2), [MAX]),
    ("jetstream", js(5, maximum=3), [MAX]),
    ("jetstream", js(3, maximum=0), [MAX]),  # blocks every drain
    ("jetstream", js(3, maximum=None, minimum=2), []),
    ("jetstream", js(5, maximum=None, minimum=3), []),
    ("jetstream", js(3, maximum=None, minimum=3), [MIN]),  # blocks every drain
    ("jetstream", js(3, maximum=None, minimum=5), [MIN]),
    ("jetstream", js(3, maximum=None, minimum=1), [MIN]),  # two may go
    ("jetstream", js(3, maximum=None, minimum=0), [MIN]),
    ("jetstream", js(1), [MAX]),  # one server: no budget keeps a quorum and lets a drain through
    ("jetstream", js(1, maximum=0), [MAX]),
    ("jetstream", js(3, enabled=False), ["PodDisruptionBudget"]),
    ("nats-native", None, []),
    ("nats-native", native(5, maximum=2), []),
    ("nats-native", native(3, maximum=2), [MAX]),
    ("nats-native", native(3, maximum=None, minimum=3), [MIN]),
    ("nats-native", native(3, enabled=False), ["PodDisruptionBudget"]),
    ("kafka", {"disruptionBudget": {"enabled": False}}, []),  # no pods of its own: nothing to protect
    ("jetstream-exotic", None, []),
    ("nats-exotic", {"disruptionBudget": {"enabled": True}}, []),
], ids=["prod-default", "3-of-1", "4-of-1", "5-of-2", "5-of-1", "3-of-2", "4-of-2", "5-of-3", "max-0", "min-2-of-3",
        "min-3-of-5", "min-3-of-3", "min-5-of-3", "min-1-of-3", "min-0-of-3", "1-replica", "1-replica-max-0",
        "missing", "native-default", "native-5-of-2", "native-3-of-2", "native-min-3-of-3", "native-missing",
        "kafka", "jetstream-exotic", "nats-exotic"])
def test_budgets_that_lose_the_quorum_or_block_drains_are_violations(violations, backend, values, expected):
    assert violations(RULE, backend, values) == expected


def test_a_budget_that_loses_the_quorum_says_how_many_go_and_where_the_value_was_set(findings):
    [finding] = findings(RULE, "jetstream", js(3, maximum=2))
    assert str(finding) == (
        "error[disruption-budget] PodDisruptionBudget.spec.maxUnavailable: maxUnavailable 2 with 3 replicas lets 2 "
        "servers go at once, and the quorum with them, expected 1 unavailable (maxUnavailable 1, or minAvailable 2)\n"
        "  set by overlay 'case' (overlays/case.yaml:6)\n"
        "  fix: set disruptionBudget.maxUnavailable to 1")


def test_a_budget_that_blocks_every_drain_says_so(findings):
    [finding] = findings(RULE, "jetstream", js(5, maximum=None, minimum=5))
    assert finding.actual == ("minAvailable 5 with 5 replicas blocks every eviction: a node drain waits until the "
                              "budget is deleted by hand")
    assert finding.expected == "1 to 2 unavailable (maxUnavailable 1 to 2, or minAvailable 3 to 4)"
    assert finding.fix == "set disruptionBudget.maxUnavailable to 1, and minAvailable to null"


def test_a_missing_budget_points_at_the_setting_that_turned_it_off(findings):
    [finding] = findings(RULE, "jetstream", sets=["disruptionBudget.enabled=false"])
    assert finding.path == ("PodDisruptionBudget",)
    assert "set on the command line by --set disruptionBudget.enabled=false" in str(finding)
    assert finding.fix == "set disruptionBudget.enabled to true"


def test_a_profile_may_accept_buses_without_a_budget(violations):
    profile = "extends: prod\nguards:\n  disruption-budget: {require: false}\n"
    assert violations(RULE, "jetstream", js(3, enabled=False), profile="team",
                      files={"profiles/team.yaml": profile}) == []


def test_a_budget_that_selects_other_pods_is_a_violation(tmp_path):
    rendered = render(RenderRequest(write_case(tmp_path / "app", "jetstream"), run_guards=False))
    rendered.companions[0]["spec"]["selector"] = {"matchLabels": {"controller": "eventbus-controller",
                                                                  "eventbus-name": "other"}}
    found = [f for f in guards.evaluate(rendered, today=TODAY).findings if f.rule == RULE]
    assert [(f.path_text, f.actual) for f in found] == [
        ("PodDisruptionBudget.spec.selector", "the budget does not select this bus's pods")]


@pytest.mark.parametrize("path, value", [
    (MAX, 2),
    ("PodDisruptionBudget", None),
])
def test_the_printed_waiver_excuses_exactly_that_budget(tmp_path, path, value):
    values = js(3, maximum=2) if value == 2 else js(3, enabled=False)
    waiver = {"rule": RULE, "path": path, "value": value, "reason": "drained by hand", "owner": "team",
              "expires": "2999-12-31"}
    root = write_case(tmp_path / "app", "jetstream", values, extra={"waivers": [waiver]})
    evaluation = guards.evaluate(render(RenderRequest(root, run_guards=False)), today=TODAY)
    assert [(f.rule, f.waived) for f in evaluation.findings] == [(RULE, True)]
    other = write_case(tmp_path / "other", "jetstream", js(5, maximum=3) if value == 2 else js(3, maximum=2),
                       extra={"waivers": [waiver]})
    stale = guards.evaluate(render(RenderRequest(other, run_guards=False)), today=TODAY)
    assert [f.rule for f in stale.errors] and not stale.waived  # another value is not waived
