"""``diff`` shows the PodDisruptionBudget beside a bus as an object of its own: its changes with the layer that made
them, budgets that appear and disappear, and, loudly, a budget whose selector changes (it protects other pods)."""

from __future__ import annotations

import json

import pytest

from tests.review.helpers import app_file

PRIORITY = "values: {jetstream: {priorityClassName: eventbus-critical}}\n"
APP = app_file("orders", "payments", "jetstream", "staging", "staging: {}\nprod: {profile: prod}\n", PRIORITY)


@pytest.fixture
def repo(make_repo):
    repo = make_repo()
    repo.write({"apps/orders/eventbus-render.yaml": APP})
    repo.commit("base")
    return repo


def diff_json(cli, repo) -> dict:
    result = cli("diff", "--root", repo.path, "--base", "HEAD", "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def objects(document) -> list:
    return [(env["name"], o["status"], o["kind"], o["name"]) for env in document["environments"]
            for o in env["objects"]]


def test_a_changed_budget_is_an_object_change_naming_the_layer_that_made_it(cli, repo):
    (repo.path / "apps/orders/eventbus-render.yaml").write_text(
        APP.replace("prod: {profile: prod}", "prod: {profile: prod, values: {jetstream: {replicas: 5}, "
                                             "disruptionBudget: {maxUnavailable: 2}}}"))
    document = diff_json(cli, repo)
    assert objects(document) == [("prod", "changed", "EventBus", "orders"),
                                 ("prod", "changed", "PodDisruptionBudget", "eventbus-orders-pdb")]
    budget = document["environments"][0]["objects"][1]
    [change] = budget["changes"]
    assert (change["path"], change["base"], change["head"]) == ("spec.maxUnavailable", 1, 2)
    assert (change["origin"]["layer"], change["origin"]["file"], change["origin"]["line"]) == (
        "environment", "apps/orders/eventbus-render.yaml", 8)
    assert budget["notices"] == []  # the same pods: nothing to flag
    assert budget["head"]["file"] == "prod/payments/poddisruptionbudget-eventbus-orders-pdb.yaml"
    text = cli("diff", "--root", repo.path, "--base", "HEAD").out
    assert "~ PodDisruptionBudget payments/eventbus-orders-pdb [changed] (app apps/orders)" in text
    assert "  spec.maxUnavailable: 1 -> 2, set by environment prod (apps/orders/eventbus-render.yaml:8)" in text
    assert "-  maxUnavailable: 1\n+  maxUnavailable: 2\n" in text


def test_a_budget_turned_off_is_removed_and_one_turned_on_added(cli, repo):
    (repo.path / "apps/orders/eventbus-render.yaml").write_text(
        APP.replace("staging: {}", "staging: {values: {disruptionBudget: {enabled: false}}}")
        + "  dev: {profile: dev, values: {disruptionBudget: {enabled: true}}}\n")
    document = diff_json(cli, repo)
    assert objects(document) == [("dev", "added", "EventBus", "orders"),
                                 ("dev", "added", "PodDisruptionBudget", "eventbus-orders-pdb"),
                                 ("staging", "guards", "EventBus", "orders"),
                                 ("staging", "removed", "PodDisruptionBudget", "eventbus-orders-pdb")]
    staging_bus = document["environments"][2]["objects"][0]
    assert [(f["rule"], f["level"], f["path"]) for f in staging_bus["guards"]["appeared"]] == [
        ("disruption-budget", "warning", "PodDisruptionBudget")]
    assert document["summary"]["objects"]["unchanged"] == 2  # prod's bus and budget


def test_renaming_the_bus_renames_its_budget_and_flags_that_it_selects_other_pods(cli, repo):
    (repo.path / "apps/orders/eventbus-render.yaml").write_text(APP.replace("name: orders", "name: billing"))
    document = diff_json(cli, repo)
    assert ("prod", "renamed", "PodDisruptionBudget", "eventbus-billing-pdb") in objects(document)
    budget = [o for env in document["environments"] for o in env["objects"]
              if o["kind"] == "PodDisruptionBudget" and env["name"] == "prod"][0]
    assert [(n["kind"], n["message"]) for n in budget["notices"]] == [
        ("selector", "spec.selector changes from controller=eventbus-controller,eventbus-name=orders to "
                     "controller=eventbus-controller,eventbus-name=billing")]
    assert document["summary"]["selector"] == 2 and document["summary"]["recreate"] == 2
    text = cli("diff", "--root", repo.path, "--base", "HEAD").out
    assert "SELECTOR prod PodDisruptionBudget payments/eventbus-orders-pdb -> payments/eventbus-billing-pdb: " \
           "spec.selector changes" in text
    assert "; 2 disruption budgets select other pods." in text
    markdown = cli("diff", "--root", repo.path, "--base", "HEAD", "--format", "markdown").out
    assert "**These disruption budgets select other pods:**" in markdown and "<b>selector</b>" in markdown


def test_a_committed_budget_whose_selector_was_edited_is_flagged_against_the_render(cli, repo, tmp_path):
    out = tmp_path / "rendered"
    assert cli("render", "--all", "--root", repo.path, "-o", out).code == 0
    committed = out / "prod/payments/poddisruptionbudget-eventbus-orders-pdb.yaml"
    committed.write_text(committed.read_text().replace("eventbus-name: orders", "app: orders"))
    result = cli("diff", "--root", repo.path, "--against", out)
    assert result.code == 0, result.err
    assert ("SELECTOR prod PodDisruptionBudget payments/eventbus-orders-pdb: spec.selector changes from "
            "app=orders,controller=eventbus-controller to controller=eventbus-controller,eventbus-name=orders"
            in result.out)
    assert "1 object differs in 1 of 2 environments (1 changed); 1 disruption budget selects other pods." in result.out
