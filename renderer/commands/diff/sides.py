"""Both sides of a comparison, rendered once, and what differs, worked out while the renders are at hand.

Every app of both sides is rendered in one pool of workers
(:func:`renderer.commands.bulk.map_chunks`); a worker renders both sides of
its apps, so the two revisions share the cores. The render of an object
gives its manifest and the provenance of every value
(:class:`renderer.pipeline.Rendered`): the worker compares the two versions
of each object of its apps there and then (a
:class:`~renderer.commands.diff.model.Delta`), and nothing emitted is read
back. Only an object that may be matched with an object of another app (a
moved app directory, a renamed object, an app of one side only) carries its
manifest and the origins of its values back to
:func:`~renderer.commands.diff.comparison.compare`. An environment whose
inputs are the same files at both sides is rendered at the base only
(:mod:`renderer.commands.diff.reuse`).

The base is either rendered from a revision or read from a tree committed by
``render --all`` (``diff --against``): reading those files is inherent. It is
done with the one YAML reader (:mod:`renderer.stages.yamlio`; a tree written
with ``--format json`` with the JSON reader), and only for the objects that
differ or that their app no longer renders.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from renderer.commands import bulk
from renderer.commands.diff import reuse
from renderer.commands.diff.comparison import delta, flatten
from renderer.commands.diff.model import Version
from renderer.errors import InputError, Location, RendererError


@dataclass(slots=True)
class Sides:
    """Both rendered sides: the trees (for their failures and counts), the versions, and the deltas."""

    base_tree: object  # renderer.commands.bulk.Tree; None for a committed tree
    head_tree: object
    base: list = field(default_factory=list)  # Version of every base object
    head: list = field(default_factory=list)
    deltas: dict = field(default_factory=dict)  # (environment, app, kind) -> Delta
    unreadable: list = field(default_factory=list)  # bulk.Failure of every committed file that does not read


@dataclass(slots=True)
class ChunkResult:
    """What one worker found for its apps: both sides' entries, versions and failures, and the deltas."""

    base_entries: list = field(default_factory=list)
    base_failures: list = field(default_factory=list)
    head_entries: list = field(default_factory=list)
    head_failures: list = field(default_factory=list)
    base: list = field(default_factory=list)
    head: list = field(default_factory=list)
    deltas: dict = field(default_factory=dict)
    unreadable: list = field(default_factory=list)


def value_origin(rendered, manifest_path: tuple):
    """The layer that set the value at render path ``manifest_path`` of ``rendered`` (an EventBus path, or a
    companion's after its kind; None for what the renderer computes).

    Unlike the nearest-ancestor lookup of provenance, a computed value (the
    instance label, the renderer's annotations, the name, a budget's selector)
    is not credited to the layer that happened to set its parent mapping.
    """
    from renderer.paths import is_under
    from renderer.stages import companions
    from renderer.stages.layers import DELETED

    values_path = companions.values_path(manifest_path, rendered.section_path)
    if not values_path:
        return None
    if is_under(values_path, rendered.section_path + ("affinity", "podAntiAffinity")):
        return rendered.origin_of_manifest_path(manifest_path)  # terms the app did not write come from spread
    provenance = rendered.merged.provenance
    probe = values_path
    while probe:
        settings = provenance.settings(probe)
        if settings:
            value = settings[-1].value
            if probe == values_path or isinstance(value, list) or value is DELETED:
                return settings[-1].origin
            return None
        probe = probe[:-1]
    return None


def origin_function(rendered, app: str, kind: str = "EventBus"):
    """``manifest path -> Origin.as_dict()`` for the object of ``kind`` of a render of ``app``, the app's own files
    named from the root."""
    prefix = () if kind == "EventBus" else (kind,)

    def origin_of(manifest_path: tuple):
        origin = value_origin(rendered, prefix + tuple(manifest_path))
        if origin is None:
            return None
        found = origin.as_dict()
        found["file"] = bulk.relocated_file(found["file"], app)
        return found

    return origin_of


def committed_manifest(entry, fmt: str) -> dict:
    """The manifest of an object of a committed tree, read from its file's text (``entry.file`` names it)."""
    if fmt == "json":
        try:
            return json.loads(entry.text)
        except ValueError as exc:
            raise InputError(f"not a JSON document: {exc.msg}",
                             location=Location(entry.file, getattr(exc, "lineno", None), getattr(exc, "colno", None)),
                             hint="render the tree again with render --all") from None
    from renderer.stages import yamlio

    data, _ = yamlio.load(entry.text, entry.file)
    if not isinstance(data, dict):
        raise InputError("not a manifest (a YAML mapping)", location=Location(entry.file),
                         hint="render the tree again with render --all")
    return data


