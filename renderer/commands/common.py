"""What every command shares: the options that choose the layers, and writing results and diagnostics.

stdout carries only a command's result, written once, after everything has
succeeded (:func:`emit_text`); diagnostics go to stderr (:func:`warn`). Both
mask credentials (:func:`renderer.credentials.redact`), except in manifests.
"""

from __future__ import annotations

import os
import sys

import click

from renderer.commands import names
from renderer.descriptors import write_all


def emit_text(text: str, *, verbatim: bool = False) -> None:
    """Write the command's whole result to stdout at once; a stdout that cannot take it is an :class:`OutputError`.

    When stdout is a regular file, whatever part of ``text`` reached it is
    cut off again: a file is left as it was, never half-written. Credentials
    are masked (:func:`renderer.credentials.redact`) unless ``verbatim``:
    manifests, which Argo CD and kubectl apply as written, and text that holds
    no user data.
    """
    if not verbatim:
        from renderer.credentials import redact

        text = redact(text)
    stream = sys.stdout
    start = _file_position(stream)
    try:
        try:
            fd = stream.fileno()
        except (OSError, ValueError, AttributeError):  # a captured stream (tests, the Argo CD worker's child)
            fd = None
        if fd is None:
            stream.write(text)
            stream.flush()
            return
        stream.flush()
        # straight to the descriptor: a buffered stream takes a short write on a full disk for a whole one
        write_all(fd, text.encode(stream.encoding or "utf-8", stream.errors or "strict"))
    except (OSError, ValueError) as exc:
        raise stdout_error(exc, stream, start) from None


def finish_stdout() -> None:
    """Flush stdout before the command line ends (not at interpreter exit, where a failure is a traceback)."""
    stream = sys.stdout
    try:
        if stream is not None:
            stream.flush()
    except (OSError, ValueError) as exc:
        raise stdout_error(exc, stream, None) from None


def _file_position(stream) -> int | None:
    """Where the next byte written to ``stream`` lands, when it is a regular file (else ``None``)."""
    import stat

    try:
        stream.flush()
        fd = stream.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        import fcntl

        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND:
            return os.fstat(fd).st_size
        return os.lseek(fd, 0, os.SEEK_CUR)
    except (OSError, ValueError, AttributeError):
        return None


def stdout_error(exc: BaseException, stream, start: int | None):
    """The :class:`OutputError` of a failed write to stdout, after cutting a regular file back to ``start``.

    stdout then writes to ``/dev/null``, so that what is still buffered cannot fail a second time when the
    interpreter exits.
    """
    import errno

    from renderer.errors import OutputError

    try:
        fd = stream.fileno()
        if start is not None and os.fstat(fd).st_size > start:
            os.ftruncate(fd, start)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    number = getattr(exc, "errno", None)
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if number == errno.EPIPE:
        hint = "the program reading the output stopped before the end"
    elif number in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        hint = "free space on the device, or write somewhere else"
    else:
        hint = "write the output somewhere else, e.g. -o DIR"
    return OutputError(f"could not write the output to stdout: {reason}", hint=hint)


def warn(text: str) -> None:
    """A diagnostic line on stderr, credentials masked (:func:`renderer.credentials.redact`); a stderr that
    cannot take it loses it (the exit code still tells)."""
    from renderer.credentials import redact

    try:
        sys.stderr.write(redact(text.rstrip("\n")) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def error_message(exc) -> str:
    """How a :class:`~renderer.errors.RendererError` is printed on stderr."""
    text = exc.render()
    return text if text.startswith(("error", "warning")) or exc.exit_code == 1 else "error: " + text


def describe_failure(exc: BaseException, *, debug: bool = False, command: str = "",
                     debug_hint: bool = True) -> tuple[int, str]:
    """The exit code and the message (for stderr) of a command that ended with ``exc``.

    The one place where a failure becomes an exit code: a :class:`~renderer.errors.RendererError` says
    its own (2 input or output, 1 guard, 3 internal); a signal is ``128 + N``; anything else is a bug, exit
    :data:`~renderer.errors.EXIT_INTERNAL` and one line, its traceback only with ``debug`` (``debug_hint``:
    say how to get it; not under Argo CD, whose command line is fixed).
    """
    import traceback

    from renderer.errors import EXIT_INTERNAL, InternalError, RendererError
    from renderer.processes import Stopped, signal_name

    hint = " (run with --debug for the traceback; please report it)" if debug_hint and not debug else ""
    cause = exc.__cause__ if isinstance(exc, click.exceptions.Abort) and exc.__cause__ else exc
    if isinstance(cause, RendererError):
        text = error_message(cause)
        if isinstance(cause, InternalError):
            text += hint
            if debug and cause.detail:
                text = cause.detail.rstrip("\n") + "\n" + text
        return cause.exit_code, text
    if isinstance(cause, Stopped):
        return 128 + cause.signum, f"stopped by {signal_name(cause.signum)}"
    if isinstance(cause, (KeyboardInterrupt, click.exceptions.Abort)):
        return 130, "interrupted"
    if isinstance(cause, RecursionError):
        return 2, "error: input nested too deeply"
    if isinstance(cause, OSError) and cause.errno is not None and _is_stdout_error(cause):
        return 2, error_message(stdout_error(cause, sys.stdout, None))
    where = f" in eventbus-render {command}" if command else ""
    text = f"error: internal error{where}: {type(cause).__name__}: {cause}".rstrip() + hint
    if debug:
        text = "".join(traceback.format_exception(cause)) + text
    return EXIT_INTERNAL, text


def _is_stdout_error(exc: OSError) -> bool:
    """Whether ``exc`` comes from writing stdout (click's help or version text): a broken pipe or a full device."""
    import errno

    return exc.errno in (errno.EPIPE, errno.ENOSPC) and exc.filename is None


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
