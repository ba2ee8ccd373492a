"""Render every environment of every app below a root, as one reviewable tree.

``render --all`` finds each app file (``eventbus-render.yaml``) below a root,
renders each of its environments (or, without ``environments:``, the app
once as environment ``default``) and writes

    <output>/<environment>/<namespace>/eventbus-<name>.yaml

plus ``<output>/.eventbus-render-index.json``, which records, for every object,
the app directory that produced it and its guard findings (``diff --against``
reads it; discovery skips any folder holding one). The tree is rendered into a
temporary folder beside the target and swapped in only when every render
succeeded, so a failure lists every broken environment and leaves the old
tree untouched.

The same rendering feeds ``diff`` (both sides of a comparison, in one pool
of workers: :func:`renderer.commands.diff.render_both` through :func:`map_chunks`).
One process renders every app (parsed profiles, overlays and compiled
templates are cached by the loaders), reading the repository as one
:class:`renderer.stages.sources.snapshot`; large trees are split between it and
forked copies of it (:mod:`renderer.commands.pool`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

from renderer.errors import GuardError, InputError, MultipleErrors, RendererError, UsageError
from renderer.records import FrozenRecord, Record
from renderer.stages import emit, sources

INDEX_FILE = ".eventbus-render-index.json"
INDEX_FORMAT = 1
DEFAULT_ENVIRONMENT = "default"
"""Environment name of apps whose app file lists no ``environments``."""
PARALLEL_MIN_APPS = 64
"""Below this many apps one process is faster than starting workers."""
MAX_JOBS = 4
LAYER_FOLDERS = frozenset(("profiles", "overlays", "templates"))
"""Folders of an app directory that hold its own layers: never searched for more apps."""


# -- discovery ----------------------------------------------------------------------------------


def discover(root: Path, skip: tuple = (), seen: dict | None = None) -> list[str]:
    """App directories below ``root`` as sorted POSIX paths relative to it (``.`` for the root itself).

    Hidden folders (``.git`` among them), symlinked folders, rendered trees
    (folders holding :data:`INDEX_FILE`) and the folders in ``skip`` are not
    entered, so nothing outside ``root`` is ever read; nor are an app
    directory's own layer folders (``profiles``, ``overlays``, ``templates``),
    which hold layers, not apps.

    With ``seen``, what each app directory holds of the app file and its
    layer folders is recorded there (see :meth:`sources.snapshot.know`), so
    the render need not ask the file system again.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"root {str(root)!r} is not a directory", hint="pass --root DIR, a folder of app directories")
    skipped = set()  # (device, inode) of the folders not to enter: no path arithmetic per folder
    for folder in skip:
        try:
            info = os.stat(folder)
            skipped.add((info.st_dev, info.st_ino))
        except OSError:
            pass
    inodes = {inode for _, inode in skipped}
    found: list[str] = []

    pending = [(str(root), "")]  # depth first, children in name order (a stack, not recursion)
    while pending:
        folder, relative = pending.pop()
        try:
            with os.scandir(folder) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        names = {child.name for child in children}
        if INDEX_FILE in names and relative:
            continue
        is_app = sources.APP_FILE in names
        if is_app:
            found.append(relative or ".")
            if seen is not None:
                seen[str(root / relative) if relative else str(root)] = {
                    child.name: "link" if child.is_symlink() else "dir" if child.is_dir(follow_symlinks=False)
                    else "file" if child.is_file(follow_symlinks=False) else "other"
                    for child in children if child.name in sources.APP_ENTRIES}
        below = []
        for child in children:
            if child.name.startswith(".") or (is_app and child.name in LAYER_FOLDERS) \
                    or not child.is_dir(follow_symlinks=False):
                continue
            if child.inode() in inodes and (child.stat(follow_symlinks=False).st_dev, child.inode()) in skipped:
                continue
            below.append((child.path, f"{relative}/{child.name}" if relative else child.name))
        pending.extend(reversed(below))
    return found


# -- rendering ----------------------------------------------------------------------------------


