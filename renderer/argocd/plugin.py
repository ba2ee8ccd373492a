"""The plugin's two commands as Argo CD runs them: ``generate`` and the dynamic ``parameters`` announcement.

``argocd-cmp-server`` runs them with no shell, in the Application's source
directory inside a fresh copy of the repository, with the sidecar's own
environment plus the variables Argo CD builds for the request
(:mod:`renderer.argocd.inputs`). ``generate`` prints exactly what
``eventbus-render render`` prints: the manifests on stdout, diagnostics on
stderr, and on any error one message on stderr, an empty stdout and a
non-zero exit code (2: bad input, 1: a guard violation, 3: a bug). It never
exits 0 with an empty stdout, which Argo CD would read as "no objects" and
prune the EventBus.

Each command is a function of the directory and the environment returning
``(exit code, stdout, stderr)``: :func:`run_command` runs one and never
raises, so the click commands (:mod:`renderer.argocd.adapter`) and the
worker's children run the very same code.

``generate`` refuses (exit 2) an output that carries the commit being
rendered (:func:`check_revision`): Argo CD expands ``$VAR`` and ``${VAR}`` in
``plugin.env`` values against its build variables before the plugin runs
(argo-cd v3.5.1 reposerver/repository/repository.go:2286-2303,
pkg/apis/application/v1alpha1/types.go:181-193), so ``${ARGOCD_APP_REVISION_SHORT}``
would change the manifest with every commit.
"""

from __future__ import annotations

import sys


def _lines(messages: list) -> str:
    return "".join(line + "\n" for line in messages)


def generate(cwd, environ) -> tuple[int, str, str]:
    """Render the app directory ``cwd`` as Argo CD asks: ``(exit code, stdout, stderr)``.

    stdout is the YAML stream ``eventbus-render render`` prints, or empty on
    any error. It is never empty with exit code 0.
    """
    from renderer.argocd import inputs as inputs_mod
    from renderer.commands.common import guard_report
    from renderer.errors import InputError
    from renderer.pipeline import render
    from renderer.stages import emit

    inputs = inputs_mod.read_inputs(environ)
    rendered = render(inputs_mod.build_request(cwd, environ, inputs))
    manifests = rendered.manifests  # the EventBus, then what is rendered beside it: Argo CD applies them all
    text = emit.yaml_stream(manifests)
    check_revision(text, manifests, environ)
    if not text.strip():  # pragma: no cover - render always yields one object
        raise InputError("the app directory rendered no objects; refusing to print nothing "
                         "(Argo CD would prune everything)")
    err = list(inputs.warnings)
    report = guard_report(rendered)
    if report:
        err.append(report.rstrip("\n"))
    return 0, text, _lines(err)


_DOLLAR_HINT = ("keep revisions out of the output. Argo CD expands $VAR and ${VAR} in plugin.env values before the "
                "plugin runs: write $$ for a literal $ (VALUES=annotations.price=$$5off); parameters arrive as written")


