"""The ``render`` command: one app's EventBus (or, with ``--all``, a whole repository's)."""

from __future__ import annotations

import click
from click.core import ParameterSource

from renderer.commands.common import build_request, emit_text, layer_options, report_warnings, warn


def run_render(app_dir=".", profile=None, overlays=(), sets=(), set_strings=(), environment=None, output_dir=None,
               fmt="yaml", render_all=False, root=".") -> None:
    """The ``render`` command, once click has parsed its options."""
    from renderer.pipeline import render
    from renderer.stages import emit, writer

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
    for path in writer.write_tree(output_dir, files):
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
