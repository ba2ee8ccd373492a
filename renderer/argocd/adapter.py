"""The ``eventbus-render argocd`` commands: the Argo CD Config Management Plugin (CMP v2, sidecar).

- ``generate`` and ``parameters``: what ``plugin.yaml`` runs for every
  render and every Parameters tab (:mod:`renderer.argocd.plugin`). They read
  nothing from their command line: only the app directory (the current
  directory) and the environment Argo CD builds (:mod:`renderer.argocd.inputs`);
- ``serve -- CMD``: the sidecar's entrypoint. It starts the pre-forked render
  worker in the background, then execs CMD (``argocd-cmp-server``) with no shell;
- ``worker``: the same worker in the foreground.

In the sidecar, ``generate`` and ``parameters`` normally never reach this
module in their own process: the executable hands the command line to the
worker first (:mod:`renderer.argocd.client`), whose child runs these very
commands. Here they always run in-process.
"""

from __future__ import annotations

import os

import click

from renderer.argocd import protocol

NO_ARGUMENTS = {"ignore_unknown_options": True, "allow_extra_args": True}
"""Context settings that let a command see (and refuse) arguments it does not take, instead of click's
"no such option", which would suggest that some option exists."""


def _refuse_arguments(ctx: click.Context) -> None:
    if ctx.args:
        raise click.UsageError(
            f"{ctx.command_path} takes no arguments (got {' '.join(ctx.args)}); it reads the app directory "
            f"and Argo CD's environment (ARGOCD_ENV_*, ARGOCD_APP_PARAMETERS)", ctx=ctx)


def _run_plugin_command(name: str) -> int:
    from renderer.argocd.client import write_result
    from renderer.argocd.plugin import run_command
    from renderer.errors import InputError

    try:
        cwd = os.getcwd()
    except OSError as exc:
        raise InputError(f"cannot read the current directory ({exc.strerror})",
                         hint="argocd-cmp-server runs the plugin in the Application's source directory") from None
    return write_result(*run_command(name, cwd, dict(os.environ)))


@click.group("argocd")
def argocd_group():
    """Argo CD Config Management Plugin commands (see "Install into Argo CD" in the README)."""


@argocd_group.command("generate", context_settings=NO_ARGUMENTS)
@click.pass_context
def generate_command(ctx):
    """Render the current app directory as Argo CD asks (plugin generate).

    Reads ARGOCD_ENV_* variables and plugin parameters, prints the manifests.
    The executable hands this command to the sidecar's render worker when one
    serves from its directory (EVENTBUS_RENDER_WORKER, default
    /tmp/eventbus-render-worker; empty to disable), else it renders in-process.
    """
    _refuse_arguments(ctx)
    return _run_plugin_command("generate")


@argocd_group.command("parameters", context_settings=NO_ARGUMENTS)
@click.pass_context
def parameters_command(ctx):
    """Print the dynamic parameters announcement (a JSON array).

    It announces the profiles, overlays and environments this app directory
    can use.
    """
    _refuse_arguments(ctx)
    return _run_plugin_command("parameters")


def _directory(path):
    return path or protocol.worker_dir(os.environ) or protocol.DEFAULT_DIR


dir_option = click.option("--dir", "directory", metavar="DIR", default=None,
                          help=f"Directory the worker serves from, made mode 0700 if absent [default: "
                               f"${protocol.DIR_ENV} or {protocol.DEFAULT_DIR}].")


def _seconds(ctx, param, value):
    """``--deadline``: a finite number of seconds in (0, 3600]; ``inf``, ``nan`` or a negative is a usage error."""
    import math

    if value is not None and not (math.isfinite(value) and 0 < value <= protocol.MAX_DEADLINE):
        raise click.BadParameter(f"{value} is not a number of seconds between 0 and {protocol.MAX_DEADLINE:g}",
                                 ctx, param)
    return value


def _bounds(function):
    """``--max-renders`` and ``--deadline``: how many children the worker runs, and how long each may take."""
    function = click.option("--deadline", type=float, default=protocol.DEFAULT_DEADLINE, show_default=True,
                            callback=_seconds, metavar="SECONDS",
                            help="A render not answered this long after its child took it is stopped (exit 2).")(
        function)
    return click.option("--max-renders", type=click.IntRange(1, 1024), default=protocol.DEFAULT_MAX_RENDERS,
                        show_default=True, metavar="N",
                        help="Children alive at once, spares included; past it clients render themselves.")(
        function)


def _runner(ctx: click.Context):
    """How the worker runs a command line: what the command line that started it runs
    (``renderer.cli.main`` puts itself in the context's ``obj``); click's own group elsewhere."""
    run = (ctx.obj or {}).get("run") if isinstance(ctx.obj, dict) else None
    if run is None:
        root = ctx.find_root().command
        return lambda argv: root.main(args=argv, prog_name="eventbus-render")
    return run


@argocd_group.command("worker")
@dir_option
@_bounds
@click.pass_context
def worker_command(ctx, directory, max_renders, deadline):
    """Run the pre-forked render worker in the foreground."""
    from renderer.argocd import server

    return server.serve_forever(_directory(directory), _runner(ctx), max_renders=max_renders, deadline=deadline)


@argocd_group.command("serve", context_settings={"ignore_unknown_options": True})
@dir_option
@_bounds
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def serve_command(ctx, directory, max_renders, deadline, command):
    """Start the worker in the background, then exec COMMAND (no shell).

    The sidecar runs: eventbus-render argocd serve -- /var/run/argocd/argocd-cmp-server
    """
    from renderer.argocd import sidecar

    return sidecar.serve_then_exec(_directory(directory), list(command), _runner(ctx), max_renders=max_renders,
                                   deadline=deadline)
