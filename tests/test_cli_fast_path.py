"""``render`` parses its plain command lines without click, exactly as click would."""

from __future__ import annotations

import subprocess
import sys

import pytest

from renderer import cli as cli_module

PLAIN = [
    [],
    ["--app", "apps/orders"],
    ["--app=apps/orders", "--env", "prod"],
    ["--profile", "prod", "--overlay", "ha", "--overlay=eu-west", "--set", "jetstream.replicas=5",
     "--set-string", "kafka.version=2.10"],
    ["--all", "--root", "repo", "-o", "out"],
    ["--all", "--root=repo", "--output-dir", "out", "--format", "json"],
    ["--format=json", "--app", "x", "--app", "y"],
    ["--set", "a=b=c", "--set", "labels.team=", "--env", "dev"],
]
FOR_CLICK = [
    ["--help"],
    ["--app"],
    ["--format", "toml"],
    ["--unknown", "x"],
    ["--all=yes"],
    ["-oout"],
    ["--set", "-x"],
    ["--", "--app"],
    ["positional"],
]


@pytest.mark.parametrize("args", PLAIN)
def test_plain_command_lines_parse_as_click_parses_them(args):
    parsed = cli_module.parse_render_args(args)
    assert parsed is not None
    context = cli_module.__getattr__("render_command").make_context("render", list(args))
    expected = {key: list(value) if isinstance(value, tuple) else value for key, value in context.params.items()}
    assert parsed == expected


@pytest.mark.parametrize("args", FOR_CLICK)
def test_anything_else_is_left_to_click(args):
    assert cli_module.parse_render_args(args) is None


def test_an_app_path_that_is_a_file_is_left_to_click(tmp_path, cli):
    file = tmp_path / "file.yaml"
    file.write_text("x: 1\n")
    assert cli_module.parse_render_args(["--app", str(file)]) is None
    result = cli("render", "--app", file)
    assert result.code == 2 and "is a file" in result.err and result.out == ""


@pytest.mark.parametrize("profile", ["dev", "staging", "prod"])
def test_a_plain_render_imports_neither_click_nor_pyyaml(make_app, profile):
    # the command line parses without click, and the built-in profiles, overlays and plain app files
    # are read without PyYAML: a fresh process (one per render under Argo CD) pays for neither
    app = make_app("backend: kafka\nprofile: %s\noverlays: [monitoring]\nvalues:\n  kafka:\n"
                   "    url: kafka:9093\n    topic: events\n    version: \"3.6.0\"\n"
                   "    tls:\n      caCertSecret: {name: ca, key: ca.crt}\n"
                   "    sasl:\n      mechanism: PLAIN\n      userSecret: {name: kafka, key: user}\n"
                   "      passwordSecret: {name: kafka, key: password}\n" % profile)
    code = ("import sys; from renderer.cli import main\n"
            "try:\n    main(['render', '--app', sys.argv[1]])\nexcept SystemExit as exc:\n"
            "    assert exc.code == 0, exc.code\nassert 'click' not in sys.modules, 'click was imported'\n"
            "assert 'yaml' not in sys.modules, 'PyYAML was imported'\n"
            "assert 'dataclasses' not in sys.modules, 'dataclasses was imported'\n")
    done = subprocess.run([sys.executable, "-c", code, str(app)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "kind: EventBus" in done.stdout


def test_a_usage_error_still_reads_like_click(cli):
    result = cli("render", "--format", "toml")
    assert result.code == 2 and "'toml' is not one of" in result.err and result.out == ""
