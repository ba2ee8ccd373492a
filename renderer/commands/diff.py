"""``eventbus-render diff``: which manifests change in which environment, and what the cluster will make of it.

Both sides are rendered in full (every environment of every app, as
``render --all`` does): a git revision is read from the object database into
a temporary folder (:mod:`renderer.commands.gitrefs`), the working tree is rendered in
place, and ``--against DIR`` reads a tree committed by ``render --all``.
Objects are matched by environment, namespace and name, so moving an app
directory changes nothing, while renaming an EventBus shows as a rename.

Besides the text diff, every change is checked against what upstream's
admission webhook refuses on update (the backend type, NATS native versus
exotic, NATS ``auth``, JetStream ``streamConfig``) and against what silently
needs the bus recreated (a rename or namespace move orphans the StatefulSet
and its volumes). Guard findings that appear or disappear are listed too.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import click

from renderer.errors import InputError, UsageError
from renderer.stages import sources

STATEFUL_BACKENDS = ("nats-native", "jetstream")
"""Backends whose EventBus runs a StatefulSet with volumes of its own."""
MARKDOWN_BUDGET = 60_000
"""Characters of diff text in a markdown report (GitHub comments hold 65,536)."""
MARKDOWN_MARKER = "<!-- eventbus-render-diff -->"
"""First line of the markdown report, so CI can find and update its earlier comment."""
REFUSED, RECREATE = "refused", "recreate"


@dataclass(frozen=True)
class Notice:
    """A change the cluster refuses (``refused``) or that needs the EventBus recreated (``recreate``).

    ``message`` says what changes, ``detail`` what follows from it and what to do.
    """

    kind: str
    message: str
    detail: str = ""

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"kind": self.kind, "message": self.message, "detail": self.detail}

    @property
    def full(self) -> str:
        """Message and detail in one sentence."""
        return f"{self.message}: {self.detail}" if self.detail else self.message


@dataclass
class ObjectChange:
    """One object that differs between the sides."""

    environment: str
    status: str  # added, removed, changed, renamed, or guards (manifest identical, findings differ)
    base: object = None  # review.Entry
    head: object = None
    diff: str = ""
    changes: list = field(default_factory=list)
    notices: list = field(default_factory=list)
    appeared: list = field(default_factory=list)
    disappeared: list = field(default_factory=list)

    @property
    def entry(self):
        """The head entry, or the base entry of a removed object."""
        return self.head or self.base

    @property
    def title(self) -> str:
        """``namespace/name`` (``old -> new`` for a rename)."""
        if self.status == "renamed":
            return f"{self.base.ident} -> {self.head.ident}"
        return self.entry.ident

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "status": self.status,
            "namespace": self.entry.namespace,
            "name": self.entry.name,
            "app": self.entry.app,
            "backend": self.entry.backend,
            "base": _side(self.base),
            "head": _side(self.head),
            "notices": [n.as_dict() for n in self.notices],
            "guards": {"appeared": self.appeared, "disappeared": self.disappeared},
            "changes": self.changes,
            "diff": self.diff,
        }


def _side(entry) -> dict | None:
    if entry is None:
        return None
    return {"namespace": entry.namespace, "name": entry.name, "app": entry.app, "file": entry.file,
            "backend": entry.backend}


@dataclass
class EnvironmentChange:
    """What differs in one environment."""

    name: str
    status: str  # added, removed, changed, unchanged
    objects: list = field(default_factory=list)
    unchanged: int = 0

    def counts(self) -> dict:
        """Changed objects by status."""
        out: dict = {}
        for change in self.objects:
            out[change.status] = out.get(change.status, 0) + 1
        return out


@dataclass
class Comparison:
    """Everything that differs between a base and a head tree."""

    base_label: str
    head_label: str
    environments: list = field(default_factory=list)

    @property
    def changed(self) -> list:
        """Environments with any change."""
        return [e for e in self.environments if e.status != "unchanged"]

    @property
    def objects(self) -> list:
        """Every changed object."""
        return [o for e in self.environments for o in e.objects]

    @property
    def notices(self) -> list:
        """``(environment, object change, notice)`` for every notice, refused first."""
        found = [(o.environment, o, n) for o in self.objects for n in o.notices]
        return sorted(found, key=lambda t: (t[2].kind != REFUSED, t[0], t[1].title))

    def summary(self) -> dict:
        """Counts of everything, for the summary line and JSON."""
        objects = {"added": 0, "removed": 0, "changed": 0, "renamed": 0, "guards": 0}
        for change in self.objects:
            objects[change.status] += 1
        objects["unchanged"] = sum(e.unchanged for e in self.environments)
        notices = [n for _, _, n in self.notices]
        return {
            "environments": {"total": len(self.environments), "changed": len(self.changed),
                             "added": sum(e.status == "added" for e in self.environments),
                             "removed": sum(e.status == "removed" for e in self.environments)},
            "objects": objects,
            "refused": sum(n.kind == REFUSED for n in notices),
            "recreate": sum(n.kind == RECREATE for n in notices),
            "guards": {"appeared": sum(len(o.appeared) for o in self.objects),
                       "disappeared": sum(len(o.disappeared) for o in self.objects)},
        }

    def summary_line(self) -> str:
        """One sentence: what changed, how many, and how much of it the cluster will refuse."""
        counts = self.summary()
        envs = counts["environments"]
        objects = counts["objects"]
        if not self.changed:
            return (f"No changes in {_plural(envs['total'], 'environment')} "
                    f"({_plural(objects['unchanged'], 'object')}).")
        changed = sum(objects[k] for k in ("added", "removed", "changed", "renamed", "guards"))
        parts = [f"{objects[k]} {_STATUS_TEXT[k]}" for k in ("added", "removed", "changed", "renamed", "guards")
                 if objects[k]]
        line = (f"{_plural(changed, 'object')} differ{'s' if changed == 1 else ''} in {envs['changed']} of "
                f"{_plural(envs['total'], 'environment')} ({', '.join(parts)})")
        if counts["refused"]:
            line += f"; {counts['refused']} refused by the Argo Events webhook"
        if counts["recreate"]:
            line += f"; {counts['recreate']} need{'s' if counts['recreate'] == 1 else ''} the EventBus recreated"
        guards = counts["guards"]["appeared"] + counts["guards"]["disappeared"]
        if guards:
            line += (f"; guard findings: {counts['guards']['appeared']} new, "
                     f"{counts['guards']['disappeared']} gone")
        return line + "."


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


# -- comparing ----------------------------------------------------------------------------------


def parse_text(entry, fmt: str) -> dict:
    """The manifest of a tree entry, read back from its text."""
    if fmt == "json":
        return json.loads(entry.text)
    from renderer.stages import yamlio

    data, _ = yamlio.load(entry.text, entry.file)
    return data


def backend_of(manifest: dict) -> str:
    """The backend a manifest's ``spec`` selects (``nats-native``, ``jetstream``...)."""
    spec = manifest.get("spec") or {}
    if "nats" in spec:
        nats = spec.get("nats") or {}
        return "nats-exotic" if "exotic" in nats and "native" not in nats else "nats-native"
    if "jetstream" in spec:
        return "jetstream"
    if "jetstreamExotic" in spec:
        return "jetstream-exotic"
    if "kafka" in spec:
        return "kafka"
    return "unknown"


