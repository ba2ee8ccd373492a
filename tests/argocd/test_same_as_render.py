"""What Argo CD gets from the plugin is what `eventbus-render render` prints for the same inputs."""

from __future__ import annotations

import shutil

import yaml

from tests.argocd.helpers import ROOT, run_cli, write_app

EXAMPLES = ROOT / "examples"


def parsed(text: str) -> list:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def sim_args(plugin: dict) -> list:
    """Simulator flags for an Application's spec.source.plugin (env and parameters)."""
    args = []
    for entry in plugin.get("env") or []:
        args += ["--env", f"{entry['name']}={entry['value']}"]
    for parameter in plugin.get("parameters") or []:
        if "string" in parameter:
            args += ["--param", f"{parameter['name']}={parameter['string']}"]
        elif "array" in parameter:
            args += ["--param-array", f"{parameter['name']}={','.join(parameter['array'])}"]
        else:
            pairs = ",".join(f"{k}={v}" for k, v in parameter["map"].items())
            args += ["--param-map", f"{parameter['name']}={pairs}"]
    return args


def test_plain_generate_equals_render(repo, sim):
    result = sim(repo, "apps/payments", "--app-namespace", "argo-events")
    assert result.code == 0, result.err
    local = run_cli("render", "--app", str(repo / "apps" / "payments"))
    assert local.code == 0, local.err
    assert result.objects == parsed(local.out)


def test_generate_with_env_and_parameters_equals_render_with_the_same_flags(repo, sim):
    write_app(repo / "apps" / "orders", "backend: jetstream\nprofile: dev\nnamespace: orders\n"
                                        "environments:\n  live:\n    profile: staging\n")
    result = sim(repo, "apps/orders", "--param", "environment=live", "--param-array", "overlays=ha,monitoring",
                 "--param-map", "values=jetstream.replicas=5,labels.team=orders")
    assert result.code == 0, result.err
    local = run_cli("render", "--app", str(repo / "apps" / "orders"), "--env", "live", "--overlay", "ha",
                    "--overlay", "monitoring", "--set", "jetstream.replicas=5", "--set", "labels.team=orders")
    assert local.code == 0, local.err
    assert result.objects == parsed(local.out)


def test_the_example_application_renders_what_the_command_line_renders(tmp_path, sim):
    app = yaml.safe_load((EXAMPLES / "argocd" / "application.yaml").read_text())
    source = app["spec"]["source"]
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo / "examples")
    result = sim(repo, source["path"], "--app-namespace", app["spec"]["destination"]["namespace"],
                 *sim_args(source["plugin"]))
    assert result.code == 0, result.err
    # The same inputs as flags: env first, parameters after (they win).
    local = run_cli("render", "--app", str(repo / source["path"]), "--profile", "prod", "--overlay", "ha",
                    "--set", "labels.cost-center=cc-4711", "--set", "jetstream.replicas=3",
                    "--set", "jetstream.replicas=5")
    assert local.code == 0, local.err
    expected = parsed(local.out)
    for obj in expected:  # the namespace parameter: the EventBus's, and its PodDisruptionBudget's
        obj["metadata"]["namespace"] = "argo-events"
    assert [obj["kind"] for obj in expected] == ["EventBus", "PodDisruptionBudget"]
    assert result.objects == expected


def test_every_environment_of_the_example_applicationset_renders_like_render_env(tmp_path, sim):
    appset = yaml.safe_load((EXAMPLES / "argocd" / "applicationset.yaml").read_text())
    template = appset["spec"]["template"]["spec"]
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo / "examples")
    elements = appset["spec"]["generators"][0]["matrix"]["generators"][0]["list"]["elements"]
    for element in elements:
        env = element["env"]
        result = sim(repo, template["source"]["path"], "--app-namespace", template["destination"]["namespace"],
                     "--param", f"environment={env}")
        assert result.code == 0, f"{env}: {result.err}"
        local = run_cli("render", "--app", str(repo / template["source"]["path"]), "--env", env)
        assert result.objects == parsed(local.out), env


def test_nothing_that_changes_per_commit_or_per_application_reaches_the_output(repo, sim):
    first = sim(repo, "apps/payments", "--app-name", "argocd_eventbus", "--revision", "a" * 40)
    second = sim(repo, "apps/payments", "--app-name", "team-a_payments", "--revision", "b" * 40,
                 "--target-revision", "v2", "--project", "other")
    assert first.code == second.code == 0
    assert first.out == second.out
    for value in ("a" * 7, "b" * 7, "argocd_eventbus", "team-a_payments"):
        assert value not in first.out + second.out


def test_generate_output_is_the_exact_render_text(repo):
    app = repo / "apps" / "payments"
    generated = run_cli("argocd", "generate", cwd=app, env={"ARGOCD_APP_NAMESPACE": "argo-events"})
    rendered = run_cli("render", "--app", str(app))
    assert generated.code == rendered.code == 0
    assert generated.out == rendered.out
    assert generated.err == rendered.err
