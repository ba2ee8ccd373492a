"""Exit codes: 1 only for a guard, 2 for input and output, 3 for an internal failure (one line; --debug shows why).

An internal failure is a bug, so none is known to trigger: a command that
raises is registered for the test in the command line's own table
(``renderer.cli.COMMANDS``), and runs through the real parser and error mapping.
"""

from __future__ import annotations

import os

import click
import pytest

from renderer import cli as cli_module
from renderer.commands import bulk
from renderer.errors import EXIT_INTERNAL


@click.command("boom")
@click.option("--kind", default="bug")
def boom_command(kind):
    """Fail the way a bug does."""
    if kind == "bug":
        raise ZeroDivisionError("boom")
    if kind == "os":
        raise PermissionError(13, "Permission denied", "/somewhere")
    if kind == "interrupt":
        raise KeyboardInterrupt
    raise RecursionError("maximum recursion depth exceeded")


@pytest.fixture
def boom(monkeypatch):
    monkeypatch.setitem(cli_module.COMMANDS, "boom", "tests.test_exit_codes:boom_command")


@pytest.mark.parametrize("kind, name", [("bug", "ZeroDivisionError: boom"),
                                        ("os", "PermissionError: [Errno 13] Permission denied: '/somewhere'")])
def test_an_internal_failure_is_one_line_and_exit_3_never_a_traceback(boom, cli, kind, name):
    result = cli("boom", "--kind", kind)
    assert (result.code, result.out) == (EXIT_INTERNAL, "") and EXIT_INTERNAL == 3
    assert result.err == (f"error: internal error: {name} (run with --debug for the traceback; please report it)\n")


def test_debug_prints_the_traceback_of_an_internal_failure(boom, cli):
    result = cli("--debug", "boom")
    assert result.code == 3 and result.out == ""
    assert result.err.startswith("Traceback (most recent call last):\n")
    assert 'raise ZeroDivisionError("boom")' in result.err
    assert result.err.endswith("\nerror: internal error: ZeroDivisionError: boom\n")


def test_debug_changes_nothing_for_input_errors(cli, make_app):
    app = make_app("backend: nope\n")
    plain, debug = cli("render", "--app", app), cli("--debug", "render", "--app", app)
    assert plain.code == debug.code == 2 and plain.err == debug.err and "Traceback" not in debug.err


def test_nesting_too_deep_is_an_input_error_and_an_interrupt_exits_130(boom, cli):
    assert (cli("boom", "--kind", "deep").code, cli("boom", "--kind", "deep").err) == (
        2, "error: input nested too deeply\n")
    interrupted = cli("boom", "--kind", "interrupt")
    assert interrupted.code == 130 and interrupted.err.splitlines()[-1] == "interrupted"


def test_a_failed_render_all_worker_is_an_internal_failure_not_a_guard_failure(tmp_path, cli, monkeypatch):
    root = tmp_path / "repo"
    for index in range(6):
        (root / f"a{index}").mkdir(parents=True)
        (root / f"a{index}/eventbus-render.yaml").write_text(f"backend: jetstream\nname: b{index}\n")
    monkeypatch.setattr(bulk, "PARALLEL_MIN_APPS", 2)
    monkeypatch.setattr(bulk, "_render_chunk", render_chunk_breaking_in_workers)
    result = cli("render", "--all", "--root", root, "-o", tmp_path / "out")
    assert result.code == 3 and result.out == ""
    assert result.err == ("error: a worker process failed: ValueError: a bug in a worker (run with --debug for the "
                          "traceback; please report it)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo"]  # no tree, no staging tree, no lock
    debug = cli("--debug", "render", "--all", "--root", root, "-o", tmp_path / "out")
    assert debug.code == 3 and 'raise ValueError("a bug in a worker")' in debug.err


PARENT = os.getpid()


def render_chunk_breaking_in_workers(*args):
    """``bulk._render_chunk``, with a bug in every worker process (module-level: it is sent to the workers)."""
    if os.getpid() != PARENT:
        raise ValueError("a bug in a worker")
    return RENDER_CHUNK(*args)


RENDER_CHUNK = bulk._render_chunk

