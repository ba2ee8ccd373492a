"""Argo CD applies the PodDisruptionBudget with the EventBus: ``generate`` prints both, the simulator parses both."""

from __future__ import annotations

import yaml

from tests.argocd.helpers import run_cli, write_app


def test_generate_gives_argo_cd_the_bus_and_its_budget_as_the_command_line_renders_them(repo, sim):
    result = sim(repo, "apps/payments", "--app-namespace", "payments")
    assert result.code == 0, result.err
    assert "generate: ok, 2 object(s)" in result.err
    bus, budget = result.objects
    assert (bus["kind"], budget["kind"], budget["apiVersion"]) == ("EventBus", "PodDisruptionBudget", "policy/v1")
    assert budget["metadata"] | {"labels": None, "annotations": None} == {
        "name": "eventbus-default-pdb", "namespace": "payments", "labels": None, "annotations": None}
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "controller": "eventbus-controller", "eventbus-name": "default"}}}
    local = run_cli("render", "--app", str(repo / "apps" / "payments"))
    expected = [doc for doc in yaml.safe_load_all(local.out) if doc]
    for obj in expected:  # the Application's destination namespace
        obj["metadata"]["namespace"] = "payments"
    assert result.objects == expected


def test_parameters_reach_the_budget_and_a_bus_without_pods_gives_argo_cd_only_the_bus(repo, sim):
    result = sim(repo, "apps/payments", "--param-map", "values=jetstream.replicas=5,disruptionBudget.maxUnavailable=2")
    assert result.code == 0, result.err
    assert result.objects[1]["spec"]["maxUnavailable"] == 2
    unsafe = sim(repo, "apps/payments", "--param-map", "values=disruptionBudget.maxUnavailable=2")
    assert unsafe.code != 0 and unsafe.out == ""
    assert "error[disruption-budget] PodDisruptionBudget.spec.maxUnavailable" in unsafe.err
    write_app(repo / "apps" / "events", """\
        backend: kafka
        profile: dev
        values:
          kafka: {url: "kafka:9092", topic: events}
    """)
    kafka = sim(repo, "apps/events", "--param-map", "values=disruptionBudget.enabled=true")
    assert kafka.code == 0, kafka.err
    assert [obj["kind"] for obj in kafka.objects] == ["EventBus"]
