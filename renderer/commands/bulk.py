"""``render --all``: render every environment of every app below a root, as one reviewable tree.

``render --all`` finds each app file (``eventbus-render.yaml``) below a root
(:mod:`renderer.commands.discovery`), renders each of its environments (or,
without ``environments:``, the app once as environment ``default``) and writes

    <output>/<environment>/<namespace>/eventbus-<name>.yaml

(and beside it each object rendered with the bus, such as
``poddisruptionbudget-eventbus-<name>-pdb.yaml``) plus the index of the
tree (:mod:`renderer.commands.tree`). The tree is rendered into a staging
folder beside the target and put in its place only when every render
succeeded, in one step (:mod:`renderer.commands.publish`), so a failure
lists every broken environment and leaves the old tree untouched, and a
reader of the output folder finds the old tree or the new one, never none.

The same rendering feeds ``diff`` (both sides of a comparison, in one pool
of workers, through :func:`map_chunks`). A bulk command is one run
(:func:`renderer.context.run`): parsed profiles, overlays and compiled
templates are cached for it, and the repository is read as one
:class:`renderer.stages.sources.snapshot`; large trees are split between
forked workers (:mod:`renderer.commands.pool`) that inherit those caches.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

from renderer import context
from renderer.commands import publish
from renderer.commands.discovery import changed_apps, discover
from renderer.commands.tree import (
    DEFAULT_ENVIRONMENT,
    INDEX_ENCODER,
    INDEX_FILE,
    Entry,
    Failure,
    Options,
    RenderAllError,
    Tree,
    findings_report,
    read_index,
    sorted_findings,
    stream_text,
)
from renderer.errors import GuardError, InputError, Location, MultipleErrors, RendererError
from renderer.stages import emit, sources

__all__ = ["DEFAULT_ENVIRONMENT", "INDEX_FILE", "Entry", "Failure", "Options", "RenderAllError", "Tree",
           "changed_apps", "default_jobs", "discover", "make_tree", "map_chunks", "read_index", "render_all",
           "render_all_command", "render_app", "render_root"]

PARALLEL_MIN_APPS = 64
"""Below this many apps one process is faster than starting workers."""
MAX_JOBS = 4


# -- rendering ----------------------------------------------------------------------------------


def relocated_message(exc: RendererError, app: str) -> str:
    """The error's text, with locations in the app's own files made relative to the root."""
    if isinstance(exc, MultipleErrors):
        lines = [f"error: {len(exc.errors)} problems found:"]
        for err in exc.errors:
            lines.append("- " + relocated_message(err, app).replace("\n", "\n  "))
        return "\n".join(lines)
    location = exc.location
    if isinstance(exc, InputError) and location is not None and relocated_file(location.file, app) != location.file:
        moved = Location(relocated_file(location.file, app), location.line, location.column, location.key)
        exc = InputError(exc.message, location=moved, hint=exc.hint)
    return exc.render()


def relocated_file(file: str, app: str) -> str:
    """``file`` (relative to ``app``) named relative to the root; built-in and command-line names, and the
    repository layer's files (named from the repository root), as they are."""
    if app == "." or not file or file.startswith(("builtin:", "<", "-")) or sources.is_repository_file(file):
        return file
    return f"{app}/{file}"


def relocated(finding, app: str):
    """A guard finding with the files of its origin and waiver named relative to the root, not to ``app``."""
    changes = {}
    origin = finding.origin
    if origin is not None and origin.layer != "set":
        changes["origin"] = dataclasses.replace(origin, file=relocated_file(origin.file, app))
    waiver = finding.waiver
    location = getattr(waiver, "location", None)
    if isinstance(location, Location):
        moved = Location(relocated_file(location.file, app), location.line, location.column, location.key)
        changes["waiver"] = dataclasses.replace(waiver, location=moved)
    return dataclasses.replace(finding, **changes) if changes else finding


def _guard_failure(exc: GuardError, app: str) -> str:
    """The text of a guard failure, with the files of its findings made relative to the root."""
    if not exc.findings:
        return exc.render()
    summary = exc.report.rstrip("\n").splitlines()[-1]
    blocks = [str(relocated(f, app)) for f in exc.findings]
    return "\n".join([*blocks, summary, exc.message])


