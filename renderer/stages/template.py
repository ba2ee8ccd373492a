"""The template stage: one sandboxed Jinja2 template per backend renders the EventBus text.

Templates are looked up in the app directory's ``templates/`` folder first,
then in the repository layer's (``.eventbus-render/templates/``), then in
the package. Every lookup stays inside those folders (``..``,
absolute names and symlinks that leave them are refused), the environment
is an immutable sandbox with strict undefined and bounded operators
(:mod:`renderer.stages.template_sandbox`), and values reach the YAML text
only through the ``yaml`` filter, which writes JSON-style flow scalars
(:mod:`renderer.stages.template_filters`): a string can never turn into a
number, a boolean, a second document or a new key. An app's own templates
and the repository layer's run under a time limit; the output of any
template is at most 1 MiB.

Jinja2 is imported on the first render, not with this module. The
environment of the package's templates is made once per process (it holds
only the package's compiled templates); the environment of an app with
templates of its own or of its repository layer belongs to the current run
(:func:`renderer.context.cache`).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from renderer.context import cache as run_cache
from renderer.errors import InputError, Location
from renderer.stages.template_filters import combine, spread_pods, to_yaml_flow

__all__ = [
    "PACKAGE_TEMPLATES",
    "TEMPLATE_SUFFIX",
    "TIME_LIMIT_SECONDS",
    "TemplateTimeout",
    "combine",
    "environment",
    "render",
    "source_of",
    "spread_pods",
    "to_yaml_flow",
]

PACKAGE_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
TEMPLATE_SUFFIX = ".yaml.j2"
TIME_LIMIT_SECONDS = 10.0
"""Wall-clock limit of one render of an app's own template (a loop bomb is stopped, not waited for)."""


class TemplateTimeout(Exception):
    """Raised inside a template render that ran past :data:`TIME_LIMIT_SECONDS`."""


def environment(where):
    """The sandboxed environment for the app directory ``where`` (or :func:`renderer.stages.tree.places`).

    Apps without a ``templates/`` folder (of their own or of their repository
    layer) all share the package-only environment (made once per process), so
    its compiled templates serve every such app. An app with templates gets
    an environment of the current run, one per set of folders.
    """
    from renderer.stages.catalog import template_folders

    return _environment(template_folders(where) if where is not None else ())


@functools.cache
def _package_environment():
    from renderer.stages import template_sandbox

    return template_sandbox.new_environment([(PACKAGE_TEMPLATES, template_sandbox.BUILTIN_LABEL)])


def _environment(folders: tuple):
    """The environment of ``folders`` (``(folder, name in messages)`` pairs, searched before the package's)."""
    if not folders:
        return _package_environment()
    key = tuple((os.path.realpath(folder), label) for folder, label in folders)
    made = run_cache("template-environments")
    env = made.get(key)
    if env is None:
        from renderer.stages import template_sandbox

        env = made[key] = template_sandbox.new_environment(
            [(Path(folder), label) for folder, label in key] + [(PACKAGE_TEMPLATES, template_sandbox.BUILTIN_LABEL)])
    return env


def render(backend: str, context: dict, folders: tuple = ()) -> str:
    """Render the template of ``backend`` with ``context``; template errors become :class:`InputError`.

    ``folders`` are the app's and its repository layer's ``templates/`` folders
    (:func:`renderer.stages.catalog.template_folders`); their templates run under
    the time limit.
    """
    name = backend + TEMPLATE_SUFFIX
    env = _environment(folders)
    from renderer.stages import template_bounds

    template = None
    try:
        template = env.get_template(name)
        with template_bounds.budget():  # what one render builds, added up (MAX_WORK)
            if folders:
                with _time_limit(TIME_LIMIT_SECONDS):
                    text = template.render(context)
            else:  # the package's own templates hold no loops a value could blow up: no timer needed
                text = template.render(context)
    except Exception as exc:
        raise _template_error(exc, name, getattr(template, "filename", None) or name) from None
    return text


def source_of(backend: str, folders: tuple) -> str:
    """How the template of ``backend`` is named in messages: from the first of ``folders`` holding it, else built in."""
    from renderer.stages.template_sandbox import BUILTIN_LABEL

    name = backend + TEMPLATE_SUFFIX
    return next((f"{label}/{name}" for folder, label in folders if (Path(folder) / name).is_file()),
                f"{BUILTIN_LABEL}/{name}")


def _template_location(exc: BaseException, fallback: str) -> Location:
    """Recover template file and line from the traceback (Jinja rewrites frames to template lines)."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = Location(filename, tb.tb_lineno)
        tb = tb.tb_next
    return found or Location(fallback)


def _template_error(exc: Exception, name: str, shown: str) -> Exception:
    """The :class:`InputError` a failed render becomes (or ``exc`` itself when it is not the template's)."""
    from jinja2 import TemplateNotFound
    from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError

    from renderer.stages.template_bounds import TooLarge

    if isinstance(exc, TooLarge):
        return InputError(str(exc), location=_template_location(exc, shown),
                          hint="a template builds values of at most 1 MiB, and at most 16 MiB in all")
    if isinstance(exc, TemplateTimeout):
        return InputError(f"template {name} ran for more than {TIME_LIMIT_SECONDS:g} seconds and was stopped",
                          hint="look for loops over large ranges")
    if isinstance(exc, TemplateNotFound):
        return InputError(f"template {exc.name!r} not found",
                          hint="templates are looked up in the app's templates/ folder, then in the repository "
                               "layer's (.eventbus-render/templates/), then built in")
    if isinstance(exc, TemplateSyntaxError):
        return InputError(f"template syntax error: {exc.message}", location=Location(exc.filename or name, exc.lineno))
    if isinstance(exc, UndefinedError):
        return InputError(f"undefined template variable: {exc.message}", location=_template_location(exc, name),
                          hint="set the value in a profile, overlay or the app file, or guard it with 'is defined'")
    if isinstance(exc, SecurityError):
        return InputError(f"template attempted an unsafe operation: {exc}", location=_template_location(exc, name))
    if isinstance(exc, TemplateError):
        return InputError(f"template error: {exc}", location=_template_location(exc, name))
    if isinstance(exc, (TypeError, ValueError, ArithmeticError, LookupError, AttributeError, RecursionError,
                        MemoryError)):
        return InputError(f"template failed: {exc}", location=_template_location(exc, name))
    return exc


class _time_limit:
    """Stop a render that runs too long, with SIGALRM where it is available (handlers: main thread only)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.armed = False
        self.previous = None

    def __enter__(self):
        import signal

        if hasattr(signal, "setitimer"):
            try:
                self.previous = signal.signal(signal.SIGALRM, self._expire)
            except ValueError:  # not the main thread
                return self
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True
        return self

    @staticmethod
    def _expire(signum, frame):
        raise TemplateTimeout()

    def __exit__(self, *exc):
        if self.armed:
            import signal

            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False
