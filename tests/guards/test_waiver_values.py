"""A waiver excuses the value it names, in the environments it names, through every door: `render`, `check`
and Argo CD. A waiver approved for ``replicas: 4`` never excuses ``replicas: 1`` set later by ``--set``, an
overlay, ``ARGOCD_ENV_VALUES`` or a plugin parameter; the report prints the waiver that would, and copying
it into the app file waives exactly that."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from tests.argocd.helpers import write_app

APP = """\
name: default
backend: jetstream
profile: prod
environments:
  prod-eu:
    values: {jetstream: {replicas: 4, priorityClassName: eventbus-critical}}
  prod-us:
    values: {jetstream: {replicas: 4, priorityClassName: eventbus-critical}}
  dev:
    profile: dev
waivers:
  - rule: replica-count
    path: spec.jetstream.replicas
    value: 4
    environments: %s
    reason: the fourth zone comes online in March
    owner: team-payments
    expires: 2999-12-31
"""
BIG = {"overlays/big.yaml": "values:\n  jetstream:\n    replicas: 4\n"}
HEADER = "to waive exactly this value, add to the app file's waivers"
FILLED = {"reason: <why this value is acceptable>": "reason: approved in the test",
          "owner: <person or team>": "owner: team-test",
          "expires: <YYYY-MM-DD, the last day it holds>": "expires: 2999-12-31"}


def app_text(environments: str = "[prod-eu]") -> str:
    return APP % environments


def printed_blocks(report: str) -> list[str]:
    """Every waiver block printed under a violation, dedented as it is meant to be pasted."""
    lines, blocks = report.splitlines(), []
    for number, line in enumerate(lines):
        if HEADER in line:
            indent = len(line) - len(line.lstrip()) + 2
            block = []
            for following in lines[number + 1:]:
                if not following.startswith(" " * indent):
                    break
                block.append(following)
            blocks.append(textwrap.dedent("\n".join(block)))
    return blocks


def approve(app_dir, block: str) -> None:
    """Paste ``block`` under the app file's ``waivers:``, its placeholders filled in."""
    for placeholder, value in FILLED.items():
        assert placeholder in block
        block = block.replace(placeholder, value)
    path = app_dir / "eventbus-render.yaml"
    path.write_text(path.read_text() + textwrap.indent(block, "  ") + "\n")


def test_the_waived_value_renders_in_the_environment_the_waiver_names(make_app, cli):
    result = cli("render", "--app", make_app(app_text()), "--env", "prod-eu")
    assert result.code == 0, result.err
    assert "waived[replica-count]" in result.err
    manifest, budget = [doc for doc in yaml.safe_load_all(result.out) if doc]
    assert "eventbus-render/waivers" not in budget["metadata"]["annotations"]  # the guards judged the bus
    assert manifest["metadata"]["annotations"]["eventbus-render/waivers"] == (
        "replica-count@spec.jetstream.replicas until 2999-12-31 (owner: team-payments)")


@pytest.mark.parametrize("command", ["render", "check"])
@pytest.mark.parametrize("args, files, shown", [
    (("--set", "jetstream.replicas=1"), {}, "1"),
    (("--set", "jetstream.replicas=2"), {}, "2"),
    (("--set", "jetstream.replicas=6"), {}, "6"),
    (("--set", "jetstream.replicas=1", "--overlay", "big"), BIG, "1"),
], ids=["set-1", "set-2", "set-6", "set-over-an-overlay"])
def test_a_waiver_for_one_value_does_not_excuse_another_and_says_it_is_stale(make_app, cli, command, args, files,
                                                                            shown):
    result = cli(command, "--app", make_app(app_text(), files), "--env", "prod-eu", *args)
    assert result.code == 1
    report = result.err if command == "render" else result.out
    assert "waived[" not in report
    assert f"error[replica-count] spec.jetstream.replicas: {shown} replica" in report
    assert (f"error[waiver] waivers[0]: waiver for replica-count at spec.jetstream.replicas is stale: it accepts 4, "
            f"the manifest has {shown} (owner: team-payments)") in report
    assert "remove the waiver" not in report
    if command == "render":
        assert result.out == ""


