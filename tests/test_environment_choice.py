"""An app file that lists environments is never rendered as something nobody chose.

Without ``--env`` (or Argo CD's ``environment`` parameter) such an app is refused,
naming its environments and how to choose one, unless the app file declares
``defaultEnvironment: NAME``.
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.argocd.helpers import write_app

ENVIRONMENTS = """\
backend: jetstream
environments:
  dev: {}
  prod:
    profile: prod
    values:
      jetstream:
        replicas: 5
"""
DEFAULTED = ENVIRONMENTS + "defaultEnvironment: prod\n"


def assert_refused(result, *fragments):
    assert result.code == 2, (result.code, result.err)
    assert result.out == ""
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err, result.err


@pytest.mark.parametrize("command", [["render"], ["render", "--format", "json"], ["check"], ["explain"],
                                     ["explain", "jetstream.replicas"]])
def test_a_command_without_env_on_an_app_with_environments_is_refused_naming_them(make_app, cli, command):
    app = make_app(ENVIRONMENTS)
    assert_refused(cli(*command, "--app", app), "eventbus-render.yaml:2:1", "no environment chosen",
                   "dev, prod", "--env NAME", "defaultEnvironment")


def test_the_refusal_names_the_argo_cd_parameter_too(make_app, cli):
    assert_refused(cli("render", "--app", make_app(ENVIRONMENTS)), "parameter 'environment'")


@pytest.mark.parametrize("command", [["render"], ["check"], ["explain"]])
def test_choosing_an_environment_renders_it(make_app, cli, command):
    result = cli(*command, "--app", make_app(ENVIRONMENTS), "--env", "dev")
    assert result.code == 0, result.err


def test_an_app_without_environments_still_renders_without_env(make_app, cli):
    result = cli("render", "--app", make_app("backend: jetstream\n"))
    assert result.code == 0, result.err


def test_an_empty_environments_mapping_needs_no_choice(make_app, cli):
    result = cli("render", "--app", make_app("backend: jetstream\nenvironments: {}\n"))
    assert result.code == 0, result.err


def test_default_environment_is_rendered_when_none_is_chosen(make_app, cli):
    app = make_app(DEFAULTED)
    implicit, explicit = cli("render", "--app", app), cli("render", "--app", app, "--env", "prod")
    assert implicit.code == 0, implicit.err
    assert implicit.out == explicit.out
    manifest = next(yaml.safe_load_all(implicit.out))
    assert manifest["spec"]["jetstream"]["replicas"] == 5
    assert manifest["metadata"]["annotations"]["eventbus-render/environment"] == "prod"


def test_env_overrides_default_environment(make_app, cli):
    result = cli("render", "--app", make_app(DEFAULTED), "--env", "dev")
    assert result.code == 0, result.err
    assert next(yaml.safe_load_all(result.out))["metadata"]["annotations"]["eventbus-render/environment"] == "dev"


def test_explain_reports_the_default_environment_it_used(make_app, cli):
    result = cli("explain", "--app", make_app(DEFAULTED), "jetstream.replicas")
    assert result.code == 0, result.err
    assert "environment prod" in result.out
    assert "jetstream.replicas = 5" in result.out


def test_check_judges_the_default_environment(make_app, cli):
    result = cli("check", "--app", make_app(DEFAULTED))
    assert result.code == 0, result.err
    result = cli("check", "--app", make_app(DEFAULTED.replace("replicas: 5", "replicas: 1"), name="bad"))
    assert result.code == 1, result.err


@pytest.mark.parametrize("text, fragments", [
    (ENVIRONMENTS + "defaultEnvironment: prd\n", ["eventbus-render.yaml:9:1", "'prd'", "did you mean 'prod'",
                                                   "known environments: dev, prod"]),
    ("backend: jetstream\ndefaultEnvironment: prod\n", ["eventbus-render.yaml:2:1", "'prod'", "none"]),
    (ENVIRONMENTS + "defaultEnvironment: ../prod\n", ["eventbus-render.yaml:9:1", "defaultEnvironment"]),
], ids=["typo", "no-environments", "not-a-name"])
def test_a_default_environment_that_is_not_one_of_the_environments_is_an_error_at_its_line(
        make_app, cli, text, fragments):
    result = cli("render", "--app", make_app(text), "--env", "dev")
    assert_refused(result, *fragments)


def test_an_unknown_env_suggests_the_closest(make_app, cli):
    assert_refused(cli("render", "--app", make_app(ENVIRONMENTS), "--env", "prdo"),
                   "unknown environment 'prdo'", "did you mean 'prod'", "known environments: dev, prod")


def test_the_pytest_plugin_refuses_an_app_with_environments_without_one(make_app):
    from renderer.pytest_plugin import EventBusRenderer

    render = EventBusRenderer(make_app(ENVIRONMENTS).parent)
    with pytest.raises(pytest.fail.Exception, match="no environment chosen") as failure:
        render("app")
    assert "dev, prod" in str(failure.value)
    assert "kind: EventBus" in render("app", "dev")
    assert "replicas: 5" in EventBusRenderer(make_app(DEFAULTED, name="defaulted").parent)("defaulted")


# -- Argo CD ------------------------------------------------------------------------------------



def test_argo_cd_without_the_environment_parameter_is_refused(tmp_path, sim):
    write_app(tmp_path / "repo" / "apps" / "orders", ENVIRONMENTS)
    result = sim(tmp_path / "repo", "apps/orders")
    assert result.code == 1 and result.out == ""
    assert "exit status 2" in result.err
    assert "no environment chosen" in result.err and "dev, prod" in result.err
    assert "parameter 'environment'" in result.err


def test_argo_cd_with_the_environment_parameter_renders_it(tmp_path, sim):
    write_app(tmp_path / "repo" / "apps" / "orders", ENVIRONMENTS)
    result = sim(tmp_path / "repo", "apps/orders", "--param", "environment=prod")
    assert result.code == 0, result.err
    assert result.objects[0]["spec"]["jetstream"]["replicas"] == 5


def test_argo_cd_with_an_env_variable_choosing_the_environment_renders_it(tmp_path, sim):
    write_app(tmp_path / "repo" / "apps" / "orders", ENVIRONMENTS)
    result = sim(tmp_path / "repo", "apps/orders", "--env", "ENVIRONMENT=dev")
    assert result.code == 0, result.err
    assert result.objects[0]["metadata"]["annotations"]["eventbus-render/environment"] == "dev"


def test_argo_cd_renders_the_default_environment_and_announces_it(tmp_path, sim):
    write_app(tmp_path / "repo" / "apps" / "orders", DEFAULTED)
    result = sim(tmp_path / "repo", "apps/orders")
    assert result.code == 0, result.err
    assert result.objects[0]["spec"]["jetstream"]["replicas"] == 5
    announced = sim(tmp_path / "repo", "apps/orders", "--parameters")
    assert announced.code == 0, announced.err
    environment = next(p for p in json.loads(announced.out) if p["name"] == "environment")
    assert environment["string"] == "prod"
