"""Sandboxed Jinja2 templates, one per backend.

Templates are looked up in the app directory's ``templates/`` folder first,
then in the package. Every lookup stays inside those folders (``..``,
absolute names and symlinks that leave them are refused), the environment
is an immutable sandbox with strict undefined, and values reach the YAML
text only through the ``yaml`` filter, which writes JSON-style flow scalars:
a string can never turn into a number, a boolean, a second document or a
new key. The text is parsed back and re-emitted canonically by ``emit``.

Start-up (Argo CD runs a fresh process per render): Jinja2 is imported on
first use, built-in templates are compiled once into a private on-disk
bytecode cache (:class:`BuiltinBytecodeCache`), and the Argo CD generate
command turns on :class:`RenderMemo`, which lets a process that renders a
context rendered before skip Jinja2 altogether.
"""

from __future__ import annotations

import _thread
import json
import os
import stat
from pathlib import Path

from renderer.errors import InputError, Location

PACKAGE_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
TEMPLATE_SUFFIX = ".yaml.j2"
MAX_TEMPLATE_BYTES = 256 * 1024
MAX_OUTPUT_BYTES = 1024 * 1024
"""Largest text a template may produce, and largest string or list an expression may build."""
TIME_LIMIT_SECONDS = 10.0
"""Wall-clock limit of one template render (a loop bomb is stopped, not waited for)."""


class TemplateTimeout(Exception):
    """Raised inside a template render that ran past :data:`TIME_LIMIT_SECONDS`."""


_FLOW = json.JSONEncoder(ensure_ascii=False, sort_keys=False, separators=(", ", ": "))
# What _FLOW.encode runs for a collection, built once instead of on every call. Values reach a template
# from YAML files whose nesting is bounded, so there is no cycle to watch for (no markers).
_FLOW_C = None if json.encoder.c_make_encoder is None else json.encoder.c_make_encoder(
    None, _FLOW.default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)


def to_yaml_flow(value) -> str:
    """The ``yaml`` filter: a value as a one-line, type-exact JSON flow scalar or collection."""
    cls = value.__class__
    if _FLOW_C is not None and (cls is dict or cls is list):
        return "".join(_FLOW_C(value, 0))
    return _FLOW.encode(value)


def combine(*mappings) -> dict:
    """The ``combine`` filter: a new mapping with the keys of every argument, later ones winning."""
    out: dict = {}
    for mapping in mappings:
        if mapping:
            if not isinstance(mapping, dict):
                raise TypeError(f"combine expects mappings, got {type(mapping).__name__}")
            out.update(mapping)
    return out


ZONE_KEY = "topology.kubernetes.io/zone"
HOST_KEY = "kubernetes.io/hostname"
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def spread_pods(section: dict, spread: dict, selector: dict) -> dict:
    """The ``spread_pods`` filter: a backend section with ``spread`` expanded into pod anti-affinity.

    Zone and host spread become ``podAntiAffinity`` terms on
    ``topology.kubernetes.io/zone`` and ``kubernetes.io/hostname`` whose label
    selector is ``selector`` (the labels the Argo Events controller puts on
    this EventBus's pods): ``required`` adds a required term, ``preferred`` a
    preferred term weighted ``zoneWeight`` or ``hostWeight``. The section's
    own affinity is kept, and a term already written is not added twice.
    Returns a new mapping; ``section`` is not changed.
    """
    own = section.get("affinity") or {}
    anti = own.get("podAntiAffinity") or {}
    own_required = anti.get(_REQUIRED) or []
    own_preferred = anti.get(_PREFERRED) or []
    required, preferred = list(own_required), list(own_preferred)
    for mode, weight, key in (("zones", "zoneWeight", ZONE_KEY), ("hosts", "hostWeight", HOST_KEY)):
        term = {"labelSelector": {"matchLabels": selector}, "topologyKey": key}
        if spread.get(mode) == "required" and term not in own_required:
            required.append(term)
        elif spread.get(mode) == "preferred":
            weighted = {"weight": spread.get(weight), "podAffinityTerm": term}
            if weighted not in own_preferred:
                preferred.append(weighted)
    anti = combine(anti, {_REQUIRED: required} if required else {}, {_PREFERRED: preferred} if preferred else {})
    affinity = combine(own, {"podAntiAffinity": anti} if anti else {})
    return combine(section, {"affinity": affinity} if affinity else {})