_FAMILY = {"nats-native": "nats", "nats-exotic": "nats", "jetstream": "jetstream",
           "jetstream-exotic": "jetstreamExotic", "kafka": "kafka"}
_REFUSED_HINT = ("the Argo Events webhook refuses this update; to apply it, delete the EventBus and let it be "
                 "created again (EventSources and Sensors stop meanwhile, and messages on the bus are lost)")


def _auth_changed(old, new) -> bool:
    # upstream's authChanged: an unset auth is the same as "none"
    return (old or "none") != (new or "none")


def immutable_changes(old: dict, new: dict) -> list:
    """Notices for an update of ``old`` to ``new`` that upstream's webhook refuses, or that recreates the bus.

    Mirrors ``ValidateUpdate`` of argo-events ``pkg/webhook/validator/eventbus.go``.
    """
    old_backend, new_backend = backend_of(old), backend_of(new)
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if _FAMILY.get(old_backend) != _FAMILY.get(new_backend):
        what = f"backend changes from {old_backend} to {new_backend}"
        if new_backend == "kafka":
            return [Notice(RECREATE, what, "the webhook allows it, but EventSources and Sensors move to a new bus "
                                           f"and messages on the old one are lost{_orphans(old_backend)}")]
        return [Notice(REFUSED, what, "the implementation of an EventBus is immutable; " + _REFUSED_HINT)]
    if new_backend != old_backend and _FAMILY.get(new_backend) == "nats":
        return [Notice(REFUSED, f"NATS changes from {old_backend.split('-')[1]} to {new_backend.split('-')[1]}",
                       "spec.nats.native versus spec.nats.exotic is immutable; " + _REFUSED_HINT)]
    notices = []
    if new_backend in ("nats-native", "nats-exotic"):
        kind = new_backend.split("-")[1]
        old_auth = ((old_spec.get("nats") or {}).get(kind) or {}).get("auth")
        new_auth = ((new_spec.get("nats") or {}).get(kind) or {}).get("auth")
        if _auth_changed(old_auth, new_auth):
            notices.append(Notice(REFUSED, f"spec.nats.{kind}.auth is immutable ({old_auth or 'none'} -> "
                                           f"{new_auth or 'none'})", _REFUSED_HINT))
    if new_backend == "jetstream":
        old_stream = (old_spec.get("jetstream") or {}).get("streamConfig")
        new_stream = (new_spec.get("jetstream") or {}).get("streamConfig")
        if old_stream != new_stream:
            what = "set" if old_stream is None else ("removed" if new_stream is None else "changed")
            notices.append(Notice(REFUSED, f"spec.jetstream.streamConfig is immutable (it is {what})", _REFUSED_HINT))
    return notices


def _orphans(backend: str) -> str:
    if backend in STATEFUL_BACKENDS:
        return "; the old bus's StatefulSet and volumes are left behind"
    return ""


def _rename_notice(base, head) -> Notice:
    if base.namespace != head.namespace and base.name != head.name:
        what = f"EventBus {base.ident} becomes {head.ident}"
    elif base.namespace != head.namespace:
        what = f"EventBus {base.name} moves from namespace {base.namespace} to {head.namespace}"
    else:
        what = f"EventBus {base.ident} is renamed to {head.name}"
    detail = "a new EventBus is created instead of the old one being updated"
    if base.backend in STATEFUL_BACKENDS:
        detail += ("; the old bus's StatefulSet and volumes are orphaned (or deleted with it when pruned) and its "
                   "messages are not carried over")
    return Notice(RECREATE, what, detail + f"; EventSources and Sensors must name the new bus (eventBusName: "
                                           f"{head.name})")


