"""The ``eventbus-render`` command line: the one parser of every command, and the one place errors become exit codes.

Commands live in :mod:`renderer.commands` (and :mod:`renderer.argocd`) and
are imported only when invoked (:class:`LazyGroup`), so a command never pays
for importing the others. Each command runs in a run of its own
(:func:`renderer.context.run`). Every :class:`~renderer.errors.RendererError`
is turned into a message on stderr and an exit code here; click's usage
errors exit 2.

The executable (:mod:`renderer.__main__`) calls :func:`main`, after offering
``argocd generate`` and ``argocd parameters`` to the sidecar's render worker,
whose children call :func:`main` in turn.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from renderer import __version__
from renderer.commands.common import warn

# command name -> "module:attribute"; modules are imported on first use
COMMANDS = {
    "render": "renderer.commands.render:render_command",
    "list": "renderer.commands.show:list_command",
    "show": "renderer.commands.show:show_group",
    "init": "renderer.commands.scaffold:init_command",
    "check": "renderer.commands.check:check_command",
    "guards": "renderer.commands.check:guards_command",
    "explain": "renderer.commands.explain:explain_command",
    "diff": "renderer.commands.diff:diff_command",
    "schema": "renderer.commands.schema:schema_command",
    "argocd": "renderer.argocd.adapter:argocd_group",
}


class LazyGroup(click.Group):
    """A click group whose subcommands live in modules imported on demand."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, cmd_name):
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="eventbus-render")
@click.option("--debug", is_flag=True, help="On an internal error (exit 3), print its traceback too.")
@click.pass_context
def cli(ctx, debug):
    """Render Argo Events EventBus manifests from profiles, overlays and an app file."""
    if debug and isinstance(ctx.obj, dict):
        ctx.obj["debug"] = True


COMPLETE_VAR = "_EVENTBUS_RENDER_COMPLETE"
"""The variable a shell sets to ask for completions (``bash_source``, ``zsh_source``, ``fish_source`` print the
script that enables them; see docs/review.md), as click names it for the program ``eventbus-render``."""


def complete(instruction: str | None) -> None:
    """Answer the shell's completion request ``instruction``, if any, and exit (click's shell completion)."""
    if instruction:
        from click.shell_completion import shell_complete

        sys.exit(shell_complete(cli, {}, "eventbus-render", COMPLETE_VAR, instruction))


def main(argv=None) -> None:
    """Run one command line (``argv``, default ``sys.argv[1:]``) and exit with its code, errors mapped to codes.

    Exit codes: 0, 1 (a guard failed), 2 (bad input or output that could not be written), 3 (an internal
    failure: one line, its traceback only with ``--debug``), 128+N (stopped by signal N, after cleaning up).
    """
    from renderer import context, processes
    from renderer.commands.common import describe_failure, finish_stdout

    complete(os.environ.get(COMPLETE_VAR))
    args = list(sys.argv[1:] if argv is None else argv)
    obj = {"run": main}
    try:
        with processes.stop_on_signals(), context.run():
            # click's own main() would turn a closed stdout into exit 1 ("a guard failed"): parse and invoke here
            try:
                with cli.make_context("eventbus-render", args, obj=obj) as ctx:
                    result = cli.invoke(ctx)
            except click.exceptions.Exit as exc:  # --help, --version
                result = exc.exit_code
        finish_stdout()
    except SystemExit:
        raise
    except click.ClickException as exc:
        try:
            exc.show()
        except OSError:  # stderr is gone too: the exit code still tells
            pass
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except BaseException as exc:
        code, text = describe_failure(exc, debug=obj.get("debug", False))
        warn(text)
        sys.exit(code)
    sys.exit(result if isinstance(result, int) else 0)