@pytest.mark.parametrize("command", ["render", "check"])
def test_a_waiver_naming_one_environment_does_not_hold_in_another_and_is_not_called_unused_there(
        make_app, cli, command):
    result = cli(command, "--app", make_app(app_text()), "--env", "prod-us")
    assert result.code == 1
    report = result.err if command == "render" else result.out
    assert "error[replica-count] spec.jetstream.replicas: 4 replicas" in report
    assert "matches no violation" not in report and "remove the waiver" not in report and "stale" not in report
    [block] = printed_blocks(report)
    assert yaml.safe_load(block)[0]["environments"] == ["prod-us"]


def test_a_waiver_without_environments_holds_in_every_environment(make_app, cli):
    app = make_app(app_text().replace("    environments: [prod-eu]\n", ""))
    for environment in ("prod-eu", "prod-us"):
        assert cli("render", "--app", app, "--env", environment).code == 0


def test_a_waiver_of_an_app_with_environments_is_not_called_unused_where_it_matches_nothing(make_app, cli):
    app = make_app(app_text().replace("    environments: [prod-eu]\n", ""))
    result = cli("check", "--app", app, "--env", "prod-eu", "--set", "jetstream.replicas=5", "--strict")
    assert (result.code, result.out) == (0, "guards: no violations (profile 'prod', backend jetstream)\n")


@pytest.mark.parametrize("environments, fix", [
    ("[prod-eu]", "fix: remove the waiver"),
    ("[prod-eu, prod-us]", "fix: remove 'prod-eu' from its environments (prod-us remain)"),
], ids=["only-here", "here-and-elsewhere"])
def test_a_waiver_that_names_this_environment_and_matches_nothing_here_is_a_warning(make_app, cli, environments,
                                                                                   fix):
    result = cli("check", "--app", make_app(app_text(environments)), "--env", "prod-eu", "--set",
                 "jetstream.replicas=5")
    assert result.code == 0
    assert ("warning[waiver] waivers[0]: waiver for replica-count at spec.jetstream.replicas matches no violation in "
            "environment 'prod-eu'") in result.out
    assert fix in result.out


@pytest.mark.parametrize("environments, where, hint", [
    ("[prod-ue]", "eventbus-render.yaml:15:20", "did you mean 'prod-us'?"),
    ("[prod-eu, staging]", "eventbus-render.yaml:15:29", "known: prod-eu, prod-us, dev"),
], ids=["misspelt", "not-listed"])
def test_a_waiver_naming_an_environment_the_app_file_does_not_list_is_an_input_error_at_its_line(
        make_app, cli, environments, where, hint):
    result = cli("render", "--app", make_app(app_text(environments)), "--env", "prod-eu")
    assert (result.code, result.out) == (2, "")
    assert f"{where}: waivers[0].environments" in result.err
    assert "which the app file does not list" in result.err and hint in result.err


def test_environments_in_a_waiver_of_an_app_without_environments_is_an_input_error(make_app, cli):
    text = app_text().replace("environments:\n  prod-eu", "x-environments:\n  prod-eu")
    text = text.split("x-environments:")[0] + "waivers:" + text.split("waivers:")[1]
    result = cli("render", "--app", make_app(text))
    assert result.code == 2
    assert "the app file lists no environments" in result.err