def _finding_key(finding: dict) -> tuple:
    return (finding.get("rule", ""), finding.get("path", ""), finding.get("level", ""),
            finding.get("message", ""), bool(finding.get("waived", False)))


def _guard_changes(base, head) -> tuple[list, list]:
    before = {_finding_key(f): dict(f) for f in (base.findings if base else ())}
    after = {_finding_key(f): dict(f) for f in (head.findings if head else ())}
    appeared = [after[k] for k in sorted(after) if k not in before]
    disappeared = [before[k] for k in sorted(before) if k not in after]
    return appeared, disappeared


def _path_key(path: tuple) -> tuple:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in path)


def _flatten(value, path: tuple, out: dict) -> dict:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _flatten(sub, path + (key,), out)
    elif isinstance(value, list) and value:
        for index, sub in enumerate(value):
            _flatten(sub, path + (index,), out)
    else:
        out[path] = value
    return out


def leaf_changes(old: dict | None, new: dict | None) -> list:
    """``[{path, base, head, _path}]`` for every leaf that differs (``None`` where a side lacks it).

    ``_path`` is the path as a tuple, for the caller to resolve and drop.
    Leaves are compared by value and type (``1`` is not ``true``); mappings
    and lists equal on both sides are not walked (see :func:`_differing`).
    """
    from renderer.stages.validate import format_path

    before: dict = {}
    after: dict = {}
    if old is None or new is None:
        if old is not None:
            _flatten(old, (), before)
        if new is not None:
            _flatten(new, (), after)
    else:
        _differing(old, new, (), before, after)
    changes = []
    missing = object()
    for path in sorted(set(before) | set(after), key=_path_key):
        a, b = before.get(path, missing), after.get(path, missing)
        if a is missing or b is missing or a != b or type(a) is not type(b):
            changes.append({"path": format_path(path), "base": None if a is missing else a,
                            "head": None if b is missing else b, "_path": path})
    return changes


def _differing(a, b, path: tuple, before: dict, after: dict) -> None:
    """Flatten into ``before``/``after`` the leaves of ``a`` and ``b`` below ``path``, skipping the mappings
    and lists that are the same on both sides: what :func:`_flatten` of each would give, less what is equal.

    Equal means equal as JSON text too, so a ``1`` that became ``true`` (equal in Python) is still seen.
    """
    if a.__class__ is b.__class__ and (a.__class__ is dict or a.__class__ is list) and a \
            and b and len(a) == len(b) and a == b and _json_text(a) == _json_text(b):
        return
    if a.__class__ is dict and b.__class__ is dict and a and b:
        for key in a:
            if key in b:
                _differing(a[key], b[key], path + (key,), before, after)
            else:
                _flatten(a[key], path + (key,), before)
        for key in b:
            if key not in a:
                _flatten(b[key], path + (key,), after)
        return
    if a.__class__ is list and b.__class__ is list and a and b:
        for index in range(max(len(a), len(b))):
            sub = path + (index,)
            if index >= len(a):
                _flatten(b[index], sub, after)
            elif index >= len(b):
                _flatten(a[index], sub, before)
            else:
                _differing(a[index], b[index], sub, before, after)
        return
    _flatten(a, path, before)
    _flatten(b, path, after)


def _json_text(value) -> str:
    from renderer.stages.template import to_yaml_flow

    return to_yaml_flow(value)


def unified(base, head, context: int) -> str:
    """The unified diff of two entries' texts (``/dev/null`` for a missing side)."""
    lines = difflib.unified_diff(base.text.splitlines(keepends=True) if base else [],
                                 head.text.splitlines(keepends=True) if head else [],
                                 fromfile=f"a/{base.file}" if base else "/dev/null",
                                 tofile=f"b/{head.file}" if head else "/dev/null", n=context)
    return "".join(lines)


def compare(base_entries: list, head_entries: list, fmt: str = "yaml", *, base_label: str = "base",
            head_label: str = "head", context: int = 3, origins=None, details: dict | None = None) -> Comparison:
    """Compare two rendered trees (lists of :class:`renderer.commands.bulk.Entry`).

    ``origins(entry)``, when given, returns a function from a manifest path of
    the head entry to the layer that set it, so every changed value says why.
    ``details`` maps ``(environment, app)`` to a :class:`Detail` worked out
    while both sides of that app were rendered (see :func:`render_both`); an
    object with one is neither parsed again nor traced again.
    """
    details = details or {}
    base_by_env: dict = {}
    head_by_env: dict = {}
    for entry in base_entries:
        base_by_env.setdefault(entry.environment, {})[(entry.namespace, entry.name)] = entry
    for entry in head_entries:
        head_by_env.setdefault(entry.environment, {})[(entry.namespace, entry.name)] = entry
    comparison = Comparison(base_label, head_label)
    for env in sorted(set(base_by_env) | set(head_by_env)):
        before, after = base_by_env.get(env, {}), head_by_env.get(env, {})
        status = "added" if env not in base_by_env else "removed" if env not in head_by_env else "unchanged"
        result = EnvironmentChange(env, status)
        removed = [before[k] for k in sorted(before) if k not in after]
        added = [after[k] for k in sorted(after) if k not in before]
        # an app whose object disappears under one name and appears under another renamed it
        added_by_app = {e.app: e for e in added}
        for old in list(removed):
            new = added_by_app.pop(old.app, None)
            if new is not None:
                removed.remove(old)
                added.remove(new)
                result.objects.append(_object_change(env, "renamed", old, new, fmt, context, origins,
                                                     details.get((env, new.app))))
        for key in sorted(set(before) & set(after)):
            old, new = before[key], after[key]
            if old.text != new.text:
                result.objects.append(_object_change(env, "changed", old, new, fmt, context, origins,
                                                     details.get((env, new.app))))
            elif _guard_changes(old, new) != ([], []):
                result.objects.append(_object_change(env, "guards", old, new, fmt, context))
            else:
                result.unchanged += 1
        result.objects.extend(_object_change(env, "removed", old, None, fmt, context) for old in removed)
        result.objects.extend(_object_change(env, "added", None, new, fmt, context) for new in added)
        result.objects.sort(key=lambda o: (o.entry.namespace, o.entry.name, o.status))
        if result.objects and status == "unchanged":
            result.status = "changed"
        comparison.environments.append(result)
    return comparison


