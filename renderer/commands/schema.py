"""JSON Schemas (draft-07) of the files users write: the app file, profiles and overlays.

They give editors completion and checking through the YAML language server
(``# yaml-language-server: $schema=...``). The schemas are generated from the
renderer's own definitions, so they cannot drift from what the renderer
accepts: values from :mod:`renderer.stages.spec` (through ``render.values_schema``),
guard settings and waivers from the guard registry, names and backends from
:mod:`renderer.stages.sources`. The generated files are committed under
``renderer/schemas/``; regenerate them with ``python -m renderer.commands.schema --write``
(a test fails while they are stale).

Layers are partial and ``null`` deletes a key, so every value accepts ``null``
and no object has required fields: a layer may set half of a secret reference
and another layer the other half. The render itself still checks the merged
result, with file and line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
KINDS = {"app": "app.schema.json", "profile": "profile.schema.json", "overlay": "overlay.schema.json"}
DRAFT = "http://json-schema.org/draft-07/schema#"

NAME_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
QUANTITY_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
DURATION_PATTERN = r"^([-+]?0|[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"
STRATEGY_PATTERN = r"^(replace|append|mergeBy:[^+]+(\+[^+]+)*)$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1)}


def _nullable(kinds) -> list:
    return list(kinds) + ["null"]


class _Converter:
    """Turns :mod:`renderer.stages.spec` nodes into JSON Schema; named spec objects become definitions."""

    def __init__(self):
        from renderer.stages import spec

        self.names = {}
        for name, value in vars(spec).items():
            if isinstance(value, dict) and value.get("type") == "object" and name.isupper():
                self.names.setdefault(id(value), "".join(p.capitalize() for p in name.split("_")))
        self.definitions: dict = {}

    def node(self, node: dict) -> dict:
        kind = node["type"]
        if kind == "object":
            name = self.names.get(id(node))
            if name is None:
                return self.object(node)
            if name not in self.definitions:
                self.definitions[name] = {}  # placeholder: a node may contain itself
                self.definitions[name] = self.object(node)
            return {"$ref": f"#/definitions/{name}"}
        if kind == "map":
            return {"type": _nullable(["object"]), "additionalProperties": self.node(node["values"])}
        if kind == "array":
            return {"type": _nullable(["array"]), "items": self.node(node["items"])}
        if kind == "string":
            out = {"type": _nullable(["string"])}
            if "enum" in node:
                out["enum"] = list(node["enum"]) + [None]
            return out
        if kind == "integer":
            out = {"type": _nullable(["integer"])}
            low, high = _INT_BOUNDS.get(node.get("format"), (None, None))
            low = node.get("minimum", low)
            high = node.get("maximum", high)
            if low is not None:
                out["minimum"] = low
            if high is not None:
                out["maximum"] = high
            return out
        if kind == "boolean":
            return {"type": _nullable(["boolean"])}
        if kind == "quantity":
            return {"type": _nullable(["string", "number"]), "pattern": QUANTITY_PATTERN,
                    "description": "A Kubernetes quantity, e.g. 20Gi or 500m."}
        if kind == "duration":
            return {"type": _nullable(["string"]), "pattern": DURATION_PATTERN,
                    "description": "A Go duration, e.g. 72h or 1h30m."}
        if kind == "any":
            return {}
        raise ValueError(f"unknown schema node type {kind!r}")  # pragma: no cover - spec.py is tested

    def object(self, node: dict) -> dict:
        return {"type": _nullable(["object"]),
                "properties": {key: self.node(sub) for key, sub in node["fields"].items()},
                "additionalProperties": False}


def _values(converter: _Converter) -> dict:
    from renderer.pipeline import values_schema

    values = converter.object(values_schema())
    values["description"] = ("Values merged over the lower layers: one section per backend with the upstream "
                             "EventBus field names, plus labels, annotations and spread. null deletes a key.")
    converter.definitions["Values"] = values
    return {"$ref": "#/definitions/Values"}


def _merge() -> dict:
    return {"type": _nullable(["object"]),
            "description": "How lists at a value path merge: replace (default), append, or mergeBy:KEY[+KEY...]. "
                           "Keys are dotted paths; * matches any one key.",
            "additionalProperties": {"type": "string", "pattern": STRATEGY_PATTERN}}


def _name(what: str) -> dict:
    return {"type": "string", "pattern": NAME_PATTERN, "description": f"Name of {what} (a file stem, no folders)."}


def _description() -> dict:
    return {"type": "string", "description": "What this file is for (shown by eventbus-render list)."}


def _param(param) -> dict:
    kind = param.kind
    if kind == "int":
        out = {"type": ["integer"], "minimum": 0}
    elif kind == "bool":
        out = {"type": ["boolean"]}
    elif kind == "quantity":
        out = {"type": ["string", "number"], "pattern": QUANTITY_PATTERN}
    elif kind == "choice":
        out = {"type": ["string"], "enum": list(param.choices)}
    elif kind == "strings":
        out = {"type": ["array"], "items": {"type": "string", "minLength": 1}}
    else:  # pragma: no cover - guards validate their own parameter kinds
        raise ValueError(f"unknown guard parameter kind {kind!r}")
    if param.nullable:
        out["type"].append("null")
        if "enum" in out:
            out["enum"].append(None)
    if len(out["type"]) == 1:
        out["type"] = out["type"][0]
    out["description"] = param.doc
    return out


def _guards() -> dict:
    from renderer.stages import guards

    rules = {}
    for rule_id, module in guards.RULES.items():
        mandatory = getattr(module, "MANDATORY", False)
        properties = {
            "level": {"type": "string", "enum": ["error"] if mandatory else list(guards.LEVELS),
                      "description": "error fails the render, warning is reported, off disables the guard."},
            "waivable": {"type": "boolean", "description": "Whether an app file may waive violations."},
        }
        if mandatory:
            properties["waivable"]["enum"] = [False]
        for key, param in module.PARAMS.items():
            properties[key] = _param(param)
        rules[rule_id] = {"type": ["object", "null"], "description": module.DESCRIPTION, "properties": properties,
                          "additionalProperties": False}
    return {"type": "object", "description": "Guards this profile enables, with their level and parameters.",
            "properties": rules, "additionalProperties": False}


def _waivers() -> dict:
    from renderer.stages import guards

    return {
        "type": ["array", "null"],
        "description": "Accepted guard violations, each with a reason, an owner and an expiry date.",
        "items": {
            "type": "object",
            "properties": {
                "rule": {"type": "string", "enum": sorted(guards.RULES), "description": "The guard waived."},
                "path": {"type": "string", "pattern": r"^(spec|metadata)([.\[]|$)",
                         "description": "Manifest path the waiver is limited to, e.g. spec.jetstream.replicas."},
                "reason": {"type": "string", "pattern": r"\S", "description": "Why the violation is acceptable."},
                "owner": {"type": "string", "pattern": r"\S", "description": "Person or team answerable for it."},
                "expires": {"type": "string", "pattern": DATE_PATTERN,
                            "description": "Last day the waiver holds (YYYY-MM-DD, UTC, inclusive)."},
            },
            "required": ["rule", "reason", "owner", "expires"],
            "additionalProperties": False,
        },
    }


def _document(title: str, description: str, properties: dict, converter: _Converter, required=()) -> dict:
    doc = {"$schema": DRAFT, "title": title, "description": description, "type": "object",
           "properties": properties, "additionalProperties": False}
    if required:
        doc["required"] = list(required)
    doc["definitions"] = dict(sorted(converter.definitions.items()))
    return doc


def generate(kind: str) -> dict:
    """The JSON Schema of ``kind`` (``app``, ``profile`` or ``overlay``), generated from the renderer's definitions."""
    from renderer.stages import sources

    converter = _Converter()
    if kind == "app":
        values = _values(converter)
        identity = {"type": "string", "pattern": DNS_LABEL_PATTERN, "maxLength": 63}
        environment = {
            "type": ["object", "null"],
            "description": "One environment the app is deployed to; its settings override the app's.",
            "properties": {
                "description": {"type": "string"},
                "name": dict(identity, description="EventBus name in this environment."),
                "namespace": dict(identity, description="Namespace in this environment."),
                "profile": _name("the profile of this environment"),
                "overlays": {"type": ["array", "null"], "items": _name("an overlay"),
                             "description": "Overlays applied after the app's own, in order."},
                "values": values,
            },
            "additionalProperties": False,
        }
        properties = {
            "description": _description(),
            "name": dict(identity, description="EventBus metadata.name (default: default)."),
            "namespace": dict(identity, description="EventBus namespace (default: argo-events)."),
            "backend": {"type": "string", "enum": list(sources.BACKENDS), "description": "The bus implementation."},
            "profile": _name("the default profile (default: dev)"),
            "overlays": {"type": ["array", "null"], "items": _name("an overlay"),
                         "description": "Overlays applied after the profile, in order."},
            "values": values,
            "merge": _merge(),
            "waivers": _waivers(),
            "environments": {"type": ["object", "null"],
                             "description": "Environments rendered by render --all and compared by diff.",
                             "propertyNames": {"pattern": NAME_PATTERN}, "additionalProperties": environment},
        }
        return _document("eventbus-render app file (eventbus-render.yaml)",
                         "One app directory's EventBus: backend, profile, overlays, values, environments.",
                         properties, converter, required=("backend",))
    if kind == "profile":
        properties = {"description": _description(), "extends": _name("the parent profile"),
                      "values": _values(converter), "guards": _guards(), "merge": _merge()}
        return _document("eventbus-render profile (profiles/NAME.yaml)",
                         "Values and guard settings for one kind of environment.", properties, converter)
    if kind == "overlay":
        properties = {"description": _description(), "values": _values(converter), "merge": _merge()}
        return _document("eventbus-render overlay (overlays/NAME.yaml)",
                         "Values applied on top of a profile.", properties, converter)
    raise ValueError(f"unknown schema kind {kind!r}")


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
        path.write_text(dumps(generate(kind)), encoding="utf-8")
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

    emit_text(committed(kind))


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m renderer.commands.schema --write")
    for written in write_all():
        print(written)