class Options(FrozenRecord):
    """The command line's choices, applied to every render."""

    _fields = ("profile", "overlays", "sets", "set_strings", "fmt", "today")

    def __init__(self, profile: str | None = None, overlays: tuple = (), sets: tuple = (), set_strings: tuple = (),
                 fmt: str = "yaml", today: object = None):
        self._set_fields(profile, overlays, sets, set_strings, fmt, today)


class Entry(Record):
    """One rendered object of a tree."""

    _fields = ("environment", "namespace", "name", "app", "backend", "profile", "overlays", "file", "text",
               "findings")

    def __init__(self, environment: str, namespace: str, name: str, app: str, backend: str, profile: str,
                 overlays: tuple, file: str, text: str = "", findings: tuple = ()):
        self.environment = environment
        self.namespace = namespace
        self.name = name
        self.app = app
        self.backend = backend
        self.profile = profile
        self.overlays = overlays
        self.file = file
        self.text = text
        self.findings = findings

    @property
    def key(self) -> tuple:
        """``(environment, namespace, name)``: what identifies the object in a cluster."""
        return (self.environment, self.namespace, self.name)

    @property
    def ident(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    def index_record(self) -> dict:
        """The entry as recorded in :data:`INDEX_FILE`."""
        return {"environment": self.environment, "namespace": self.namespace, "name": self.name,
                "file": self.file, "app": self.app, "backend": self.backend, "profile": self.profile,
                "overlays": list(self.overlays), "findings": [dict(f) for f in self.findings]}


class Failure(Record):
    """One render that failed: which app and environment, the message, and its exit code."""

    _fields = ("app", "environment", "message", "exit_code")

    def __init__(self, app: str, environment: str, message: str, exit_code: int = 2):
        self.app = app
        self.environment = environment
        self.message = message
        self.exit_code = exit_code


class Tree(Record):
    """Every object rendered below a root (sorted by environment, namespace, name) and every failure."""

    _fields = ("entries", "failures", "apps")

    def __init__(self, entries: list | None = None, failures: list | None = None, apps: int = 0):
        self.entries = [] if entries is None else entries
        self.failures = [] if failures is None else failures
        self.apps = apps

    @property
    def environments(self) -> list:
        """Names of the environments rendered, sorted."""
        return sorted({e.environment for e in self.entries})


class RenderAllError(RendererError):
    """Some renders of a tree failed: every failure, then what was (not) written."""

    def __init__(self, failures: list, total: int, outcome: str, title: str = ""):
        self.failures = list(failures)
        count = len(self.failures)
        head = title or f"{count} of {total} render{'s' if total != 1 else ''} failed"
        super().__init__(f"{head}; {outcome}")
        self.exit_code = 2 if any(f.exit_code != 1 for f in self.failures) else 1

    def render(self) -> str:
        lines = ["error: " + self.message]
        for failure in self.failures:
            lines.append(f"{failure.app} [{failure.environment}]:")
            lines.extend("  " + line for line in failure.message.rstrip("\n").splitlines())
        return "\n".join(lines)


def finding_record(finding) -> dict:
    """A guard finding as plain, comparable data: rule, level, path, message, waived."""
    from renderer.stages.validate import format_path

    path = getattr(finding, "path", None)
    if isinstance(path, (tuple, list)):
        path = format_path(tuple(path))
    return {"rule": str(getattr(finding, "rule", "") or ""), "level": str(getattr(finding, "level", "") or ""),
            "path": str(path or ""), "message": str(getattr(finding, "message", finding)),
            "waived": bool(getattr(finding, "waived", False))}


def _sorted_findings(findings) -> tuple:
    records = [finding_record(f) for f in findings or ()]
    return tuple(sorted(records, key=lambda r: (r["rule"], r["path"], r["level"], r["message"], r["waived"])))


def _relocated(exc: RendererError, app: str) -> str:
    """The error's text, with locations in the app's own files made relative to the root."""
    if isinstance(exc, MultipleErrors):
        lines = [f"error: {len(exc.errors)} problems found:"]
        for err in exc.errors:
            lines.append("- " + _relocated(err, app).replace("\n", "\n  "))
        return "\n".join(lines)
    location = exc.location
    if (isinstance(exc, InputError) and location is not None and app != "."
            and not location.file.startswith(("builtin:", "<", "-"))):
        exc = InputError(exc.message, location=dataclasses.replace(location, file=f"{app}/{location.file}"), hint=exc.hint)
    return exc.render()


def output_file(environment: str, rendered, fmt: str) -> str:
    """Path of one object in a rendered tree: ``<environment>/<namespace>/eventbus-<name>.yaml``."""
    name = f"{rendered.namespace}/eventbus-{rendered.name}.yaml"
    if fmt == "json":
        name = name[: -len(".yaml")] + ".json"
    return f"{environment}/{name}"


def render_app(root: Path, app: str, options: Options, keep: list | None = None,
               skip: frozenset = frozenset()) -> tuple[list, list]:
    """Every environment of one app (but those named in ``skip``): ``(entries, failures)``.

    Never raises a :class:`RendererError`. With ``keep`` each ``(entry,
    Rendered)`` is appended to it as well, for a caller that wants more of a
    render than its text (``diff`` traces changed values to their layers
    while the render is at hand).
    """
    from renderer.pipeline import RenderRequest, render

    app_dir = Path(root) / app if app != "." else Path(root)
    try:
        loaded = sources.load_app(app_dir)
    except RendererError as exc:
        return [], [Failure(app, "*", _relocated(exc, app), exc.exit_code)]
    entries, failures = [], []
    names = sorted(loaded.environments) or [None]
    for environment in names:
        shown = environment or DEFAULT_ENVIRONMENT
        if shown in skip:
            continue
        request = RenderRequest(app_dir=app_dir, profile=options.profile, overlays=tuple(options.overlays),
                                sets=tuple(options.sets), set_strings=tuple(options.set_strings),
                                environment=environment, today=options.today)
        try:
            rendered = render(request)
            text = emit.to_json([rendered.manifest]) if options.fmt == "json" else emit.to_yaml(rendered.manifest)
        except GuardError as exc:
            failures.append(Failure(app, shown, exc.render(), exc.exit_code))
            continue
        except RendererError as exc:
            failures.append(Failure(app, shown, _relocated(exc, app), exc.exit_code))
            continue
        evaluation = rendered.evaluation
        entry = Entry(shown, rendered.namespace, rendered.name, app, rendered.backend, rendered.profile.name,
                      tuple(o.name for o in rendered.overlays), output_file(shown, rendered, options.fmt),
                      text, _sorted_findings(getattr(evaluation, "findings", ())))
        entries.append(entry)
        if keep is not None:
            keep.append((entry, rendered))
    return entries, failures


def _write_entry(directory: str, entry: Entry, made: set) -> None:
    """Write one object under ``directory`` (a fresh staging folder: nothing there is a symlink)."""
    path = f"{directory}/{entry.file}"
    folder = path.rpartition("/")[0]
    if folder not in made:
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
        except FileNotFoundError:  # the environment's folder is not there yet
            os.makedirs(folder, exist_ok=True)
        made.add(folder)
    data = entry.text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _render_chunk(root: str, apps: list, options: Options, out_dir: str | None, keep_text: bool):
    """Render ``apps``; write each object under ``out_dir`` (when given) as soon as it is rendered."""
    entries, failures, made = [], [], set()
    for app in apps:
        app_entries, app_failures = render_app(Path(root), app, options)
        failures.extend(app_failures)
        for entry in app_entries:
            if out_dir is not None and not failures:
                _write_entry(out_dir, entry, made)
                # its line of the index, written here while the other processes render too
                entry.index_line = _INDEX_ENCODER.encode(entry.index_record())
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


def render_root(root: Path, options: Options = Options(), *, apps: list | None = None, out_dir: Path | None = None,
                keep_text: bool = True, jobs: int | None = None, skip: tuple = (),
                known_apps: dict | None = None) -> Tree:
    """Render every environment of every app below ``root`` into a :class:`Tree`.

    With ``out_dir`` each object is written there as it is rendered (the
    caller decides what to do with the folder if anything failed). Objects
    that two apps both render are failures. A caller that discovered
    ``apps`` itself passes what discovery saw of them as ``known_apps``.
    """
    root = Path(root)
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
    tree.failures.extend(_conflicts(tree.entries))
    return tree


def map_chunks(function, items: list, arguments, *, jobs: int | None = None, work: int | None = None,
               per_job: int = 48, known: dict | None = None) -> list:
    """``function(*arguments(chunk))`` for consecutive chunks of ``items``, in order, across processes.

    Large inputs (``work``, by default ``len(items)``, of at least
    :data:`PARALLEL_MIN_APPS`) are split across :func:`default_jobs`
    processes (or ``jobs``) by :func:`renderer.commands.pool.run`, about ``per_job``
    chunks each so that none waits long for the last; small ones run in this
    process as one chunk. The repository is read as one :class:`sources.snapshot`
    (told what discovery saw of each app directory, ``known``), with the cyclic
    garbage collector paused (:class:`renderer.commands.pool.paused_gc`).
    """
    from renderer.commands import pool

    jobs = default_jobs() if jobs is None else max(1, jobs if sys.platform == "linux" else 1)
    work = len(items) if work is None else work
    with pool.paused_gc(), sources.snapshot() as snapshot:
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


def _conflicts(entries: list) -> list:
    failures = []
    for previous, entry in zip(entries, entries[1:]):
        if previous.key == entry.key:
            failures.append(Failure(entry.app, entry.environment,
                                    f"EventBus {entry.ident} is also rendered by app {previous.app}: "
                                    "one of them must change its name or namespace"))
    return failures


# -- the rendered tree on disk ------------------------------------------------------------------


_INDEX_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def index_document(tree: Tree, fmt: str) -> str:
    """Text of :data:`INDEX_FILE` for ``tree``: JSON with one object per line, so its diffs read well."""
    head = json.dumps({"generator": "eventbus-render", "format": INDEX_FORMAT, "output": fmt})[:-1]
    records = ",\n".join(["  " + (getattr(e, "index_line", None) or _INDEX_ENCODER.encode(e.index_record()))
                           for e in tree.entries])
    return f'{head}, "objects": [\n{records}\n]}}\n' if records else f'{head}, "objects": []}}\n'


def read_index(directory: Path) -> tuple[str, list]:
    """Read a rendered tree written by ``render --all``: ``(format, entries with their text)``."""
    directory = Path(directory)
    index = directory / INDEX_FILE
    if not directory.is_dir() or not index.is_file():
        raise InputError(f"{str(directory)!r} is not a tree written by render --all (it has no {INDEX_FILE})",
                         hint="write one with: eventbus-render render --all -o DIR")
    try:
        doc = json.loads(index.read_text(encoding="utf-8"))
        fmt = doc["output"]
        records = doc["objects"]
        if doc.get("format") != INDEX_FORMAT or fmt not in ("yaml", "json"):
            raise ValueError("unsupported index format")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot read {INDEX_FILE}: {exc}", hint="render the tree again with render --all") \
            from None
    entries = []
    real = directory.resolve()
    for record in records:
        try:
            path = (directory / record["file"]).resolve()
            path.relative_to(real)
            text = path.read_text(encoding="utf-8")
            entries.append(Entry(record["environment"], record["namespace"], record["name"], record["app"],
                                 record["backend"], record["profile"], tuple(record["overlays"]), record["file"],
                                 text, tuple(record.get("findings") or ())))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"rendered tree {str(directory)!r} is incomplete: {exc}",
                             hint="render the tree again with render --all") from None
    entries.sort(key=lambda e: e.key)
    return fmt, entries


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_target(target: Path, root: Path) -> None:
    if target.is_symlink():
        raise InputError(f"output {str(target)!r} is a symlink", hint="pass the real folder with -o")
    if target.exists() and not target.is_dir():
        raise InputError(f"output {str(target)!r} exists and is not a directory")
    real_target, real_root = target.resolve(), root.resolve()
    if real_target == real_root or real_target in real_root.parents:
        raise UsageError(f"output {str(target)!r} would replace the root {str(root)!r}",
                         hint="write the tree to a folder of its own, e.g. -o rendered")
    if target.is_dir() and any(target.iterdir()) and not (target / INDEX_FILE).is_file():
        raise UsageError(f"refusing to replace {str(target)!r}: it is not a tree written by render --all",
                         hint=f"choose an empty or new folder (a rendered tree holds {INDEX_FILE})")