def _object_change(env: str, status: str, base, head, fmt: str, context: int, origins=None,
                   detail=None) -> ObjectChange:
    change = ObjectChange(env, status, base, head)
    change.appeared, change.disappeared = _guard_changes(base, head)
    if status == "guards":
        return change
    if detail is not None and detail.matches(base, head, context):
        change.diff = detail.diff
        change.changes = [dict(item) for item in detail.changes]
        if status == "changed":
            change.notices = list(detail.notices)
        else:
            change.notices = [_rename_notice(base, head)]
        return change
    old = parse_text(base, fmt) if base is not None else None
    new = parse_text(head, fmt) if head is not None else None
    change.diff = unified(base, head, context)
    if status in ("changed", "renamed"):
        change.changes = leaf_changes(old, new)
        origin_of = origins(head) if origins is not None else None
        for item in change.changes:
            origin = origin_of(item.pop("_path")) if origin_of is not None else None
            item["origin"] = origin.as_dict() if origin is not None else None
    else:
        for item in change.changes:
            item.pop("_path", None)
    if status == "changed":
        change.notices = immutable_changes(old, new)
    elif status == "renamed":
        change.notices = [_rename_notice(base, head)]
    return change


def value_origin(rendered, manifest_path: tuple):
    """The layer that set the value at ``manifest_path`` of ``rendered`` (None for what the renderer computes).

    Unlike the nearest-ancestor lookup of provenance, a computed value (the
    instance label, the renderer's annotations, the name) is not credited to
    the layer that happened to set its parent mapping.
    """
    from renderer.pipeline import manifest_to_values_path
    from renderer.stages.layers import DELETED

    values_path = manifest_to_values_path(manifest_path, rendered.section_path)
    if not values_path:
        return None
    anti_affinity = rendered.section_path + ("affinity", "podAntiAffinity")
    if values_path[: len(anti_affinity)] == anti_affinity:
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


class HeadOrigins:
    """Renders a head entry again, with provenance, to say which layer set each changed value.

    The fallback of :func:`compare` for changed objects that :func:`render_both`
    could not trace while rendering (an object that moved to another app
    directory, a base read from a rendered tree holding two objects of one
    app in an environment); guards are not run again.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def __call__(self, entry):
        from renderer.errors import RendererError
        from renderer.pipeline import RenderRequest, render

        app_dir = self.root / entry.app if entry.app != "." else self.root
        try:
            environments = sources.load_app(app_dir).environments
            environment = entry.environment if environments else None
            rendered = render(RenderRequest(app_dir=app_dir, environment=environment, run_guards=False))
        except RendererError:
            return None
        prefix = "" if entry.app == "." else entry.app + "/"

        def origin_of(manifest_path: tuple):
            origin = value_origin(rendered, manifest_path)
            if origin is None or prefix == "" or origin.file.startswith(("builtin:", "-", "<")):
                return origin
            return origin.replace(file=prefix + origin.file)

        return origin_of


def _origin_function(rendered, app: str):
    """``manifest path -> Origin`` for a render of ``app``, with the app's own files named from the root."""
    prefix = "" if app == "." else app + "/"

    def origin_of(manifest_path: tuple):
        origin = value_origin(rendered, manifest_path)
        if origin is None or prefix == "" or origin.file.startswith(("builtin:", "-", "<")):
            return origin
        return origin.replace(file=prefix + origin.file)

    return origin_of


_PLAIN_TYPES = (str, int, float, bool, type(None))


def _plain(value):
    """``value`` as the plain types reading its manifest text back gives (dict, list, str, int, float...)."""
    cls = value.__class__
    if cls is dict:
        return {_plain(k): _plain(v) for k, v in value.items()}
    if cls is list:
        return [_plain(v) for v in value]
    if cls in _PLAIN_TYPES:
        return value
    for kind in (bool, str, int, float, dict, list):
        if isinstance(value, kind):
            return _plain(kind(value))
    raise TypeError(f"unexpected {cls.__name__} in a manifest")


