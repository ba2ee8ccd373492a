"""Sandboxed Jinja2 templates, one per backend.

Templates are looked up in the app directory's ``templates/`` folder first,
then in the package. Every lookup stays inside those folders (``..``,
absolute names and symlinks that leave them are refused), the environment
is an immutable sandbox with strict undefined, and values reach the YAML
text only through the ``yaml`` filter, which writes JSON-style flow scalars:
a string can never turn into a number, a boolean, a second document or a
new key. The text is parsed back and re-emitted canonically by ``emit``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment

from renderer.errors import InputError, Location

PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_SUFFIX = ".yaml.j2"
MAX_TEMPLATE_BYTES = 256 * 1024


class ConfinedLoader(BaseLoader):
    """Loads templates from a list of folders, never from outside them."""

    def __init__(self, roots: list[tuple[Path, str]]):
        # (folder, display prefix) pairs, searched in order
        self.roots = [(root.resolve(), label) for root, label in roots if root.is_dir()]

    def get_source(self, environment, template):
        pieces = split_template_path(template)  # refuses '..'
        for root, label in self.roots:
            path = root.joinpath(*pieces)
            if not path.is_file():
                continue
            real = path.resolve()
            try:
                real.relative_to(root)
            except ValueError:
                raise TemplateNotFound(f"{template} (a symlink leaving {label})") from None
            if real.stat().st_size > MAX_TEMPLATE_BYTES:
                raise TemplateNotFound(f"{template} (larger than {MAX_TEMPLATE_BYTES} bytes)")
            source = real.read_text(encoding="utf-8")
            mtime = os.path.getmtime(real)
            display = f"{label}/{'/'.join(pieces)}"
            return source, display, lambda: os.path.getmtime(real) == mtime
        raise TemplateNotFound(template)

    def list_templates(self):
        found = set()
        for root, _ in self.roots:
            for entry in os.listdir(root):
                if entry.endswith(".j2"):
                    found.add(entry)
        return sorted(found)


def to_yaml_flow(value) -> str:
    """The ``yaml`` filter: a value as a one-line, type-exact JSON flow scalar or collection."""
    return json.dumps(value, ensure_ascii=False, sort_keys=False, separators=(", ", ": "))


_ENVIRONMENTS: dict = {}


def environment(app_root: Path | None) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment for ``app_root`` (cached per folder within one process)."""
    key = str(app_root.resolve()) if app_root is not None else None
    env = _ENVIRONMENTS.get(key)
    if env is None:
        roots = []
        if app_root is not None:
            roots.append((app_root / "templates", "templates"))
        roots.append((PACKAGE_TEMPLATES, "builtin:templates"))
        env = ImmutableSandboxedEnvironment(
            loader=ConfinedLoader(roots),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        # no lorem ipsum or stateful helpers: templates see only what we pass them
        for name in ("lipsum", "cycler", "joiner"):
            env.globals.pop(name, None)
        env.filters["yaml"] = to_yaml_flow
        _ENVIRONMENTS[key] = env
    return env


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


def render(backend: str, context: dict, app_root: Path | None) -> str:
    """Render the template of ``backend`` with ``context``; template errors become :class:`InputError`."""
    env = environment(app_root)
    name = backend + TEMPLATE_SUFFIX
    try:
        template = env.get_template(name)
        return template.render(context)
    except TemplateNotFound as exc:
        raise InputError(f"template {exc.name!r} not found",
                         hint="templates are looked up in the app's templates/ folder, then built in") from None
    except TemplateSyntaxError as exc:
        raise InputError(f"template syntax error: {exc.message}",
                         location=Location(exc.filename or name, exc.lineno)) from None
    except UndefinedError as exc:
        raise InputError(f"undefined template variable: {exc.message}", location=_template_location(exc, name),
                         hint="set the value in a profile, overlay or the app file, or guard it with 'is defined'") \
            from None
    except SecurityError as exc:
        raise InputError(f"template attempted an unsafe operation: {exc}", location=_template_location(exc, name)) \
            from None
    except TemplateError as exc:
        raise InputError(f"template error: {exc}", location=_template_location(exc, name)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise InputError(f"template failed: {exc}", location=_template_location(exc, name)) from None