def default_cache_path(kind: str) -> str:
    """``$XDG_CACHE_HOME/eventbus-render/<kind>``, else ``<tmp>/eventbus-render-<uid>/<kind>``."""
    base = os.environ.get("XDG_CACHE_HOME")
    if base and os.path.isabs(base):
        return os.path.join(base, "eventbus-render", kind)
    import tempfile

    uid = os.geteuid() if hasattr(os, "geteuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"eventbus-render-{uid}", kind)


def private_directory(path: str) -> str | None:
    """``path``, created 0700 if needed, when it and its parent belong to this user and nobody else may
    write to them; else ``None`` (a cache there could be planted by someone else)."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        for folder in (path, os.path.dirname(path)):
            info = os.lstat(folder)
            if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "geteuid") and (
                    info.st_uid != os.geteuid() or info.st_mode & 0o022)):
                return None
    except OSError:
        return None
    return path


class RenderMemo:
    """Text rendered from the built-in templates, remembered on disk by everything that decides it.

    Off by default; ``eventbus-render argocd generate`` turns it on. A render
    is a pure function of the template sources and the context (the sandbox
    offers no clock, no randomness and no I/O to the built-in templates), so
    a fresh process that has rendered the same context before can skip
    importing Jinja2 altogether: on a repo server most renders after a new
    commit repeat the last one. Everything before the template (loading,
    merging, validation) and after it (parsing, validation, guards) still runs
    every time. The key hashes the sources of every built-in template and of
    this module, the Jinja2 installation, the Python and renderer versions,
    the template name and the exact context (``repr`` of plain data only;
    anything else is not remembered). Only successful renders are stored.
    Apps with their own ``templates/`` folder are never remembered. Files
    live in a private per-user folder (see :func:`private_directory`), are
    written atomically, carry their key and length, and at most
    :attr:`LIMIT` are kept.
    """

    LIMIT = 2048

    def __init__(self):
        self.enabled = False
        self._digest = None
        self._directory: str | None = None

    def directory(self) -> str | None:
        if self._directory is None:
            self._directory = private_directory(default_cache_path("rendered")) or ""
        return self._directory or None

    def _base_digest(self):
        if self._digest is None:
            import sys

            from renderer import __version__

            digest = _hasher()
            digest.update(f"{__version__}\0{sys.version}\0".encode())
            names = sorted(n for n in os.listdir(PACKAGE_TEMPLATES) if n.endswith(".j2"))
            for path in [os.path.join(PACKAGE_TEMPLATES, n) for n in names] + [__file__]:
                with open(path, "rb") as handle:
                    digest.update(path.encode("utf-8", "surrogateescape") + b"\0" + handle.read() + b"\0")
            for entry in sys.path:
                candidate = os.path.join(entry or ".", "jinja2", "__init__.py")
                if os.path.isfile(candidate):
                    info = os.stat(candidate)
                    digest.update(f"{os.path.abspath(candidate)}\0{info.st_size}\0{info.st_mtime_ns}".encode())
                    break
            self._digest = digest
        return self._digest.copy()

    def key(self, name: str, context: dict) -> str | None:
        """The memo key of rendering ``name`` with ``context``, or ``None`` when it is not remembered."""
        if not _plain(context):
            return None
        try:
            digest = self._base_digest()
        except OSError:
            return None
        digest.update(name.encode() + b"\0" + repr(context).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def get(self, key: str) -> str | None:
        directory = self.directory()
        if directory is None:
            return None
        try:
            fd = os.open(os.path.join(directory, key), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(MAX_OUTPUT_BYTES * 4 + 200)
        except OSError:
            return None
        head, newline, body = data.partition(b"\n")
        if not newline or head != f"{key} {len(body)}".encode():
            return None
        try:
            return body.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return None

    def put(self, key: str, text: str) -> None:
        directory = self.directory()
        if directory is None:
            return
        import tempfile

        body = text.encode("utf-8", "surrogatepass")
        try:
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(f"{key} {len(body)}\n".encode() + body)
            os.replace(temp, os.path.join(directory, key))
        except OSError:
            try:
                os.unlink(temp)
            except OSError:
                pass
            return
        self._trim(directory)

    def _trim(self, directory: str) -> None:
        try:
            entries = os.listdir(directory)
            if len(entries) <= self.LIMIT:
                return
            aged = []
            for entry in entries:
                try:
                    aged.append((os.lstat(os.path.join(directory, entry)).st_mtime, entry))
                except OSError:
                    pass
            for _, entry in sorted(aged)[: len(aged) - self.LIMIT // 2]:
                os.unlink(os.path.join(directory, entry))
        except OSError:
            pass


def _hasher():
    try:  # the built-in module: hashlib would load OpenSSL first, a few milliseconds of a cold render
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - every CPython build has it
        from hashlib import blake2b
    return blake2b(digest_size=32)


def _plain(value) -> bool:
    """Whether ``value`` is plain YAML-like data (dict with str keys, list, str, int, float, bool, None)."""
    kind = type(value)
    if kind is dict:
        return all(type(key) is str and _plain(item) for key, item in value.items())
    if kind is list:
        return all(_plain(item) for item in value)
    return kind in (str, int, float, bool, type(None))


MEMO = RenderMemo()

_DEFINE_LOCK = _thread.allocate_lock()
_JINJA_NAMES = ("LimitedSandbox", "ConfinedLoader", "BuiltinBytecodeCache", "BYTECODE_CACHE", "StrictUndefined")


def __getattr__(name):
    """The Jinja2-based classes, defined on first access (PEP 562): importing this module does not import Jinja2."""
    if name in _JINJA_NAMES:
        _define_jinja()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _define_jinja() -> None:
    """Import Jinja2 and define the sandbox, the loader and the bytecode cache (once per process)."""
    if "LimitedSandbox" in globals():
        return
    with _DEFINE_LOCK:
        if "LimitedSandbox" not in globals():
            _define_jinja_locked()


def _define_jinja_locked() -> None:
    from jinja2 import BaseLoader, StrictUndefined, Template, TemplateNotFound
    from jinja2.bccache import Bucket, BytecodeCache
    from jinja2.exceptions import SecurityError
    from jinja2.loaders import split_template_path
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class LimitedSandbox(ImmutableSandboxedEnvironment):
        """The immutable sandbox, plus bounds on the operators that can build huge values."""

        intercepted_binops = frozenset(["*", "**", "+"])

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._loaded: dict = {}

        def make_globals(self, d):
            # A plain dict rather than Jinja2's ChainMap over the environment's globals: every render
            # copies a template's globals into its context, and a ChainMap iterates in Python. The
            # difference (later changes to the environment's globals) never arises: ours are set once.
            return {**self.globals, **(d or {})}

        def get_template(self, name, parent=None, globals=None):
            # ``{% extends %}`` asks for the base template on every render. With auto_reload off Jinja2
            # hands back the template it loaded first anyway, after a locked, weakly keyed cache lookup;
            # this dictionary gives the same answer directly.
            if globals is None and not isinstance(name, Template):
                key = self.join_path(name, parent) if parent is not None else name
                found = self._loaded.get(key)
                if found is None:
                    found = super().get_template(name, parent)
                    if len(self._loaded) < 4096:
                        self._loaded[key] = found
                return found
            return super().get_template(name, parent, globals)

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
            self._checked: str | None = None

        def directory(self) -> str | None:
            """The cache directory, created if needed; ``None`` when it is not safe to use."""
            if self._checked is None:
                self._checked = private_directory(self._directory or default_cache_path("jinja2")) or ""
            return self._checked or None

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

    globals().update(LimitedSandbox=LimitedSandbox, ConfinedLoader=ConfinedLoader,
                     BuiltinBytecodeCache=BuiltinBytecodeCache, BYTECODE_CACHE=BuiltinBytecodeCache(),
                     StrictUndefined=StrictUndefined)


_ENVIRONMENTS: dict = {}


_PACKAGE_KEY = ("<package templates only>",)


def environment(app_root: Path | None):
    """The sandboxed environment for ``app_root`` (cached per set of template folders within one process).

    Apps without a ``templates/`` folder all share the package-only environment,
    so its compiled templates serve every such app.
    """
    _define_jinja()
    local = os.path.join(app_root, "templates") if app_root is not None else None
    if local is None or not os.path.isdir(local):
        # the common case, checked with one stat: no templates of the app's own
        env = _ENVIRONMENTS.get(_PACKAGE_KEY)
        if env is not None:
            return env
        local = None
    roots = []
    if local is not None:
        roots.append((Path(local), "templates"))
    roots.append((PACKAGE_TEMPLATES, "builtin:templates"))
    roots = [(root.resolve(), label) for root, label in roots if root.is_dir()]
    key = tuple((str(root), label) for root, label in roots) if local is not None else _PACKAGE_KEY
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
        env.filters["spread_pods"] = spread_pods
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
    name = backend + TEMPLATE_SUFFIX
    memo_key = None
    if MEMO.enabled and (app_root is None or not (app_root / "templates").is_dir()):
        memo_key = MEMO.key(name, context)
        if memo_key is not None:
            text = MEMO.get(memo_key)
            if text is not None:
                return text
    text = _render(name, context, app_root)
    if memo_key is not None:
        MEMO.put(memo_key, text)
    return text


def _render(name: str, context: dict, app_root: Path | None) -> str:
    env = environment(app_root)
    try:
        template = env.get_template(name)
        if env is _ENVIRONMENTS.get(_PACKAGE_KEY):
            # the package's own templates hold no loops a value could blow up: no timer needed
            text = template.render(context)
        else:
            with _time_limit(TIME_LIMIT_SECONDS):
                text = template.render(context)
    except Exception as exc:
        raise _template_error(exc, name) from None
    if len(text) > MAX_OUTPUT_BYTES:
        raise InputError(f"template {name} produced more than {MAX_OUTPUT_BYTES} bytes")
    return text


def _template_error(exc: Exception, name: str) -> Exception:
    """The :class:`InputError` a failed render becomes (or ``exc`` itself when it is not the template's)."""
    from jinja2 import TemplateNotFound
    from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError

    if isinstance(exc, TemplateTimeout):
        return InputError(f"template {name} ran for more than {TIME_LIMIT_SECONDS:g} seconds and was stopped",
                          hint="look for loops over large ranges")
    if isinstance(exc, TemplateNotFound):
        return InputError(f"template {exc.name!r} not found",
                          hint="templates are looked up in the app's templates/ folder, then built in")
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
    """Stop a render that runs too long, with SIGALRM where it is available (main thread only)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.armed = False

    def __enter__(self):
        # _signal, not signal: the wrapper module only adds enums, and building them costs a
        # cold render about a millisecond. Handlers can only be set from the main thread.
        import _signal

        if hasattr(_signal, "setitimer"):
            try:
                self.previous = _signal.signal(_signal.SIGALRM, self._expire)
            except ValueError:  # not the main thread
                return self
            _signal.setitimer(_signal.ITIMER_REAL, self.seconds)
            self.armed = True
        return self

    @staticmethod
    def _expire(signum, frame):
        raise TemplateTimeout()

    def __exit__(self, *exc):
        if self.armed:
            import _signal

            _signal.setitimer(_signal.ITIMER_REAL, 0)
            _signal.signal(_signal.SIGALRM, self.previous)
        return False
