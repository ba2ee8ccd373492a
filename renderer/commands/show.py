"""``list`` and ``show``: which profiles, overlays and backends an app directory sees, and where each comes from.

A name resolves in the app directory, then in the repository layer (the
nearest ``.eventbus-render/`` above it), then among the built-ins; a name
found in more than one place shadows the later ones. ``list`` names every
profile and overlay with its place (and what it shadows); ``show profile
NAME`` / ``show overlay NAME`` prints the file a name resolves to exactly as
it is written (on stdout, so ``show profile prod > prod.yaml`` copies it),
and says on stderr where it was found, the chain of profiles it extends, and
what it shadows. Both take ``--format json`` for tools.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from renderer.commands.common import app_option, emit_text, warn
from renderer.commands.names import complete_shown, lookup
from renderer.errors import RendererError

BACKEND_NOTES = {
    "nats-native": "NATS streaming run by Argo Events (StatefulSet, at least 3 replicas)",
    "nats-exotic": "an existing NATS streaming cluster run elsewhere (url, clusterID)",
    "jetstream": "NATS JetStream run by Argo Events (StatefulSet, pinned version)",
    "jetstream-exotic": "an existing JetStream server run elsewhere (url)",
    "kafka": "Kafka brokers run elsewhere (url, topic, version, TLS/SASL)",
}

_format = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
                       help="text for people, json for tools.")


def _file(path: Path, place, kind: str) -> str:
    return place.display(kind, path.name)


def _description(path: Path, place, kind: str) -> str | None:
    """The first line of a file's ``description``; ``None`` when the file does not read."""
    from renderer.stages import sources

    try:
        doc = sources.load_document(path, _file(path, place, kind))
    except RendererError:
        return None
    lines = str(doc.data.get("description", "")).strip().splitlines()
    return lines[0] if lines else ""


def entries(kind: str, where) -> list:
    """Every profile or overlay visible from ``where``: ``{name, place, file, description, shadows}``."""
    from renderer.stages import sources

    out = []
    for name, found in sources.everywhere(kind, where).items():
        path, place = found[0]
        out.append({"name": name, "place": place.where, "file": _file(path, place, kind),
                    "description": _description(path, place, kind),
                    "shadows": [{"place": p.where, "file": _file(q, p, kind)} for q, p in found[1:]]})
    return out


@click.command("list")
@app_option
@_format
def list_command(app_dir, fmt):
    """List the profiles, overlays and backends an app directory can use, and where each comes from."""
    from renderer.stages import sources

    where = lookup(app_dir)
    found = {kind: entries(kind, where) for kind in ("profiles", "overlays")}
    layer = next((place.prefix for place in where if place.where == sources.REPOSITORY), None)
    if fmt == "json":
        document = {"repositoryLayer": layer, **found,
                    "backends": [{"name": b, "description": BACKEND_NOTES[b]} for b in sources.BACKENDS]}
        emit_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    lines = []
    for kind in ("profiles", "overlays"):
        lines.append(f"{kind}:")
        width = max((len(e["name"]) for e in found[kind]), default=0)
        for e in found[kind]:
            text = "(cannot be read: run render to see why)" if e["description"] is None else e["description"]
            if e["shadows"]:
                text += (" " if text else "") + "(shadows " + ", ".join(
                    f"{s['place']} {s['file']}" for s in e["shadows"]) + ")"
            lines.append(f"  {e['name'].ljust(width)}  [{e['place']}]  {text}".rstrip())
    lines.append("backends:")
    for backend in sources.BACKENDS:
        lines.append(f"  {backend.ljust(16)}  {BACKEND_NOTES[backend]}")
    if layer:
        lines.append(f"repository layer: {layer}")
    emit_text("\n".join(lines) + "\n")


@click.group("show")
def show_group():
    """Show the file a profile or overlay name resolves to, where it was found, and what it extends."""


def _show(kind: str, name: str, app_dir: str, fmt: str) -> None:
    from renderer.stages import containment, sources, yamlio

    where = lookup(app_dir)
    sources.check_name(name, None, (), kind[:-1])
    found = sources.find_named(kind, name, where)  # a symlink leaving its place is an error here
    if found is None:
        raise sources.unknown_name(kind, name, where)
    if kind == "profiles":
        chain = list(reversed(sources.load_profile_chain(name, where)))
    else:
        chain = [sources.load_overlay(name, where)]
    path, place = found
    text = containment.read_file(path, chain[0].doc.display, yamlio.MAX_BYTES).decode("utf-8")
    shadows = [{"place": p.where, "file": _file(q, p, kind)}
               for q, p in sources.everywhere(kind, where).get(name, [])[1:]]
    record = {"kind": kind[:-1], "name": name, "place": place.where, "file": chain[0].doc.display,
              "content": text, "shadows": shadows}
    if kind == "profiles":
        record["extends"] = [{"name": p.name, "place": p.place.where, "file": p.doc.display} for p in chain[1:]]
    if fmt == "json":
        emit_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        return
    warn(f"{kind[:-1]} {name!r}: {place.label}, {record['file']}")
    if kind == "profiles":
        links = " -> ".join(f"{p.name} ({p.place.label}, {p.doc.display})" for p in chain[1:])
        warn(f"extends: {links or 'nothing'}")
    if shadows:
        warn("shadows: " + ", ".join(f"{s['place']} {s['file']}" for s in shadows))
    emit_text(text)


@show_group.command("profile")
@click.argument("name", shell_complete=complete_shown)
@app_option
@_format
def show_profile(name, app_dir, fmt):
    """Print profile NAME exactly as written; say on stderr where it was found and the chain it extends."""
    _show("profiles", name, app_dir, fmt)


@show_group.command("overlay")
@click.argument("name", shell_complete=complete_shown)
@app_option
@_format
def show_overlay(name, app_dir, fmt):
    """Print overlay NAME exactly as written; say on stderr where it was found."""
    _show("overlays", name, app_dir, fmt)
