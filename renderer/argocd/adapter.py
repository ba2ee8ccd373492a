"""Argo CD Config Management Plugin (CMP v2, sidecar) adapter.

``argocd-cmp-server`` runs ``eventbus-render argocd generate`` with no shell,
in the Application's source directory inside a fresh copy of the repository,
with the sidecar's own environment plus the variables Argo CD builds for the
request. This module turns those variables into a
:class:`~renderer.pipeline.RenderRequest` and the result into exactly what
``eventbus-render render`` prints: the manifests on stdout, diagnostics on
stderr, and on any error one message on stderr, an empty stdout and a
non-zero exit code.

Inputs, lowest precedence first (each level overrides the one before):

1. the app file ``eventbus-render.yaml`` (and the environment it selects);
2. ``ARGOCD_ENV_*`` (``spec.source.plugin.env``), an explicit allow-list:
   ``PROFILE``, ``ENVIRONMENT``, ``OVERLAYS`` (comma list), ``NAME``,
   ``NAMESPACE`` and ``VALUES`` (``PATH=VALUE`` lines). Other names are
   ignored with a warning: free-form variables never reach the renderer;
3. plugin parameters (``spec.source.plugin.parameters``), read from the
   ``ARGOCD_APP_PARAMETERS`` JSON (``PARAM_*`` only when the JSON is absent,
   since ``PARAM_*`` names mangle map keys such as ``jetstream.replicas``).
   Unknown parameter names are an error.

``ARGOCD_APP_NAMESPACE`` (the destination namespace) is the EventBus
namespace when nothing above names one. Nothing that changes with every
commit or every run (revision, time, ``ARGOCD_APP_NAME``) reaches the output.
Waivers and guard settings come only from the app file and the profiles, so
no variable or parameter can weaken a guard.

Start-up matters (a fresh process per render), so this module imports only
``os`` and ``sys`` at the top, never click: ``renderer.cli.main`` dispatches
``argocd generate`` and ``argocd parameters`` here directly. The click group
(``argocd_group``: generate, parameters, worker, serve) is built on first use.
"""

from __future__ import annotations

import os
import sys

ENV_PREFIX = "ARGOCD_ENV_"
ENV_SETTINGS = ("PROFILE", "ENVIRONMENT", "OVERLAYS", "NAME", "NAMESPACE", "VALUES")
"""The ``ARGOCD_ENV_*`` names read (an allow-list); anything else is ignored with a warning."""

PARAMETERS = {
    "environment": "string",
    "profile": "string",
    "overlays": "array",
    "values": "map",
    "name": "string",
    "namespace": "string",
}
"""Plugin parameters and their collection types, as announced in ``plugin.yaml``."""

_ARTICLE = {"string": "a", "array": "an", "map": "a"}
PARAMETERS_JSON = "ARGOCD_APP_PARAMETERS"
EXIT_INTERNAL = 3
"""Exit code of an unexpected failure (a bug); input errors exit 2, guard violations 1."""

_DNS_LABEL = None  # compiled on first use


class Inputs:
    """What env and parameters ask for, each setting with the source that set it."""

    def __init__(self):
        self.settings: dict = {}  # profile/environment/name/namespace -> (value, source)
        self.overlays: tuple = ()
        self.overlays_source = ""
        self.layers: list = []  # env then parameter value layers
        self.warnings: list = []

    def value(self, key: str):
        entry = self.settings.get(key)
        return entry[0] if entry else None


# -- errors -------------------------------------------------------------------------------------


def error_text(exc) -> str:
    """A :class:`~renderer.errors.RendererError` as the command line prints it."""
    from renderer.commands.common import error_message  # renderer.cli imports click only when its commands are used

    return error_message(exc)


def _input_error(message: str, hint: str | None = None):
    from renderer.errors import InputError

    return InputError(message, hint=hint)


# -- ARGOCD_ENV_* -------------------------------------------------------------------------------


