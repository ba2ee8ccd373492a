"""The ordered layers of one render, and their merge.

Lowest first: the built-in defaults of the backend, the profile chain (base
first), the overlays, the app file's values, the chosen environment's values,
then the caller's layers (Argo CD parameters and environment variables,
``--set``, ``--set-string``). The lower part (defaults, profiles, overlays)
is shared by many apps of a repository, so its merge is remembered for the
run, keyed by what the layers hold.
"""

from __future__ import annotations

from pathlib import Path

from renderer import context
from renderer.errors import InputError, Location
from renderer.paths import parse_path
from renderer.stages import layers as layers_mod
from renderer.stages import sources, spec, userfiles, yamlio
from renderer.stages.validate import node_at, validate
from renderer.suggest import did_you_mean

_DEFAULTS_DIR = Path(__file__).resolve().parents[1] / "defaults"
BASE_KINDS = ("defaults", "profile", "overlay")
"""Kinds of the lower layers, whose merge many renders share."""


def backend_path(backend: str) -> tuple:
    """Path of ``backend``'s section, both under ``spec`` and in the values."""
    return spec.BACKEND_PATHS[backend]


def values_schema() -> dict:
    """Schema of merged values: :data:`renderer.stages.userfiles.VALUES`, the one source of it."""
    return userfiles.VALUES


def defaults_layers(backend: str) -> list:
    """The built-in defaults of ``backend`` (common first), read once per run."""
    cache = context.cache("defaults-layers")
    found = cache.get(backend)
    if found is None:
        found = []
        for stem, kind_name in (("common", "common"), (backend, backend)):
            doc = sources.load_document(_DEFAULTS_DIR / f"{stem}.yaml", f"builtin:defaults/{stem}.yaml")
            found.append(layers_mod.Layer("defaults", kind_name, doc.display, doc.data.get("values") or {},
                                          doc.marks, ("values",), doc.data.get("merge") or {}, source=doc.key))
        cache[backend] = found
    return list(found)


def _doc_layer(kind: str, name: str, doc, values: dict, merge: dict, prefix: tuple = ("values",),
               merge_prefix: tuple = ("merge",)) -> layers_mod.Layer:
    return layers_mod.Layer(kind, name, doc.display, values, doc.marks, prefix, merge, merge_prefix, source=doc.key)


def parse_set(text: str, *, force_string: bool, schema: dict, flag: str = "--set") -> layers_mod.Layer:
    """One ``--set PATH=VALUE`` as a layer of its own.

    The value is a YAML scalar (or flow collection), except where the schema
    types the field as a string (or quantity, duration): there it stays exactly
    as typed, so ``--set kafka.version=2.10`` is ``"2.10"``. ``null`` deletes; an
    empty value (``--set jetstream.replicas=``, an unset shell variable) is an error.
    PATH is read by :func:`renderer.paths.parse_path`.
    """
    if "=" not in text:
        raise InputError(f"{flag} {yamlio.shown(text)} is not PATH=VALUE", hint=f"e.g. {flag} jetstream.replicas=5")
    raw_path, raw = text.split("=", 1)
    path = parse_path(raw_path, what=f"{flag} path")
    if raw == "" and not force_string:
        # an unset shell variable, most likely: deleting the value silently would hide it
        raise InputError(f"{flag} {yamlio.shown(text)}: the value is empty",
                         hint=f"write {raw_path}=null to delete the value, or --set-string {raw_path}= for an "
                         "empty string")
    if raw in ("null", "~") and not force_string:
        value = None
    else:
        node = node_at(schema, tuple("*" if isinstance(p, int) else p for p in path))
        stringly = node is not None and node.get("type") in ("string", "text", "quantity", "duration")
        if force_string or stringly:
            value = raw
        else:
            try:
                value, _ = yamlio.load(raw, f"{flag} {raw_path}")
            except InputError as exc:
                raise InputError(f"{flag} {yamlio.shown(text)}: value is not valid YAML ({exc.message})",
                                 hint=f"quote it for the shell, or use --set-string {raw_path}=...") from None
    nested: object = value
    for part in reversed(path):
        nested = layers_mod.IndexPatch({part: nested}) if isinstance(part, int) else {part: nested}
    if not isinstance(nested, dict) or isinstance(nested, layers_mod.IndexPatch):
        raise InputError(f"{flag} {yamlio.shown(text)}: the path must start with a key",
                         hint="e.g. jetstream.replicas=5")
    return layers_mod.Layer("set", f"{flag} {text}", flag, nested, notes={(): f"{flag} {text}"})


ENVIRONMENT_HINT = ("choose one with --env NAME (in Argo CD: the plugin parameter 'environment'), "
                    "or name the one to render by default with 'defaultEnvironment: NAME' in the app file")


def choose_environment(app, requested: str | None) -> str | None:
    """The environment a render of ``app`` uses: ``requested``, else the app file's ``defaultEnvironment``.

    An app file that lists ``environments`` is never rendered as something nobody
    chose: without a choice and without ``defaultEnvironment`` it is an input
    error naming the environments and how to choose one. An unknown name is an
    error too (:func:`select_environment`).
    """
    if requested is not None:
        select_environment(app, requested)
        return requested
    if not app.environments:
        return None
    if app.default_environment is not None:
        return app.default_environment
    names = ", ".join(app.environments)
    raise app.doc.error(("environments",), f"no environment chosen: the app file lists environments ({names})",
                        hint=ENVIRONMENT_HINT)


