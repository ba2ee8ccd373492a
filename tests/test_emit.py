"""The emitter writes YAML that PyYAML and go-yaml (YAML 1.1) read back exactly."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.stages import emit, writer

TRICKY = ["2.10", "yes", "Yes", "y", "Y", "n", "N", "on", "off", "0755", "012", "1e3", "1E3", "null", "~", "Null",
          "true", "False", "0x1F", "1_000", "1:20", ".inf", "-.inf", ".nan", "", " ", "-", "- a", "? x", "a: b",
          "a #b", "#c", "@x", "`x", "!tag", "&a", "*a", "%x", "'q'", '"d"', "{a}", "[a]", "a,b", "<<", "=",
          "foo:", "line\nbreak", "a\n---\nb: 1\n", "trailing\n", "tab\tin", "é", "\u2028", "\x85", "\x7f",
          "\ufeffbom", "emoji \U0001F600", "back\\slash"]
# what go-yaml v2 (and so Argo CD) resolves a plain scalar to, besides strings
YAML11_NON_STRING = re.compile(
    r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|~|null|Null|NULL|"
    r"[-+]?(0b[01_]+|0[0-7_]+|(0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(:[0-5]?[0-9])+)|"
    r"[-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*([eE][-+]?[0-9]+)|"
    r"[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|<<|=")


def plain_scalars(text: str) -> list:
    """Every unquoted, non-block scalar value in emitted YAML."""
    out = []
    for line in text.splitlines():
        match = re.match(r"\s*(?:- )*(?:[^\s\"][^:]*: |- )?(.*)$", line)
        value = match.group(1) if match else ""
        if value and value[0] not in "\"|[{" and not value.endswith(":"):
            out.append(value)
    return out


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_round_trip_through_pyyaml_as_strings(text):
    doc = {"spec": {"value": text, "list": [text]}}
    assert yaml.safe_load(emit.to_yaml(doc)) == doc


@pytest.mark.parametrize("text", [t for t in TRICKY if "\n" not in t])
def test_no_emitted_plain_scalar_is_a_non_string_in_yaml_1_1(text):
    for scalar in plain_scalars(emit.to_yaml({"value": text})):
        assert not YAML11_NON_STRING.fullmatch(scalar), scalar


def test_a_value_with_a_document_marker_cannot_add_a_document_or_a_key():
    doc = {"metadata": {"name": "x"}, "spec": {"settings": "a: 1\n---\nkind: Secret\n"}}
    text = emit.yaml_stream([doc])
    assert list(yaml.safe_load_all(text)) == [doc]


def test_numbers_booleans_and_null_keep_their_types():
    doc = {"a": 1, "b": 2.5, "c": True, "d": False, "e": None, "f": 1e20, "g": -0.0}
    assert yaml.safe_load(emit.to_yaml(doc)) == doc


def test_keys_are_sorted_with_the_conventional_top_keys_first():
    doc = {"spec": {"b": 1, "a": 2}, "metadata": {"labels": {}, "namespace": "ns", "name": "x"}, "kind": "EventBus",
           "apiVersion": "argoproj.io/v1alpha1"}
    assert emit.to_yaml(doc) == (
        "apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata:\n  name: x\n  namespace: ns\n  labels: {}\n"
        "spec:\n  a: 2\n  b: 1\n")


def test_multi_line_strings_use_literal_blocks_when_that_is_exact():
    text = emit.to_yaml({"streamConfig": "maxAge: 24h\nreplicas: 1\n"})
    assert text == "streamConfig: |\n  maxAge: 24h\n  replicas: 1\n"


def test_json_output_is_one_object_or_a_list():
    one = json.loads(emit.to_json([{"kind": "EventBus"}]))
    two = json.loads(emit.to_json([{"kind": "EventBus"}, {"kind": "EventBus"}]))
    assert one == {"kind": "EventBus"} and two["kind"] == "List" and len(two["items"]) == 2


def test_nan_cannot_be_emitted():
    from renderer.errors import InputError

    with pytest.raises(InputError):
        emit.to_yaml({"a": float("nan")})


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=30)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), values, max_size=5))
def test_any_value_round_trips_exactly(doc):
    assert yaml.safe_load(emit.to_yaml(doc) if doc else "{}") == doc


def test_write_tree_replaces_files_atomically_and_leaves_no_temporary_files(tmp_path):
    writer.write_tree(tmp_path / "out", {"ns/a.yaml": "one\n"})
    writer.write_tree(tmp_path / "out", {"ns/a.yaml": "two\n"})
    assert (tmp_path / "out/ns/a.yaml").read_text() == "two\n"
    assert sorted(p.name for p in (tmp_path / "out/ns").iterdir()) == ["a.yaml"]


def test_write_file_replaces_a_file_whole_and_leaves_nothing_beside_it(tmp_path):
    target = tmp_path / "a.yaml"
    writer.write_file(target, "one\n")
    writer.write_file(target, b"two\n")
    assert target.read_bytes() == b"two\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.yaml"]


def test_write_file_follows_the_umask_unless_given_a_mode(tmp_path):
    import os

    previous = os.umask(0o027)
    try:
        writer.write_file(tmp_path / "masked", "x")
        writer.write_file(tmp_path / "exact", "x", mode=0o644)
    finally:
        os.umask(previous)
    assert (tmp_path / "masked").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "exact").stat().st_mode & 0o777 == 0o644


def test_write_file_that_cannot_rename_leaves_the_target_and_no_temporary_file(tmp_path):
    (tmp_path / "taken" / "inside").mkdir(parents=True)  # a folder in the way: the rename fails
    with pytest.raises(OSError):
        writer.write_file(tmp_path / "taken", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    assert (tmp_path / "taken" / "inside").is_dir()


def test_write_file_replaces_a_symlink_instead_of_writing_through_it(tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("keep\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.yaml").symlink_to(outside)
    writer.write_file(tmp_path / "out" / "a.yaml", "new\n")
    assert outside.read_text() == "keep\n"
    assert not (tmp_path / "out" / "a.yaml").is_symlink()
    assert (tmp_path / "out" / "a.yaml").read_text() == "new\n"


def test_what_the_writer_remembers_of_names_belongs_to_the_run():
    from renderer import context

    doc = {"metadata": {"name": "orders", "labels": {"team": "payments"}}}
    with context.run():
        first = emit.to_yaml(doc)
        assert context.cache("emit")  # the run remembers the written forms
        assert emit.to_yaml(doc) == first
    with context.run():
        assert context.cache("emit") == {}  # a new run starts from nothing
        assert emit.to_yaml(doc) == first
    assert emit.to_yaml(doc) == first  # and outside a run nothing is kept


def test_write_file_of_a_bare_name_writes_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert writer.write_file("a.yaml", "x\n") == "a.yaml"
    assert [p.name for p in tmp_path.iterdir()] == ["a.yaml"] and (tmp_path / "a.yaml").read_text() == "x\n"


def test_a_staged_write_is_in_place_empties_what_was_there_and_never_follows_a_link(tmp_path):
    # a file of a staging tree (render --all): no reader sees it before the tree is published whole
    target = tmp_path / "a.yaml"
    writer.write_file(target, "a longer first text\n", staged=True)
    writer.write_file(target, b"two\n", staged=True)  # two renders of one object: the run reports the conflict
    assert target.read_bytes() == b"two\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.yaml"]
    outside = tmp_path / "outside.yaml"
    outside.write_text("keep\n")
    (tmp_path / "b.yaml").symlink_to(outside)
    with pytest.raises(OSError):
        writer.write_file(tmp_path / "b.yaml", "new\n", staged=True)
    assert outside.read_text() == "keep\n"
