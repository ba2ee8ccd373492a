"""Every user mistake: one clear message naming file, line and key; exit 2; nothing on stdout."""

from __future__ import annotations

import re

import pytest


def assert_input_error(result, *fragments):
    assert result.code == 2, (result.code, result.err)
    assert result.out == ""
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err, result.err


def test_malformed_yaml_names_file_line_and_column(make_app, cli):
    app = make_app("backend: jetstream\nvalues:\n  jetstream: {replicas: 3\n")
    assert_input_error(cli("render", "--app", app), "eventbus-render.yaml:4:1: malformed YAML")


def test_unknown_profile_lists_the_known_ones(make_app, cli):
    app = make_app("backend: jetstream\nprofile: production\n")
    assert_input_error(cli("render", "--app", app), "eventbus-render.yaml:2:1: profile: unknown profile 'production'",
                       "known profiles: dev, prod, staging")


def test_unknown_overlay_from_the_command_line_lists_the_known_ones(make_app, cli):
    app = make_app("backend: jetstream\n", files={"overlays/mine.yaml": "values: {}\n"})
    assert_input_error(cli("render", "--app", app, "--overlay", "nope"), "unknown overlay 'nope'", "mine")


def test_unknown_backend_suggests_the_closest(make_app, cli):
    app = make_app("backend: jetstreams\n")
    assert_input_error(cli("render", "--app", app), "eventbus-render.yaml:1:1: backend: 'jetstreams' is not one of",
                       "hint: use 'jetstream'")


def test_missing_backend_is_named(make_app, cli):
    app = make_app("name: x\n")
    assert_input_error(cli("render", "--app", app), "missing required key 'backend'")


def test_a_typo_in_a_value_is_located_in_the_file_that_set_it_with_did_you_mean(make_app, cli):
    app = make_app("backend: jetstream\n", files={"overlays/big.yaml": "values:\n  jetstream:\n    replcas: 5\n"})
    assert_input_error(cli("render", "--app", app, "--overlay", "big"),
                       "overlays/big.yaml:3:5: jetstream.replcas: unknown field 'replcas'", "did you mean 'replicas'")


def test_typos_in_sections_of_other_backends_are_caught_too(make_app, cli):
    app = make_app("backend: jetstream\nvalues:\n  kafka:\n    topik: x\n")
    assert_input_error(cli("render", "--app", app), "kafka.topik", "did you mean 'topic'")


def test_a_removed_upstream_field_says_what_replaced_it(make_app, cli):
    app = make_app("backend: nats-native\nvalues:\n  nats:\n    native:\n      antiAffinity: true\n")
    assert_input_error(cli("render", "--app", app), "eventbus-render.yaml:5:7", "antiAffinity", "podAntiAffinity")


def test_wrong_type_is_reported_where_it_was_set(make_app, cli):
    app = make_app("backend: jetstream\nvalues:\n  jetstream:\n    replicas: three\n")
    assert_input_error(cli("render", "--app", app), "eventbus-render.yaml:4:5: jetstream.replicas", "integer")


def test_wrong_type_from_set_names_the_flag(make_app, cli):
    app = make_app("backend: jetstream\n")
    assert_input_error(cli("render", "--app", app, "--set", "jetstream.replicas=lots"),
                       "--set: jetstream.replicas", "(set by --set jetstream.replicas=lots)")


def test_missing_required_value_is_named(make_app, cli):
    app = make_app("backend: kafka\nvalues:\n  kafka:\n    url: k:9092\n    tls: {caCertSecret: {name: ca}}\n")
    assert_input_error(cli("render", "--app", app), "kafka.tls.caCertSecret", "'key'")