def render_chunk(base_root: str | None, head_root: str | None, chunk: list, options, context: int):
    """Render both sides of the apps of ``chunk`` and compare their objects: a :class:`ChunkResult`.

    ``chunk`` holds ``(app, render the base?, base entries given, render the
    head?)``. The base of an app is rendered (from ``base_root``) or given (a
    tree written by ``render --all``, in format ``options.fmt``). An
    environment whose inputs are the same files at both sides is not
    rendered again (:mod:`renderer.commands.diff.reuse`). Never raises a
    :class:`RendererError`: what fails is a failure of its side.
    """
    out = ChunkResult()
    read: dict = {}  # the files compared for reuse, by path: the repository layer's are read once a chunk
    for app, render_base, given, render_head in chunk:
        base_here: dict = {}  # (environment, kind) -> versions of the base objects of this app
        base_kept: list = []
        if render_base:
            entries, failures = bulk.render_app(Path(base_root), app, options, keep=base_kept)
            out.base_entries.extend(entries)
            out.base_failures.extend(failures)
            for made, rendered in base_kept:
                for entry, manifest in zip(made, rendered.manifests):
                    base_here.setdefault((entry.environment, entry.kind), []).append(Version(entry, manifest))
        else:
            for entry in given:
                base_here.setdefault((entry.environment, entry.kind), []).append(Version(entry))
        if not render_head:
            base_kept = []
        reused = {}
        for made, rendered in base_kept:
            if reuse.same_inputs(Path(base_root) / app, Path(head_root) / app, rendered, read):
                reused[made[0].environment] = [copy.copy(entry) for entry in made]
        kept: list = []
        if render_head:
            entries, failures = bulk.render_app(Path(head_root), app, options, keep=kept, skip=frozenset(reused))
            for copies in reused.values():
                out.head_entries.extend(copies)
            out.head_entries.extend(entries)
            out.head_failures.extend(failures)
        for copies in reused.values():  # the same objects at both sides
            for entry in copies:
                for old in base_here.pop((entry.environment, entry.kind), []):
                    old.manifest = None
                    out.base.append(old)
                out.head.append(Version(entry))
        for made, rendered in kept:
            for entry, manifest in zip(made, rendered.manifests):
                olds = base_here.pop((entry.environment, entry.kind), [])
                out.head.append(compare_rendered(olds, entry, manifest, rendered, app, options.fmt, context, out))
                out.base.extend(olds)
        for olds in base_here.values():  # objects of no head object of this app: matched by key, if at all
            _read(olds, options.fmt, out)
            out.base.extend(olds)
    return out


def compare_rendered(olds: list, entry, manifest: dict, rendered, app: str, fmt: str, context: int,
                     out: ChunkResult):
    """The head :class:`Version` of a rendered object (``manifest``, an object of ``rendered``), compared with
    ``olds``, the base versions of its app, environment and kind, while its render is at hand: a delta in
    ``out``, and the manifests and origins that :func:`~renderer.commands.diff.comparison.compare` may still need.
    """
    head = Version(entry)
    old = olds[0] if len(olds) == 1 else None
    same_key = old is not None and old.entry.key == entry.key
    if same_key and old.entry.text == entry.text:
        old.manifest = None  # unchanged, or only its guard findings changed: nothing more is needed
        return head
    head.manifest = manifest
    origin_of = origin_function(rendered, app, entry.kind)
    if _read(olds, fmt, out) and old is not None:
        out.deltas[(entry.environment, app, entry.kind)] = delta(old, head, context, origin_of)
    if same_key:
        old.manifest = head.manifest = None  # the delta holds all the comparison needs
    else:  # may be matched with an object of another app: it carries the origins of its values
        head.origins = {path: origin_of(path) for path in flatten(manifest, (), {})}
    return head


def _read(versions: list, fmt: str, out: ChunkResult) -> bool:
    """Read the manifests of committed ``versions`` that lack one; False (and a failure in ``out``) when one
    does not read."""
    for version in versions:
        if version.manifest is None:
            try:
                version.manifest = committed_manifest(version.entry, fmt)
            except RendererError as exc:
                out.unreadable.append(bulk.Failure(version.entry.app, version.entry.environment, exc.render(),
                                                   exc.exit_code))
                return False
    return True


def render_both(base_root: Path | None, head_root: Path, options, *, base_entries: list | None = None,
                skip: tuple = (), context: int = 3) -> Sides:
    """Render every app of both sides in one pool and compare what it can: the :class:`Sides`.

    The base is rendered from ``base_root`` (None: no app there), or, with
    ``base_entries``, read from a rendered tree in format ``options.fmt`` (the base
    tree is then None).
    """
    base_apps = bulk.discover(base_root) if base_root is not None else []
    head_apps = bulk.discover(head_root, skip) if Path(head_root).is_dir() else []
    given: dict = {}
    for entry in base_entries or ():
        given.setdefault(entry.app, []).append(entry)
    in_base, in_head = set(base_apps), set(head_apps)
    chunk_items = [(app, app in in_base, given.get(app, ()), app in in_head)
                   for app in sorted(in_base | in_head | set(given))]
    results = bulk.map_chunks(
        render_chunk, chunk_items,
        lambda chunk: (str(base_root) if base_root is not None else None, str(head_root), chunk, options, context),
        work=len(base_apps) + len(head_apps))
    parts = ChunkResult()
    for result in results:
        for name in (f.name for f in fields(ChunkResult)):
            found = getattr(result, name)
            if name == "deltas":
                parts.deltas.update(found)
            else:
                getattr(parts, name).extend(found)
    base_tree = bulk.make_tree(parts.base_entries, parts.base_failures, len(base_apps)) \
        if base_root is not None else None
    head_tree = bulk.make_tree(parts.head_entries, parts.head_failures, len(head_apps))
    return Sides(base_tree, head_tree, parts.base, parts.head, parts.deltas, parts.unreadable)