def read_env(environ, inputs: Inputs) -> None:
    """Read the allow-listed ``ARGOCD_ENV_*`` variables into ``inputs``."""
    for key in sorted(environ):
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):]
        value = environ[key]
        if name not in ENV_SETTINGS:
            import difflib

            close = difflib.get_close_matches(name, ENV_SETTINGS, n=1)
            inputs.warnings.append(
                f"warning: ignoring {key}" + (f" (did you mean {ENV_PREFIX}{close[0]}?)" if close else "")
                + ": eventbus-render reads only " + ", ".join(ENV_PREFIX + n for n in ENV_SETTINGS))
            continue
        if not value.strip():
            continue
        if name == "OVERLAYS":
            names = tuple(part.strip() for part in value.split(",") if part.strip())
            if names:
                inputs.overlays, inputs.overlays_source = names, key
        elif name == "VALUES":
            for number, line in enumerate(value.splitlines(), 1):
                text = line.strip()
                if text and not text.startswith("#"):
                    inputs.layers.append(value_layer("env", key, text, line=number))
        else:
            inputs.settings[name.lower()] = (value.strip(), key)


# -- parameters ---------------------------------------------------------------------------------


def _parse_parameters_json(raw: str) -> list:
    import json

    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _input_error(f"{PARAMETERS_JSON} is not valid JSON ({exc})") from None
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise _input_error(f"{PARAMETERS_JSON} must be a JSON array of parameters")
    out = []
    for item in data:
        name = item.get("name")
        if not isinstance(name, str):
            raise _input_error(f"{PARAMETERS_JSON}: a parameter has no name")
        kinds = [kind for kind in ("string", "array", "map") if item.get(kind) is not None]
        out.append((name, kinds, item))
    return out


def _params_from_env_vars(environ) -> list:
    """Parameters from ``PARAM_*`` variables (only when ``ARGOCD_APP_PARAMETERS`` is absent).

    Argo CD upper-cases the names and replaces every character outside
    ``[A-Z0-9_]`` by ``_``, so map keys cannot be recovered: ``values`` is
    refused here rather than guessed.
    """
    import re

    strings = {"PROFILE": "profile", "ENVIRONMENT": "environment", "NAME": "name", "NAMESPACE": "namespace"}
    found: dict = {}
    overlays: dict = {}
    unknown = []
    for key in sorted(environ):
        if not key.startswith("PARAM_"):
            continue
        rest = key[len("PARAM_"):]
        match = re.fullmatch(r"OVERLAYS_(0|[1-9][0-9]*)", rest)
        if rest in strings:
            found[strings[rest]] = (strings[rest], ["string"], {"string": environ[key]})
        elif match:
            overlays[int(match.group(1))] = environ[key]
        elif rest.startswith("VALUES_"):
            raise _input_error(
                f"{key}: the values parameter cannot be read from PARAM_* variables, whose names lose the "
                f"case and dots of its keys", hint=f"Argo CD sends it in {PARAMETERS_JSON}; check that "
                f"the sidecar passes that variable through")
        else:
            unknown.append(key)
    if unknown:
        raise _input_error("unknown plugin parameter variable" + ("s " if len(unknown) > 1 else " ")
                           + ", ".join(unknown),
                           hint="parameters: " + ", ".join(PARAMETERS))
    if overlays:
        if sorted(overlays) != list(range(len(overlays))):
            raise _input_error("PARAM_OVERLAYS_* must be numbered from 0 without gaps")
        found["overlays"] = ("overlays", ["array"], {"array": [overlays[i] for i in sorted(overlays)]})
    return list(found.values())