def select_environment(app, environment: str | None) -> dict:
    """The app file's entry for ``environment`` (``{}`` for none); an unknown name is an error."""
    if environment is None:
        return {}
    if environment not in app.environments:
        known = ", ".join(app.environments) or "none (the app file has no 'environments')"
        raise InputError(f"unknown environment {environment!r}", location=Location(sources.APP_FILE),
                         hint=did_you_mean(environment, app.environments) + f"known environments: {known}")
    return app.environments[environment]


def collect_layers(app, request, env: dict, where=None):
    """Load profiles and overlays and build the ordered list of layers: ``(profiles, overlays, stack)``.

    ``where`` are the places names resolve in (:func:`renderer.stages.tree.places`), by default the app's."""
    doc = app.doc
    read = _ReadCount()
    read.add(doc)
    env_prefix = ("environments", request.environment) if request.environment else ()
    where = sources.places(app.root, request.repository_root) if where is None else where
    if request.profile is not None:
        sources.check_name(request.profile, None, (), "profile")
        profiles = sources.load_profile_chain(request.profile, where)
    elif "profile" in env:
        profiles = sources.load_profile_chain(env["profile"], where, referrer=doc,
                                              ref_path=env_prefix + ("profile",))
    else:
        profiles = sources.load_profile_chain(app.profile, where, referrer=doc)
    for profile in profiles:
        read.add(profile.doc)
    overlays = []
    wanted = [(name, doc, ("overlays", index)) for index, name in enumerate(app.overlays)]
    wanted += [(name, doc, env_prefix + ("overlays", index)) for index, name in enumerate(env.get("overlays") or [])]
    for name in request.overlays:
        sources.check_name(name, None, (), "overlay")
        wanted.append((name, None, ("overlays",)))
    for name, referrer, ref_path in wanted:  # counted as they are read: a render of too many values stops early
        overlays.append(read.add(sources.load_overlay(name, where, referrer=referrer, ref_path=ref_path)))

    stack = defaults_layers(app.backend)
    for profile in profiles:
        stack.append(_doc_layer("profile", profile.name, profile.doc, profile.values, profile.merge))
    for overlay in overlays:
        stack.append(_doc_layer("overlay", overlay.name, overlay.doc, overlay.values, overlay.merge))
    stack.append(_doc_layer("app", sources.APP_FILE, doc, app.values, app.merge))
    if env:
        stack.append(_doc_layer("environment", request.environment, doc, env.get("values") or {}, {},
                                prefix=env_prefix + ("values",)))
    stack.extend(request.extra_layers)
    schema = values_schema()
    for text in request.sets:
        stack.append(parse_set(text, force_string=False, schema=schema))
    for text in request.set_strings:
        stack.append(parse_set(text, force_string=True, schema=schema, flag="--set-string"))
    return profiles, overlays, stack


class _ReadCount:
    """The values of the files one render reads, each file counted once, refused past the limit of a render."""

    def __init__(self):
        self.seen: set = set()
        self.total = 0
        self.bytes = 0

    def add(self, record):
        """Count the file of ``record`` (a document, or a profile or overlay holding one); return ``record``."""
        document = getattr(record, "doc", record)
        if document.key not in self.seen:
            self.seen.add(document.key)
            self.total += len(document.marks)
            self.bytes += len(document.key[1]) if len(document.key) > 1 else 0
            if self.total > layers_mod.MAX_RENDER_VALUES:
                raise layers_mod.too_many(self.total, "with this file the render reads", Location(document.display))
            if self.bytes > layers_mod.MAX_RENDER_BYTES:
                raise InputError(f"with this file the render reads more than {layers_mod.MAX_RENDER_BYTES:,} bytes "
                                 f"of files ({self.bytes:,}), the limit of one render",
                                 location=Location(document.display),
                                 hint="split the values over fewer, smaller layers")
        return record


def _layer_key(layer) -> tuple:
    """What a lower layer is made of: its kind, name and place in a document, and that document's key
    (its values, strategies and lines follow from the document), or else its values, strategies and lines."""
    made_of = (layer.source,) if layer.source else (repr(layer.values), repr(layer.merge),
                                                   repr(list(layer.marks.items())))
    return (layer.kind, layer.name, layer.file, layer.prefix, layer.merge_prefix, *made_of)


def merge_stack(stack: list):
    """Merge ``stack``; the merge of its lower layers is remembered for the run.

    Returns ``(merged, base_valid, base_count)``: the merged values, whether the
    lower part is valid on its own (then only the sections the upper layers
    touch need validating again), and how many layers the lower part holds.
    """
    base_count = next((i for i, layer in enumerate(stack) if layer.kind not in BASE_KINDS), len(stack))
    base_layers = stack[:base_count]
    cache = context.cache("merged-bases")
    key = tuple(_layer_key(layer) for layer in base_layers)
    entry = cache.get(key)
    if entry is None:
        base = layers_mod.merge_layers(base_layers)
        entry = cache[key] = (base, not validate(base.values, values_schema()))
    base, base_valid = entry
    upper = stack[base_count:]
    merged = layers_mod.merge_layers(upper, start=base.copy(touched_sections(upper)))
    return merged, base_valid, base_count


def touched_sections(layers: list) -> set:
    """Top-level keys that ``layers`` write."""
    return {key for layer in layers for key in (layer.values or {})}
