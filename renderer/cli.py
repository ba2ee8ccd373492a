"""The ``eventbus-render`` command line.

Commands are imported only when invoked (``LazyGroup``): Argo CD starts a
fresh process for every render, so the import cost of unused commands is
never paid. Even click is imported only on first use: ``argocd generate``
and ``argocd parameters`` (the Argo CD plugin's per-render commands) go
straight to :mod:`renderer.argocd.adapter` without it, and the click objects below
(``cli``, the shared options, the commands) are built when first accessed.
``render`` with plain options is parsed here without click too
(:func:`parse_render_args`). Every :class:`~renderer.errors.RendererError`
is turned into a message on stderr and an exit code here, in one place;
stdout carries only the command's result, written once, after everything
has succeeded.
"""

from __future__ import annotations

import sys

from renderer import __version__

# command name -> "module:attribute"; modules are imported on first use
COMMANDS = {
    "render": "renderer.cli:render_command",
    "list": "renderer.cli:list_command",
    "check": "renderer.commands.check:check_command",
    "guards": "renderer.commands.check:guards_command",
    "explain": "renderer.commands.explain:explain_command",
    "diff": "renderer.commands.diff:diff_command",
    "schema": "renderer.commands.schema:schema_command",
    "argocd": "renderer.argocd.adapter:argocd_group",
}

FAST_COMMANDS = {("argocd", "generate"), ("argocd", "parameters")}
"""Commands dispatched without click: Argo CD runs them in a fresh process for every render."""


def emit_text(text: str) -> None:
    """Write the command's whole result to stdout at once."""
    sys.stdout.write(text)
    sys.stdout.flush()


def warn(text: str) -> None:
    """A diagnostic line on stderr."""
    sys.stderr.write(text.rstrip("\n") + "\n")


def error_message(exc) -> str:
    """How a :class:`~renderer.errors.RendererError` is printed on stderr."""
    text = exc.render()
    return text if text.startswith(("error", "warning")) or exc.exit_code == 1 else "error: " + text


def build_request(app_dir, profile, overlays, sets=(), set_strings=(), environment=None):
    """A :class:`~renderer.pipeline.RenderRequest` from command-line options."""
    from pathlib import Path

    from renderer.pipeline import RenderRequest

    return RenderRequest(app_dir=Path(app_dir), profile=profile, overlays=tuple(overlays), sets=tuple(sets),
                         set_strings=tuple(set_strings), environment=environment)


def report_warnings(rendered) -> None:
    """Print non-failing guard findings (warnings, waived violations) to stderr."""
    evaluation = getattr(rendered, "evaluation", None)
    if evaluation is not None and evaluation.findings:
        from renderer.stages import guards

        warn(guards.format_report(evaluation))


def run_render(app_dir=".", profile=None, overlays=(), sets=(), set_strings=(), environment=None, output_dir=None,
               fmt="yaml", render_all=False, root=".") -> None:
    """The ``render`` command, once its options are parsed (by click, or by :func:`parse_render_args`)."""
    from renderer.pipeline import output_filename, render
    from renderer.stages import emit

    if render_all:
        from renderer.commands.bulk import render_all_command
        from renderer.errors import UsageError

        if environment:
            raise UsageError("--all renders every environment of every app; --env cannot go with it",
                             hint="drop --env, or render one app with --app DIR --env NAME")
        render_all_command(root, output_dir, fmt, profile, overlays, sets, set_strings)
        return
    rendered = render(build_request(app_dir, profile, overlays, sets, set_strings, environment))
    objects = [rendered.manifest]
    report_warnings(rendered)
    if not output_dir:
        emit_text(emit.to_json(objects) if fmt == "json" else emit.yaml_stream(objects))
        return
    name = output_filename(rendered)
    if fmt == "json":
        name = name[: -len(".yaml")] + ".json"
    text = emit.to_json(objects) if fmt == "json" else emit.to_yaml(rendered.manifest)
    for path in emit.write_tree(output_dir, {name: text}):
        warn(f"wrote {path}")


_RENDER_OPTIONS = {"--app": "app_dir", "--profile": "profile", "--overlay": "overlays", "--set": "sets",
                   "--set-string": "set_strings", "--env": "environment", "-o": "output_dir",
                   "--output-dir": "output_dir", "--format": "fmt", "--root": "root"}
_REPEATABLE = ("overlays", "sets", "set_strings")


def parse_render_args(args: list) -> dict | None:
    """The options of a well-formed ``render`` command line, or ``None`` for click to handle.

    Rendering is what CI and review scripts run over and over, and click alone
    costs a fresh process more to import than rendering a small app. This reads
    the plain forms (``--opt value``, ``--opt=value``, ``--all``) the way click
    does; anything else (help, an unknown or incomplete option, a bad
    ``--format``, an ``--app`` that is a file) goes to click, which words the
    usage error.
    """
    options: dict = {"app_dir": ".", "profile": None, "overlays": [], "sets": [], "set_strings": [],
                     "environment": None, "output_dir": None, "fmt": "yaml", "render_all": False, "root": "."}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--all":
            options["render_all"] = True
            index += 1
            continue
        name, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        key = _RENDER_OPTIONS.get(name)
        if key is None:
            return None
        if equals:
            index += 1
        else:
            if index + 1 >= len(args) or args[index + 1].startswith("-"):
                return None
            value = args[index + 1]
            index += 2
        if key in _REPEATABLE:
            options[key].append(value)
        else:
            options[key] = value
    if options["fmt"] not in ("yaml", "json"):
        return None
    import os

    if os.path.isfile(options["app_dir"]):
        return None
    return options


_CLICK_NAMES = ("click", "LazyGroup", "cli", "app_option", "profile_option", "overlay_option", "set_option",
                "set_string_option", "env_option", "layer_options", "render_command", "list_command")


