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


def test_a_plain_render_does_not_import_click(make_app):
    app = make_app("backend: jetstream\nprofile: dev\n")
    code = ("import sys; from renderer.cli import main\n"
            "try:\n    main(['render', '--app', sys.argv[1]])\nexcept SystemExit as exc:\n"
            "    assert exc.code == 0, exc.code\nassert 'click' not in sys.modules, 'click was imported'\n")
    done = subprocess.run([sys.executable, "-c", code, str(app)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "kind: EventBus" in done.stdout


def test_a_usage_error_still_reads_like_click(cli):
    result = cli("render", "--format", "toml")
    assert result.code == 2 and "'toml' is not one of" in result.err and result.out == ""
