"""The repository layer: ``.eventbus-render/`` above the app directories, shared by every app below it.

Names resolve in the app directory, then in the nearest ``.eventbus-render/``
at or above it (never above the folder holding ``.git``), then among the
built-ins; ``extends`` reaches from a profile's own place down; a shadowing
profile may only tighten the guards of the one it shadows; nothing leaves its
place; the layer's files are named from the repository root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from renderer import context
from renderer.errors import InputError
from renderer.stages import sources
from tests.files import write_files

PROD_EU = """\
description: EU production.
extends: prod
values:
  jetstream:
    persistence:
      storageClassName: premium-rwo
guards:
  capacity: {zones: 3}
"""
APP = "backend: jetstream\nprofile: prod-eu\n"


def tree(root: Path, files: dict, git: bool = True) -> Path:
    """A repository below ``root``: ``files`` maps relative paths to text (``None``: a folder); ``.git`` as a folder."""
    return write_files(root, files, git=git)


def assert_input_error(result, *fragments):
    assert result.code == 2, (result.code, result.err)
    assert result.out == "" and "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err, result.err


@pytest.fixture
def repo(tmp_path):
    return tree(tmp_path / "repo", {
        ".eventbus-render/profiles/prod-eu.yaml": PROD_EU,
        ".eventbus-render/overlays/eu.yaml": "values:\n  labels:\n    region: eu\n",
        "apps/orders/eventbus-render.yaml": APP + "overlays: [eu]\n",
        "apps/payments/eventbus-render.yaml": "backend: nats-native\nprofile: prod-eu\n",
    })


def explain(cli, app: Path, *args) -> dict:
    result = cli("explain", "--app", app, "--format", "json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


# -- where a name leads -------------------------------------------------------------------------


def test_an_app_uses_the_shared_profile_and_overlay_and_provenance_names_them_from_the_repository_root(repo, cli):
    result = cli("render", "--app", repo / "apps/orders")
    assert result.code == 0, result.err
    assert "storageClassName: premium-rwo" in result.out and "region: eu" in result.out
    report = explain(cli, repo / "apps/orders", "jetstream.persistence.storageClassName")
    origin = report["values"][0]["origin"]
    assert (origin["file"], origin["line"], origin["column"]) == (".eventbus-render/profiles/prod-eu.yaml", 6, 7)
    assert [layer["file"] for layer in report["layers"] if layer["kind"] in ("profile", "overlay")] == [
        "builtin:profiles/prod.yaml", ".eventbus-render/profiles/prod-eu.yaml", ".eventbus-render/overlays/eu.yaml"]
    text = cli("explain", "--app", repo / "apps/orders", "jetstream.persistence.storageClassName").out
    assert "set by   profile prod-eu (.eventbus-render/profiles/prod-eu.yaml:6:7)" in text


@pytest.mark.parametrize("where", ["app", "repository", "built-in"])
def test_the_app_directory_comes_first_then_the_repository_layer_then_the_built_ins(tmp_path, cli, where):
    files = {"apps/a/eventbus-render.yaml": "backend: jetstream\noverlays: [monitoring]\n"}
    if where in ("app", "repository"):
        files[".eventbus-render/overlays/monitoring.yaml"] = "values:\n  labels:\n    from: repository\n"
    if where == "app":
        files["apps/a/overlays/monitoring.yaml"] = "values:\n  labels:\n    from: app\n"
    root = tree(tmp_path / "repo", files)
    result = cli("render", "--app", root / "apps/a")
    assert result.code == 0, result.err
    if where == "built-in":
        assert "from:" not in result.out and "prometheus.io/scrape" in result.out
    else:
        assert f"from: {where}" in result.out and "prometheus.io/scrape" not in result.out


def test_the_nearest_layer_applies_and_only_that_one(tmp_path, cli):
    root = tree(tmp_path / "repo", {
        ".eventbus-render/profiles/outer.yaml": "extends: dev\n",
        "teams/.eventbus-render/profiles/inner.yaml": "extends: dev\nvalues:\n  labels:\n    layer: inner\n",
        "teams/a/eventbus-render.yaml": "backend: jetstream\nprofile: inner\n",
        "teams/b/eventbus-render.yaml": "backend: jetstream\nprofile: outer\n",
        "other/c/eventbus-render.yaml": "backend: jetstream\nprofile: outer\n",
    })
    result = cli("render", "--app", root / "teams/a")
    assert result.code == 0 and "layer: inner" in result.out
    # exactly one repository layer: the outer one is not consulted below teams/
    assert_input_error(cli("render", "--app", root / "teams/b"), "unknown profile 'outer'", "inner")
    assert cli("render", "--app", root / "other/c").code == 0
    report = explain(cli, root / "teams/a", "labels.layer")
    assert report["values"][0]["origin"]["file"] == "teams/.eventbus-render/profiles/inner.yaml"


def test_an_app_at_the_repository_root_uses_the_layer_beside_its_app_file(tmp_path, cli):
    root = tree(tmp_path / "repo", {".eventbus-render/profiles/prod-eu.yaml": PROD_EU,
                                    "eventbus-render.yaml": APP})
    assert cli("render", "--app", root).code == 0


@pytest.mark.parametrize("mark", ["folder", "file (a linked work tree)", "the layer's own folder"])
def test_the_lookup_stops_at_the_folder_holding_git(tmp_path, cli, mark):
    outer = tree(tmp_path / "outer", {".eventbus-render/profiles/prod-eu.yaml": PROD_EU}, git=False)
    inner = tree(outer / "checkout", {"apps/a/eventbus-render.yaml": APP}, git=False)
    if mark == "folder":
        (inner / ".git").mkdir()
    elif mark == "file (a linked work tree)":
        (inner / ".git").write_text("gitdir: /elsewhere/.git/worktrees/checkout\n")
    else:
        (outer / ".git").mkdir()
        assert cli("render", "--app", inner / "apps/a").code == 0  # the repository root's own layer is found
        return
    assert_input_error(cli("render", "--app", inner / "apps/a"), "unknown profile 'prod-eu'")


def test_without_a_repository_the_walk_goes_up_and_names_files_from_the_folder_holding_the_layer(tmp_path, cli):
    root = tree(tmp_path / "plain", {".eventbus-render/profiles/prod-eu.yaml": PROD_EU,
                                     "deep/er/app/eventbus-render.yaml": APP}, git=False)
    report = explain(cli, root / "deep/er/app", "jetstream.persistence.storageClassName")
    assert report["values"][0]["origin"]["file"] == ".eventbus-render/profiles/prod-eu.yaml"


def test_a_layer_below_the_repository_root_is_named_from_that_root(tmp_path, cli):
    root = tree(tmp_path / "repo", {"platform/.eventbus-render/profiles/prod-eu.yaml": PROD_EU,
                                    "platform/apps/a/eventbus-render.yaml": APP})
    report = explain(cli, root / "platform/apps/a", "jetstream.persistence.storageClassName")
    assert report["values"][0]["origin"]["file"] == "platform/.eventbus-render/profiles/prod-eu.yaml"


def test_the_lookup_is_remembered_for_the_run_and_asked_again_in_the_next(repo):
    orders, payments = repo / "apps/orders", repo / "apps/payments"
    with context.run():
        first = sources.places(orders)
        assert sources.places(orders) is first
        assert sources.places(payments)[1] == first[1]  # one layer, found once for both apps
        (repo / ".eventbus-render").rename(repo / "gone")
        assert sources.places(orders) is first
    with context.run():
        assert [p.where for p in sources.places(orders)] == ["app", "built-in"]


# -- extends across the places, and cycles ----------------------------------------------------------


def test_an_app_profile_extends_a_shared_one_which_extends_a_built_in(repo, cli):
    (repo / "apps/orders/profiles").mkdir()
    (repo / "apps/orders/profiles/orders-prod.yaml").write_text(
        "extends: prod-eu\nvalues:\n  jetstream:\n    replicas: 5\nguards:\n  capacity: {zones: 5}\n")
    (repo / "apps/orders/eventbus-render.yaml").write_text("backend: jetstream\nprofile: orders-prod\n")
    report = explain(cli, repo / "apps/orders", "jetstream.replicas")
    assert [(layer["name"], layer["file"]) for layer in report["layers"] if layer["kind"] == "profile"] == [
        ("prod", "builtin:profiles/prod.yaml"), ("prod-eu", ".eventbus-render/profiles/prod-eu.yaml"),
        ("orders-prod", "profiles/orders-prod.yaml")]
    assert [step["origin"]["file"] for step in report["values"][0]["history"]] == [
        "builtin:defaults/jetstream.yaml", "builtin:profiles/prod.yaml", "profiles/orders-prod.yaml"]
    assert cli("render", "--app", repo / "apps/orders").code == 0


def test_a_shared_profile_never_extends_an_apps_own_profile(repo, cli):
    # the app's own prod.yaml does not change what the shared prod-eu (extends: prod) means
    (repo / "apps/orders/profiles").mkdir()
    (repo / "apps/orders/profiles/prod.yaml").write_text("values:\n  labels:\n    own: prod\n")
    report = explain(cli, repo / "apps/orders")
    assert [layer["file"] for layer in report["layers"] if layer["kind"] == "profile"] == [
        "builtin:profiles/prod.yaml", ".eventbus-render/profiles/prod-eu.yaml"]


def test_a_profile_extending_its_own_name_extends_the_one_it_shadows(tmp_path, cli):
    root = tree(tmp_path / "repo", {
        ".eventbus-render/profiles/prod.yaml": "extends: prod\nvalues:\n  labels:\n    layer: repository\n",
        "a/profiles/prod.yaml": "extends: prod\nvalues:\n  labels:\n    own: app\n",
        "a/eventbus-render.yaml": "backend: jetstream\nprofile: prod\n",
    })
    report = explain(cli, root / "a")
    assert [layer["file"] for layer in report["layers"] if layer["kind"] == "profile"] == [
        "builtin:profiles/prod.yaml", ".eventbus-render/profiles/prod.yaml", "profiles/prod.yaml"]
    result = cli("render", "--app", root / "a")
    assert result.code == 0 and "layer: repository" in result.out and "own: app" in result.out
    header = cli("explain", "--app", root / "a").out.splitlines()[0]
    assert "profile prod (built-in) -> prod (repository layer) -> prod (app)" in header


@pytest.mark.parametrize("files, where, cycle", [
    ({".eventbus-render/profiles/a.yaml": "extends: b\n", ".eventbus-render/profiles/b.yaml": "extends: a\n"},
     ".eventbus-render/profiles/b.yaml:1:1", "a -> b -> a"),
    ({"app/profiles/a.yaml": "extends: b\n", ".eventbus-render/profiles/b.yaml": "extends: c\n",
      ".eventbus-render/profiles/c.yaml": "extends: b\n"}, ".eventbus-render/profiles/c.yaml:1:1", "a -> b -> c -> b"),
], ids=["within-the-layer", "from-the-app-into-the-layer"])
def test_a_cycle_across_places_is_an_error_showing_it(tmp_path, cli, files, where, cycle):
    root = tree(tmp_path / "repo", {"app/eventbus-render.yaml": "backend: jetstream\nprofile: a\n", **files})
    assert_input_error(cli("render", "--app", root / "app"), f"{where}: extends", f"cycle: {cycle}")


def test_a_shared_profile_extending_a_name_only_an_app_holds_is_unknown_there(repo, cli):
    (repo / ".eventbus-render/profiles/prod-eu.yaml").write_text("extends: team\n")
    (repo / "apps/orders/profiles").mkdir()
    (repo / "apps/orders/profiles/team.yaml").write_text("values: {}\n")
    assert_input_error(cli("render", "--app", repo / "apps/orders"),
                       ".eventbus-render/profiles/prod-eu.yaml:1:1: extends: unknown profile 'team'")


# -- nothing leaves its place -----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["../../secret.yaml", "../../apps/orders/eventbus-render.yaml", "ABSOLUTE"],
                         ids=["repository-root", "an-app", "absolute"])
def test_a_shared_file_that_is_a_symlink_leaving_the_layer_is_refused(repo, cli, tmp_path, target):
    (repo / "secret.yaml").write_text("values:\n  labels:\n    secret: hunter2\n")
    link = repo / ".eventbus-render/overlays/eu.yaml"
    link.unlink()
    link.symlink_to(str(tmp_path / "outside.yaml") if target == "ABSOLUTE" else target)
    (tmp_path / "outside.yaml").write_text("values:\n  labels:\n    secret: hunter2\n")
    result = cli("render", "--app", repo / "apps/orders")
    assert_input_error(result, ".eventbus-render/overlays/eu.yaml: overlay 'eu' is a symlink that leaves the "
                               "repository layer (.eventbus-render)")
    assert "hunter2" not in result.err
    result = cli("render", "--all", "--root", repo)  # and in a snapshot (render --all), named the same
    assert result.code == 2 and "is a symlink that leaves the repository layer" in result.err
    assert "apps/orders/.eventbus-render" not in result.err and "hunter2" not in result.err


def test_a_symlinked_layer_folder_sends_every_file_through_the_check(repo, cli, tmp_path):
    (tmp_path / "elsewhere/overlays").mkdir(parents=True)
    (tmp_path / "elsewhere/overlays/eu.yaml").write_text("values: {}\n")
    os.rename(repo / ".eventbus-render/overlays", repo / "kept")
    (repo / ".eventbus-render/overlays").symlink_to(tmp_path / "elsewhere/overlays")
    assert_input_error(cli("render", "--app", repo / "apps/orders"), "that leaves the repository layer")


def test_a_symlink_inside_the_layer_is_followed(repo, cli):
    (repo / ".eventbus-render/overlays/europe.yaml").symlink_to("eu.yaml")
    (repo / "apps/orders/eventbus-render.yaml").write_text(APP + "overlays: [europe]\n")
    result = cli("render", "--app", repo / "apps/orders")
    assert result.code == 0 and "region: eu" in result.out


@pytest.mark.parametrize("kind", ["symlink", "file"])
def test_a_layer_that_is_no_folder_is_an_error(tmp_path, cli, kind):
    root = tree(tmp_path / "repo", {"platform/profiles/prod-eu.yaml": PROD_EU, "apps/a/eventbus-render.yaml": APP})
    if kind == "symlink":
        (root / ".eventbus-render").symlink_to(root / "platform")
    else:
        (root / ".eventbus-render").write_text("profiles: no\n")
    assert_input_error(cli("render", "--app", root / "apps/a"),
                       ".eventbus-render: the repository layer .eventbus-render is not a folder")


@pytest.mark.parametrize("name", ["../.eventbus-render/profiles/prod-eu", ".eventbus-render/profiles/prod-eu",
                                  "/etc/passwd"])
def test_a_profile_name_cannot_walk_into_or_out_of_the_layer(repo, cli, name):
    assert_input_error(cli("render", "--app", repo / "apps/orders", "--profile", name), "not a plain name"
                       if "/" not in name else "would leave the app directory")


# -- shadowing may only tighten -----------------------------------------------------------------


@pytest.mark.parametrize("guards, message", [
    ("replica-count: {min: 1}", "replica-count.min is 1, the built-in requires 3 or stricter"),
    ("persistence: {level: warning}", "persistence.level is 'warning'"),
    ("external-credentials: {waivable: true}", "external-credentials.waivable is true"),
], ids=["smaller-minimum", "lower-level", "waivable"])
def test_a_shared_profile_shadowing_a_built_in_may_not_weaken_it(tmp_path, cli, guards, message):
    root = tree(tmp_path / "repo", {".eventbus-render/profiles/prod.yaml": f"guards:\n  {guards}\n",
                                    "a/eventbus-render.yaml": "backend: jetstream\nprofile: prod\n"})
    assert_input_error(cli("render", "--app", root / "a"), ".eventbus-render/profiles/prod.yaml:2:",
                       "profile 'prod' shadows the built-in profile 'prod' and cannot weaken its guards", message)


def test_a_shared_profile_shadowing_a_built_in_may_tighten_it(tmp_path, cli):
    root = tree(tmp_path / "repo", {".eventbus-render/profiles/prod.yaml": "guards:\n  replica-count: {min: 5}\n",
                                    "a/eventbus-render.yaml": "backend: jetstream\nprofile: prod\n"})
    result = cli("check", "--app", root / "a")
    assert result.code == 1 and "replica-count" in result.out  # 3 replicas are too few now


@pytest.mark.parametrize("guards, message", [
    ("capacity: {zones: 4}", "capacity.zones is 4, that profile requires 3 or stricter"),
    ("persistence: {minVolumeSize: 10Gi}", "persistence.minVolumeSize is '10Gi', that profile requires '20Gi'"),
    ("pinned-versions: {level: off}", "pinned-versions.level is 'off'"),
], ids=["more-zones", "smaller-volume", "switched-off"])
def test_an_app_profile_shadowing_a_shared_one_may_not_weaken_it(repo, cli, guards, message):
    (repo / "apps/orders/profiles").mkdir()
    (repo / "apps/orders/profiles/prod-eu.yaml").write_text(f"extends: prod-eu\nguards:\n  {guards}\n")
    assert_input_error(cli("render", "--app", repo / "apps/orders"), "profiles/prod-eu.yaml:3:",
                       "profile 'prod-eu' shadows the repository layer's profile 'prod-eu' "
                       "(.eventbus-render/profiles/prod-eu.yaml) and cannot weaken its guards", message,
                       "rename the profile (e.g. 'prod-eu-relaxed')")


def test_shadowing_is_held_to_every_floor_below_it(tmp_path, cli):
    # the app's prod may not weaken the repository's prod, which may not weaken the built-in prod
    root = tree(tmp_path / "repo", {".eventbus-render/profiles/prod.yaml": "guards:\n  replica-count: {min: 5}\n",
                                    "a/profiles/prod.yaml": "guards:\n  replica-count: {min: 3}\n",
                                    "a/eventbus-render.yaml": "backend: jetstream\nprofile: prod\n"})
    assert_input_error(cli("render", "--app", root / "a"), "profiles/prod.yaml:2:",
                       "shadows the repository layer's profile 'prod'", "replica-count.min is 3, that profile "
                       "requires 5 or stricter")
    (root / "a/profiles/prod.yaml").write_text("guards:\n  replica-count: {min: 7}\n")
    result = cli("check", "--app", root / "a")
    assert result.code == 1 and "replica-count" in result.out


def test_an_app_profile_under_a_name_of_its_own_owns_its_guards(repo, cli):
    (repo / "apps/orders/profiles").mkdir()
    (repo / "apps/orders/profiles/prod-eu-relaxed.yaml").write_text(
        "extends: prod-eu\nguards:\n  capacity: {zones: 9}\n  persistence: {level: off}\n")
    assert cli("render", "--app", repo / "apps/orders", "--profile", "prod-eu-relaxed").code == 0


def test_the_guard_settings_of_two_apps_with_the_same_own_profile_follow_each_ones_layer(tmp_path, cli):
    # the same bytes under the same name, above different shared profiles: each is held to its own floor
    own = "extends: prod-eu\nguards:\n  capacity: {zones: 3}\n"
    first = tree(tmp_path / "one", {".eventbus-render/profiles/prod-eu.yaml": PROD_EU,
                                    "a/profiles/prod-eu.yaml": own, "a/eventbus-render.yaml": APP})
    second = tree(tmp_path / "two", {".eventbus-render/profiles/prod-eu.yaml": PROD_EU.replace("zones: 3", "zones: 2"),
                                     "a/profiles/prod-eu.yaml": own, "a/eventbus-render.yaml": APP})
    from renderer.pipeline import RenderRequest, render

    with context.run():
        assert render(RenderRequest(first / "a", run_guards=False)).name == "default"
        render(RenderRequest(first / "a"))
        with pytest.raises(InputError, match="capacity.zones is 3, that profile requires 2 or stricter"):
            render(RenderRequest(second / "a"))


# -- shared templates -----------------------------------------------------------------------------

HEADER = ("apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata:\n  name: default\n  namespace: argo-events\n"
          "  labels: {{ labels | yaml }}\n  annotations: {{ annotations | yaml }}\nspec:\n")
"""A template's head that keeps the object's identity (the renderer refuses any other)."""


def shared_template(tmp_path, body: str, extra: dict | None = None) -> Path:
    return tree(tmp_path / "repo", {".eventbus-render/templates/jetstream.yaml.j2": body,
                                    "apps/a/eventbus-render.yaml": "backend: jetstream\n", **(extra or {})})


def test_a_shared_template_renders_every_app_below_it_and_an_apps_own_comes_first(tmp_path, cli):
    root = shared_template(tmp_path, HEADER + "  jetstream: {version: '2.10.29', replicas: 3}\n", {
        "apps/b/eventbus-render.yaml": "backend: jetstream\n",
        "apps/b/templates/jetstream.yaml.j2": HEADER + "  jetstream: {version: '2.10.29', replicas: 5}\n"})
    assert "replicas: 3" in cli("render", "--app", root / "apps/a").out
    assert "replicas: 5" in cli("render", "--app", root / "apps/b").out


@pytest.mark.parametrize("expression", ["''.__class__.__mro__", "cycler.__init__.__globals__",
                                        "'{0.__class__}'.format(values)", "'x' * 10000000000"])
def test_a_shared_template_runs_in_the_same_sandbox(tmp_path, cli, expression):
    root = shared_template(tmp_path, HEADER + "  x: {{ " + expression + " }}\n")
    result = cli("render", "--app", root / "apps/a")
    assert_input_error(result)
    assert "<class" not in result.err and "__globals__" not in result.err.replace(expression, "")


def test_a_shared_template_error_is_named_from_the_repository_root(tmp_path, cli):
    root = shared_template(tmp_path, HEADER + "  x: {{ nope }}\n")
    assert_input_error(cli("render", "--app", root / "apps/a"), ".eventbus-render/templates/jetstream.yaml.j2:9",
                       "undefined template variable")


def test_a_shared_template_obeys_the_size_limits(tmp_path, cli):
    root = shared_template(tmp_path, HEADER + "# " + "x" * (256 * 1024) + "\n")
    assert_input_error(cli("render", "--app", root / "apps/a"), "larger than 262144 bytes")
    (root / ".eventbus-render/templates/jetstream.yaml.j2").write_text(
        HEADER + "{% for i in range(20000) %}  # {{ 'x' * 100 }}\n{% endfor %}")
    assert_input_error(cli("render", "--app", root / "apps/a"), "would pass 1,048,576 characters")


def test_a_shared_template_leaving_the_layer_or_including_outside_it_is_refused(tmp_path, cli):
    (tmp_path / "outside.yaml.j2").write_text(HEADER + "  jetstream: {version: latest}\n")
    root = shared_template(tmp_path, HEADER + "{% include '../../secret.j2' %}\n", {"secret.j2": "password: x\n"})
    assert_input_error(cli("render", "--app", root / "apps/a"), "not found")
    target = root / ".eventbus-render/templates/jetstream.yaml.j2"
    target.unlink()
    target.symlink_to(tmp_path / "outside.yaml.j2")
    assert_input_error(cli("render", "--app", root / "apps/a"),
                       "a symlink that leaves the .eventbus-render/templates folder")


def test_a_shared_template_may_not_repeat_a_key_or_write_the_tracked_label(tmp_path, cli):
    body = HEADER + "  jetstream: {version: '2.10.29', replicas: 3}\n  jetstream: {version: '2.10.29'}\n"
    root = shared_template(tmp_path, body)
    assert_input_error(cli("render", "--app", root / "apps/a"), "duplicate key")
    (root / ".eventbus-render/templates/jetstream.yaml.j2").write_text(HEADER.replace(
        "{{ labels | yaml }}", "{{ labels | combine({'app.kubernetes.io/instance': 'x'}) | yaml }}")
        + "  jetstream: {version: '2.10.29', replicas: 3}\n")
    assert_input_error(cli("render", "--app", root / "apps/a"), ".eventbus-render/templates/jetstream.yaml.j2",
                       "app.kubernetes.io/instance")


def test_a_shared_template_runs_under_the_time_limit(tmp_path, cli, monkeypatch):
    from renderer.stages import template

    monkeypatch.setattr(template, "TIME_LIMIT_SECONDS", 0.5)
    root = shared_template(tmp_path, HEADER + "{% for i in range(100000) %}{% for j in range(100000) %}"
                                              "{% endfor %}{% endfor %}")
    assert_input_error(cli("render", "--app", root / "apps/a"), "was stopped")