def read_parameters(environ, inputs: Inputs, *, strict: bool = True) -> None:
    """Read plugin parameters into ``inputs`` (they override ``ARGOCD_ENV_*``).

    ``strict`` makes unknown names and wrong collection types errors; the
    parameters announcement reads leniently, so that the Parameters tab still
    opens for a user who has to remove a wrong parameter.
    """
    raw = environ.get(PARAMETERS_JSON)
    if raw is not None:
        source = PARAMETERS_JSON
        entries = _parse_parameters_json(raw)
    else:
        source = "PARAM_*"
        entries = _params_from_env_vars(environ)
    seen = set()
    unknown = []
    for name, kinds, item in entries:
        if name not in PARAMETERS:
            unknown.append(name)
            continue
        if name in seen:
            if strict:
                raise _input_error(f"plugin parameter {name!r} is set twice")
            continue
        seen.add(name)
        expected = PARAMETERS[name]
        if kinds != [expected] and kinds:
            if strict:
                got = " and ".join(kinds)
                raise _input_error(f"plugin parameter {name!r} must be {_ARTICLE[expected]} {expected}, got {got}",
                                   hint=f"set it as '{expected}:' in spec.source.plugin.parameters")
            continue
        value = item.get(expected)
        where = f"parameter {name}"
        if expected == "string":
            if not isinstance(value, str):
                if strict:
                    raise _input_error(f"plugin parameter {name!r} must be a string")
                continue
            if value.strip():
                inputs.settings[name] = (value.strip(), where)
        elif expected == "array":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                if strict:
                    raise _input_error(f"plugin parameter {name!r} must be an array of strings")
                continue
            names = tuple(v.strip() for v in value if v.strip())
            if names:
                inputs.overlays, inputs.overlays_source = names, where
        else:
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                if strict:
                    raise _input_error(f"plugin parameter {name!r} must be a map of strings")
                continue
            for path in sorted(value):
                if strict:
                    inputs.layers.append(value_layer("parameter", source, f"{path}={value[path]}"))
    if unknown and strict:
        raise _input_error("unknown plugin parameter" + ("s " if len(unknown) > 1 else " ")
                           + ", ".join(repr(n) for n in unknown),
                           hint="eventbus-render accepts: " + ", ".join(PARAMETERS))


def value_layer(kind: str, source: str, text: str, line: int | None = None):
    """One ``PATH=VALUE`` from env or parameters as a layer, typed exactly like ``--set``."""
    import dataclasses

    from renderer.errors import InputError
    from renderer.pipeline import parse_set, values_schema

    label = "values" if kind == "parameter" else source
    where = f"{source} line {line}" if line else source
    if "=" not in text:
        raise _input_error(f"{where}: {text!r} is not PATH=VALUE", hint="e.g. jetstream.replicas=5")
    try:
        layer = parse_set(text, force_string=False, schema=_schema(values_schema), flag=label)
    except InputError as exc:
        raise _input_error(f"{where}: {exc.message}",
                           hint="the value is a YAML scalar or flow collection; quote strings that "
                                "could read as something else, e.g. '\"on\"'") from None
    name = f"{label} {text}"
    marks = {(): (line, 1)} if line else {}
    return dataclasses.replace(layer, kind=kind, name=name, file=source, marks=marks, notes={(): name})


_SCHEMA: list = []


def _schema(factory):
    if not _SCHEMA:
        _SCHEMA.append(factory())
    return _SCHEMA[0]


# -- the request --------------------------------------------------------------------------------


def read_inputs(environ, *, strict: bool = True) -> Inputs:
    """Env and parameters, parameters winning."""
    inputs = Inputs()
    read_env(environ, inputs)
    read_parameters(environ, inputs, strict=strict)
    return inputs


def _check_names(inputs: Inputs, app_root) -> None:
    """Names from env and parameters, checked up front so that errors say where they came from."""
    import re

    from renderer.errors import InputError
    from renderer.stages import sources

    global _DNS_LABEL
    if _DNS_LABEL is None:
        _DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
    checks = [("profile", "profiles", inputs.settings.get("profile"))]
    checks += [("overlay", "overlays", (name, inputs.overlays_source)) for name in inputs.overlays]
    for kind, folder, entry in checks:
        if entry is None:
            continue
        name, where = entry
        try:
            sources.check_name(name, None, (), kind)
        except InputError as exc:
            raise _input_error(f"{where}: {exc.message}", hint=exc.hint) from None
        if sources.find_named(folder, name, app_root) is None:
            known = ", ".join(sources.available(folder, app_root)) or "none"
            raise _input_error(f"{where}: unknown {kind} {name!r}", hint=f"known {folder}: {known}")
    for key, what in (("name", "EventBus name"), ("namespace", "namespace")):
        entry = inputs.settings.get(key)
        if entry and (not _DNS_LABEL.fullmatch(entry[0]) or len(entry[0]) > 63):
            raise _input_error(f"{entry[1]}: {entry[0]!r} is not a valid {what}",
                               hint="use lower-case letters, digits and '-', at most 63 characters")


