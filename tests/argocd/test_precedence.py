"""Env and parameters reach the render with the documented precedence: app file < ARGOCD_ENV_* < parameters."""

from __future__ import annotations

import json

from tests.argocd.helpers import run_cli, write_app

ENVIRONMENTS_APP = """\
    backend: jetstream
    profile: dev
    namespace: orders
    environments:
      staging:
        profile: staging
        name: orders-staging
      live:
        profile: prod
        overlays: [monitoring]
"""


def bus(result):
    """The EventBus Argo CD got (the first object); anything after it is that bus's PodDisruptionBudget."""
    assert result.code == 0, result.err
    obj, *beside = result.objects
    assert obj["kind"] == "EventBus"
    name, namespace = obj["metadata"]["name"], obj["metadata"]["namespace"]
    assert [(b["kind"], b["metadata"]["name"], b["metadata"]["namespace"]) for b in beside] in (
        [], [("PodDisruptionBudget", f"eventbus-{name}-pdb", namespace)])
    return obj


def annotations(obj) -> dict:
    return obj["metadata"].get("annotations", {})


def test_the_app_file_decides_when_nothing_else_is_set(repo, sim):
    obj = bus(sim(repo, "apps/payments"))
    assert annotations(obj)["eventbus-render/profile"] == "prod"
    assert obj["metadata"]["labels"]["team"] == "payments"
    assert obj["metadata"]["name"] == "default"


def test_env_overrides_the_app_file(repo, sim):
    obj = bus(sim(repo, "apps/payments", "--env", "PROFILE=staging", "--env", "VALUES=labels.team=platform",
                   "--env", "NAME=bus-a", "--env", "OVERLAYS=ha, monitoring"))
    assert annotations(obj)["eventbus-render/profile"] == "staging"
    assert annotations(obj)["eventbus-render/overlays"] == "ha,monitoring"
    assert obj["metadata"]["labels"]["team"] == "platform"
    assert obj["metadata"]["name"] == "bus-a"


def test_parameters_override_env(repo, sim):
    obj = bus(sim(repo, "apps/payments",
                   "--env", "PROFILE=staging", "--env", "VALUES=labels.team=platform\nlabels.tier=gold",
                   "--env", "NAME=bus-a", "--env", "OVERLAYS=ha",
                   "--param", "profile=dev", "--param-map", "values=labels.team=orders",
                   "--param", "name=bus-b", "--param-array", "overlays=monitoring"))
    assert annotations(obj)["eventbus-render/profile"] == "dev"
    # the parameter replaces the env's overlay list (both are appended after the app file's)
    assert annotations(obj)["eventbus-render/overlays"] == "monitoring"
    labels = obj["metadata"]["labels"]
    assert (labels["team"], labels["tier"]) == ("orders", "gold")  # values merge: the parameter wins per path
    assert obj["metadata"]["name"] == "bus-b"


def test_the_destination_namespace_is_the_default_namespace(repo, sim):
    assert bus(sim(repo, "apps/payments", "--app-namespace", "team-a"))["metadata"]["namespace"] == "team-a"


def test_a_namespace_from_the_app_file_env_or_parameters_beats_the_destination(repo, sim):
    write_app(repo / "apps" / "named", "backend: jetstream\nprofile: dev\nnamespace: from-file\n")
    assert bus(sim(repo, "apps/named", "--app-namespace", "dest"))["metadata"]["namespace"] == "from-file"
    assert bus(sim(repo, "apps/named", "--app-namespace", "dest", "--env", "NAMESPACE=from-env"))[
        "metadata"]["namespace"] == "from-env"
    assert bus(sim(repo, "apps/named", "--app-namespace", "dest", "--env", "NAMESPACE=from-env",
                    "--param", "namespace=from-param"))["metadata"]["namespace"] == "from-param"


