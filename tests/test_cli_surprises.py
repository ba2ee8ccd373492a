"""Command lines that used to exit 0 doing something nobody asked for: each is an error with a message, or
(``-o -``) means what it says."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.argocd.helpers import write_app

APP = "backend: jetstream\nvalues:\n  jetstream:\n    replicas: 3\n"
ENVIRONMENTS = "backend: jetstream\nenvironments:\n  dev: {}\n  prod: {}\n"


def assert_usage_error(result, *fragments):
    assert result.code == 2, (result.code, result.err)
    assert result.out == ""
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err, result.err


# -- an empty --set value ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["render"], ["check"], ["explain"]])
@pytest.mark.parametrize("text", ["jetstream.replicas=", "jetstream.persistence.storageClassName=", "labels.team="])
def test_an_empty_set_value_is_an_error_not_a_deletion(make_app, cli, command, text):
    assert_usage_error(cli(*command, "--app", make_app(APP), "--set", text),
                       f"--set {text!r}: the value is empty", "=null to delete")


def test_null_still_deletes_and_set_string_still_takes_an_empty_string(make_app, cli):
    app = make_app(APP)
    deleted = cli("render", "--app", app, "--set", "jetstream.replicas=null")
    assert deleted.code == 0, deleted.err
    assert yaml.safe_load(deleted.out)["spec"]["jetstream"].get("replicas") != 3
    empty = cli("render", "--app", app, "--set-string", "labels.team=")
    assert empty.code == 0, empty.err
    assert yaml.safe_load(empty.out)["metadata"]["labels"]["team"] == ""



def test_an_empty_value_in_the_argo_cd_values_parameter_is_an_error_too(tmp_path, sim):
    write_app(tmp_path / "repo" / "apps" / "a", APP)
    result = sim(tmp_path / "repo", "apps/a", "--param-map", "values=jetstream.replicas=")
    assert result.code == 1 and result.out == ""
    assert "exit status 2" in result.err and "the value is empty" in result.err


# -- -o - ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_output_dash_means_stdout(make_app, cli, tmp_path, monkeypatch, fmt):
    app = make_app(APP)
    monkeypatch.chdir(tmp_path)
    printed = cli("render", "--app", app, "--format", fmt)
    dashed = cli("render", "--app", app, "--format", fmt, "-o", "-")
    assert dashed.code == 0, dashed.err
    assert dashed.out == printed.out != ""
    assert not (tmp_path / "-").exists()


def test_output_dash_with_all_prints_the_stream(make_app, cli, tmp_path, monkeypatch):
    make_app(APP, name="apps/a")
    monkeypatch.chdir(tmp_path)
    printed = cli("render", "--all", "--root", tmp_path)
    dashed = cli("render", "--all", "--root", tmp_path, "--output-dir", "-")
    assert dashed.code == 0, dashed.err
    assert dashed.out == printed.out != ""
    assert not (tmp_path / "-").exists()


# -- render --all with --app, --env twice -------------------------------------------------------------


@pytest.mark.parametrize("app_arg", [".", "apps/a", "elsewhere"])
def test_render_all_with_app_is_an_error(make_app, cli, tmp_path, monkeypatch, app_arg):
    make_app(APP, name="apps/a")
    monkeypatch.chdir(tmp_path)
    assert_usage_error(cli("render", "--all", "--root", tmp_path, "--app", app_arg, "-o", tmp_path / "out"),
                       "--all", "--app", "--root")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [["render"], ["check"], ["explain"]])
def test_env_given_twice_is_an_error(make_app, cli, command):
    assert_usage_error(cli(*command, "--app", make_app(ENVIRONMENTS), "--env", "dev", "--env", "prod"),
                       "--env", "once", "'dev'", "'prod'")


def test_env_given_twice_with_the_same_name_is_an_error_too(make_app, cli):
    assert_usage_error(cli("render", "--app", make_app(ENVIRONMENTS), "--env", "dev", "--env", "dev"), "--env")


# -- --app pointing at a file ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["render"], ["check"], ["explain"], ["list"]])
def test_app_pointing_at_the_app_file_says_to_pass_its_folder(make_app, cli, command):
    app = make_app(APP)
    assert_usage_error(cli(*command, "--app", app / "eventbus-render.yaml"), "is a file",
                       f"--app {app}")


def test_app_pointing_at_another_file_says_it_takes_a_directory(make_app, cli):
    app = make_app(APP, files={"notes.txt": "hello\n"})
    assert_usage_error(cli("render", "--app", app / "notes.txt"), "is a file", "app directory")


# -- hints for broken files --------------------------------------------------------------------------


@pytest.mark.parametrize("text, where", [
    ("backend: jetstream\nvalues:\n\tjetstream: {}\n", "eventbus-render.yaml:3:1"),
    ("backend: jetstream\nvalues:\n  jetstream:\n  \treplicas: 3\n", "eventbus-render.yaml:4:3"),
    ("backend: jetstream\ndescription: |\n  one\n\ttwo\n", "eventbus-render.yaml:4:1"),
    ("backend: jetstream\noverlays:\n  - a\n \t- b\n", "eventbus-render.yaml:4:2"),
], ids=["tab-first", "tab-after-spaces", "block-scalar", "sequence"])
def test_a_tab_in_indentation_is_named_with_a_hint(make_app, cli, text, where):
    assert_usage_error(cli("render", "--app", make_app(text)), where, "tab", "indent with spaces")


def test_a_tab_in_a_profile_is_named_in_that_file(make_app, cli):
    app = make_app("backend: jetstream\nprofile: mine\n", files={"profiles/mine.yaml": "values:\n\tjetstream: {}\n"})
    assert_usage_error(cli("render", "--app", app), "profiles/mine.yaml:2:1", "tab")


@pytest.mark.parametrize("raw, where", [
    (b"backend: jetstream\ndescription: caf\xe9\n", "eventbus-render.yaml:2:17"),
    (b"\xff\xfebackend: jetstream\n", "eventbus-render.yaml:1:1"),
    (b"backend: jetstream\nvalues:\n  labels:\n    team: \xc3\x28\n", "eventbus-render.yaml:4:11"),
], ids=["latin-1", "utf-16-bom", "broken-sequence"])
def test_a_non_utf8_byte_is_located_by_line_and_column(make_app, cli, raw, where):
    app = make_app("backend: jetstream\n")
    (app / "eventbus-render.yaml").write_bytes(raw)
    assert_usage_error(cli("render", "--app", app), where, "not UTF-8", "save the file as UTF-8")


def test_an_extends_cycle_of_three_shows_the_whole_chain(make_app, cli):
    app = make_app("backend: jetstream\nprofile: a\n", files={
        "profiles/a.yaml": "extends: b\n", "profiles/b.yaml": "extends: c\n", "profiles/c.yaml": "extends: a\n"})
    assert_usage_error(cli("render", "--app", app), "profiles/c.yaml:1:1", "cycle: a -> b -> c -> a")


def test_a_profile_extending_its_own_name_with_none_below_it_says_so(make_app, cli):
    # extending its own name extends the profile it shadows (tests/test_repository_layer.py); here there is none
    app = make_app("backend: jetstream\nprofile: a\n", files={"profiles/a.yaml": "extends: a\n"})
    assert_usage_error(cli("render", "--app", app), "profiles/a.yaml:1:1: extends",
                       "profile 'a' extends its own name, and no profile 'a' lies below its place (app)")


@pytest.mark.parametrize("args, fragments", [
    (["--profile", "prdo"], ["unknown profile 'prdo'", "did you mean 'prod'"]),
    (["--profile", "stagin"], ["unknown profile 'stagin'", "did you mean 'staging'"]),
    (["--overlay", "monitorng"], ["unknown overlay 'monitorng'", "did you mean 'monitoring'"]),
], ids=["prod", "staging", "overlay"])
def test_an_unknown_profile_or_overlay_on_the_command_line_suggests_the_closest(make_app, cli, args, fragments):
    app = make_app(APP, files={"overlays/monitoring.yaml": "values: {}\n"})
    assert_usage_error(cli("render", "--app", app, *args), *fragments)


def test_an_unknown_profile_in_the_app_file_suggests_the_closest(make_app, cli):
    app = make_app("backend: jetstream\nprofile: staginf\n")
    assert_usage_error(cli("render", "--app", app), "eventbus-render.yaml:2:1", "did you mean 'staging'")


def test_an_unknown_argo_cd_parameter_suggests_the_closest(tmp_path, sim):
    write_app(tmp_path / "repo" / "apps" / "a", APP)
    result = sim(tmp_path / "repo", "apps/a", "--param", "profiel=prod")
    assert result.code == 1 and result.out == ""
    assert "unknown plugin parameter 'profiel'" in result.err and "did you mean 'profile'" in result.err


def test_an_unknown_argo_cd_environment_parameter_suggests_the_closest(tmp_path, sim):
    write_app(tmp_path / "repo" / "apps" / "a", ENVIRONMENTS)
    result = sim(tmp_path / "repo", "apps/a", "--param", "environment=prd")
    assert result.code == 1 and result.out == ""
    assert "unknown environment 'prd'" in result.err and "did you mean 'prod'" in result.err


def test_the_announcement_of_an_unknown_parameter_still_opens(tmp_path, sim):
    write_app(tmp_path / "repo" / "apps" / "a", APP)
    result = sim(tmp_path / "repo", "apps/a", "--parameters", "--param", "profiel=prod")
    assert result.code == 0, result.err
    assert json.loads(result.out)


# -- --all under a root without app files ------------------------------------------------------------


@pytest.mark.parametrize("apps", [[], 0, ()])
def test_finding_no_app_below_the_root_is_an_error_naming_the_root(apps):
    from renderer.commands.common import require_apps
    from renderer.errors import InputError

    with pytest.raises(InputError, match="no app directory") as error:
        require_apps(apps, "deploy/apps")
    assert "'deploy/apps'" in error.value.render() and "--root" in error.value.render()
    require_apps(["apps/a"], "deploy/apps")
    require_apps(1, "deploy/apps")


@pytest.mark.parametrize("command", [["render", "--all"], ["render", "--all", "-o", "OUT"], ["check", "--all"]])
def test_a_root_without_app_files_is_an_error_not_a_silent_success(tmp_path, cli, command):
    (tmp_path / "empty" / "apps").mkdir(parents=True)
    args = [str(tmp_path / "out") if arg == "OUT" else arg for arg in command]
    result = cli(*args, "--root", tmp_path / "empty")
    assert result.code == 2
    assert result.out == ""
    assert "no app directory" in result.err and "--root" in result.err
    assert not (tmp_path / "out").exists()