@dataclass(frozen=True)
class Detail:
    """What changed in one object, worked out by the worker that rendered it (see :func:`render_both`).

    ``base_key``/``head_key`` are the ``(environment, namespace, name)`` of the
    two objects it compares; ``changes`` are the changed leaves with their
    origins, ``notices`` what the webhook makes of the update (same key only).
    """

    base_key: tuple
    head_key: tuple
    base_file: str
    head_file: str
    changes: tuple
    notices: tuple
    context: int
    diff: str

    def matches(self, base, head, context: int) -> bool:
        """Whether this detail compares exactly the entries ``base`` and ``head`` (with ``context`` lines)."""
        return (base is not None and head is not None and base.key == self.base_key and head.key == self.head_key
                and base.file == self.base_file and head.file == self.head_file and context == self.context)


def _detail(base_entry, old: dict, head_entry, rendered, context: int) -> Detail:
    new = _plain(rendered.manifest)
    origin_of = _origin_function(rendered, head_entry.app)
    changes = leaf_changes(old, new)
    for item in changes:
        origin = origin_of(item.pop("_path"))
        item["origin"] = origin.as_dict() if origin is not None else None
    notices = immutable_changes(old, new) if base_entry.key == head_entry.key else []
    return Detail(base_entry.key, head_entry.key, base_entry.file, head_entry.file, tuple(changes), tuple(notices),
                  context, unified(base_entry, head_entry, context))


def _render_both_chunk(base_root: str | None, head_root: str | None, chunk: list, options, context: int) -> tuple:
    """Render both sides of the apps of ``chunk``: ``(base entries, base failures, head entries, head failures,
    details)``.

    ``chunk`` holds ``(app, render the base?, base entries given, render the
    head?)``. The base of an app is rendered (from ``base_root``) or given (a
    tree written by ``render --all``). Every environment whose object differs
    between the sides gets a :class:`Detail` while the head's render, and so
    the provenance of each value, is still at hand.
    """
    from renderer.commands import bulk as review

    base_entries, base_failures, head_entries, head_failures = [], [], [], []
    details = {}
    for app, render_base, given, render_head in chunk:
        base_data = {}  # environment -> (entry, manifest or None)
        base_kept: list = []
        if render_base:
            entries, failures = review.render_app(Path(base_root), app, options, keep=base_kept)
            base_entries.extend(entries)
            base_failures.extend(failures)
            for entry, rendered in base_kept:
                base_data[entry.environment] = (entry, rendered.manifest)
        else:
            seen = set()
            for entry in given:
                if entry.environment in seen:
                    base_data.pop(entry.environment, None)  # two objects of one app: compared the slow way
                else:
                    base_data[entry.environment] = (entry, None)
                seen.add(entry.environment)
        if not render_head:
            continue
        # an environment whose every input is the same file in both revisions renders the same: reuse it
        reused, read = {}, {}
        for entry, rendered in base_kept if render_base else ():
            if _same_inputs(Path(base_root) / app, Path(head_root) / app, rendered, read):
                reused[entry.environment] = replace(entry)
        kept = []
        entries, failures = review.render_app(Path(head_root), app, options, keep=kept, skip=frozenset(reused))
        head_entries.extend(reused.values())
        head_entries.extend(entries)
        head_failures.extend(failures)
        for entry, rendered in kept:
            base = base_data.get(entry.environment)
            if base is None or base[0].text == entry.text:
                continue
            try:
                old = _plain(base[1]) if base[1] is not None else parse_text(base[0], options.fmt)
                details[(entry.environment, app)] = _detail(base[0], old, entry, rendered, context)
            except Exception:
                continue
    return base_entries, base_failures, head_entries, head_failures, details


def _same_inputs(base_dir: Path, head_dir: Path, rendered, read: dict | None = None) -> bool:
    """Whether every file the base render of one environment depended on is the same in the head's app folder.

    A render reads the app file, each profile and overlay it names (the app's
    own ``NAME.yaml`` or ``NAME.yml`` when there is one, else the built-in),
    and nothing else of the app folder unless it has templates of its own.
    So when the app file and every candidate file of those names hold the
    same bytes on both sides (or are missing on both), and neither side has a
    ``templates`` folder or a symlink among them, the head renders exactly as
    the base did: same profiles and overlays found, same values, same output.
    ``read`` remembers file contents across the environments of one app.
    """
    if sources.has_folder(base_dir, "templates") or sources.has_folder(head_dir, "templates"):
        return False
    read = {} if read is None else read
    wanted = [(None, sources.APP_FILE)]
    for kind, layers in (("profiles", rendered.profiles), ("overlays", rendered.overlays)):
        for layer in layers:
            wanted.extend(((kind, f"{layer.name}.yaml"), (kind, f"{layer.name}.yml")))
    for kind, name in wanted:
        base, head = _content(base_dir, kind, name, read), _content(head_dir, kind, name, read)
        if base is _UNREADABLE or head is _UNREADABLE or base != head:
            return False
    return True


_UNREADABLE = object()


def _content(app_dir: Path, kind: str | None, name: str, read: dict):
    """The bytes of ``[kind/]name`` in ``app_dir``; ``None`` when it is missing, :data:`_UNREADABLE` (never
    taken as the same on both sides) for a symlink, a folder or an error. Listings come from the snapshot."""
    key = (str(app_dir), kind, name)
    if key in read:
        return read[key]
    found = _UNREADABLE
    if kind is not None:
        listing = sources.local_folder(app_dir, kind)
        if listing is None or name not in listing:
            found = None
        elif listing[name]:
            found = _UNREADABLE  # a symlink (or a symlinked folder)
        else:
            found = _file_bytes(app_dir / kind / name)
    else:
        found = _file_bytes(app_dir / name)
    read[key] = found
    return found


