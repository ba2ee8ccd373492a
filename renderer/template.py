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
import stat
from pathlib import Path

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound
from jinja2.bccache import Bucket, BytecodeCache
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment

from renderer.errors import InputError, Location

PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_SUFFIX = ".yaml.j2"
MAX_TEMPLATE_BYTES = 256 * 1024
MAX_OUTPUT_BYTES = 1024 * 1024
"""Largest text a template may produce, and largest string or list an expression may build."""
TIME_LIMIT_SECONDS = 10.0
"""Wall-clock limit of one template render (a loop bomb is stopped, not waited for)."""


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus bounds on the operators that can build huge values."""

    intercepted_binops = frozenset(["*", "**", "+"])

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise SecurityError("exponent too large for a template")
        elif operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) \
                        and len(seq) * count > MAX_OUTPUT_BYTES:
                    raise SecurityError("repetition would build a value larger than 1 MiB")
        elif operator == "+":
            if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)) \
                    and len(left) + len(right) > MAX_OUTPUT_BYTES:
                raise SecurityError("concatenation would build a value larger than 1 MiB")
        return super().call_binop(context, operator, left, right)


class TemplateTimeout(Exception):
    """Raised inside a template render that ran past :data:`TIME_LIMIT_SECONDS`."""


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


def combine(*mappings) -> dict:
    """The ``combine`` filter: a new mapping with the keys of every argument, later ones winning."""
    out: dict = {}
    for mapping in mappings:
        if mapping:
            if not isinstance(mapping, dict):
                raise TypeError(f"combine expects mappings, got {type(mapping).__name__}")
            out.update(mapping)
    return out


class BuiltinBytecodeCache(BytecodeCache):
    """Compiled built-in templates on disk, so a fresh process does not compile them again.

    Only templates read from the package are cached: an app's own templates
    come from untrusted checkouts at ever-new paths. A cache file's name is a
    hash of the template's name and source, the Jinja2, Python and renderer
    versions and the environment's compile options, and Jinja2 checks the
    source hash again when it loads the file. The directory is private
    (created 0700, used only when this user owns it and nobody else may
    write to it), writes are atomic, and every I/O error just means "compile".
    """

    def __init__(self, directory: str | None = None):
        self._directory = directory
        self._checked: bool | None = None

    @staticmethod
    def default_directory() -> str:
        """``$XDG_CACHE_HOME/eventbus-render/jinja2``, else ``<tmp>/eventbus-render-<uid>/jinja2``."""
        base = os.environ.get("XDG_CACHE_HOME")
        if base and os.path.isabs(base):
            return os.path.join(base, "eventbus-render", "jinja2")
        import tempfile

        uid = os.geteuid() if hasattr(os, "geteuid") else "user"
        return os.path.join(tempfile.gettempdir(), f"eventbus-render-{uid}", "jinja2")

    def directory(self) -> str | None:
        """The cache directory, created if needed; ``None`` when it is not safe to use."""
        if self._checked is None:
            path = self._directory or self.default_directory()
            self._checked = False
            try:
                os.makedirs(path, mode=0o700, exist_ok=True)
                for folder in (path, os.path.dirname(path)):
                    info = os.lstat(folder)
                    if hasattr(os, "geteuid") and (info.st_uid != os.geteuid() or info.st_mode & 0o022
                                                   or not stat.S_ISDIR(info.st_mode)):
                        return None
                self._directory, self._checked = path, True
            except OSError:
                return None
        return self._directory if self._checked else None

    @staticmethod
    def _fingerprint(environment) -> str:
        import sys

        import jinja2

        from renderer import __version__

        options = (jinja2.__version__, __version__, sys.version, type(environment).__qualname__,
                   sorted(getattr(environment, "intercepted_binops", ())),
                   sorted(getattr(environment, "intercepted_unops", ())),
                   environment.block_start_string, environment.block_end_string,
                   environment.variable_start_string, environment.variable_end_string,
                   environment.comment_start_string, environment.comment_end_string,
                   environment.line_statement_prefix, environment.line_comment_prefix,
                   environment.trim_blocks, environment.lstrip_blocks, environment.newline_sequence,
                   environment.keep_trailing_newline, repr(environment.autoescape), environment.optimized,
                   sorted(environment.extensions))
        return repr(options)

    def get_bucket(self, environment, name, filename, source):
        import hashlib

        cacheable = bool(filename and filename.startswith("builtin:"))
        key = hashlib.sha256("\0".join((self._fingerprint(environment), name, filename or "", source))
                             .encode("utf-8", "surrogatepass")).hexdigest() if cacheable else ""
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        if cacheable:
            self.load_bytecode(bucket)
        return bucket

    def set_bucket(self, bucket) -> None:
        if bucket.key:
            self.dump_bytecode(bucket)

    def load_bytecode(self, bucket) -> None:
        directory = self.directory()
        if directory is None:
            return
        try:
            fd = os.open(os.path.join(directory, bucket.key + ".j2c"), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return
        try:
            with os.fdopen(fd, "rb") as handle:
                bucket.load_bytecode(handle)
        except Exception:
            bucket.reset()

    def dump_bytecode(self, bucket) -> None:
        directory = self.directory()
        if directory is None:
            return
        import tempfile

        try:
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                bucket.write_bytecode(handle)
            os.replace(temp, os.path.join(directory, bucket.key + ".j2c"))
        except Exception:
            try:
                os.unlink(temp)
            except OSError:
                pass

    def clear(self) -> None:
        directory = self.directory()
        if directory is None:
            return
        for entry in os.listdir(directory):
            if entry.endswith(".j2c"):
                try:
                    os.unlink(os.path.join(directory, entry))
                except OSError:
                    pass


BYTECODE_CACHE = BuiltinBytecodeCache()

_ENVIRONMENTS: dict = {}


def environment(app_root: Path | None) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment for ``app_root`` (cached per set of template folders within one process).

    Apps without a ``templates/`` folder all share the package-only environment,
    so its compiled templates serve every such app.
    """
    roots = []
    if app_root is not None:
        roots.append((app_root / "templates", "templates"))
    roots.append((PACKAGE_TEMPLATES, "builtin:templates"))
    roots = [(root.resolve(), label) for root, label in roots if root.is_dir()]
    key = tuple((str(root), label) for root, label in roots)
    env = _ENVIRONMENTS.get(key)
    if env is None:
        env = LimitedSandbox(
            loader=ConfinedLoader(roots),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,
            bytecode_cache=BYTECODE_CACHE,
        )
        # no lorem ipsum or stateful helpers: templates see only what we pass them
        for name in ("lipsum", "cycler", "joiner"):
            env.globals.pop(name, None)
        env.filters["yaml"] = to_yaml_flow
        env.filters["combine"] = combine
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
        with _time_limit(TIME_LIMIT_SECONDS):
            text = template.render(context)
    except TemplateTimeout:
        raise InputError(f"template {name} ran for more than {TIME_LIMIT_SECONDS:g} seconds and was stopped",
                         hint="look for loops over large ranges") from None
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
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError, RecursionError,
            MemoryError) as exc:
        raise InputError(f"template failed: {exc}", location=_template_location(exc, name)) from None
    if len(text) > MAX_OUTPUT_BYTES:
        raise InputError(f"template {name} produced more than {MAX_OUTPUT_BYTES} bytes")
    return text


class _time_limit:
    """Stop a render that runs too long, with SIGALRM where it is available (main thread only)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.armed = False

    def __enter__(self):
        import signal
        import threading

        if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGALRM, self._expire)
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