@pytest.mark.parametrize("app_file, sets, expected", [
    # a mapping where the built-in dev profile has a string: the app's mapping is what is wrong
    ("backend: jetstream\nvalues:\n  jetstream:\n    streamConfig:\n      maxAge: 24h\n", (),
     "eventbus-render.yaml:4:5: jetstream.streamConfig: expected string, got object"),
    ("backend: jetstream\nvalues:\n  jetstream:\n    version: {pinned: 2.10.29}\n", (),
     "eventbus-render.yaml:4:5: jetstream.version: expected string, got object"),
    # a mapping the app starts below a section the built-in defaults open (kafka: {})
    ("backend: kafka\nvalues:\n  kafka:\n    url: k:9092\n    tls: {caCertSecret: {name: ca}}\n", (),
     "eventbus-render.yaml:5:11: kafka.tls.caCertSecret: missing required field 'key'"),
    # the same from the command line: the flag, not the defaults
    ("backend: kafka\nvalues:\n  kafka: {url: 'k:9092'}\n", ("--set", "kafka.tls={caCertSecret: {name: ca}}"),
     "kafka.tls.caCertSecret: missing required field 'key' (set by --set kafka.tls={caCertSecret: {name: ca}})"),
], ids=["mapping-over-profile-string", "mapping-over-profile-version", "mapping-below-default-section", "set"])
def test_a_value_the_app_set_is_reported_at_the_app_not_at_the_built_in_it_replaced(make_app, cli, app_file, sets,
                                                                                      expected):
    result = cli("render", "--app", make_app(app_file), *sets)
    assert_input_error(result, expected)
    assert "builtin:" not in result.err


def test_all_value_problems_are_reported_at_once(make_app, cli):
    app = make_app("backend: jetstream\nvalues:\n  jetstream:\n    replcas: 3\n    priority: high\n")
    result = cli("render", "--app", app)
    assert_input_error(result, "2 problems found", "replcas", "priority")


def test_undefined_template_variable_names_the_template_line(make_app, cli):
    app = make_app("backend: jetstream\n", files={
        "templates/jetstream.yaml.j2": "apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata:\n"
                                       "  name: {{ nme }}\nspec: {}\n"})
    assert_input_error(cli("render", "--app", app), "templates/jetstream.yaml.j2:4", "undefined template variable",
                       "'nme' is undefined")


def test_template_cannot_reach_python_internals(make_app, cli):
    app = make_app("backend: jetstream\n", files={
        "templates/jetstream.yaml.j2": "x: {{ ''.__class__.__mro__ }}\n"})
    assert_input_error(cli("render", "--app", app), "templates/jetstream.yaml.j2:1")


def test_cyclic_extends_shows_the_cycle(make_app, cli):
    app = make_app("backend: jetstream\nprofile: a\n", files={
        "profiles/a.yaml": "extends: b\n", "profiles/b.yaml": "extends: a\n"})
    assert_input_error(cli("render", "--app", app), "profiles/b.yaml:1:1: extends", "cycle: a -> b -> a")


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "..", "a/b"])
def test_names_that_would_leave_the_app_directory_are_refused(make_app, cli, name):
    app = make_app(f"backend: jetstream\nprofile: '{name}'\n")
    assert_input_error(cli("render", "--app", app), "eventbus-render.yaml:2:1: profile: profile name")


def test_a_symlinked_profile_pointing_outside_the_app_is_refused(make_app, cli, tmp_path):
    outside = tmp_path / "secret.yaml"
    outside.write_text("values: {}\n")
    app = make_app("backend: jetstream\nprofile: evil\n")
    (app / "profiles").mkdir()
    (app / "profiles" / "evil.yaml").symlink_to(outside)
    assert_input_error(cli("render", "--app", app), "symlink that leaves the app directory")


def test_unknown_top_level_keys_in_an_app_file_are_errors(make_app, cli):
    app = make_app("backend: jetstream\noverlay: [ha]\n")
    assert_input_error(cli("render", "--app", app), "eventbus-render.yaml:2:1: overlay: unknown key 'overlay'",
                       "did you mean 'overlays'?")


def test_unknown_top_level_keys_in_a_profile_are_errors(make_app, cli):
    app = make_app("backend: jetstream\nprofile: mine\n", files={"profiles/mine.yaml": "value: {}\n"})
    assert_input_error(cli("render", "--app", app), "profiles/mine.yaml:1:1: value: unknown key 'value'")


def test_a_missing_app_file_says_what_to_create(tmp_path, cli):
    assert_input_error(cli("render", "--app", tmp_path), "no eventbus-render.yaml")


def test_bad_set_syntax_is_a_usage_error(make_app, cli):
    app = make_app("backend: jetstream\n")
    assert_input_error(cli("render", "--app", app, "--set", "jetstream.replicas"), "is not PATH=VALUE")


def test_invalid_label_values_are_refused(make_app, cli):
    app = make_app("backend: jetstream\nvalues:\n  labels:\n    team: 'not valid!'\n")
    assert_input_error(cli("render", "--app", app), "eventbus-render.yaml:4:5: labels.team")


