"""One schema for every file a user writes: the renderer's check and the editors' JSON Schemas agree.

Every YAML example in the README and docs/, every built-in profile and overlay, every example and
fixture app validates against both; a table of invalid documents is rejected by both.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from renderer.commands import schema
from renderer.stages import guards, userfiles, yamlio
from renderer.stages.validate import validate

ROOT = Path(__file__).resolve().parents[1]
EDITORS = {kind: jsonschema.Draft7Validator(json.loads(schema.committed(kind))) for kind in schema.KINDS}


def load(text: str, source: str = "<test>"):
    return yamlio.load(text, source)[0]


def ours(kind: str, data) -> list:
    return [f"{p.path}: {p.message}" for p in userfiles.check(kind, data, guards.RULES)]


def editors(kind: str, data) -> list:
    return [f"{list(e.absolute_path)}: {e.message}" for e in EDITORS[kind].iter_errors(data)]


def assert_accepted_by_both(kind: str, data) -> None:
    assert (ours(kind, data), editors(kind, data)) == ([], [])


# -- every example, built-in and fixture ---------------------------------------------------------

HEADER = re.compile(r"^# (eventbus-render\.yaml|profiles/[^/\s]+\.ya?ml|overlays/[^/\s]+\.ya?ml)\s*$", re.M)
APP_PARTS = {"waivers", "environments"}
"""Keys of an app file that a block may show alone; such a block is checked inside a minimal app file."""
SKIPPED = {
    "repos": "a pre-commit configuration (.pre-commit-config.yaml), not a file of the renderer",
    "command": "the sidecar container's command in Argo CD's repo-server patch",
    "apiVersion": "a Kubernetes or kustomize object",
    "spec": "an Argo CD Application's spec",
}
"""Blocks that are not user files, by a top-level key that tells what they are instead."""


def fenced_yaml(path: Path) -> list:
    """``(line, text)`` of each ```yaml block of a Markdown file, split at file-name header comments."""
    out = []
    lines = path.read_text(encoding="utf-8").splitlines()
    start = None
    for number, line in enumerate(lines, 1):
        if start is None and line.strip() == "```yaml":
            start = number
        elif start is not None and line.strip() == "```":
            block = "\n".join(lines[start:number - 1]) + "\n"
            cuts = [m.start() for m in HEADER.finditer(block)]
            cuts = ([0] if not cuts or cuts[0] else []) + cuts + [len(block)]
            for begin, end in zip(cuts, cuts[1:]):
                part = block[begin:end]
                if part.strip():
                    out.append((start + 1 + block[:begin].count("\n"), part))
            start = None
    return out


def classify(text: str, data) -> tuple[str | None, object, str]:
    """``(kind, document, why)``: the kind of file a block shows, or None (with the reason) when it is none."""
    header = HEADER.match(text.lstrip())
    if header:
        name = header.group(1)
        kind = "app" if name == "eventbus-render.yaml" else name.split("/")[0][:-1]
        return kind, data, f"named {name}"
    keys = set(data) if isinstance(data, dict) else set()
    for key, why in SKIPPED.items():
        if key in keys:
            return None, data, why
    if "backend" in keys:
        return "app", data, "has backend"
    if keys and keys <= APP_PARTS:
        return "app", {"backend": "jetstream", **data}, "part of an app file"
    if keys & {"guards", "extends", "controller"}:
        return "profile", data, "has guards, extends or controller"
    if keys and keys <= {"description", "values", "merge"}:
        return "overlay", data, "values only (valid in any file)"
    raise AssertionError(f"unclassified YAML block with keys {sorted(keys)}: add a rule or a SKIPPED reason")


def markdown_examples() -> list:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for line, text in fenced_yaml(path):
            found.append(pytest.param(text, id=f"{path.relative_to(ROOT)}:{line}"))
    return found


MARKDOWN = markdown_examples()