def __getattr__(name):
    """Build the click objects on first access (PEP 562), so importing this module does not import click."""
    if name in _CLICK_NAMES:
        if name not in globals():
            _define_click_commands()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _define_click_commands() -> None:
    """Define the click group, the shared options and the ``render`` and ``list`` commands."""
    import click

    from renderer.errors import RendererError

    class LazyGroup(click.Group):
        """A click group whose subcommands live in modules imported on demand."""

        def list_commands(self, ctx):
            import importlib.util

            names = []
            for name, target in COMMANDS.items():
                module = target.split(":")[0]
                if module == __name__ or importlib.util.find_spec(module) is not None:
                    names.append(name)
            return sorted(names)

        def get_command(self, ctx, cmd_name):
            target = COMMANDS.get(cmd_name)
            if target is None:
                return None
            module_name, attr = target.split(":")
            import importlib

            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name == module_name:
                    return None
                raise
            return getattr(module, attr)

    @click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
    @click.version_option(__version__, prog_name="eventbus-render")
    def cli():
        """Render Argo Events EventBus manifests from profiles, overlays and an app file."""

    app_option = click.option("--app", "app_dir", default=".", show_default=True, metavar="DIR",
                              type=click.Path(file_okay=False, path_type=str),
                              help="App directory holding eventbus-render.yaml.")
    profile_option = click.option("--profile", metavar="NAME", help="Profile to use instead of the app file's.")
    overlay_option = click.option("--overlay", "overlays", multiple=True, metavar="NAME",
                                  help="Overlay applied after the app file's overlays (repeatable).")
    set_option = click.option("--set", "sets", multiple=True, metavar="PATH=VALUE",
                              help="Set a value (YAML scalar; stays a string where the field is a string).")
    set_string_option = click.option("--set-string", "set_strings", multiple=True, metavar="PATH=VALUE",
                                     help="Set a value, always as a string.")
    env_option = click.option("--env", "environment", metavar="NAME",
                              help="Render one of the app file's environments.")

    def layer_options(function):
        """--app, --profile, --overlay, --set, --set-string and --env: what every rendering command takes."""
        for option in (env_option, set_string_option, set_option, overlay_option, profile_option, app_option):
            function = option(function)
        return function

    @click.command("render")
    @layer_options
    @click.option("-o", "--output-dir", metavar="DIR", type=click.Path(path_type=str),
                  help="Write one file per object under DIR instead of printing.")
    @click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
                  help="Output format.")
    @click.option("--all", "render_all", is_flag=True, help="Render every environment of every app below --root.")
    @click.option("--root", metavar="DIR", default=".", show_default=True, help="Root searched by --all.")
    def render_command(app_dir, profile, overlays, sets, set_strings, environment, output_dir, fmt, render_all, root):
        """Render the EventBus of an app directory (or, with --all, of a whole repository)."""
        run_render(app_dir, profile, overlays, sets, set_strings, environment, output_dir, fmt, render_all, root)

    @click.command("list")
    @app_option
    def list_command(app_dir):
        """List the profiles, overlays and backends available to an app directory."""
        from pathlib import Path

        from renderer.stages import sources

        root = Path(app_dir)
        root = root if (root / sources.APP_FILE).is_file() or (root / "profiles").is_dir() or (
            root / "overlays").is_dir() else None
        lines = []
        for kind in ("profiles", "overlays"):
            lines.append(f"{kind}:")
            entries = sources.available(kind, root)
            width = max((len(n) for n in entries), default=0)
            for name, (path, builtin) in entries.items():
                try:
                    doc = sources.load_document(path, sources.display_path(path, root))
                    description = str(doc.data.get("description", "")).strip().splitlines()[0:1]
                except RendererError:
                    description = ["(cannot be read: run render to see why)"]
                where = "built-in" if builtin else "app"
                lines.append(f"  {name.ljust(width)}  [{where}]  {(description or [''])[0]}")
        lines.append("backends:")
        notes = {
            "nats-native": "NATS streaming run by Argo Events (StatefulSet, at least 3 replicas)",
            "nats-exotic": "an existing NATS streaming cluster run elsewhere (url, clusterID)",
            "jetstream": "NATS JetStream run by Argo Events (StatefulSet, pinned version)",
            "jetstream-exotic": "an existing JetStream server run elsewhere (url)",
            "kafka": "Kafka brokers run elsewhere (url, topic, version, TLS/SASL)",
        }
        for backend in sources.BACKENDS:
            lines.append(f"  {backend.ljust(16)}  {notes[backend]}")
        emit_text("\n".join(lines) + "\n")

    globals().update(click=click, LazyGroup=LazyGroup, cli=cli, app_option=app_option,
                     profile_option=profile_option, overlay_option=overlay_option, set_option=set_option,
                     set_string_option=set_string_option, env_option=env_option, layer_options=layer_options,
                     render_command=render_command, list_command=list_command)


def main(argv=None) -> None:
    """Entry point of ``eventbus-render``: run a command, map errors to exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    if tuple(args[:2]) in FAST_COMMANDS:
        from renderer.argocd.adapter import main as argocd_main

        sys.exit(argocd_main(args[1], args[2:]))
    from renderer.errors import RendererError

    options = parse_render_args(args[1:]) if args[:1] == ["render"] else None
    try:
        result = run_render(**options) if options is not None else _run_click(args)  # the first: no click
    except RendererError as exc:
        warn(error_message(exc))
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


def _run_click(args: list):
    """Run ``args`` through the click group; click's own usage errors become their message and exit code."""
    import click

    cli = __getattr__("cli")
    try:
        return cli.main(args=args, prog_name="eventbus-render", standalone_mode=False)
    except click.exceptions.Abort:
        warn("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
