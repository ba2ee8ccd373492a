"""The repository layer through the whole-repository commands: render --all, check --all, check FILE..., diff
(both revisions read their own layer; a change to a shared file changes every app that uses it), and the pytest
plugin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from renderer.commands import bulk
from renderer.commands.diff import reuse
from renderer.commands.diff.sides import render_both
from tests.files import write_files

pytest_plugins = ["pytester"]

PROD_EU = """\
description: EU production.
extends: prod
values:
  jetstream:
    persistence:
      storageClassName: premium-rwo
  nats:
    native:
      persistence:
        storageClassName: premium-rwo
guards:
  capacity: {zones: 3}
"""
REGION = "values:\n  labels:\n    region: eu\n"
ORDERS = """\
backend: jetstream
namespace: orders
environments:
  dev: {profile: dev}
  prod-eu:
    profile: prod-eu
    overlays: [region]
"""
PAYMENTS = """\
backend: nats-native
namespace: payments
environments:
  prod-eu: {profile: prod-eu}
"""


def files() -> dict:
    return {".eventbus-render/profiles/prod-eu.yaml": PROD_EU, ".eventbus-render/overlays/region.yaml": REGION,
            "apps/orders/eventbus-render.yaml": ORDERS, "apps/payments/eventbus-render.yaml": PAYMENTS}


def write(root: Path, found: dict, git: bool = True) -> Path:
    return write_files(root, found, git=git)


@pytest.fixture
def repo(tmp_path):
    return write(tmp_path / "repo", files())


# -- render --all, check --all, check FILE... ----------------------------------------------------------


@pytest.mark.parametrize("root", [".", "apps"])
def test_render_all_renders_every_app_below_the_layer_and_names_shared_files_from_the_repository_root(repo, cli,
                                                                                                      root):
    result = cli("render", "--all", "--root", repo / root, "-o", repo.parent / "out")
    assert result.code == 0, result.err
    written = sorted(p.relative_to(repo.parent / "out").as_posix() for p in (repo.parent / "out").rglob("*.yaml")
                     if not p.name.endswith("-pdb.yaml"))  # the prod buses' PodDisruptionBudgets beside them
    assert written == ["dev/orders/eventbus-default.yaml", "prod-eu/orders/eventbus-default.yaml",
                       "prod-eu/payments/eventbus-default.yaml"]
    assert "premium-rwo" in (repo.parent / "out/prod-eu/payments/eventbus-default.yaml").read_text()
    (repo / ".eventbus-render/profiles/prod-eu.yaml").write_text(PROD_EU + "  replica-count: {min: 5}\n")
    result = cli("render", "--all", "--root", repo / root)
    assert result.code == 1 and result.out == ""
    # both prod-eu environments fail; no shared file is named as if it were in an app directory
    assert result.err.count("error[replica-count]") == 2
    assert "apps/orders/.eventbus-render" not in result.err and "orders/.eventbus-render" not in result.err


def test_a_broken_shared_file_fails_every_app_using_it_with_one_location(repo, cli):
    (repo / ".eventbus-render/overlays/region.yaml").write_text("values:\n  jetstream:\n    replcas: 5\n")
    result = cli("render", "--all", "--root", repo)
    assert result.code == 2 and result.out == ""
    assert ".eventbus-render/overlays/region.yaml:3:5: jetstream.replcas: unknown field 'replcas'" in result.err
    assert "apps/orders/.eventbus-render" not in result.err
    assert "apps/payments" not in result.err  # payments does not use the overlay


@pytest.mark.parametrize("root", [".", "apps"])
def test_check_all_locates_findings_in_shared_files_from_the_repository_root(repo, cli, root):
    (repo / "apps/orders/eventbus-render.yaml").write_text(ORDERS.replace(
        "    overlays: [region]\n", "    overlays: [region]\n    values:\n      jetstream: {replicas: 5}\n"))
    text = cli("check", "--all", "--root", repo / root)
    assert text.code == 1
    assert "apps/orders/eventbus-render.yaml" in text.out or "orders/eventbus-render.yaml" in text.out
    report = json.loads(cli("check", "--all", "--root", repo / root, "--format", "json").out)
    [orders] = [c for c in report["checks"] if c["environment"] == "prod-eu" and c["app"].endswith("orders")]
    capacity = [f for f in orders["findings"] if f["rule"] == "capacity"]
    assert capacity and capacity[0]["origin"]["file"].endswith("orders/eventbus-render.yaml")
    sarif = json.loads(cli("check", "--all", "--root", repo / root, "--format", "sarif").out)
    uris = {r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]}
    assert uris["capacity"] == "apps/orders/eventbus-render.yaml"


def test_sarif_locates_a_value_a_shared_profile_set_in_the_shared_file(repo, cli):
    (repo / ".eventbus-render/profiles/prod-eu.yaml").write_text(PROD_EU.replace(
        "      storageClassName: premium-rwo\n  nats", "      storageClassName: premium-rwo\n    replicas: 4\n  nats"))
    for args in (("check", "--all", "--root", repo / "apps"),
                 ("check", "--app", repo / "apps/orders", "--env", "prod-eu")):
        result = cli(*args, "--format", "sarif")
        assert result.code == 1, result.err
        located = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                    r["locations"][0]["physicalLocation"]["region"]["startLine"])
                   for r in json.loads(result.out)["runs"][0]["results"] if r["ruleId"] == "replica-count"}
        assert located == {(".eventbus-render/profiles/prod-eu.yaml", 7)}


def test_check_of_a_changed_shared_file_checks_every_app_using_that_layer(tmp_path, cli):
    repo = write(tmp_path / "repo", {**files(), "teams/.eventbus-render/profiles/prod-eu.yaml": PROD_EU,
                                     "teams/billing/eventbus-render.yaml": PAYMENTS.replace("payments", "billing")})
    result = cli("check", "--root", repo, ".eventbus-render/profiles/prod-eu.yaml")
    assert result.code == 0, result.out + result.err
    assert "== apps/orders [dev] ==" in result.out and "== apps/payments [prod-eu] ==" in result.out
    assert "teams/billing" not in result.out  # it has a layer of its own
    result = cli("check", "--root", repo, "teams/.eventbus-render/profiles/prod-eu.yaml")
    assert "== teams/billing [prod-eu] ==" in result.out and "apps/orders" not in result.out
    assert "check: 1 app," in result.out
    result = cli("check", "--root", repo / "apps", "../.eventbus-render/overlays/region.yaml")
    assert "== orders [dev] ==" in result.out and "== payments [prod-eu] ==" in result.out


def test_the_pytest_plugin_renders_apps_of_a_repository_with_a_shared_layer(pytester):
    write(pytester.path, files())
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:hypothesispytest\n")
    pytester.makepyfile(test_eventbus='''
        def test_one(eventbus_render):
            assert "premium-rwo" in eventbus_render("apps/payments", "prod-eu")

        def test_all(eventbus_render):
            tree = eventbus_render.all(".")
            assert sorted(f for f in tree if not f.endswith("-pdb.yaml")) == [
                "dev/orders/eventbus-default.yaml", "prod-eu/orders/eventbus-default.yaml",
                "prod-eu/payments/eventbus-default.yaml"]
            assert "region: eu" in tree["prod-eu/orders/eventbus-default.yaml"]
    ''')
    pytester.runpytest("-q").assert_outcomes(passed=2)


# -- diff: each side reads its own layer; a shared change reaches every app that uses it ---------------


def rendered_by_environment(root: Path, app: str) -> dict:
    kept: list = []
    bulk.render_app(root, app, bulk.Options(), keep=kept)
    return {made[0].environment: rendered for made, rendered in kept}


def reusable(base: Path, head: Path) -> set:
    found = set()
    for app in ("apps/orders", "apps/payments"):
        for environment, rendered in rendered_by_environment(base, app).items():
            if reuse.same_inputs(base / app, head / app, rendered):
                found.add((app, environment))
    return found


ALL = {("apps/orders", "dev"), ("apps/orders", "prod-eu"), ("apps/payments", "prod-eu")}


@pytest.mark.parametrize("change, expected", [
    ("nothing", ALL),
    ("the shared profile", {("apps/orders", "dev")}),
    ("the shared overlay", {("apps/orders", "dev"), ("apps/payments", "prod-eu")}),
    ("a shared file nobody uses", ALL),
    ("a shared overlay now shadows the built-in the app names", ALL - {("apps/orders", "dev")}),
    ("the layer has templates", set()),
    ("the layer moved", set()),
    ("the layer is gone", set()),
    ("a shared file is a symlink", {("apps/orders", "dev")}),
])
def test_an_environment_is_reused_only_when_the_shared_files_it_reads_are_the_same(tmp_path, change, expected):
    base, head = write(tmp_path / "base", files()), write(tmp_path / "head", files())
    layer = head / ".eventbus-render"
    if change == "the shared profile":
        (layer / "profiles/prod-eu.yaml").write_text(PROD_EU.replace("premium-rwo", "premium-zrs"))
    elif change == "the shared overlay":
        (layer / "overlays/region.yaml").write_text(REGION.replace("eu", "europe"))
    elif change == "a shared file nobody uses":
        write(head, {".eventbus-render/overlays/unused.yaml": "values: {}\n"}, git=False)
    elif change == "a shared overlay now shadows the built-in the app names":
        with_ha = ORDERS.replace("dev: {profile: dev}", "dev: {profile: dev, overlays: [ha]}")
        for side in (base, head):
            (side / "apps/orders/eventbus-render.yaml").write_text(with_ha)
        write(head, {".eventbus-render/overlays/ha.yaml": "values: {}\n"}, git=False)
        expected = ALL - {("apps/orders", "dev")}
    elif change == "the layer has templates":
        write(head, {".eventbus-render/templates/README": "none yet\n"}, git=False)
    elif change == "the layer moved":
        layer.rename(head / "apps/.eventbus-render")
    elif change == "the layer is gone":
        layer.rename(head / "gone")
    elif change == "a shared file is a symlink":
        (layer / "profiles/prod-eu.yaml").rename(head / "prod-eu.yaml")
        (layer / "profiles/prod-eu.yaml").symlink_to("../../prod-eu.yaml")
    assert reusable(base, head) == expected
    if change not in ("the layer is gone", "a shared file is a symlink", "the layer moved"):
        sides = render_both(base, head, bulk.Options())  # reuse changes nothing in what is compared
        assert {e.file: e.text for e in sides.head_tree.entries} == {
            e.file: e.text for e in bulk.render_root(head, jobs=1).entries}


@pytest.fixture
def history(make_repo):
    repo = make_repo("repo")
    repo.write(files())
    repo.commit("base")
    return repo


@pytest.mark.parametrize("root", [".", "apps"])
def test_diff_of_a_change_to_a_shared_profile_shows_every_app_that_uses_it_with_the_shared_line(history, cli, root):
    history.write({".eventbus-render/profiles/prod-eu.yaml": PROD_EU.replace("premium-rwo", "premium-zrs")})
    history.commit("move to zone-redundant volumes")
    result = cli("diff", "--base", "HEAD~1", "--head", "HEAD", "--root", history.path / root, "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    changed = {(env["name"], obj["namespace"]): obj for env in report["environments"]
               for obj in env["objects"]}
    assert set(changed) == {("prod-eu", "orders"), ("prod-eu", "payments")}
    origins = {c["origin"]["file"] + f":{c['origin']['line']}" for obj in changed.values() for c in obj["changes"]}
    assert origins == {".eventbus-render/profiles/prod-eu.yaml:6", ".eventbus-render/profiles/prod-eu.yaml:10"}
    # and the working tree against a revision: the same
    history.write({".eventbus-render/overlays/region.yaml": REGION.replace("eu", "eu-west")})
    text = cli("diff", "--base", "HEAD", "--root", history.path / root)
    assert text.code == 0 and "labels.region" in text.out and "payments" not in text.out.split("===", 1)[-1]


def test_diff_reads_each_revisions_own_layer_where_it_sits(history, cli):
    history.write({"apps/.eventbus-render/profiles/prod-eu.yaml": PROD_EU.replace("zones: 3", "zones: 5"),
                   "apps/.eventbus-render/overlays/region.yaml": REGION.replace("eu", "apps")})
    history.commit("a layer nearer the apps")
    result = cli("diff", "--base", "HEAD~1", "--head", "HEAD", "--format", "json", "--root", history.path)
    report = json.loads(result.out)
    changes = [c for env in report["environments"] for obj in env["objects"] for c in obj["changes"]]
    assert {(c["path"], c["head"]) for c in changes} == {("metadata.labels.region", "apps")}
    assert {c["origin"]["file"] for c in changes} == {"apps/.eventbus-render/overlays/region.yaml"}