@pytest.mark.parametrize("args", [
    ("--set", "jetstream.replicas=6"),
    ("--set", "jetstream.version=latest"),
    ("--set", "jetstream.persistence=null"),
    ("--set", "labels.example\\.com/team=payments", "--set", "jetstream.replicas=6", "--set",
     "jetstream.version=latest"),
], ids=["a-count", "a-string", "something-missing", "several-at-once"])
@pytest.mark.parametrize("environment", ["prod-us", None], ids=["in-an-environment", "without-environments"])
def test_the_printed_waiver_block_pasted_into_the_app_file_waives_exactly_that_violation(make_app, cli, args,
                                                                                          environment):
    text = app_text() if environment else ("name: default\nbackend: jetstream\nprofile: prod\n"
                                           "values: {jetstream: {priorityClassName: eventbus-critical}}\nwaivers:\n")
    app = make_app(text)
    chosen = ("--env", environment) if environment else ()
    before = cli("check", "--app", app, *chosen, *args)
    assert before.code == 1
    blocks = printed_blocks(before.out)
    assert blocks
    for block in blocks:
        approve(app, block)
    after = cli("check", "--app", app, *chosen, *args)
    assert after.code == 0, after.out + after.err
    assert "error[" not in after.out and "warning[" not in after.out
    assert after.out.count("waived[") == len(blocks)
    again = cli("check", "--app", app, *chosen, "--set", "jetstream.replicas=7")
    assert "waived[" not in again.out  # each pasted waiver holds for its value only


def test_a_violation_about_something_missing_prints_null_as_the_value(make_app, cli):
    result = cli("check", "--app", make_app(app_text()), "--env", "prod-eu", "--set", "jetstream.persistence=null")
    [block] = printed_blocks(result.out)
    assert "value: null  # nothing is set at this path" in block
    assert yaml.safe_load(block)[0]["value"] is None


# -- through Argo CD: parameters and ARGOCD_ENV_VALUES cannot slip a new value past a waiver ------------



@pytest.fixture
def waived_repo(tmp_path):
    root = tmp_path / "repo"
    write_app(root / "apps" / "payments", app_text())
    return root


def argocd_failure(result) -> str:
    assert result.code == 1, (result.code, result.err)
    assert result.out == ""
    return result.err


def test_argo_cd_renders_the_waived_value_in_the_environment_the_waiver_names(waived_repo, sim):
    result = sim(waived_repo, "apps/payments", "--param", "environment=prod-eu")
    assert result.code == 0, result.err
    assert result.objects[0]["metadata"]["annotations"]["eventbus-render/waivers"].startswith("replica-count@")


@pytest.mark.parametrize("args, shown", [
    (("--param-map", "values=jetstream.replicas=1"), "1"),
    (("--param-map", "values=jetstream.replicas=2"), "2"),
    (("--env", "VALUES=jetstream.replicas=1"), "1"),
    (("--env", "VALUES=jetstream.replicas=6"), "6"),
], ids=["parameter-1", "parameter-2", "env-1", "env-6"])
def test_argo_cd_parameters_and_env_values_cannot_slip_another_value_past_a_waiver(waived_repo, sim, args, shown):
    err = argocd_failure(sim(waived_repo, "apps/payments", "--param", "environment=prod-eu", *args))
    assert f"error[replica-count] spec.jetstream.replicas: {shown} replica" in err
    assert f"is stale: it accepts 4, the manifest has {shown}" in err


def test_argo_cd_holds_a_waiver_to_the_environments_it_names(waived_repo, sim):
    err = argocd_failure(sim(waived_repo, "apps/payments", "--param", "environment=prod-us"))
    assert "error[replica-count] spec.jetstream.replicas: 4 replicas" in err
    assert "environments: [prod-us]" in err


def test_the_evaluation_names_the_waivers_idle_in_its_environment_so_a_caller_can_judge_every_environment(
        make_app):
    from renderer.pipeline import RenderRequest, render
    from renderer.stages import guards

    app = make_app(app_text().replace("    environments: [prod-eu]\n", ""))
    idle = {}
    for environment, sets in (("prod-eu", ()), ("prod-us", ("jetstream.replicas=5",)), ("dev", ())):
        rendered = render(RenderRequest(app, environment=environment, sets=sets, run_guards=False))
        idle[environment] = guards.evaluate(rendered, today="2026-06-15").idle
    assert idle == {"prod-eu": [], "prod-us": [0], "dev": []}  # replica-count is off in dev: nothing to judge
