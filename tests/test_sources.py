"""Loading app files, profiles and overlays: what a caller gets is its own, and caches live as long as a run."""

from __future__ import annotations

import dataclasses

import pytest

from renderer import context
from renderer.errors import InputError
from renderer.stages import sources, yamlio
from renderer.stages.tree import builtin_dir

APP = """\
backend: jetstream
profile: team
overlays: [region]
values:
  labels:
    team: orders
  jetstream:
    tolerations:
      - key: dedicated
        value: events
waivers:
  - rule: replica-count
    path: spec.jetstream.replicas
    value: 5
    reason: a test
    owner: team-orders
    expires: 2030-01-01
environments:
  prod:
    profile: prod
    overlays: [ha]
    values:
      jetstream:
        replicas: 5
"""
FILES = {
    "profiles/team.yaml": """\
        extends: staging
        values:
          jetstream:
            startArgs: ["--debug"]
        guards:
          replica-count: {level: error, min: 3}
        merge:
          jetstream.startArgs: append
    """,
    "overlays/region.yaml": """\
        values:
          jetstream:
            nodeSelector:
              topology.kubernetes.io/region: eu-west1
    """,
}


def mutate(value) -> None:
    """Change every mapping and list inside ``value``, at every level."""
    if isinstance(value, dict):
        for key in list(value):
            mutate(value[key])
            if not isinstance(value[key], (dict, list)):
                value[key] = "changed"
        value["added"] = {"by": "a caller"}
    elif isinstance(value, list):
        for item in value:
            mutate(item)
        value.append("added")


def mutate_record(record) -> None:
    """Change everything a loaded record holds: its mutable fields and its document's data and marks."""
    for field in dataclasses.fields(record):
        held = getattr(record, field.name)
        if isinstance(held, (dict, list)):
            mutate(held)
    mutate(record.doc.data)
    record.doc.marks.clear()


def snapshot_of(record) -> tuple:
    """Everything a record says, as plain data (to compare a load before and after a caller changed one)."""
    shown = {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name != "doc"}
    return repr(shown), repr(record.doc.data), repr(sorted(record.doc.marks.items()))


def load_all(app_dir) -> list:
    app = sources.load_app(app_dir)
    return [app, *sources.load_profile_chain(app.profile, app.root, referrer=app.doc),
            *sources.load_profile_chain("prod", app.root), *(sources.load_overlay(name, app.root)
                                                           for name in ("region", "ha"))]


@pytest.fixture
def app_dir(make_app):
    return make_app(APP, FILES)


@pytest.mark.parametrize("where", ["outside a run", "in one run", "in a snapshot"])
def test_everything_a_load_returns_is_the_callers_own(app_dir, where):
    scope = {"outside a run": None, "in one run": context.run, "in a snapshot": sources.snapshot}[where]
    with scope() if scope else _nothing():
        first = load_all(app_dir)
        expected = [snapshot_of(record) for record in first]
        assert [r.name for r in first[1:]] == ["staging", "team", "prod", "region", "ha"]
        for record in first:
            mutate_record(record)
        assert [snapshot_of(record) for record in load_all(app_dir)] == expected
    with context.run():  # and in a new run
        assert [snapshot_of(record) for record in load_all(app_dir)] == expected


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_built_in_document_is_parsed_once_per_process_and_copied_out_to_each_caller():
    path = builtin_dir("profiles") / "prod.yaml"
    first = sources.load_document(path, "builtin:profiles/prod.yaml")
    mutate(first.data)
    first.marks.clear()
    second = sources.load_document(path, "builtin:profiles/prod.yaml")
    assert second.data["values"]["jetstream"]["replicas"] == 3
    assert "added" not in second.data and second.marks[("values",)] == (2, 1)
    assert second.key == first.key


def test_the_same_name_and_bytes_are_one_parsed_document_in_a_run_and_each_caller_gets_a_copy(make_app):
    roots = [make_app(APP, FILES, name=f"app{n}") for n in range(2)]
    with context.run():
        one, two = (sources.load_overlay("region", root) for root in roots)
        assert one.doc.key == two.doc.key and one.doc.path != two.doc.path
        assert one.values == two.values and one.values is not two.values
        parsed = [key for key in context.cache("sources.parsed") if key[0] == "overlays/region.yaml"]
        assert parsed == [one.doc.key]


def test_outside_a_snapshot_an_edited_file_is_read_again_even_within_a_run(app_dir):
    with context.run():
        assert sources.load_overlay("region", app_dir).values["jetstream"]["nodeSelector"] == {
            "topology.kubernetes.io/region": "eu-west1"}
        (app_dir / "overlays" / "region.yaml").write_text("values: {}\n")
        assert sources.load_overlay("region", app_dir).values == {}


def test_a_snapshot_reads_each_file_once_and_forgets_it_when_it_ends(app_dir):
    with sources.snapshot():
        assert sources.load_app(app_dir).backend == "jetstream"
        (app_dir / "eventbus-render.yaml").write_text(APP.replace("jetstream", "kafka", 1))
        assert sources.load_app(app_dir).backend == "jetstream"  # the tree as it was when the block started
    assert sources.load_app(app_dir).backend == "kafka"
    with context.run():
        assert context.cache("sources") == {} and context.cache("sources.parsed") == {}


def test_a_nested_snapshot_joins_the_outer_one(app_dir):
    with sources.snapshot():
        sources.load_app(app_dir)
        with sources.snapshot():
            (app_dir / "eventbus-render.yaml").write_text(APP.replace("jetstream", "kafka", 1))
            assert sources.load_app(app_dir).backend == "jetstream"
        assert sources.load_app(app_dir).backend == "jetstream"  # the inner block did not end the memory


def test_records_of_loaded_files_cannot_be_reassigned(app_dir):
    app = sources.load_app(app_dir)
    with pytest.raises(dataclasses.FrozenInstanceError):
        app.backend = "kafka"
    with pytest.raises(dataclasses.FrozenInstanceError):
        app.doc.data = {}
    assert dataclasses.replace(app, backend="kafka").backend == "kafka"


def test_the_names_other_modules_use_are_importable_from_sources():
    for name in sources.__all__:
        assert getattr(sources, name) is not None, name


def test_a_document_holds_what_the_reader_read_with_types_and_key_order(tmp_path):
    text = "b: yes\na: 1\nc: [1.5, ~, 'x', 0755, {z: 1, y: [true, 2]}]\nd: 2026-12-31\ne: -0.0\nf: .inf\n"
    (tmp_path / "f.yaml").write_text(text)
    doc = sources.load_document(tmp_path / "f.yaml", "f.yaml")
    value, marks = yamlio.load(text, "f.yaml")
    assert repr(doc.data) == repr(value) and list(doc.data) == ["b", "a", "c", "d", "e", "f"]
    assert doc.marks == marks


def test_a_file_that_fails_its_check_fails_on_every_load_of_a_run(make_app):
    app_dir = make_app("backend: jetstream\nprofile: dev\nvalus: {}\n")
    with context.run():
        for _ in range(2):
            with pytest.raises(InputError, match="unknown key 'valus'"):
                sources.load_app(app_dir)