def test_the_environment_parameter_selects_an_entry_of_the_app_file(repo, sim):
    write_app(repo / "apps" / "orders", ENVIRONMENTS_APP)
    obj = bus(sim(repo, "apps/orders", "--param", "environment=staging"))
    assert obj["metadata"]["name"] == "orders-staging"
    assert annotations(obj)["eventbus-render/environment"] == "staging"
    assert annotations(obj)["eventbus-render/profile"] == "staging"
    # env ENVIRONMENT is overridden by the parameter, and a profile parameter beats the entry's profile
    obj = bus(sim(repo, "apps/orders", "--env", "ENVIRONMENT=staging", "--param", "environment=live"))
    assert annotations(obj)["eventbus-render/environment"] == "live"
    assert annotations(obj)["eventbus-render/overlays"] == "monitoring"
    obj = bus(sim(repo, "apps/orders", "--param", "environment=staging", "--param", "profile=dev"))
    assert annotations(obj)["eventbus-render/profile"] == "dev"


def test_map_keys_with_dots_arrive_intact_through_the_parameters_json(repo, sim):
    # Argo CD also sends PARAM_VALUES_JETSTREAM_REPLICAS, which cannot be mapped back; the JSON is used.
    obj = bus(sim(repo, "apps/payments", "--param-map", "values=jetstream.replicas=5,labels.example\\.com/team=x"))
    assert obj["spec"]["jetstream"]["replicas"] == 5
    assert obj["metadata"]["labels"]["example.com/team"] == "x"


def test_values_are_typed_like_set_and_quoted_for_go_yaml(repo, sim):
    write_app(repo / "apps" / "kafka", "backend: kafka\nprofile: dev\nvalues:\n  kafka:\n    url: k:9092\n")
    obj = bus(sim(repo, "apps/kafka", "--param-map", "values=kafka.topic=2.10,labels.flag=on,labels.n=012"))
    assert obj["spec"]["kafka"]["topic"] == "2.10"  # a string field stays the text typed
    assert obj["metadata"]["labels"]["flag"] == "on"  # not a YAML 1.1 boolean once Argo CD parses it
    assert obj["metadata"]["labels"]["n"] == "012"


def test_unknown_env_names_are_ignored_with_a_warning(repo, sim):
    result = sim(repo, "apps/payments", "--env", "PROFLE=dev", "--env", "SHELL_COMMAND=rm -rf /")
    obj = bus(result)
    assert annotations(obj)["eventbus-render/profile"] == "prod"
    assert "warning: ignoring ARGOCD_ENV_PROFLE (did you mean ARGOCD_ENV_PROFILE?)" in result.err
    assert "warning: ignoring ARGOCD_ENV_SHELL_COMMAND" in result.err


def test_param_variables_are_read_when_the_parameters_json_is_absent(tmp_path):
    app = write_app(tmp_path / "app")
    result = run_cli("argocd", "generate", cwd=app,
                     env={"PARAM_PROFILE": "staging", "PARAM_OVERLAYS_0": "ha", "PARAM_OVERLAYS_1": "monitoring",
                          "PARAM_NAME": "bus-p"})
    assert result.code == 0, result.err
    assert "eventbus-render/profile: staging" in result.out
    assert 'eventbus-render/overlays: "ha,monitoring"' in result.out
    assert "name: bus-p" in result.out


def test_the_parameters_json_wins_over_param_variables(tmp_path):
    app = write_app(tmp_path / "app")
    result = run_cli("argocd", "generate", cwd=app,
                     env={"ARGOCD_APP_PARAMETERS": json.dumps([{"name": "profile", "string": "staging"}]),
                          "PARAM_PROFILE": "dev", "PARAM_BOGUS": "x"})
    assert result.code == 0, result.err
    assert "eventbus-render/profile: staging" in result.out


def test_a_values_map_cannot_be_recovered_from_param_variables(tmp_path):
    app = write_app(tmp_path / "app")
    result = run_cli("argocd", "generate", cwd=app, env={"PARAM_VALUES_JETSTREAM_REPLICAS": "5"})
    assert (result.code, result.out) == (2, "")
    assert "PARAM_VALUES_JETSTREAM_REPLICAS" in result.err and "ARGOCD_APP_PARAMETERS" in result.err
