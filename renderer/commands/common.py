"""What every command shares: the options that choose the layers, and writing results and diagnostics.

stdout carries only a command's result, written once, after everything has
succeeded (:func:`emit_text`); diagnostics go to stderr (:func:`warn`).
"""

from __future__ import annotations

import sys

import click

from renderer.commands import names


def emit_text(text: str) -> None:
    """Write the command's whole result to stdout at once; a stdout that cannot take it is an input error."""
    from renderer.errors import InputError

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # the reader went away: the command line ends quietly
    except OSError as exc:
        raise InputError(f"could not write the output to stdout: {exc.strerror or exc}",
                         hint="free space on the device, or write somewhere else") from None


def warn(text: str) -> None:
    """A diagnostic line on stderr."""
    sys.stderr.write(text.rstrip("\n") + "\n")


def error_message(exc) -> str:
    """How a :class:`~renderer.errors.RendererError` is printed on stderr."""
    text = exc.render()
    return text if text.startswith(("error", "warning")) or exc.exit_code == 1 else "error: " + text


def require_apps(apps, root) -> None:
    """``--all`` under ``root`` found no app file (``apps``: the list found, or its length): an input error.

    ``render --all`` and ``check --all`` share it, so that a wrong ``--root`` is never a silent success.
    """
    if not apps:
        from renderer.errors import InputError
        from renderer.stages.sources import APP_FILE

        raise InputError(f"no app directory (a folder holding {APP_FILE}) below {str(root)!r}",
                         hint="pass --root DIR, the folder above the app directories")


def build_request(app_dir, profile, overlays, sets=(), set_strings=(), environment=None):
    """A :class:`~renderer.pipeline.RenderRequest` from command-line options."""
    from pathlib import Path

    from renderer.pipeline import RenderRequest

    return RenderRequest(app_dir=Path(app_dir), profile=profile, overlays=tuple(overlays), sets=tuple(sets),
                         set_strings=tuple(set_strings), environment=environment)


def guard_report(rendered) -> str:
    """The report of a render's non-failing guard findings (warnings, waived violations); empty when none."""
    evaluation = getattr(rendered, "evaluation", None)
    if evaluation is None or not evaluation.findings:
        return ""
    from renderer.stages import guards

    return guards.format_report(evaluation)


def report_warnings(rendered) -> None:
    """Print non-failing guard findings (warnings, waived violations) to stderr."""
    report = guard_report(rendered)
    if report:
        warn(report)


def _app_directory(ctx, param, value):
    """``--app``: a directory; a file (the app file itself, most often) is a usage error saying what to pass."""
    from pathlib import Path

    from renderer.errors import UsageError

    if ctx.resilient_parsing:  # completing a command line: never fail
        return value
    if value is not None and Path(value).is_file():
        path = Path(value)
        hint = (f"pass the folder holding it: --app {path.parent}" if path.name == "eventbus-render.yaml"
                else "pass the app directory, the folder holding eventbus-render.yaml")
        raise UsageError(f"--app {value!r} is a file; --app takes the app directory", hint=hint)
    return value


def _one_environment(ctx, param, value):
    """``--env``: at most once (click would keep only the last)."""
    from renderer.errors import UsageError

    if len(value) > 1 and not ctx.resilient_parsing:
        raise UsageError("--env can be given only once; got " + ", ".join(repr(v) for v in value),
                         hint="render one environment at a time, or every one with render --all")
    return value[0] if value else None


app_option = click.option("--app", "app_dir", default=".", show_default=True, metavar="DIR",
                          type=click.Path(path_type=str), callback=_app_directory,
                          help="App directory holding eventbus-render.yaml.")
profile_option = click.option("--profile", metavar="NAME", shell_complete=names.complete_profile,
                              help="Profile to use instead of the app file's.")
overlay_option = click.option("--overlay", "overlays", multiple=True, metavar="NAME",
                              shell_complete=names.complete_overlay,
                              help="Overlay applied after the app file's overlays (repeatable).")
set_option = click.option("--set", "sets", multiple=True, metavar="PATH=VALUE",
                          help="Set a value (YAML scalar; stays a string where the field is a string).")
set_string_option = click.option("--set-string", "set_strings", multiple=True, metavar="PATH=VALUE",
                                 help="Set a value, always as a string.")
env_option = click.option("--env", "environment", metavar="NAME", multiple=True, callback=_one_environment,
                          shell_complete=names.complete_environment,
                          help="Render one of the app file's environments (required when it lists some, "
                               "unless it names a defaultEnvironment).")


def layer_options(function):
    """--app, --profile, --overlay, --set, --set-string and --env: what every rendering command takes."""
    for option in (env_option, set_string_option, set_option, overlay_option, profile_option, app_option):
        function = option(function)
    return function
