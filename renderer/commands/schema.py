"""JSON Schemas (draft-07) of the files users write: the app file, profiles and overlays.

They give editors completion and checking through the YAML language server
(``# yaml-language-server: $schema=...``). Every rule in them is translated
from :mod:`renderer.stages.userfiles`, the schema the renderer itself checks
files against (values from :mod:`renderer.stages.spec`, guard settings and
waivers from the guard registry), so the editor and the renderer accept the
same documents. The generated files are committed under ``renderer/schemas/``;
regenerate them with ``python -m renderer.commands.schema --write`` (a test
fails while they are stale).

Layers are partial and ``null`` deletes a key, so values accept ``null`` for
every field and no object there has required fields: a layer may set half of
a secret reference and another layer the other half. The render itself still
checks the merged result, with file and line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from renderer.stages import writer

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
KINDS = {"app": "app.schema.json", "profile": "profile.schema.json", "overlay": "overlay.schema.json"}
DRAFT = "http://json-schema.org/draft-07/schema#"
TITLES = {
    "app": ("eventbus-render app file (eventbus-render.yaml)",
            "One app directory's EventBus: backend, profile, overlays, values, environments."),
    "profile": ("eventbus-render profile (profiles/NAME.yaml)",
                "Values and guard settings for one kind of environment."),
    "overlay": ("eventbus-render overlay (overlays/NAME.yaml)", "Values applied on top of a profile."),
}

# The validator parses quantities and durations with their Go grammars; these patterns are the same grammars
# without the numeric limits (an int32 exponent, 2**63 nanoseconds) that a pattern cannot state.
QUANTITY_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
DURATION_PATTERN = r"^([-+]?0|[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"
_INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1)}


def pattern(regex: str) -> str:
    """A whole-string ``text`` regex as a JSON Schema pattern, which may match anywhere.

    ``(?![\\s\\S])`` ends the string in both ECMA 262 and Python (whose ``$`` also matches before a
    final newline, and which Python-based validators such as check-jsonschema use).
    """
    return f"^(?:{regex})(?![\\s\\S])"


def _null(out: dict) -> dict:
    """``out`` accepting null too."""
    if "type" in out:
        kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = kinds + ["null"]
    if "enum" in out:
        out["enum"] = list(out["enum"]) + [None]
    return out


class _Converter:
    """Turns :mod:`renderer.stages.userfiles` nodes into JSON Schema; named objects become definitions."""

    def __init__(self):
        self.definitions: dict = {}

    def node(self, node: dict, nullable: bool = False) -> dict:
        kind = node["type"]
        if kind == "nullable":
            return self.node(node["node"], nullable=True)
        if kind == "object" and "name" in node:
            return self.named(node, nullable)
        out = getattr(self, "_" + kind)(node)
        if nullable:
            _null(out)
        if "doc" in node:
            out["description"] = node["doc"]
        return out

    def named(self, node: dict, nullable: bool) -> dict:
        """A reference to a definition; definitions accept null, so a use that must not is narrowed."""
        name = node["name"]
        if name not in self.definitions:
            self.definitions[name] = {}  # placeholder: a node may contain itself
            self.definitions[name] = _null(self._object(node))
            if "doc" in node:
                self.definitions[name]["description"] = node["doc"]
        ref = {"$ref": f"#/definitions/{name}"}
        return ref if nullable else {"type": "object", "allOf": [ref]}

    def _object(self, node: dict) -> dict:
        out = {"type": "object", "properties": {key: self.node(sub) for key, sub in node["fields"].items()},
               "additionalProperties": False}
        if node.get("required"):
            out["required"] = list(node["required"])
        return out

    def _map(self, node: dict) -> dict:
        return {"type": "object", "additionalProperties": self.node(node["values"])}

    def _keyed(self, node: dict) -> dict:
        return {"type": "object", "propertyNames": self.node(node["keys"]),
                "additionalProperties": self.node(node["values"])}

    def _array(self, node: dict) -> dict:
        return {"type": "array", "items": self.node(node["items"])}

    def _string(self, node: dict) -> dict:
        out = {"type": "string"}
        if "enum" in node:
            out["enum"] = list(node["enum"])
        return out

    def _text(self, node: dict) -> dict:
        return {"type": "string", "pattern": pattern(node["pattern"])}

    def _choice(self, node: dict) -> dict:
        return {"enum": list(node["enum"])}

    def _integer(self, node: dict) -> dict:
        out = {"type": "integer"}
        low, high = _INT_BOUNDS.get(node.get("format"), (None, None))
        low, high = node.get("minimum", low), node.get("maximum", high)
        if low is not None:
            out["minimum"] = low
        if high is not None:
            out["maximum"] = high
        return out

    def _boolean(self, node: dict) -> dict:
        return {"type": "boolean"}

    def _quantity(self, node: dict) -> dict:
        return {"type": ["string", "number"], "pattern": QUANTITY_PATTERN,
                "description": "A Kubernetes quantity, e.g. 20Gi or 500m."}

    def _duration(self, node: dict) -> dict:
        return {"type": "string", "pattern": DURATION_PATTERN, "description": "A Go duration, e.g. 72h or 1h30m."}

    def _any(self, node: dict) -> dict:
        return {}

    def _all(self, node: dict) -> dict:
        return {"allOf": [self.node(sub) for sub in node["nodes"]]}


def generate(kind: str) -> dict:
    """The JSON Schema of ``kind`` (``app``, ``profile`` or ``overlay``), translated from the renderer's own."""
    if kind not in KINDS:
        raise ValueError(f"unknown schema kind {kind!r}")
    from renderer.stages import guards, userfiles

    converter = _Converter()
    title, description = TITLES[kind]
    body = converter.node(userfiles.node(kind, guards.RULES))
    return {"$schema": DRAFT, "title": title, "description": description, **body,
            "definitions": dict(sorted(converter.definitions.items()))}


def dumps(schema: dict) -> str:
    """The committed text of a schema."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def committed(kind: str) -> str:
    """The schema of ``kind`` as shipped in the package."""
    return (SCHEMA_DIR / KINDS[kind]).read_text(encoding="utf-8")


def write_all(directory: Path = SCHEMA_DIR) -> list:
    """Regenerate every schema file in ``directory``; returns the paths written."""
    written = []
    for kind, filename in KINDS.items():
        path = Path(directory) / filename
        writer.write_file(path, dumps(generate(kind)).encode("utf-8"))
        written.append(path)
    return written


@click.command("schema")
@click.argument("kind", type=click.Choice(sorted(KINDS)))
def schema_command(kind):
    """Print the JSON Schema of an app file, profile or overlay (for editors and CI).

    Point the YAML language server at it with a first line such as
    `# yaml-language-server: $schema=https://.../app.schema.json`.
    """
    from renderer.commands.common import emit_text

    emit_text(committed(kind), verbatim=True)


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m renderer.commands.schema --write")
    for written in write_all():
        print(written)