def test_an_invalid_eventbus_name_is_refused(make_app, cli):
    app = make_app("backend: jetstream\nname: Default_Bus\n")
    assert_input_error(cli("render", "--app", app), "eventbus-render.yaml:2:1: name", "is not a valid EventBus name")


def test_output_directory_is_untouched_on_error(make_app, cli, tmp_path):
    app = make_app("backend: jetstream\nvalues:\n  jetstream: {replcas: 3}\n")
    out = tmp_path / "out"
    assert_input_error(cli("render", "--app", app, "-o", out), "replcas")
    assert not out.exists()


def test_output_directory_gets_one_file_per_object(make_app, cli, tmp_path):
    app = make_app("backend: jetstream\nnamespace: events\n")
    result = cli("render", "--app", app, "-o", tmp_path / "out")
    assert result.code == 0 and result.out == ""
    assert (tmp_path / "out" / "events" / "eventbus-default.yaml").read_text().startswith("apiVersion:")


def test_usage_errors_exit_2(cli):
    result = cli("render", "--format", "xml")
    assert result.code == 2 and result.out == ""


def test_list_shows_profiles_overlays_and_backends_with_descriptions(make_app, cli):
    app = make_app("backend: jetstream\n", files={"overlays/local.yaml": "description: Our own tweak.\n"})
    result = cli("list", "--app", app)
    assert result.code == 0
    assert re.search(r"^  prod +\[built-in\]  Production", result.out, re.M)
    assert "local" in result.out and "[app]  Our own tweak." in result.out
    assert "kafka" in result.out


def test_spread_weights_outside_1_to_100_are_refused(make_app, cli):
    app = make_app("backend: jetstream\nvalues:\n  spread: {zones: preferred, zoneWeight: 500}\n")
    assert_input_error(cli("render", "--app", app), "spread.zoneWeight", "out of range (1 to 100)")


def test_a_mapping_set_on_the_command_line_is_blamed_on_the_flag(make_app, cli):
    app = make_app("backend: jetstream\n")
    assert_input_error(cli("render", "--app", app, "--set", "guards={replica-count: {level: off}}"),
                       "--set: guards", "unknown field 'guards'")


def test_render_all_refuses_env_instead_of_ignoring_it(tmp_path, cli):
    assert_input_error(cli("render", "--all", "--root", tmp_path, "--env", "prod"), "--env cannot go with it")


def test_an_index_into_a_list_that_is_not_set_starts_the_list_or_says_it_is_past_the_end(make_app, cli):
    app = make_app("backend: jetstream\n")
    result = cli("render", "--app", app, "--set", "jetstream.tolerations[0].key=x",
                 "--set", "jetstream.tolerations[0].operator=Exists")
    assert result.code == 0, result.err
    assert "tolerations:\n    - key: x\n      operator: Exists\n" in result.out
    assert_input_error(cli("render", "--app", app, "--set", "jetstream.tolerations[2].key=x"),
                       "index 2 is past the end of jetstream.tolerations (0 items)")


def test_a_non_string_extends_is_named_as_such(make_app, cli):
    app = make_app("backend: jetstream\nprofile: p\n", files={"profiles/p.yaml": "extends: 5\n"})
    assert_input_error(cli("render", "--app", app), "profiles/p.yaml:1:1: extends: expected string, got integer 5")


def test_deleting_spread_falls_back_to_no_spread(make_app, cli):
    app = make_app("backend: jetstream\nvalues:\n  spread: null\n")
    result = cli("render", "--app", app)
    assert result.code == 0, result.err
    assert "podAntiAffinity" not in result.out


@pytest.mark.parametrize("command", [["render"], ["render", "--format", "json"], ["explain"], ["argocd", "generate"]])
def test_a_stdout_that_cannot_take_the_output_is_one_message_and_exit_2(make_app, command):
    import os
    import subprocess
    import sys

    app = make_app("backend: jetstream\n")
    env = dict(os.environ, EVENTBUS_RENDER_WORKER="")
    args = [*command, "--app", str(app)] if command[0] != "argocd" else command
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "renderer", *args], cwd=app, stdout=full,
                              stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "could not write" in proc.stderr and "No space left on device" in proc.stderr