def render_app(root: Path, app: str, options: Options, keep: list | None = None,
               skip: frozenset = frozenset(), *, guarded: bool = True) -> tuple[list, list]:
    """Every environment of one app (but those named in ``skip``): ``(entries, failures)``.

    Each environment gives one entry per object of its render (the EventBus,
    carrying the guard findings, then the objects beside it), filed as
    ``<environment>/<namespace>/<kind>-<name>.yaml``. Never raises a
    :class:`RendererError`. With ``keep`` each ``(entries of one environment,
    Rendered)`` is appended to it as well, for a caller that wants more of a
    render than its text (``diff`` traces changed values to their layers
    while the render is at hand). Without ``guarded`` the guards do not run
    and no text is written: ``check --all`` evaluates the guards itself.
    """
    from renderer.pipeline import RenderRequest, render

    app_dir = Path(root) / app if app != "." else Path(root)
    try:
        loaded = sources.load_app(app_dir)
    except RendererError as exc:
        return [], [Failure(app, "*", relocated_message(exc, app), exc.exit_code)]
    entries, failures = [], []
    names = sorted(loaded.environments) or [None]
    for environment in names:
        shown = environment or DEFAULT_ENVIRONMENT
        if shown in skip:
            continue
        request = RenderRequest(app_dir=app_dir, profile=options.profile, overlays=tuple(options.overlays),
                                sets=tuple(options.sets), set_strings=tuple(options.set_strings),
                                environment=environment, run_guards=guarded, today=options.today, app=loaded)
        try:
            rendered = render(request)
            objects = rendered.objects
            if not guarded:
                texts = [""] * len(objects)
            elif options.fmt == "json":
                texts = [emit.to_json([obj.manifest]) for obj in objects]
            else:
                texts = [emit.to_yaml(obj.manifest) for obj in objects]
        except GuardError as exc:
            failures.append(Failure(app, shown, _guard_failure(exc, app), exc.exit_code))
            continue
        except RendererError as exc:
            failures.append(Failure(app, shown, relocated_message(exc, app), exc.exit_code))
            continue
        findings = sorted_findings(getattr(rendered.evaluation, "findings", ()))
        overlays = tuple(o.name for o in rendered.overlays)
        made = [Entry(shown, obj.namespace, obj.name, app, rendered.backend, rendered.profile.name, overlays,
                      f"{shown}/{obj.file(options.fmt)}", text, findings if index == 0 else (), obj.kind)
                for index, (obj, text) in enumerate(zip(objects, texts))]
        entries.extend(made)
        if keep is not None:
            keep.append((made, rendered))
    return entries, failures


class AppCrashed(RuntimeError):
    """Rendering an app raised something other than a :class:`RendererError`: a bug, named by its app."""


def _render_chunk(root: str, apps: list, options: Options, out_dir: str | None, keep_text: bool):
    """Render ``apps``; write each object under ``out_dir`` (when given) as soon as it is rendered."""
    entries, failures, made = [], [], set()
    for app in apps:
        try:
            app_entries, app_failures = render_app(Path(root), app, options)
        except Exception as exc:
            raise AppCrashed(f"rendering app {app} failed: {type(exc).__name__}: {exc}") from exc
        failures.extend(app_failures)
        for entry in app_entries:
            if out_dir is not None and not failures:
                publish.write_entry(out_dir, entry, made)
                # its line of the index, written here while the other processes render too
                entry.index_line = INDEX_ENCODER.encode(entry.index_record())
            if not keep_text:
                entry.text = ""
            entries.append(entry)
    return entries, failures


def default_jobs() -> int:
    """Worker processes for large trees: the CPUs this process may use, at most :data:`MAX_JOBS`.

    Workers are forked (they inherit the loaded renderer instead of importing
    it again), which is only safe on Linux; elsewhere one process renders.
    """
    if sys.platform != "linux":  # pragma: no cover - CI and Argo CD run Linux
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), MAX_JOBS))


def render_root(root: Path, options: Options | None = None, *, apps: list | None = None,
                out_dir: Path | None = None, keep_text: bool = True, jobs: int | None = None, skip: tuple = (),
                known_apps: dict | None = None) -> Tree:
    """Render every environment of every app below ``root`` into a :class:`Tree`.

    With ``out_dir`` each object is written there as it is rendered (the
    caller decides what to do with the folder if anything failed). Objects
    that two apps both render are failures. A caller that discovered
    ``apps`` itself passes what discovery saw of them as ``known_apps``.
    """
    root = Path(root)
    options = Options() if options is None else options
    if apps is None:
        known_apps = {}
        apps = discover(root, skip, known_apps)
    out = str(out_dir) if out_dir is not None else None
    results = map_chunks(_render_chunk, apps, lambda chunk: (str(root), chunk, options, out, keep_text),
                         jobs=jobs, known=known_apps)
    entries, failures = [], []
    for chunk_entries, chunk_failures in results:
        entries.extend(chunk_entries)
        failures.extend(chunk_failures)
    return make_tree(entries, failures, len(apps))


def make_tree(entries: list, failures: list, apps: int) -> Tree:
    """A :class:`Tree` of rendered ``entries`` and ``failures``: sorted, objects rendered twice as failures."""
    tree = Tree(entries, failures, apps)
    tree.entries.sort(key=lambda e: e.key)
    tree.failures.sort(key=lambda f: (f.app, f.environment))
    tree.failures.extend(conflicts(tree.entries))
    return tree