def _file_bytes(path: Path):
    """The bytes of a regular file, ``None`` when there is none, else :data:`_UNREADABLE`."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError:
        return _UNREADABLE
    try:
        parts = []
        while True:
            part = os.read(fd, 1 << 16)
            if not part:
                return b"".join(parts)
            parts.append(part)
    except OSError:
        return _UNREADABLE
    finally:
        os.close(fd)


def render_both(base_root: Path | None, head_root: Path, options, *, base_entries: list | None = None,
                skip: tuple = (), context: int = 3) -> tuple:
    """Render every app of both sides in one pool: ``(base tree or None, head tree, details)``.

    The base is rendered from ``base_root`` (None: no app there), or, with
    ``base_entries``, read from a rendered tree (the base tree is then None).
    Each worker renders both sides of its apps, so the two revisions share
    the cores, and returns a :class:`Detail` for every object whose text
    differs between the sides (see :func:`compare`).
    """
    from renderer.commands import bulk as review

    base_apps = review.discover(base_root) if base_root is not None else []
    head_apps = review.discover(head_root, skip) if Path(head_root).is_dir() else []
    given: dict = {}
    for entry in base_entries or ():
        given.setdefault(entry.app, []).append(entry)
    in_base, in_head = set(base_apps), set(head_apps)
    chunk_items = [(app, app in in_base, given.get(app, ()) if app in in_head else (), app in in_head)
                   for app in sorted(in_base | in_head)]
    results = review.map_chunks(
        _render_both_chunk, chunk_items,
        lambda chunk: (str(base_root) if base_root is not None else None, str(head_root), chunk, options, context),
        work=len(base_apps) + len(head_apps))
    parts: tuple = ([], [], [], [])
    details: dict = {}
    for result in results:
        for part, found in zip(parts, result):
            part.extend(found)
        details.update(result[4])
    base_tree = review.make_tree(parts[0], parts[1], len(base_apps)) if base_root is not None else None
    head_tree = review.make_tree(parts[2], parts[3], len(head_apps))
    return base_tree, head_tree, details


# -- formats ------------------------------------------------------------------------------------


_STATUS_MARK = {"added": "+", "removed": "-", "changed": "~", "renamed": ">", "guards": "!"}
_STATUS_TEXT = {"added": "added", "removed": "removed", "changed": "changed", "renamed": "renamed",
                "guards": "with other guard findings"}


class _Style:
    """ANSI colours, or none."""

    CODES = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "cyan": "36", "red_bold": "1;31",
             "yellow_bold": "1;33"}

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str, style: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{self.CODES[style]}m{text}\x1b[0m"


def _finding_text(finding: dict) -> str:
    waived = " (waived)" if finding.get("waived") else ""
    where = f" at {finding['path']}" if finding.get("path") else ""
    return f"{finding.get('level', '')}{waived} {finding.get('rule', '')}{where}: {finding.get('message', '')}"


def format_text(comparison: Comparison, color: bool = False) -> str:
    """The report for a terminal: summary, loud notices, then per environment each object's diff."""
    style = _Style(color)
    out = [style(f"eventbus-render diff: {comparison.base_label} -> {comparison.head_label}", "bold"),
           comparison.summary_line()]
    notices = comparison.notices
    if notices:
        out.append("")
        for env, change, notice in notices:
            tag = "REFUSED " if notice.kind == REFUSED else "RECREATE"
            out.append(style(tag, "red_bold" if notice.kind == REFUSED else "yellow_bold")
                       + f" {env} {change.title}: {notice.message}")
    for env in comparison.changed:
        counts = ", ".join(f"{n} {_STATUS_TEXT[s]}" for s, n in sorted(env.counts().items()))
        note = f" (environment {env.status})" if env.status in ("added", "removed") else ""
        out.append("")
        out.append(style(f"=== {env.name}{note}: {counts} ===", "bold"))
        for change in env.objects:
            out.append("")
            out.append(style(f"{_STATUS_MARK[change.status]} {change.title} [{_STATUS_TEXT[change.status]}]",
                             "bold") + f" (app {change.entry.app})")
            for notice in change.notices:
                tag = "REFUSED" if notice.kind == REFUSED else "RECREATE"
                out.append("  " + style(tag, "red_bold" if notice.kind == REFUSED else "yellow_bold")
                           + f": {notice.full}")
            for item in change.changes:
                if item.get("origin"):
                    out.append(f"  {_why(item)}")
            for finding in change.appeared:
                out.append("  " + style("guard +", "yellow") + " " + _finding_text(finding))
            for finding in change.disappeared:
                out.append("  " + style("guard -", "green") + " " + _finding_text(finding))
            for line in change.diff.splitlines():
                if line.startswith(("---", "+++")):
                    out.append(style(line, "bold"))
                elif line.startswith("@@"):
                    out.append(style(line, "cyan"))
                elif line.startswith("+"):
                    out.append(style(line, "green"))
                elif line.startswith("-"):
                    out.append(style(line, "red"))
                else:
                    out.append(line)
    return "\n".join(out) + "\n"


def _short(value) -> str:
    text = "(unset)" if value is None else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 48 else text[:45] + "..."


def _why(item: dict) -> str:
    """``path: old -> new, set by layer (file:line)`` for one changed leaf."""
    origin = item["origin"]
    where = origin["file"] + (f":{origin['line']}" if origin.get("line") else "")
    verb = "removed by" if item["head"] is None else "set by"
    return (f"{item['path']}: {_short(item['base'])} -> {_short(item['head'])}, {verb} {origin['layer']} "
            f"{origin['name']} ({where})")


