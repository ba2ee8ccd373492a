"""The Jinja2 sandbox the templates run in, the loader that confines them, and the bytecode cache.

- :class:`LimitedSandbox`: Jinja2's immutable sandbox (no attribute
  starting with ``_``, no method that changes a value), plus bounds on the
  operators that can build huge values (``*``, ``**``, ``+``).
- :class:`ConfinedLoader`: templates come only from the given folders;
  ``..``, absolute names and symlinks that leave a folder are refused.
- :class:`BuiltinBytecodeCache`: Jinja2's :class:`FileSystemBytecodeCache`,
  kept to the package's own templates and to a private folder, so a fresh
  process (Argo CD starts one per render) does not compile them again.

Importing this module imports Jinja2; :mod:`renderer.stages.template`
imports it on the first render.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import sys
import types
from pathlib import Path

import jinja2
from jinja2 import BaseLoader, FileSystemBytecodeCache, StrictUndefined, TemplateNotFound
from jinja2.loaders import split_template_path
from jinja2.runtime import Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from renderer import __version__
from renderer.stages import template_bounds, template_filter_bounds
from renderer.stages.template_filters import combine, spread_pods, to_yaml_flow

MAX_TEMPLATE_BYTES = 256 * 1024
MAX_OUTPUT_BYTES = template_bounds.MAX_VALUE
"""Largest text a template may produce, and largest string or list an expression may build."""
BUILTIN_LABEL = "builtin:templates"
"""How the package's templates are named in messages (an app's own are ``templates/...``)."""


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus bounds on everything that can build a large value
    (:mod:`renderer.stages.template_bounds`): operators, ``~``, method calls, ``str.format`` and the output."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])
    code_generator_class = template_bounds.BoundedCodeGenerator
    concat = staticmethod(template_bounds.bounded_concat)

    def call_binop(self, context, operator, left, right):
        template_bounds.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args, **kwargs):
        # Jinja2's parameter names: a template's keyword arguments can be called anything but these
        args = template_bounds.check_call(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, (str, bytes, list, tuple, dict)) and not isinstance(__obj, Macro):
            template_bounds.build(len(result), getattr(__obj, "__name__", "a call"))
        return result

    def wrap_str_format(self, value):
        """``str.format`` and ``format_map`` of a template, each field sized first (Jinja2's own, with
        :class:`~renderer.stages.template_bounds.BoundedFormatter`)."""
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or \
                value.__name__ not in ("format", "format_map") or not isinstance(value.__self__, str):
            return None
        text = value.__self__
        formatter = template_bounds.BoundedEscapeFormatter(self, escape=text.escape) if isinstance(text, Markup) \
            else template_bounds.BoundedFormatter(self)
        is_map = value.__name__ == "format_map"

        def wrapper(*args, **kwargs):
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return type(text)(formatter.vformat(text, args, kwargs))

        return functools.update_wrapper(wrapper, value)

    def sized_parts(self, parts: tuple) -> tuple:
        """The operands of ``~``, sized (generated code calls it: :class:`template_bounds.BoundedCodeGenerator`)."""
        return template_bounds.sized_parts(parts)


class ConfinedLoader(BaseLoader):
    """Loads templates from a list of folders, never from outside them.

    An app's own folder goes through :func:`renderer.stages.containment.confine`: a
    template that leads outside the folder through a symlink, a symlink loop,
    a FIFO or a device is refused with a message, not skipped; the package's
    folder is read as it is.
    """

    def __init__(self, roots: list[tuple[Path, str]]):
        # (folder, display prefix) pairs, searched in order
        self.roots = [(str(root.resolve()), label) for root, label in roots if root.is_dir()]

    def get_source(self, environment, template):
        from renderer.stages import containment

        pieces = split_template_path(template)  # refuses '..'
        relative = "/".join(pieces)
        for root, label in self.roots:
            display = f"{label}/{relative}"
            if label == BUILTIN_LABEL:
                path = os.path.join(root, *pieces)
                if not os.path.isfile(path):
                    continue
            else:
                within = "the app's templates folder" if label == "templates" else f"the {label} folder"
                path = containment.confine(root, relative, display, within=within, what=f"template {relative!r}")
                if path is None:
                    continue
            data = containment.read_file(path, display, MAX_TEMPLATE_BYTES)
            if len(data) > MAX_TEMPLATE_BYTES:
                raise TemplateNotFound(f"{template} (larger than {MAX_TEMPLATE_BYTES} bytes)")
            try:
                source = data.decode("utf-8")
            except UnicodeDecodeError:
                raise TemplateNotFound(f"{template} (not UTF-8 text)") from None
            mtime = os.path.getmtime(path)
            return source, display, lambda path=path, mtime=mtime: os.path.getmtime(path) == mtime
        raise TemplateNotFound(template)

    def list_templates(self):
        found = set()
        for root, _ in self.roots:
            for entry in os.listdir(root):
                if entry.endswith(".j2"):
                    found.add(entry)
        return sorted(found)


def cache_directory(kind: str) -> str | None:
    """``$XDG_CACHE_HOME/eventbus-render/<kind>``, else ``<tmp>/eventbus-render-<uid>/<kind>``, created 0700;
    ``None`` when it cannot be made or it or its parent is not this user's alone (a cache there could be
    planted by someone else)."""
    base = os.environ.get("XDG_CACHE_HOME")
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    try:
        if base and os.path.isabs(base):
            path = os.path.join(base, "eventbus-render", kind)
        else:
            import tempfile

            path = os.path.join(tempfile.gettempdir(), f"eventbus-render-{'user' if uid is None else uid}", kind)
        os.makedirs(path, mode=0o700, exist_ok=True)
        for folder in (path, os.path.dirname(path)):
            info = os.lstat(folder)
            if not stat.S_ISDIR(info.st_mode) or (uid is not None and (info.st_uid != uid or info.st_mode & 0o022)):
                return None
    except OSError:
        return None
    return path


_OPTIONS = {"undefined": StrictUndefined, "autoescape": False, "keep_trailing_newline": True, "auto_reload": False,
            "cache_size": -1}  # -1: a plain dict of loaded templates (the folders hold a handful), no LRU lock


class BuiltinBytecodeCache(FileSystemBytecodeCache):
    """Compiled built-in templates on disk (``<key>.j2c``), so a fresh process does not compile them again.

    Only templates read from the package are cached: an app's own templates
    come from untrusted checkouts at ever-new paths. The key hashes the
    template's name with everything that shapes its compiled code (the Jinja2,
    Python and renderer versions, the package folder, the environment's
    options and the sandbox's intercepted operators); Jinja2 checks the source's checksum when it loads
    a file. A file that cannot be read or written just means "compile".
    """

    _FINGERPRINT = repr((jinja2.__version__, __version__, sys.version, str(Path(__file__).resolve().parent),
                         sorted(LimitedSandbox.intercepted_binops), sorted(LimitedSandbox.intercepted_unops),
                         LimitedSandbox.code_generator_class.__qualname__, template_bounds.CODE_VERSION,
                         sorted((name, repr(value)) for name, value in _OPTIONS.items())))

    def __init__(self, directory: str):
        super().__init__(directory, "%s.j2c")

    def get_cache_key(self, name, filename=None) -> str:
        if not (filename or "").startswith(BUILTIN_LABEL + "/"):
            return ""  # never stored
        text = "\0".join((self._FINGERPRINT, name, filename))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def load_bytecode(self, bucket) -> None:
        if bucket.key:
            try:
                super().load_bytecode(bucket)
            except Exception:  # a truncated or foreign file
                bucket.reset()

    def dump_bytecode(self, bucket) -> None:
        if bucket.key:
            try:
                super().dump_bytecode(bucket)
            except OSError:  # a full disk, a folder removed meanwhile: the next process compiles again
                pass


@functools.cache
def bytecode_cache() -> BuiltinBytecodeCache | None:
    """The bytecode cache of this process, or ``None`` when no private cache folder can be used."""
    directory = cache_directory("jinja2")
    return BuiltinBytecodeCache(directory) if directory else None


def new_environment(roots: list[tuple[Path, str]]) -> LimitedSandbox:
    """A sandboxed environment loading templates from ``roots`` ((folder, display prefix) pairs, in order);
    the package's own when ``roots`` are the package's templates alone."""
    env = LimitedSandbox(loader=ConfinedLoader(roots), bytecode_cache=bytecode_cache(), **_OPTIONS)
    # no lorem ipsum or stateful helpers: templates see only what we pass them
    for name in ("lipsum", "cycler", "joiner"):
        env.globals.pop(name, None)
    env.filters["yaml"] = to_yaml_flow
    env.filters["combine"] = combine
    env.filters["spread_pods"] = spread_pods
    package = all(label == BUILTIN_LABEL for _, label in roots)
    env.filters = template_filter_bounds.bounded_filters(env.filters, package=package)  # Jinja2's and ours alike
    return env
