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
import sys

import click

from renderer import __version__
from renderer.commands.common import error_message, warn

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
def cli():
    """Render Argo Events EventBus manifests from profiles, overlays and an app file."""


def main(argv=None) -> None:
    """Run one command line (``argv``, default ``sys.argv[1:]``) and exit with its code, errors mapped to codes."""
    from renderer import context
    from renderer.errors import RendererError

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with context.run():
            result = cli.main(args=args, prog_name="eventbus-render", standalone_mode=False, obj={"run": main})
    except RendererError as exc:
        warn(error_message(exc))
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        warn("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)