def render_all(root, output_dir, options: Options, *, jobs: int | None = None) -> Tree:
    """Render the whole tree below ``root`` into ``output_dir``: all or nothing.

    Objects stream into a temporary folder beside ``output_dir``; the folders
    are swapped only once every render succeeded.
    """
    root = Path(root)
    target = Path(output_dir)
    _check_target(target, root)
    known: dict = {}
    apps = discover(root, skip=(target,), seen=known)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _private_folder(target.parent, f".{target.name}.tmp-")
    try:
        tree = render_root(root, options, apps=apps, out_dir=staging, keep_text=False, jobs=jobs,
                           known_apps=known)
        if tree.failures:
            total = len(tree.entries) + len(tree.failures)
            raise RenderAllError(tree.failures, total, f"nothing was written to {target}")
        (staging / INDEX_FILE).write_text(index_document(tree, options.fmt), encoding="utf-8")
        # mkdtemp made the staging folder private; what was written in it already follows the umask
        os.chmod(staging, 0o777 & ~_umask())
        _swap(staging, target)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    return tree


def _private_folder(parent: Path, prefix: str) -> Path:
    """A new folder ``<parent>/<prefix><random>``, mode 0700 (what ``tempfile.mkdtemp`` makes, without its import)."""
    while True:
        folder = Path(parent) / f"{prefix}{os.urandom(6).hex()}"
        try:
            os.mkdir(folder, 0o700)
            return folder
        except FileExistsError:
            continue


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` where ``target`` is, removing the old tree only after the new one is in place."""
    if not target.exists():
        os.rename(staging, target)
        return
    old = _private_folder(target.parent, f".{target.name}.old-")
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(old, target)
        raise
    import shutil

    shutil.rmtree(old, ignore_errors=True)


def _stream(tree: Tree, fmt: str) -> str:
    if fmt == "json":
        objects = [json.loads(e.text) for e in tree.entries]
        from renderer.stages import emit

        return emit.to_json(objects) if len(objects) != 1 else tree.entries[0].text
    return "".join("---\n" + e.text for e in tree.entries)


def findings_report(tree: Tree) -> list:
    """One stderr line per guard finding of the tree (warnings and waived violations)."""
    lines = []
    for entry in tree.entries:
        for f in entry.findings:
            head = f"{'waived' if f.get('waived') else f.get('level')}[{f.get('rule')}]"
            where = f" {f['path']}:" if f.get("path") else ""
            lines.append(f"{entry.app} [{entry.environment}] {entry.ident}: {head}{where} {f.get('message')}")
    return lines


def render_all_command(root, output_dir, fmt, profile, overlays, sets, set_strings, jobs=None):
    """``render --all``: every environment of every app below ``root``, into ``output_dir`` or to stdout."""
    from renderer.commands import pool

    with pool.paused_gc():  # the whole command: sorting and indexing thousands of entries too
        _render_all_command(Path(root), output_dir, fmt, profile, overlays, sets, set_strings, jobs)


def _render_all_command(root, output_dir, fmt, profile, overlays, sets, set_strings, jobs):
    from renderer.commands.common import emit_text, warn

    options = Options(profile, tuple(overlays), tuple(sets), tuple(set_strings), fmt)
    if output_dir:
        tree = render_all(root, output_dir, options, jobs=jobs)
    else:
        tree = render_root(root, options, jobs=jobs)
        if tree.failures:
            total = len(tree.entries) + len(tree.failures)
            raise RenderAllError(tree.failures, total, "nothing was printed")
    for line in findings_report(tree):
        warn(line)
    count = len(tree.entries)
    where = f" into {output_dir}" if output_dir else ""
    summary = (f"rendered {count} manifest{'s' if count != 1 else ''} of {tree.apps} app"
               f"{'s' if tree.apps != 1 else ''} in {len(tree.environments)} environment"
               f"{'s' if len(tree.environments) != 1 else ''}{where}")
    if not output_dir:
        emit_text(_stream(tree, fmt))
    warn(summary)


# -- check over many apps (pre-commit, CI) -----------------------------------------------------


def changed_apps(files, root: Path = Path(".")) -> list[str]:
    """The app directories (relative to ``root``) that hold any of ``files``, sorted, each once.

    A file belongs to the nearest folder above it holding an app file; files
    outside every app directory (and outside ``root``) are ignored.
    """
    root = Path(root)
    real_root = root.resolve()
    found = set()
    for name in files:
        path = (root / name).resolve()
        try:
            path.relative_to(real_root)
        except ValueError:
            continue
        folder = path if path.is_dir() else path.parent
        while True:
            if (folder / sources.APP_FILE).is_file():
                found.add(folder.relative_to(real_root).as_posix() or ".")
                break
            if folder == real_root or folder == folder.parent:
                break
            folder = folder.parent
    return sorted(found)


def check_targets(root: Path, apps: list) -> list:
    """``(app directory, environment or None)`` for every environment of ``apps`` (relative to ``root``)."""
    targets = []
    for app in apps:
        app_dir = Path(root) / app
        try:
            names = sorted(sources.load_app(app_dir).environments)
        except RendererError:
            names = []  # check itself reports why the app file does not load
        targets.extend((app_dir, name) for name in names or [None])
    return targets


def _run_check(app_dir: Path, environment, fmt: str) -> tuple[int, str]:
    import contextlib
    import io

    from renderer.cli import main as cli_main

    args = ["check", "--app", str(app_dir), "--format", fmt]
    if environment:
        args += ["--env", environment]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        try:
            cli_main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return code, buffer.getvalue()


EMPTY_SARIF = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
               "runs": [{"tool": {"driver": {"name": "eventbus-render", "rules": []}}, "results": []}]}


def merge_sarif(logs: list) -> dict:
    """One SARIF log with one run holding the results of ``logs`` (``(label, log)`` pairs, same rule table)."""
    merged = None
    for label, log in logs:
        for run in log.get("runs", []):
            for result in run.get("results", []):
                message = result.setdefault("message", {})
                message["text"] = f"[{label}] {message.get('text', '')}"
            if merged is None:
                merged = json.loads(json.dumps(log))
                merged["runs"] = [run]
            else:
                merged["runs"][0].setdefault("results", []).extend(run.get("results", []))
    return merged or json.loads(json.dumps(EMPTY_SARIF))




def check_many(root: Path, apps: list, fmt: str) -> tuple[int, str]:
    """Run ``check`` on every environment of ``apps``; returns the worst exit code and the combined report."""
    worst, texts, logs = 0, [], []
    for app_dir, environment in check_targets(root, apps):
        label = app_dir.relative_to(root).as_posix() or "."
        label = label if label != "." else str(root)
        label += f" [{environment or DEFAULT_ENVIRONMENT}]"
        code, out = _run_check(app_dir, environment, fmt)
        worst = max(worst, code)
        if fmt == "sarif":
            if out.strip():
                logs.append((label, json.loads(out)))
        else:
            texts.append(f"== {label} ==\n{out}")
    if fmt == "sarif":
        return worst, json.dumps(merge_sarif(logs), indent=2, ensure_ascii=False) + "\n"
    return worst, "".join(texts)


def main(argv=None) -> int:
    """``python -m renderer.commands.bulk check [--root DIR] [--all] [--format text|sarif] [FILE...]``.

    Runs ``eventbus-render check`` on every environment of the app
    directories that hold FILEs (the pre-commit hook passes the changed
    files), or of every app below ``--root`` with ``--all`` (CI). With
    ``--format sarif`` the reports are merged into one SARIF log.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m renderer.commands.bulk")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run check on the app directories of FILEs (or --all)")
    check.add_argument("--root", default=".", help="folder the FILEs and --all are relative to")
    check.add_argument("--all", action="store_true", help="every app directory below --root")
    check.add_argument("--format", choices=("text", "sarif"), default="text")
    check.add_argument("files", nargs="*", metavar="FILE")
    args = parser.parse_args(argv)
    root = Path(args.root)
    try:
        apps = discover(root) if args.all else changed_apps(args.files, root)
    except RendererError as exc:
        sys.stderr.write("error: " + exc.render() + "\n")
        return exc.exit_code
    code, text = check_many(root, apps, args.format)
    sys.stdout.write(text)
    sys.stdout.flush()
    return code


if __name__ == "__main__":  # pragma: no cover - exercised through python -m
    sys.exit(main())
