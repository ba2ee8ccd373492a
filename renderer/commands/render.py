"""The ``render`` and ``list`` commands.

``render``: one app's EventBus (or, with ``--all``, a whole repository's);
``list``: the profiles, overlays and backends an app can use.
"""

from __future__ import annotations

import click
from click.core import ParameterSource

from renderer.commands.common import app_option, build_request, emit_text, layer_options, report_warnings, warn
from renderer.errors import RendererError


def run_render(app_dir=".", profile=None, overlays=(), sets=(), set_strings=(), environment=None, output_dir=None,
               fmt="yaml", render_all=False, root=".") -> None:
    """The ``render`` command, once click has parsed its options."""
    from renderer.pipeline import render
    from renderer.stages import emit

    if output_dir == "-":
        output_dir = None  # "-" is stdout, as everywhere on a command line
    if render_all:
        from renderer.commands.bulk import render_all_command
        from renderer.errors import UsageError

        if environment:
            raise UsageError("--all renders every environment of every app; --env cannot go with it",
                             hint="drop --env, or render one app with --app DIR --env NAME")
        render_all_command(root, output_dir, fmt, profile, overlays, sets, set_strings)
        return
    rendered = render(build_request(app_dir, profile, overlays, sets, set_strings, environment))
    report_warnings(rendered)
    if not output_dir:
        manifests = rendered.manifests
        emit_text(emit.to_json(manifests) if fmt == "json" else emit.yaml_stream(manifests), verbatim=True)
        return
    # one file per object: the EventBus, and each object rendered beside it
    files = {obj.file(fmt): emit.to_json([obj.manifest]) if fmt == "json" else emit.to_yaml(obj.manifest)
             for obj in rendered.objects}
    for path in emit.write_tree(output_dir, files):
        warn(f"wrote {path}")



@click.command("render")
@layer_options
@click.option("-o", "--output-dir", metavar="DIR", type=click.Path(path_type=str),
              help="Write one file per object under DIR instead of printing ('-': print).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="Output format.")
@click.option("--all", "render_all", is_flag=True, help="Render every environment of every app below --root.")
@click.option("--root", metavar="DIR", default=".", show_default=True, help="Root searched by --all.")
def render_command(app_dir, profile, overlays, sets, set_strings, environment, output_dir, fmt, render_all, root):
    """Render the EventBus of an app directory (or, with --all, of a whole repository)."""
    if render_all and click.get_current_context().get_parameter_source("app_dir") != ParameterSource.DEFAULT:
        from renderer.errors import UsageError

        raise UsageError("--all renders every app below --root; --app cannot go with it",
                         hint="drop --app (choose the tree with --root DIR), or render one app without --all")
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