def build_request(app_dir, environ, inputs: Inputs | None = None):
    """The :class:`~renderer.pipeline.RenderRequest` Argo CD's environment asks for."""
    from pathlib import Path

    from renderer.pipeline import RenderRequest

    inputs = inputs if inputs is not None else read_inputs(environ)
    _check_names(inputs, Path(app_dir))
    return RenderRequest(
        app_dir=Path(app_dir),
        profile=inputs.value("profile"),
        overlays=inputs.overlays,
        environment=inputs.value("environment"),
        extra_layers=list(inputs.layers),
        name=inputs.value("name"),
        namespace=inputs.value("namespace"),
        default_namespace=(environ.get("ARGOCD_APP_NAMESPACE") or "").strip() or None,
    )


# -- commands (pure: strings in, exit code and strings out) -----------------------------------


def generate(cwd, environ) -> tuple[int, str, str]:
    """Render the app directory ``cwd`` as Argo CD asks: ``(exit code, stdout, stderr)``.

    stdout is the YAML stream ``eventbus-render render`` prints, or empty on
    any error. It is never empty with exit code 0.
    """
    from renderer.pipeline import render
    from renderer.stages import emit

    inputs = read_inputs(environ)
    rendered = render(build_request(cwd, environ, inputs))
    text = emit.yaml_stream([rendered.manifest])
    if not text.strip():  # pragma: no cover - render always yields one object
        raise _input_error("the app directory rendered no objects; refusing to print nothing "
                           "(Argo CD would prune everything)")
    err = list(inputs.warnings)
    evaluation = getattr(rendered, "evaluation", None)
    if evaluation is not None and getattr(evaluation, "findings", None):
        from renderer.stages import guards

        err.append(guards.format_report(evaluation).rstrip("\n"))
    return 0, text, "".join(line + "\n" for line in err)


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

    from renderer.errors import RendererError
    from renderer.stages import sources

    root = Path(cwd)
    err = []
    try:
        inputs = read_inputs(environ, strict=False)
    except RendererError as exc:
        inputs = Inputs()
        err.append(error_text(exc))
    app = None
    try:
        app = sources.load_app(root)
    except RendererError as exc:
        err.append(error_text(exc))
    profiles = sources.available("profiles", root)
    overlays = sources.available("overlays", root)

    def listing(entries: dict) -> str:
        return ", ".join(f"{name}{'' if builtin else ' (app)'}" for name, (_, builtin) in entries.items()) or "none"

    environment = inputs.value("environment")
    env_entry = (app.environments.get(environment) or {}) if app is not None and environment else {}
    profile = inputs.value("profile") or env_entry.get("profile") or (app.profile if app else None)
    out = []
    if app is not None and app.environments:
        out.append({
            "name": "environment",
            "title": "Environment",
            "tooltip": "Entry of the app file's environments to render: " + ", ".join(app.environments) + ".",
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
    return 0, json.dumps(out, indent=2) + "\n", "".join(line + "\n" for line in err)


COMMANDS = {"generate": generate, "parameters": announcement}


def run_command(command: str, cwd, environ) -> tuple[int, str, str]:
    """Run one plugin command in-process; never raises (except on exit signals).

    Whatever the render code might write to stdout or stderr by accident is
    captured and returned as stderr: stdout carries only the result.
    """
    import io

    saved = sys.stdout, sys.stderr
    stray = io.StringIO()
    sys.stdout = sys.stderr = stray
    try:
        from renderer.errors import RendererError

        try:
            code, out, err = COMMANDS[command](cwd, environ)
        except RendererError as exc:
            code, out, err = exc.exit_code, "", error_text(exc) + "\n"
        except RecursionError:
            code, out, err = 2, "", "error: input nested too deeply\n"
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a bug: still one clear line, never a partial result
            code, out, err = EXIT_INTERNAL, "", (f"error: internal error in eventbus-render {command}: "
                                                 f"{type(exc).__name__}: {exc}\n")
    finally:
        sys.stdout, sys.stderr = saved
    extra = stray.getvalue()
    if extra:
        err = extra + ("" if extra.endswith("\n") else "\n") + err
    return code, out, err


def write_result(code: int, out: str, err: str) -> int:
    """Write a command's result: stderr first, then stdout in one write. Returns the exit code."""
    if err:
        try:
            sys.stderr.write(err)
            sys.stderr.flush()
        except OSError:
            pass
    if code == 0 and out:
        try:
            data = out.encode("utf-8")
            fd = sys.stdout.fileno()
            sys.stdout.flush()
            while data:
                written = os.write(fd, data)
                data = data[written:]
        except (OSError, ValueError):
            try:
                sys.stderr.write("error: could not write the manifests to stdout\n")
            except OSError:
                pass
            return 1
    return code


def main(command: str, argv: list | None = None) -> int:
    """``eventbus-render argocd generate|parameters``: the worker if it answers, else in-process."""
    argv = list(argv or [])
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(_HELP[command])
        return 0
    if argv:
        sys.stderr.write(f"error: eventbus-render argocd {command} takes no arguments (got {' '.join(argv)}); "
                         f"it reads the app directory and Argo CD's environment\n")
        return 2
    cwd = os.getcwd()
    environ = dict(os.environ)
    result = None
    from renderer.argocd import worker

    path = worker.socket_path(environ)
    if path:
        result = worker.request(path, command, cwd, environ)
    if result is None:
        import gc

        # A short-lived process: collecting cycles while importing the render pipeline only costs time.
        enabled = gc.isenabled()
        gc.disable()
        try:
            result = run_command(command, cwd, environ)
        finally:
            if enabled:
                gc.enable()
    return write_result(*result)


_HELP = {
    "generate": """\
Usage: eventbus-render argocd generate

  Argo CD plugin generate command: render the app directory (the current
  directory) with ARGOCD_ENV_* variables and plugin parameters, print the
  manifests. Uses the sidecar's render worker when its socket answers
  (EVENTBUS_RENDER_SOCKET, default /tmp/eventbus-render.sock; empty to
  disable), else renders in-process.
""",
    "parameters": """\
Usage: eventbus-render argocd parameters

  Argo CD dynamic parameters command: print a JSON array announcing the
  profiles, overlays and environments this app directory can use.
""",
}


# -- click commands, built on first use ----------------------------------------------------------


def _build_group():
    import click

    @click.group("argocd", context_settings={"help_option_names": ["-h", "--help"]})
    def argocd_group():
        """Argo CD Config Management Plugin commands (see "Install into Argo CD" in the README)."""

    @argocd_group.command("generate")
    def generate_command():
        """Render the current app directory as Argo CD asks (plugin generate)."""
        sys.exit(main("generate"))

    @argocd_group.command("parameters")
    def parameters_command():
        """Print the dynamic parameters announcement (a JSON array)."""
        sys.exit(main("parameters"))

    socket_option = click.option("--socket", "socket_path", metavar="PATH", default=None,
                                 help="Unix socket of the worker [default: $EVENTBUS_RENDER_SOCKET or "
                                      "/tmp/eventbus-render.sock].")

    @argocd_group.command("worker")
    @socket_option
    def worker_command(socket_path):
        """Run the pre-forked render worker in the foreground."""
        from renderer.argocd import worker

        sys.exit(worker.serve_forever(socket_path or worker.socket_path(os.environ) or worker.DEFAULT_SOCKET))

    @argocd_group.command("serve", context_settings={"ignore_unknown_options": True})
    @socket_option
    @click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
    def serve_command(socket_path, command):
        """Start the worker in the background, then exec COMMAND (no shell).

        The sidecar runs: eventbus-render argocd serve -- /var/run/argocd/argocd-cmp-server
        """
        from renderer.argocd import worker

        sys.exit(worker.serve_then_exec(
            socket_path or worker.socket_path(os.environ) or worker.DEFAULT_SOCKET, list(command)))

    return argocd_group


def __getattr__(name):
    if name == "argocd_group":
        group = _build_group()
        globals()["argocd_group"] = group
        return group
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