def _holding(node, pattern, path: tuple = ()):
    """The path of the first key or scalar in ``node`` that ``pattern`` finds, or ``None``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if pattern.search(str(key)):
                return path + (key,)
            found = _holding(value, pattern, path + (key,))
            if found is not None:
                return found
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found = _holding(value, pattern, path + (index,))
            if found is not None:
                return found
    elif node is not None and pattern.search(str(node)):
        return path
    return None


def check_revision(text: str, manifests: list, environ) -> None:
    """Refuse output that carries the commit being rendered, naming the value, the variable and what carried it.

    ``manifests`` are the objects of ``text``, EventBus first; a value in another object is named by its
    render path (``PodDisruptionBudget.metadata.annotations...``).

    A value counts where it stands alone: not inside a longer run of hexadecimal digits (a digest that
    happens to contain the 7 characters of ``ARGOCD_APP_REVISION_SHORT`` is not the revision).
    """
    import re

    from renderer.errors import InputError
    from renderer.paths import format_path

    lowered = text.lower()
    for _, value in revisions(environ):
        if value.lower() not in lowered:  # the common case, and far cheaper than the search
            continue
        pattern = re.compile(rf"(?<![0-9A-Fa-f]){re.escape(value)}(?![0-9A-Fa-f])", re.IGNORECASE)
        if not pattern.search(text):
            continue
        path = _holding(manifests[0], pattern)
        for manifest in manifests[1:]:
            if path is None:
                inner = _holding(manifest, pattern)
                path = None if inner is None else (manifest.get("kind"),) + inner
        names = [name for name, other in revisions(environ) if other.lower() == value.lower()]
        sources = carriers(environ, value)
        came = ("from " + ", ".join(sources)) if sources else \
            "from the app directory's files (no plugin.env entry or parameter holds it)"
        where = f"{format_path(path)}: " if path else ""
        raise InputError(f"{where}the output contains {value}, the revision being rendered ({', '.join(names)}), "
                         f"{came}: every commit would change the manifest", hint=_DOLLAR_HINT)


def announcement(cwd, environ) -> tuple[int, str, str]:
    """The dynamic parameters announcement (a JSON array) for the app directory ``cwd``.

    It lists the profiles, overlays and environments the app directory can
    use, with the values in force when the parameter is not set. Problems
    with the app file are reported on stderr but do not fail the
    announcement: ``generate`` reports them, and the Parameters tab must
    stay usable to fix a parameter.
    """
    import json
    from pathlib import Path

    from renderer.argocd.inputs import Inputs, copy_root, read_inputs
    from renderer.commands.common import error_message
    from renderer.errors import RendererError
    from renderer.stages import sources

    root = Path(cwd)
    err = []
    try:
        inputs = read_inputs(environ, strict=False)
    except RendererError as exc:
        inputs = Inputs()
        err.append(error_message(exc))
    app = None
    try:
        app = sources.load_app(root)
    except RendererError as exc:
        err.append(error_message(exc))
    try:
        where = sources.places(root, copy_root(root, environ))
    except RendererError as exc:  # a broken repository layer: generate reports it; the built-ins stay listed
        err.append(error_message(exc))
        where = sources.places(None)
    profiles = sources.available("profiles", where)
    overlays = sources.available("overlays", where)

    def listing(entries: dict) -> str:
        return ", ".join(name + ("" if place.where == sources.BUILTIN else f" ({place.where})")
                         for name, (_, place) in entries.items()) or "none"

    default_environment = app.default_environment if app is not None else None
    environment = inputs.value("environment") or default_environment
    env_entry = (app.environments.get(environment) or {}) if app is not None and environment else {}
    profile = inputs.value("profile") or env_entry.get("profile") or (app.profile if app else None)
    out = []
    if app is not None and app.environments:
        out.append({
            "name": "environment",
            "title": "Environment",
            "tooltip": "Entry of the app file's environments to render: " + ", ".join(app.environments) + "."
                       + (f" Without this parameter: {default_environment} (the app file's defaultEnvironment)."
                          if default_environment else " Required: the app file names no defaultEnvironment."),
            "collectionType": "string",
            "string": environment or "",
        })
    out.append({
        "name": "profile",
        "title": "Profile",
        "tooltip": f"Profile to render. Available here: {listing(profiles)}."
                   + (f" Without this parameter: {profile}." if profile else ""),
        "collectionType": "string",
        "string": profile or "",
    })
    applied = list(app.overlays) + list(env_entry.get("overlays") or []) if app is not None else []
    out.append({
        "name": "overlays",
        "title": "Overlays",
        "tooltip": "Overlays applied after "
                   + (f"the app file's ({', '.join(applied)})" if applied else "the app file's")
                   + f", in order; later ones win. Available here: {listing(overlays)}.",
        "collectionType": "array",
        "array": list(inputs.overlays),
    })
    return 0, json.dumps(out, indent=2) + "\n", _lines(err)


COMMANDS = {"generate": generate, "parameters": announcement}


def run_command(command: str, cwd, environ) -> tuple[int, str, str]:
    """Run one plugin command in one run (:func:`renderer.context.run`); never raises (but on exit signals).

    Whatever the render code might write to stdout or stderr by accident is
    captured and returned as stderr: stdout carries only the result.
    """
    import gc
    import io

    from renderer import context
    from renderer.commands.common import describe_failure
    from renderer.processes import Stopped

    saved = sys.stdout, sys.stderr
    stray = io.StringIO()
    sys.stdout = sys.stderr = stray
    # One render, then the process ends (or the worker's child exits): collecting cycles only costs time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            with context.run():
                code, out, err = COMMANDS[command](cwd, environ)
        except (KeyboardInterrupt, SystemExit, Stopped):
            raise
        except BaseException as exc:
            code, text = describe_failure(exc, command=command, debug_hint=False)
            out, err = "", text + "\n"
    finally:
        sys.stdout, sys.stderr = saved
        if collecting:
            gc.enable()
    extra = stray.getvalue()
    if extra:
        err = extra + ("" if extra.endswith("\n") else "\n") + err
    from renderer.credentials import redact

    # the manifests are what Argo CD applies, as written; everything else is shown to people
    return code, out if command == "generate" else redact(out), redact(err)


# -- the revision -------------------------------------------------------------------------------


def revisions(environ) -> list:
    """``(variable, value)`` of each build variable that names the commit being rendered, longest value first."""
    from renderer.argocd.inputs import _COMMIT, REVISION_VARIABLES

    found = [(name, environ.get(name) or "") for name in REVISION_VARIABLES]
    found = [(name, value) for name, value in found if _COMMIT.fullmatch(value)]
    return sorted(found, key=lambda item: -len(item[1]))


def carriers(environ, value: str) -> list:
    """Which ``plugin.env`` entries and parameters hold ``value`` (case-insensitive), as a user would name them."""
    from renderer.argocd.inputs import ENV_PREFIX, PARAMETERS_JSON, _parse_parameters_json, value_lines
    from renderer.errors import InputError

    needle = value.lower()
    out = []
    for key in sorted(environ):
        text = environ[key]
        if key.startswith(ENV_PREFIX) and needle in text.lower():
            lines = [n for n, line in enumerate(value_lines(text), 1) if needle in line.lower()]
            where = f" line {lines[0]}" if key == ENV_PREFIX + "VALUES" and lines else ""
            out.append(f"plugin.env {key[len(ENV_PREFIX):]} ({key}{where})")
    raw = environ.get(PARAMETERS_JSON)
    if raw is None:
        out += [key for key in sorted(environ) if key.startswith("PARAM_") and needle in environ[key].lower()]
        return out
    try:
        entries = _parse_parameters_json(raw)
    except InputError:
        return out
    for name, _, item in entries:
        for kind in ("string", "array", "map"):
            held = item.get(kind)
            if isinstance(held, str) and needle in held.lower():
                out.append(f"parameter {name}")
            elif isinstance(held, list):
                out += [f"parameter {name}[{i}]" for i, v in enumerate(held) if needle in str(v).lower()]
            elif isinstance(held, dict):
                out += [f"parameter {name} ({k})" for k, v in held.items() if needle in f"{k}={v}".lower()]
    return out