def test_the_markdown_examples_are_found():
    kinds = [classify(p.values[0], load(p.values[0]))[0] for p in MARKDOWN]
    assert kinds.count("app") >= 3 and kinds.count("profile") >= 2 and kinds.count("overlay") >= 1, kinds


@pytest.mark.parametrize("text", MARKDOWN)
def test_every_yaml_example_in_the_readme_and_docs_validates_against_both(text):
    kind, data, why = classify(text, load(text))
    if kind is None:
        pytest.skip(why)
    assert_accepted_by_both(kind, data)


def _files(pattern: str) -> list:
    return sorted(p for p in ROOT.glob(pattern) if ".venv" not in p.parts)


def _kind_of(path: Path) -> str:
    return "app" if path.name == "eventbus-render.yaml" else path.parent.name[:-1]


FILES = (_files("profiles/*.yaml") + _files("overlays/*.yaml") + _files("examples/**/eventbus-render.yaml")
         + _files("examples/**/profiles/*.yaml") + _files("examples/**/overlays/*.yaml")
         + _files("tests/fixtures/apps/**/eventbus-render.yaml") + _files("tests/fixtures/apps/**/profiles/*.yaml")
         + _files("tests/fixtures/apps/**/overlays/*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_built_in_example_and_fixture_file_validates_against_both(path):
    assert_accepted_by_both(_kind_of(path), load(path.read_text(encoding="utf-8"), path.name))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_without_the_guard_registry_the_check_still_accepts_every_file(path):
    assert userfiles.check(_kind_of(path), load(path.read_text(encoding="utf-8"), path.name)) == []


# -- documents both accept -----------------------------------------------------------------------

KAFKA_WAIVER = "backend: kafka\nwaivers:\n  - {rule: replica-count, path: spec, value: 1, "
WAIVER = "waivers:\n  - {rule: replica-count, path: spec, value: 1, owner: team-a, expires: %s}\n"

VALID = [
    ("profile", "guards:\n  pinned-versions: {level: off}\n"),
    ("profile", "guards:\n  pinned-versions: {level: 'off'}\n"),
    ("profile", "guards:\n  replica-count: {level: warning, min: 0, max: null, odd: false}\n"),
    ("profile", "guards:\n  controller-rules: {level: error, waivable: false}\n"),
    ("profile", "controller: {release: v1.9.5, jetstreamVersions: ['2.10.10'], streamConfig: 'replicas: 1'}\n"),
    ("profile", "controller: {release: null, streamConfig: ''}\n"),
    ("profile", "guards:\n  persistence: {minVolumeSize: 21474836480, accessModes: [ReadWriteOnce]}\n  capacity:\n"),
    ("profile", "extends: prod\nvalues: {kafka: {sasl: {userSecret: {name: half-of-a-reference}}}}\n"),
    ("app", "backend: jetstream\n" + WAIVER % "2028-02-29"),
    ("app", "backend: jetstream\n" + WAIVER % "'2026-12-31'"),
    ("app", "backend: jetstream\nwaivers:\n  - {rule: capacity, path: spec, value: null, environments: null,"
            " reason: null, owner: a, expires: 2026-01-31}\n"),
    ("app", "backend: jetstream\nwaivers:\n  - {rule: capacity, path: 'metadata.labels[\"a/b\"]', value: {x: [1]},"
            " owner: a, expires: 2026-01-31}\n"),
    ("app", "backend: kafka\nnamespace: null\nname: " + "a" * 63 + "\n"),
    ("app", "backend: kafka\nvalues: {labels: {app.kubernetes.io/name: x, empty: '', " + "k" * 63 + ": " + "v" * 63
            + "}}\n"),
    ("app", "backend: kafka\nvalues: {annotations: {example.com/note: 'any text, even spaces'}}\n"),
    ("app", "backend: jetstream\nenvironments: {dev: null, prod-us-east: {profile: prod, namespace: orders}}\n"),
    ("app", "backend: jetstream\nenvironments: {dev: null, prod: {profile: prod}}\ndefaultEnvironment: dev\n"),
    ("overlay", "values: {jetstream: {persistence: null, replicas: null}}\n"),
    ("overlay", "merge: {'*.tolerations': 'mergeBy:key+effect', jetstream.startArgs: append, x: 'mergeBy: name'}\n"),
]


@pytest.mark.parametrize("kind, text", VALID, ids=[text.splitlines()[-1][:60] for _, text in VALID])
def test_documents_the_renderer_accepts_are_accepted_by_both(kind, text):
    assert_accepted_by_both(kind, load(text))


def test_level_off_as_the_readme_writes_it_is_accepted_by_both():
    data = load("guards:\n  pinned-versions: {level: off}\n")
    assert data["guards"]["pinned-versions"]["level"] is False  # YAML 1.1, as PyYAML reads it
    assert_accepted_by_both("profile", data)
    assert_accepted_by_both("profile", {"guards": {"pinned-versions": {"level": "off"}}})  # as editors read it


# -- documents both reject -----------------------------------------------------------------------

OWNED = "  - {rule: replica-count, path: spec, value: 1, owner: team-a, expires: 2026-06-30, %s}\n"

INVALID = [
    # app file
    ("app", "backend: jetstream\nprofil: prod\n", ("profil",)),
    ("app", "backend: jetstreem\n", ("backend",)),
    ("app", "profile: prod\n", ()),
    ("app", "backend: 3\n", ("backend",)),
    ("app", "backend: kafka\nname: Payments_Bus\n", ("name",)),
    ("app", "backend: kafka\nname: " + "a" * 64 + "\n", ("name",)),
    ("app", "backend: kafka\nnamespace: team.payments\n", ("namespace",)),
    ("app", "backend: kafka\nname: null\n", ("name",)),
    ("app", "backend: kafka\ndescription: [a]\n", ("description",)),
    ("app", "backend: kafka\nprofile: ../prod\n", ("profile",)),
    ("app", "backend: kafka\noverlays: monitoring\n", ("overlays",)),
    ("app", "backend: kafka\noverlays: [null]\n", ("overlays", 0)),
    ("app", "backend: kafka\nvalues: [a]\n", ("values",)),
    ("app", "backend: kafka\nvalues: {labels: {team: pay ments}}\n", ("values", "labels", "team")),
    ("app", "backend: kafka\nvalues: {labels: {team: " + "v" * 64 + "}}\n", ("values", "labels", "team")),
    ("app", "backend: kafka\nvalues: {labels: {team: 7}}\n", ("values", "labels", "team")),
    ("app", "backend: kafka\nvalues: {labels: {-team: x}}\n", ("values", "labels", "-team")),
    ("app", "backend: kafka\nvalues: {annotations: {a/b/c: x}}\n", ("values", "annotations", "a/b/c")),
    ("app", "backend: kafka\nvalues: {jetstream: {replicas: three}}\n", ("values", "jetstream", "replicas")),
    ("app", "backend: kafka\nvalues: {jetstream: {tolerations: [null]}}\n", ("values", "jetstream", "tolerations", 0)),
    ("app", "backend: kafka\nmerge: {jetstream.tolerations: mergeBy}\n", ("merge", "jetstream.tolerations")),
    ("app", "backend: kafka\nmerge: {jetstream.tolerations: 'mergeBy: +effect'}\n", ("merge", "jetstream.tolerations")),
    ("app", "backend: kafka\nmerge: {jetstream.tolerations: null}\n", ("merge", "jetstream.tolerations")),
    ("app", "backend: kafka\nwaivers: {rule: x}\n", ("waivers",)),
    ("app", "backend: kafka\nwaivers: [replica-count]\n", ("waivers", 0)),
    ("app", KAFKA_WAIVER + "reason: r, expires: 2026-06-30}\n", ("waivers", 0)),
    ("app", KAFKA_WAIVER + "reason: r, owner: '  ', expires: 2026-06-30}\n",
     ("waivers", 0, "owner")),
    ("app", KAFKA_WAIVER + "reason: r, owner: null, expires: 2026-06-30}\n",
     ("waivers", 0, "owner")),
    ("app", KAFKA_WAIVER + "reason: r, owner: a, expires: 2026-13-45}\n",
     ("waivers", 0, "expires")),
    ("app", KAFKA_WAIVER + "reason: r, owner: a, expires: 2025-02-29}\n",
     ("waivers", 0, "expires")),
    ("app", KAFKA_WAIVER + "reason: r, owner: a, expires: 20260630}\n",
     ("waivers", 0, "expires")),
    ("app", KAFKA_WAIVER.replace("count", "cont") + "reason: r, owner: a, expires: 2026-06-30}\n",
     ("waivers", 0, "rule")),
    ("app", "backend: kafka\nwaivers:\n" + OWNED % "reason: r, owners: b", ("waivers", 0, "owners")),
    ("app", "backend: kafka\nwaivers:\n  - {rule: replica-count, value: 1, owner: a, expires: 2026-06-30, reason: r,"
            " path: jetstream.replicas}\n", ("waivers", 0, "path")),
    ("app", "backend: kafka\nwaivers:\n" + OWNED % "reason: 3", ("waivers", 0, "reason")),
    ("app", "backend: kafka\nenvironments: [prod]\n", ("environments",)),
    ("app", "backend: kafka\nenvironments: {prod: {profil: prod}}\n", ("environments", "prod", "profil")),
    ("app", "backend: kafka\nenvironments: {prod/eu: {}}\n", ("environments", "prod/eu")),
    ("app", "backend: kafka\nenvironments: {prod: {name: Prod}}\n", ("environments", "prod", "name")),
    ("app", "backend: kafka\nenvironments: {prod: {overlays: [../x]}}\n", ("environments", "prod", "overlays", 0)),
    ("app", "backend: kafka\nguards: {replica-count: {level: off}}\n", ("guards",)),
    ("app", "backend: kafka\nnamespace: ''\n", ("namespace",)),
    ("app", "backend: kafka\nvalues: []\n", ("values",)),
    ("app", "backend: kafka\nwaivers: {}\n", ("waivers",)),
    ("app", "backend: kafka\nenvironments: {dev: []}\n", ("environments", "dev")),
    # profile
    ("profile", "guards:\n  replica-cout: {}\n", ("guards", "replica-cout")),
    ("profile", "guards:\n  replica-count: error\n", ("guards", "replica-count")),
    ("profile", "guards:\n  replica-count: {level: fatal}\n", ("guards", "replica-count", "level")),
    ("profile", "guards:\n  replica-count: {level: yes}\n", ("guards", "replica-count", "level")),
    ("profile", "guards:\n  replica-count: {level: null}\n", ("guards", "replica-count", "level")),
    ("profile", "guards:\n  replica-count: {level: [error]}\n", ("guards", "replica-count", "level")),
    ("profile", "guards:\n  replica-count: {waivable: 'no'}\n", ("guards", "replica-count", "waivable")),
    ("profile", "guards:\n  replica-count: {min: '3'}\n", ("guards", "replica-count", "min")),
    ("profile", "guards:\n  replica-count: {min: -1}\n", ("guards", "replica-count", "min")),
    ("profile", "guards:\n  replica-count: {min: true}\n", ("guards", "replica-count", "min")),
    ("profile", "guards:\n  replica-count: {min: null}\n", ("guards", "replica-count", "min")),
    ("profile", "guards:\n  zone-anti-affinity: {zones: always}\n", ("guards", "zone-anti-affinity", "zones")),
    ("profile", "guards:\n  persistence: {minVolumeSize: 20GB}\n", ("guards", "persistence", "minVolumeSize")),
    ("profile", "guards:\n  persistence: {minVolumeSiz: 20Gi}\n", ("guards", "persistence", "minVolumeSiz")),
    ("profile", "controller: {jetstreamVersions: ['']}\n", ("controller", "jetstreamVersions", 0)),
    ("profile", "controller: {release: v1.8.0}\n", ("controller", "release")),
    ("profile", "controller: {relase: v1.9.5}\n", ("controller", "relase")),
    ("profile", "guards:\n  controller-rules: {jetstreamVersions: ['2.10.29']}\n",
     ("guards", "controller-rules", "jetstreamVersions")),
    ("profile", "guards:\n  controller-rules: {level: warning}\n", ("guards", "controller-rules", "level")),
    ("profile", "guards:\n  controller-rules: {level: off}\n", ("guards", "controller-rules", "level")),
    ("profile", "guards:\n  controller-rules: {waivable: true}\n", ("guards", "controller-rules", "waivable")),
    ("profile", "extends: ../prod\n", ("extends",)),
    ("profile", "waivers: []\n", ("waivers",)),
    ("profile", "merge: []\n", ("merge",)),
    ("profile", "values: {nats: {native: {antiAffinity: true}}}\n", ("values", "nats", "native", "antiAffinity")),
    ("profile", "values: {jetstream: {persistence: {volumeSize: 20 Gi}}}\n",
     ("values", "jetstream", "persistence", "volumeSize")),
    ("profile", "values: {nats: {native: {maxAge: 3 days}}}\n", ("values", "nats", "native", "maxAge")),
    # overlay
    ("overlay", "extends: prod\n", ("extends",)),
    ("overlay", "guards: {}\n", ("guards",)),
    ("overlay", "values: {spread: {zones: always}}\n", ("values", "spread", "zones")),
    ("overlay", "values: {spread: {zoneWeight: 0}}\n", ("values", "spread", "zoneWeight")),
    ("overlay", "description: null\n", ("description",)),
    ("overlay", "values: 0\n", ("values",)),
]


@pytest.mark.parametrize("kind, text, path", INVALID, ids=[f"{k}:{t.splitlines()[-1].strip()[:60]}"
                                                            for k, t, _ in INVALID])
def test_invalid_documents_are_rejected_by_both_at_the_key_at_fault(kind, text, path):
    data = load(text)
    problems = userfiles.check(kind, data, guards.RULES)
    assert [p.path for p in problems] == [path], problems
    assert editors(kind, data), "the editor schema accepts it"


def test_the_table_of_invalid_documents_covers_every_kind_of_mistake():
    assert len(INVALID) >= 25
    assert {kind for kind, _, _ in INVALID} == {"app", "profile", "overlay"}


@pytest.mark.parametrize("text, message", [
    ("backend: jetstreem\n", "'jetstreem' is not one of nats-native, nats-exotic, jetstream, jetstream-exotic, kafka"),
    (KAFKA_WAIVER + "reason: r, owner: a, expires: 2026-13-45}\n",
     "'2026-13-45' is not a date"),
    ("backend: kafka\nvalues: {labels: {team: pay ments}}\n", "'pay ments' is not a valid Kubernetes label value"),
    ("backend: kafka\nname: Payments\n", "'Payments' is not a valid EventBus name"),
    ("backend: kafka\nprofil: prod\n", "unknown key 'profil' (did you mean 'profile'?)"),
])
def test_the_renderer_explains_each_mistake_in_one_sentence(text, message):
    assert [p.message for p in userfiles.check("app", load(text), guards.RULES)] == [message]


def test_a_mandatory_guard_says_why_it_cannot_be_weakened():
    problems = userfiles.check("profile", load("guards:\n  controller-rules: {level: warning}\n"), guards.RULES)
    assert [(p.message, p.fix) for p in problems] == [(
        "guard 'controller-rules' is always an error and never waivable: the Argo Events controller rejects or "
        "rewrites what it checks", "remove 'level' from guards.controller-rules")]


def test_a_part_of_a_file_is_checked_at_its_own_path():
    entry = {"rule": "capacity", "path": "spec", "value": 1, "owner": "a", "expires": "2026-02-30"}
    problems = userfiles.check("waiver", entry, guards.RULES, ("waivers", 3))
    assert [p.path for p in problems] == [("waivers", 3, "expires")]


# -- the formats ---------------------------------------------------------------------------------


def _real_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("year", ["0000", "0001", "0004", "0100", "0400", "1900", "2000", "2024", "2026", "2100",
                                  "9996", "9999"])
def test_the_date_format_accepts_exactly_the_days_that_exist(year):
    pattern = schema.pattern(userfiles.DATE["pattern"])
    for month in range(0, 14):
        for day in range(0, 33):
            text = f"{year}-{month:02d}-{day:02d}"
            expected = _real_date(text)
            assert (re.fullmatch(userfiles.DATE["pattern"], text) is not None) == expected, text
            assert (re.search(pattern, text) is not None) == expected, text


@pytest.mark.parametrize("node, value", [
    (userfiles.EVENTBUS_NAME, "default\n"),
    (userfiles.LABEL_VALUE, "team\n"),
    (userfiles.DATE, "2026-01-31\n"),
    (userfiles.NON_BLANK, "\n"),
])
def test_a_trailing_newline_is_rejected_by_both(node, value):
    assert validate(value, node) != []
    assert re.search(schema.pattern(node["pattern"]), value) is None


@pytest.mark.parametrize("key, ok", [
    ("app.kubernetes.io/name", True), ("team", True), ("a" * 253 + "/b", True), ("a" * 254 + "/b", False),
    ("example.com/" + "n" * 63, True), ("example.com/" + "n" * 64, False), ("Example.com/x", False),
    ("/x", False), ("x/", False), ("a/b/c", False), ("-x", False), ("x_", False), ("x.y_z", True),
])
def test_label_keys_follow_the_kubernetes_rule(key, ok):
    assert (validate(key, userfiles.LABEL_KEY) == []) == ok
    assert (re.search(schema.pattern(userfiles.LABEL_KEY["pattern"]), key) is not None) == ok



# -- the renderer: it checks every file with the same source -----------------------------------

_PROFILE_APP = "backend: jetstream\nprofile: custom\nvalues: {kafka: {sasl: {userSecret: {key: user}}}}\n"


def renderer_accepts(root: Path, kind: str, text: str) -> bool:
    """Whether the renderer renders an app holding ``text`` as its ``kind`` file (in every environment)."""
    from renderer.errors import GuardError, InputError
    from renderer.pipeline import RenderRequest, render

    files = {"app": {"eventbus-render.yaml": text},
             "profile": {"eventbus-render.yaml": _PROFILE_APP, "profiles/custom.yaml": text},
             "overlay": {"eventbus-render.yaml": "backend: jetstream\noverlays: [custom]\n",
                         "overlays/custom.yaml": text}}[kind]
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(content)
    environments = load(text).get("environments") if kind == "app" else None
    # an app file with environments renders only a chosen one (see tests/test_environment_choice.py)
    for environment in (environments if isinstance(environments, dict) and environments else [None]):
        try:
            render(RenderRequest(app_dir=root, environment=environment, today="2026-01-01"))
        except GuardError:
            pass  # the file was read: what it renders breaks a guard
        except InputError:
            return False
    return True


@pytest.mark.parametrize("kind, text, path", INVALID,
    ids=[f"{k}:{t.splitlines()[-1].strip()[:60]}" for k, t, _ in INVALID])
def test_the_renderer_rejects_each_invalid_document_too(tmp_path, kind, text, path):
    assert not renderer_accepts(tmp_path, kind, text)


@pytest.mark.parametrize("kind, text", VALID, ids=[text.splitlines()[-1][:60] for _, text in VALID])
def test_the_renderer_accepts_each_valid_document_too(tmp_path, kind, text):
    assert renderer_accepts(tmp_path, kind, text)
