"""JSON Schemas of the app file, profiles and overlays: committed, generated, and true to the renderer."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from renderer.commands import schema
from renderer.stages import yamlio

ROOT = Path(__file__).resolve().parents[2]
VALIDATORS = {kind: jsonschema.Draft7Validator(json.loads(schema.committed(kind))) for kind in schema.KINDS}
SCHEMA_LINE = "# yaml-language-server: $schema="


def load(path: Path):
    return yamlio.load(path.read_text(), str(path))[0]


def errors(kind: str, data) -> list:
    return sorted(e.message for e in VALIDATORS[kind].iter_errors(data))


def files(pattern: str) -> list:
    return sorted(p for p in ROOT.glob(pattern) if ".venv" not in p.parts)


@pytest.mark.parametrize("kind", sorted(schema.KINDS))
def test_the_committed_schema_is_what_the_generator_produces(kind):
    assert schema.committed(kind) == schema.dumps(schema.generate(kind)), (
        "stale schema: regenerate with python -m renderer.commands.schema --write")


@pytest.mark.parametrize("kind", sorted(schema.KINDS))
def test_every_schema_is_a_valid_draft_07_schema(kind):
    jsonschema.Draft7Validator.check_schema(json.loads(schema.committed(kind)))


@pytest.mark.parametrize("path", files("profiles/*.yaml"), ids=lambda p: p.name)
def test_built_in_profiles_validate(path):
    assert errors("profile", load(path)) == []


@pytest.mark.parametrize("path", files("overlays/*.yaml"), ids=lambda p: p.name)
def test_built_in_overlays_validate(path):
    assert errors("overlay", load(path)) == []


APP_FILES = files("examples/**/eventbus-render.yaml") + files("tests/fixtures/apps/*/eventbus-render.yaml")


@pytest.mark.parametrize("path", APP_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_app_files_validate(path):
    assert errors("app", load(path)) == []


@pytest.mark.parametrize("path", files("examples/**/profiles/*.yaml") + files("examples/**/overlays/*.yaml"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_example_profiles_and_overlays_validate(path):
    assert errors("profile" if path.parent.name == "profiles" else "overlay", load(path)) == []


@pytest.mark.parametrize("path", files("examples/**/eventbus-render.yaml") + files("examples/**/profiles/*.yaml")
                         + files("examples/**/overlays/*.yaml"), ids=lambda p: str(p.relative_to(ROOT)))
def test_example_files_point_editors_at_their_schema(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith(SCHEMA_LINE)
    target = (path.parent / first[len(SCHEMA_LINE):]).resolve()
    assert target.parent == schema.SCHEMA_DIR
    assert target.name == schema.KINDS["app" if path.name == "eventbus-render.yaml" else path.parent.name[:-1]]


@pytest.mark.parametrize("kind, data, expected", [
    ("app", {"backend": "jetstream", "profil": "prod"},
     "Additional properties are not allowed ('profil' was unexpected)"),
    ("app", {"backend": "jetstreem"}, "'jetstreem' is not one of"),
    ("app", {"profile": "prod"}, "'backend' is a required property"),
    ("app", {"backend": "kafka", "profile": "../x"}, "does not match"),
    ("app", {"backend": "kafka", "environments": {"prod": {"profil": "prod"}}}, "'profil' was unexpected"),
    ("app", {"backend": "kafka", "waivers": [{"rule": "replica-count", "reason": "r", "expires": "2026-01-01"}]},
     "'owner' is a required property"),
    ("app", {"backend": "kafka", "waivers": [{"rule": "replica-count", "owner": "me", "expires": "soon"}]},
     "'soon' does not match"),
    ("app", {"backend": "kafka", "waivers": [{"rule": "no-such-rule", "reason": "r", "owner": "me",
                                              "expires": "2026-01-01"}]}, "'no-such-rule' is not one of"),
    ("profile", {"values": {"jetstream": {"replicas": "three"}}}, "'three' is not of type 'integer', 'null'"),
    ("profile", {"values": {"jetstream": {"persistence": {"volumeSize": "20 Gi"}}}}, "does not match"),
    ("profile", {"values": {"nats": {"native": {"maxAge": "3 days"}}}}, "does not match"),
    ("profile", {"values": {"nats": {"native": {"antiAffinity": True}}}}, "'antiAffinity' was unexpected"),
    ("profile", {"guards": {"replica-count": {"min": "3"}}}, "'3' is not of type 'integer'"),
    ("profile", {"guards": {"controller-rules": {"level": "warning"}}}, "'warning' is not one of ['error']"),
    ("profile", {"guards": {"replica-cout": {}}}, "'replica-cout' was unexpected"),
    ("overlay", {"merge": {"jetstream.tolerations": "mergeBy"}}, "does not match"),
    ("overlay", {"extends": "prod"}, "'extends' was unexpected"),
])
def test_mistakes_are_caught_in_the_editor(kind, data, expected):
    found = errors(kind, data)
    assert any(expected in message for message in found), found


@pytest.mark.parametrize("kind, data", [
    ("overlay", {"values": {"jetstream": {"persistence": None, "replicas": None}}}),
    ("overlay", {"values": {"jetstream": {"tolerations": [{"key": "a", "effect": "NoSchedule"}]}},
                 "merge": {"*.tolerations": "mergeBy:key+effect", "jetstream.startArgs": "append"}}),
    ("profile", {"values": {"kafka": {"sasl": {"userSecret": {"name": "half-of-a-reference"}}}}}),
    ("profile", {"values": {"jetstream": {"persistence": {"volumeSize": 21474836480}}}}),
    ("app", {"backend": "jetstream", "environments": {"dev": None, "prod-us-east": {"profile": "prod"}}}),
])
def test_partial_layers_and_null_deletions_are_accepted(kind, data):
    assert errors(kind, data) == []


def test_the_schema_command_prints_the_committed_file(cli):
    result = cli("schema", "profile")
    assert result.code == 0
    assert result.out == schema.committed("profile")
    assert cli("schema", "values").code == 2