def map_chunks(function, items: list, arguments, *, jobs: int | None = None, work: int | None = None,
               per_job: int = 8, known: dict | None = None) -> list:
    """``function(*arguments(chunk))`` for consecutive chunks of ``items``, in order, across processes.

    Large inputs (``work``, by default ``len(items)``, of at least
    :data:`PARALLEL_MIN_APPS`) are split across :func:`default_jobs`
    processes (or ``jobs``, this one included) by :func:`renderer.commands.pool.run`,
    about ``per_job`` chunks each, dealt in turn: small enough that each process
    gets a like mix of the tree's apps (neighbours in a tree tend to be alike),
    large enough to stay few; small inputs run in this process as one chunk.
    It all happens in one run (:func:`renderer.context.run`), reading the
    repository as one :class:`sources.snapshot` (told what discovery saw of
    each app directory, ``known``), with the cyclic garbage collector
    paused (:class:`renderer.commands.pool.paused_gc`).
    """
    from renderer.commands import pool

    jobs = default_jobs() if jobs is None else max(1, jobs if sys.platform == "linux" else 1)
    work = len(items) if work is None else work
    with context.run(), pool.paused_gc(), sources.snapshot() as snapshot:
        for app_dir, entries in (known or {}).items():
            snapshot.know(app_dir, entries)
        if jobs > 1 and work >= PARALLEL_MIN_APPS and len(items) > 1:
            # the first item runs here, before forking: every process inherits its warm caches
            # (compiled templates, loaded profiles, resolved guard settings) instead of building them
            first = function(*arguments(items[:1]))
            rest = items[1:]
            size = max(4, -(-len(rest) // (jobs * per_job)))
            chunks = [rest[i:i + size] for i in range(0, len(rest), size)]
            return [first] + pool.run(function, chunks, arguments, jobs)
        return [function(*arguments(items))]


def conflicts(entries: list) -> list:
    """A :class:`Failure` for each entry (of ``entries``, sorted by key) whose object an earlier one renders too.

    ``render --all``, ``diff`` and ``check --all`` refuse a tree with one, in these words: once per app and
    environment (the objects beside two clashing buses clash too, and say nothing more).
    """
    failures = []
    seen = set()
    for previous, entry in zip(entries, entries[1:]):
        if previous.key == entry.key and (entry.app, entry.environment) not in seen:
            seen.add((entry.app, entry.environment))
            failures.append(Failure(entry.app, entry.environment,
                                    f"{entry.kind} {entry.ident} is also rendered by app {previous.app}: "
                                    "one of them must change its name or namespace"))
    return failures


# -- the command --------------------------------------------------------------------------------


def render_all(root, output_dir, options: Options, *, jobs: int | None = None) -> Tree:
    """Render the whole tree below ``root`` into ``output_dir``: all or nothing, published in one step.

    Objects stream into a staging folder beside ``output_dir``, which takes
    its place only once every render succeeded (:class:`publish.Publication`).
    """
    from renderer.commands.common import require_apps

    root = Path(root)
    target = Path(output_dir)
    with context.run(), publish.Publication(target, root) as publication:
        known: dict = {}
        apps = discover(root, skip=(target,), seen=known)
        require_apps(apps, root)
        tree = render_root(root, options, apps=apps, out_dir=publication.staging, keep_text=False, jobs=jobs,
                           known_apps=known)
        if tree.failures:
            total = tree.renders
            raise RenderAllError(tree.failures, total, f"nothing was written to {target}")
        publication.publish(tree, options.fmt)
    return tree


def render_all_command(root, output_dir, fmt, profile, overlays, sets, set_strings, jobs=None):
    """``render --all``: every environment of every app below ``root``, into ``output_dir`` or to stdout."""
    from renderer.commands import pool
    from renderer.commands.common import emit_text, require_apps, warn

    # one run, the garbage collector paused for all of it: sorting and indexing thousands of entries too
    with context.run(), pool.paused_gc():
        root = Path(root)
        options = Options(profile, tuple(overlays), tuple(sets), tuple(set_strings), fmt)
        if output_dir:
            tree = render_all(root, output_dir, options, jobs=jobs)
        else:
            tree = render_root(root, options, jobs=jobs)
            require_apps(tree.apps, root)
            if tree.failures:
                total = tree.renders
                raise RenderAllError(tree.failures, total, "nothing was printed")
        for line in findings_report(tree):
            warn(line)
        count = len(tree.entries)
        where = f" into {output_dir}" if output_dir else ""
        summary = (f"rendered {count} manifest{'s' if count != 1 else ''} of {tree.apps} app"
                   f"{'s' if tree.apps != 1 else ''} in {len(tree.environments)} environment"
                   f"{'s' if len(tree.environments) != 1 else ''}{where}")
        if not output_dir:
            emit_text(stream_text(tree, fmt), verbatim=True)
        warn(summary)