def _fence(text: str) -> str:
    longest, run = 0, 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _md(text: str) -> str:
    """Inline text safe in markdown: no HTML, no stray emphasis or table syntax."""
    for char in "\\`*_[]<>|":
        text = text.replace(char, "\\" + char)
    return text


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    return f"{fence}{text.replace(chr(10), ' ')}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def format_markdown(comparison: Comparison, budget: int = MARKDOWN_BUDGET) -> str:
    """A pull-request comment: summary first, loud notices, then one collapsible section per environment."""
    out = [MARKDOWN_MARKER,
           f"### EventBus changes: {_code(comparison.base_label)} → {_code(comparison.head_label)}", "",
           f"**{_md(comparison.summary_line())}**"]
    notices = comparison.notices
    refused = [t for t in notices if t[2].kind == REFUSED]
    recreate = [t for t in notices if t[2].kind == RECREATE]
    for group, alert, title in ((refused, "CAUTION", "The cluster will refuse these updates"),
                                (recreate, "WARNING", "These changes recreate an EventBus")):
        if group:
            out += ["", f"> [!{alert}]", f"> **{title}:**"]
            for env, change, notice in group:
                out.append(f"> - **{_md(env)}** {_code(change.title)}: {_md(notice.message)}")
    spent = 0
    omitted = 0
    for env in comparison.changed:
        counts = ", ".join(f"{n} {_STATUS_TEXT[s]}" for s, n in sorted(env.counts().items()))
        flags = []
        if any(n.kind == REFUSED for o in env.objects for n in o.notices):
            flags.append("refused")
        if any(n.kind == RECREATE for o in env.objects for n in o.notices):
            flags.append("recreate")
        note = f" (environment {env.status})" if env.status in ("added", "removed") else ""
        flag_text = "".join(f" · <b>{f}</b>" for f in flags)
        out += ["", "<details>", f"<summary><b>{_md(env.name)}</b>{note}: {counts}{flag_text}</summary>", ""]
        for change in env.objects:
            out.append(f"**{_code(change.title)}** {_STATUS_TEXT[change.status]} (app {_code(change.entry.app)})")
            out.append("")
            for notice in change.notices:
                tag = "refused" if notice.kind == REFUSED else "recreate"
                out.append(f"- **{tag}**: {_md(notice.full)}")
            for item in change.changes:
                if item.get("origin"):
                    out.append(f"- {_md(_why(item))}")
            for finding in change.appeared:
                out.append(f"- guard finding **appears**: {_md(_finding_text(finding))}")
            for finding in change.disappeared:
                out.append(f"- guard finding **disappears**: {_md(_finding_text(finding))}")
            if change.notices or change.appeared or change.disappeared or any(c.get("origin") for c in
                                                                               change.changes):
                out.append("")
            if change.diff:
                if spent + len(change.diff) > budget:
                    omitted += 1
                    out += [f"_Diff omitted ({len(change.diff.splitlines())} lines) to keep this comment under "
                            "GitHub's size limit; run `eventbus-render diff` locally to see it._", ""]
                else:
                    spent += len(change.diff)
                    fence = _fence(change.diff)
                    out += [f"{fence}diff", change.diff.rstrip("\n"), fence, ""]
        out.append("</details>")
    if omitted:
        out += ["", f"_{_plural(omitted, 'diff')} omitted for size._"]
    return "\n".join(out) + "\n"


