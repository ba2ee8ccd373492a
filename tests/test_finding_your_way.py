"""Finding your way in a repository: ``list`` and ``guards`` (text and JSON), ``show profile|overlay``, ``init``,
and shell completion of profile, overlay and environment names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from renderer.stages import sources

PROD_EU = """\
# the EU clusters
description: EU production.
extends: prod
values:
  jetstream:
    persistence:
      storageClassName: premium-rwo
"""
ORDERS = """\
backend: jetstream
profile: prod-eu
environments:
  dev: {profile: dev}
  prod-eu: {overlays: [region]}
defaultEnvironment: dev
"""


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    for relative, text in {
        ".git/HEAD": "ref: refs/heads/main\n",
        ".eventbus-render/profiles/prod-eu.yaml": PROD_EU,
        ".eventbus-render/profiles/prod.yaml": "description: Our prod.\nextends: prod\n",
        ".eventbus-render/overlays/region.yaml": "description: Stay in the EU.\nvalues: {}\n",
        "apps/orders/eventbus-render.yaml": ORDERS,
        "apps/orders/profiles/prod-eu.yaml": "description: Orders' prod-eu.\nextends: prod-eu\n",
        "apps/orders/overlays/local.yaml": "description: Our own tweak.\n",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


# -- list ------------------------------------------------------------------------------------------


def test_list_says_where_each_name_comes_from_and_what_it_shadows(repo, cli):
    result = cli("list", "--app", repo / "apps/orders")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "  prod-eu  [app]  Orders' prod-eu. (shadows repository .eventbus-render/profiles/prod-eu.yaml)" in lines
    assert ("  prod     [repository]  Our prod. (shadows built-in builtin:profiles/prod.yaml)" in lines)
    assert "  region         [repository]  Stay in the EU." in lines
    assert "  local          [app]  Our own tweak." in lines
    assert lines[-1] == "repository layer: .eventbus-render/"


def test_list_in_json_names_place_file_description_and_shadowed_files(repo, cli):
    result = cli("list", "--app", repo / "apps/orders", "--format", "json")
    assert result.code == 0, result.err
    listing = json.loads(result.out)
    profiles = {p["name"]: p for p in listing["profiles"]}
    assert profiles["prod-eu"] == {
        "name": "prod-eu", "place": "app", "file": "profiles/prod-eu.yaml", "description": "Orders' prod-eu.",
        "shadows": [{"place": "repository", "file": ".eventbus-render/profiles/prod-eu.yaml"}]}
    assert profiles["dev"]["place"] == "built-in" and profiles["dev"]["shadows"] == []
    assert [o["name"] for o in listing["overlays"]] == ["ha", "large-volumes", "local", "monitoring", "region"]
    assert listing["repositoryLayer"] == ".eventbus-render/"
    assert [b["name"] for b in listing["backends"]] == list(sources.BACKENDS)


def test_list_from_a_folder_that_is_no_app_shows_the_layer_and_the_built_ins_only(repo, cli):
    listing = json.loads(cli("list", "--app", repo / "apps", "--format", "json").out)
    assert {p["name"]: p["place"] for p in listing["profiles"]} == {
        "dev": "built-in", "prod": "repository", "prod-eu": "repository", "staging": "built-in"}
    outside = json.loads(cli("list", "--app", repo.parent, "--format", "json").out)
    assert outside["repositoryLayer"] is None and {p["place"] for p in outside["profiles"]} == {"built-in"}


# -- guards --format json ---------------------------------------------------------------------------


def test_guards_in_json_lists_every_guard_with_its_parameters(cli):
    from renderer.stages.guards import RULES

    listing = json.loads(cli("guards", "--format", "json").out)
    assert listing["profile"] is None
    assert [g["id"] for g in listing["guards"]] == list(RULES)
    replica = next(g for g in listing["guards"] if g["id"] == "replica-count")
    assert replica["level"] is None and {p["name"]: p["default"] for p in replica["params"]} == {
        "min": 3, "max": None, "odd": True}
    assert next(g for g in listing["guards"] if g["id"] == "controller-rules")["mandatory"] is True


def test_guards_in_json_under_a_shared_profile_shows_its_settings(repo, cli):
    (repo / ".eventbus-render/profiles/prod-eu.yaml").write_text(PROD_EU + "guards:\n  replica-count: {min: 5}\n")
    listing = json.loads(cli("guards", "--app", repo / "apps", "--profile", "prod-eu", "--format", "json").out)
    replica = next(g for g in listing["guards"] if g["id"] == "replica-count")
    assert (replica["level"], replica["waivable"]) == ("error", True)
    assert {p["name"]: p["value"] for p in replica["params"]}["min"] == 5


# -- show -------------------------------------------------------------------------------------------


def test_show_profile_prints_the_file_exactly_and_says_where_it_was_found_and_what_it_extends(repo, cli):
    result = cli("show", "profile", "prod-eu", "--app", repo / "apps/orders")
    assert result.code == 0, result.err
    assert result.out == "description: Orders' prod-eu.\nextends: prod-eu\n"
    assert result.err.splitlines() == [
        "profile 'prod-eu': app, profiles/prod-eu.yaml",
        "extends: prod-eu (repository layer, .eventbus-render/profiles/prod-eu.yaml) -> "
        "prod (repository layer, .eventbus-render/profiles/prod.yaml) -> prod (built-in, builtin:profiles/prod.yaml)",
        "shadows: repository .eventbus-render/profiles/prod-eu.yaml"]
    shared = cli("show", "profile", "prod-eu", "--app", repo / "apps")
    assert shared.out == PROD_EU  # comments and all, byte for byte


def test_show_in_json_carries_content_place_chain_and_shadowed_files(repo, cli):
    record = json.loads(cli("show", "profile", "prod", "--app", repo / "apps/orders", "--format", "json").out)
    assert record == {"kind": "profile", "name": "prod", "place": "repository",
                      "file": ".eventbus-render/profiles/prod.yaml",
                      "content": "description: Our prod.\nextends: prod\n",
                      "shadows": [{"place": "built-in", "file": "builtin:profiles/prod.yaml"}],
                      "extends": [{"name": "prod", "place": "built-in", "file": "builtin:profiles/prod.yaml"}]}
    overlay = json.loads(cli("show", "overlay", "monitoring", "--app", repo.parent, "--format", "json").out)
    assert overlay["place"] == "built-in" and "extends" not in overlay
    assert overlay["content"] == (Path(sources.builtin_dir("overlays")) / "monitoring.yaml").read_text()


@pytest.mark.parametrize("args, fragments", [
    (["profile", "prod-uk"], ["unknown profile 'prod-uk'", "did you mean 'prod-eu'"]),
    (["overlay", "regoin"], ["unknown overlay 'regoin'", "did you mean 'region'"]),
    (["profile", "../x"], ["would leave the app directory"]),
])
def test_show_of_a_name_that_resolves_nowhere_is_an_input_error(repo, cli, args, fragments):
    result = cli("show", *args, "--app", repo / "apps/orders")
    assert result.code == 2 and result.out == ""
    for fragment in fragments:
        assert fragment in result.err


def test_show_of_a_broken_profile_says_why_and_prints_nothing(repo, cli):
    (repo / ".eventbus-render/profiles/prod-eu.yaml").write_text("extends: prod\nvalus: {}\n")
    result = cli("show", "profile", "prod-eu", "--app", repo / "apps")
    assert result.code == 2 and result.out == ""
    assert ".eventbus-render/profiles/prod-eu.yaml:2:1" in result.err


# -- init -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", sources.BACKENDS)
@pytest.mark.parametrize("profile", ["dev", "staging", "prod"])
def test_init_writes_an_app_file_that_renders_as_written(tmp_path, cli, backend, profile):
    app = tmp_path / "new" / "app"
    result = cli("init", app, "--backend", backend, "--profile", profile)
    assert result.code == 0, result.err
    text = (app / "eventbus-render.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=https://")
    assert text.splitlines()[0].endswith("/renderer/schemas/app.schema.json")
    data = yaml.safe_load(text)
    assert (data["backend"], data["profile"]) == (backend, profile)
    assert cli("render", "--app", app).code == 0
    # the commented environments example renders too, once uncommented
    uncommented = "\n".join(line[2:] if line.startswith(("# environments", "#   ", "# defaultEnvironment")) else line
                            for line in text.splitlines()) + "\n"
    (app / "eventbus-render.yaml").write_text(uncommented)
    assert set(yaml.safe_load(uncommented)["environments"]) == {"dev", "prod-eu"}
    for environment in ("dev", "prod-eu"):
        result = cli("render", "--app", app, "--env", environment)
        assert result.code == 0, result.err


def test_init_never_overwrites_an_app_file(tmp_path, cli):
    app = tmp_path / "app"
    app.mkdir()
    (app / "eventbus-render.yaml").write_text("backend: kafka\n")
    result = cli("init", app)
    assert result.code == 2 and "already exists; init never overwrites" in result.err
    assert (app / "eventbus-render.yaml").read_text() == "backend: kafka\n"


def test_init_with_a_shared_profile_uses_the_repository_layer(repo, cli):
    result = cli("init", repo / "apps/billing", "--profile", "prod-eu")
    assert result.code == 0, result.err
    assert "profile: prod-eu" in (repo / "apps/billing/eventbus-render.yaml").read_text()


@pytest.mark.parametrize("profile, fragment", [("prod-uk", "did you mean 'prod-eu'"),
                                               ("strict", "does not render with profile 'strict'")])
def test_init_that_cannot_render_leaves_nothing_behind(repo, cli, profile, fragment):
    (repo / ".eventbus-render/profiles/strict.yaml").write_text(
        "extends: prod\nguards:\n  replica-count: {min: 5}\n")
    result = cli("init", repo / "apps/new/deeper", "--profile", profile)
    assert result.code == 2 and result.out == "" and fragment in result.err
    assert not (repo / "apps/new").exists()


# -- shell completion -------------------------------------------------------------------------------


def completions(args: list, incomplete: str) -> list:
    from click.shell_completion import ShellComplete

    from renderer.cli import cli

    complete = ShellComplete(cli, {}, "eventbus-render", "_EVENTBUS_RENDER_COMPLETE")
    return [item.value for item in complete.get_completions(args, incomplete)]


def test_completion_offers_the_profiles_overlays_and_environments_an_app_sees(repo):
    app = str(repo / "apps/orders")
    assert completions(["render", "--app", app, "--profile"], "pr") == ["prod", "prod-eu"]
    assert completions(["render", "--app", app, "--overlay"], "") == [
        "ha", "large-volumes", "local", "monitoring", "region"]
    assert completions(["render", "--app", app, "--env"], "") == ["dev", "prod-eu"]
    assert completions(["check", "--app", app, "--env"], "p") == ["prod-eu"]
    assert completions(["show", "overlay", "--app", app], "re") == ["region"]
    assert completions(["show", "overlay"], "mon") == ["monitoring"]
    assert completions(["init", app + "-2", "--profile"], "st") == ["staging"]
    assert "render" in completions([], "re") and "show" in completions([], "sh")
    assert "--profile" in completions(["render"], "--pro")


def test_completion_of_a_broken_app_completes_nothing_and_never_fails(repo):
    (repo / "apps/orders/eventbus-render.yaml").write_text("backend: [\n")
    (repo / "apps/file").write_text("not a folder\n")
    app = str(repo / "apps/orders")
    assert completions(["render", "--app", app, "--env"], "") == []
    assert completions(["render", "--app", str(repo / "apps/file"), "--env"], "") == []
    assert "prod-eu" in completions(["render", "--app", app, "--profile"], "")


@pytest.mark.parametrize("shell, fragment", [("bash", "complete -o nosort -F"), ("zsh", "compdef"),
                                             ("fish", "complete --no-files --command eventbus-render")])
def test_the_installed_command_prints_the_completion_script_of_each_shell(shell, fragment):
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "eventbus-render").exists():
        pytest.skip(f"eventbus-render is not installed next to {sys.executable}")
    env = {**os.environ, "_EVENTBUS_RENDER_COMPLETE": f"{shell}_source", "EVENTBUS_RENDER_WORKER": ""}
    result = subprocess.run([str(bin_dir / "eventbus-render")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and fragment in result.stdout


def test_the_installed_command_completes_names_as_bash_asks(repo):
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "eventbus-render").exists():
        pytest.skip(f"eventbus-render is not installed next to {sys.executable}")
    line = f"eventbus-render render --app {repo / 'apps/orders'} --env "
    env = {**os.environ, "_EVENTBUS_RENDER_COMPLETE": "bash_complete", "COMP_WORDS": line,
           "COMP_CWORD": str(len(line.split())), "EVENTBUS_RENDER_WORKER": ""}
    result = subprocess.run([str(bin_dir / "eventbus-render")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert textwrap.dedent(result.stdout).splitlines() == ["plain,dev", "plain,prod-eu"]


def test_init_into_something_that_is_not_a_folder_says_so_and_writes_nothing(tmp_path, cli):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)  # like /dev/null: neither a folder nor a regular file (click refuses those itself)
    result = cli("init", pipe)
    assert result.code == 2 and result.out == "" and "is not a folder" in result.err
    assert sorted(os.listdir(tmp_path)) == ["pipe"]