def format_json(comparison: Comparison) -> str:
    """Everything, for tools."""
    doc = {
        "base": comparison.base_label,
        "head": comparison.head_label,
        "changed": bool(comparison.changed),
        "summary": comparison.summary(),
        "environments": [
            {"name": env.name, "status": env.status, "unchanged": env.unchanged,
             "objects": [o.as_dict() for o in env.objects]}
            for env in comparison.environments
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# -- the command --------------------------------------------------------------------------------


def _render_side(root: Path, label: str, fmt: str, skip: tuple = ()):
    from renderer.commands import bulk as review

    return _checked(review.render_root(root, review.Options(fmt=fmt), skip=skip), label)


def _checked(tree, label: str) -> list:
    """The entries of ``tree``; a failed render is a :class:`renderer.commands.bulk.RenderAllError` naming the side."""
    from renderer.commands import bulk as review

    if tree.failures:
        total = len(tree.entries) + len(tree.failures)
        raise review.RenderAllError(tree.failures, total, "nothing was compared",
                                    title=f"{label} does not render: {len(tree.failures)} of {total} renders "
                                          "failed")
    return tree.entries


def _export_side(checkout, ref: str, workdir: Path, name: str, reuse: dict | None = None) -> tuple[Path, str]:
    """Export the app directories below the root at ``ref``; returns the root inside the export and the label.

    ``reuse`` is shared by the exports of one comparison: a file both revisions hold is written once and
    hard-linked into the other export.
    """
    from renderer.commands import gitrefs

    commit = gitrefs.resolve(checkout.toplevel, ref)
    entries = gitrefs.list_tree(checkout.toplevel, commit, checkout.prefix)
    app_dirs = {path.rpartition("/")[0] for _, _, path in entries
                if path == sources.APP_FILE or path.endswith("/" + sources.APP_FILE)}

    def wanted(path: str) -> bool:
        folder = path.rpartition("/")[0]
        while True:
            if folder in app_dirs:
                return True
            if not folder:
                return False
            folder = folder.rpartition("/")[0]

    destination = workdir / name
    gitrefs.export(checkout.toplevel, commit, [e for e in entries if wanted(e[2])], destination, reuse)
    root = destination / checkout.prefix if checkout.prefix else destination
    return root, f"{ref} ({commit[:12]})" if ref != commit else commit[:12]


def run_diff(root: Path, *, base: str | None = None, head: str | None = None, against: Path | None = None,
             context: int = 3, cleanup: list | None = None) -> tuple[Comparison, str]:
    """Render both sides and compare them. Returns the comparison and the output format of the trees.

    The revisions are exported to a temporary folder, removed before this
    returns; or, with ``cleanup``, by a thread appended to it, which the
    caller joins when it has written its report.
    """
    from renderer.commands import bulk as review
    from renderer.commands import gitrefs

    root = Path(root)
    if (base is None) == (against is None):
        raise UsageError("pass either --base REF or --against DIR",
                         hint="e.g. diff --base origin/main, or diff --against rendered/")
    if not root.is_dir():
        raise InputError(f"root {str(root)!r} is not a directory", hint="pass --root DIR")
    workdir = None
    try:
        checkout = gitrefs.locate(root) if (base is not None or head is not None) else None
        if checkout is not None:
            # resolve both refs before any work, so a typo fails fast
            for ref in (base, head):
                if ref is not None:
                    gitrefs.resolve(checkout.toplevel, ref)
            workdir = Path(tempfile.mkdtemp(prefix="eventbus-render-diff-"))
        base_root = given = None
        reuse: dict = {}
        if against is not None:
            fmt, given = review.read_index(against)
            base_label = str(against).rstrip("/") + "/"
        else:
            fmt = "yaml"
            base_root, base_label = _export_side(checkout, base, workdir, "base", reuse)
        if head is not None:
            head_root, head_label = _export_side(checkout, head, workdir, "head", reuse)
            head_text = f"the head {head_label}"
        else:
            head_root, head_label, head_text = root, "working tree", "the working tree"
        skip = (against,) if against is not None and head is None else ()
        base_tree, head_tree, details = render_both(
            base_root if base_root is not None and base_root.is_dir() else None, head_root,
            review.Options(fmt=fmt), base_entries=given, skip=skip, context=context)
        if cleanup is not None and workdir is not None and base_root is not None:
            _remove_in_background(workdir / "base", cleanup)  # the base is in memory now
        if against is not None:
            base_entries = given
        else:
            base_entries = _checked(base_tree, f"the base {base_label}") if base_tree is not None else []
        head_entries = _checked(head_tree, head_text) if head_root.is_dir() else []
        # compared while the head's files still exist: values the workers did not trace are traced here
        comparison = compare(base_entries, head_entries, fmt, base_label=base_label, head_label=head_label,
                             context=context, origins=HeadOrigins(head_root), details=details)
    finally:
        if workdir is not None:
            if cleanup is None:
                gitrefs.remove_tree(workdir)
            else:
                _remove_in_background(workdir, cleanup)
    return comparison, fmt


def _remove_in_background(path: Path, cleanup: list) -> None:
    """Remove ``path`` in a thread appended to ``cleanup``, after the removals already there."""
    import threading

    from renderer.commands import gitrefs

    earlier = list(cleanup)

    def remove():
        for thread in earlier:  # a folder inside this one may still be going
            thread.join()
        gitrefs.remove_tree(path)

    removal = threading.Thread(target=remove, name="remove-exports")
    removal.start()
    cleanup.append(removal)


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


@click.command("diff")
@click.option("--base", metavar="REF", help="Git revision to compare from (branch, tag or commit).")
@click.option("--head", metavar="REF", help="Git revision to compare to. Default: the working tree.")
@click.option("--against", metavar="DIR", type=click.Path(path_type=Path),
              help="Compare with a tree written by render --all instead of a git revision.")
@click.option("--root", metavar="DIR", default=".", show_default=True, type=click.Path(path_type=Path),
              help="Folder searched for app directories.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True, help="text for a terminal, markdown for a pull-request comment, json for tools.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything changed.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour the text format (auto: when stdout is a terminal and NO_COLOR is unset).")
@click.option("-U", "--context", type=click.IntRange(0, 1000), default=3, show_default=True,
              help="Lines of context around each change.")
def diff_command(base, head, against, root, fmt, exit_code, color, context):
    """Show which manifests change in which environment between two revisions.

    Renders every environment of every app below --root at --base and at
    --head (or the working tree), then prints the changes per environment
    and object, the guard findings that appear or disappear, and the changes
    the cluster will refuse or that recreate an EventBus.
    """
    from renderer.commands.common import emit_text
    from renderer.commands import pool

    cleanup: list = []
    try:
        with pool.paused_gc():  # a bulk command: see renderer.commands.pool.paused_gc
            comparison, _ = run_diff(root, base=base, head=head, against=against, context=context,
                                     cleanup=cleanup)
            if fmt == "json":
                text = format_json(comparison)
            elif fmt == "markdown":
                text = format_markdown(comparison)
            else:
                text = format_text(comparison, color=_use_color(color))
        emit_text(text)
    finally:
        for removal in cleanup:  # the exported revisions, removed while the report was written
            removal.join()
    return 1 if exit_code and comparison.changed else 0
