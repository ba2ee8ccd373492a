"""Safe YAML loading: marks, limits, rejected constructs."""

from __future__ import annotations

import pytest

from renderer.errors import InputError
from renderer.stages import yamlio


def error_of(text: str) -> str:
    with pytest.raises(InputError) as info:
        yamlio.load(text, "f.yaml")
    return info.value.render()


def test_every_key_and_list_item_has_a_one_based_line_and_column():
    value, marks = yamlio.load("a:\n  b: 1\n  c:\n    - x\n    - y\n", "f.yaml")
    assert value == {"a": {"b": 1, "c": ["x", "y"]}}
    assert marks[("a",)] == (1, 1)
    assert marks[("a", "b")] == (2, 3)
    assert marks[("a", "c", 1)] == (5, 7)


def test_malformed_yaml_names_the_file_line_and_column():
    assert error_of("a: [1\nb: 2\n").startswith("f.yaml:2:")


def test_duplicate_keys_are_an_error_not_a_silent_overwrite():
    text = error_of("a: 1\nb: 2\na: 3\n")
    assert "f.yaml:3:1: a: duplicate key 'a' (first set on line 1)" in text


def test_non_string_keys_are_rejected_with_a_quoting_hint():
    assert "key 'yes' is not a string" in error_of("yes: 1\n")
    assert 'quote it: "1"' in error_of("1: a\n")


def test_tags_beyond_the_core_types_are_rejected_without_constructing_anything():
    assert "tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in error_of(
        "a: !!python/object/apply:os.system ['true']\n")
    assert "is not allowed" in error_of("a: !custom x\n")
    assert "is not allowed" in error_of("a: !!binary aGVsbG8=\n")


def test_merge_keys_are_rejected():
    assert "merge keys" in error_of("base: &b {x: 1}\nother:\n  <<: *b\n")


def test_alias_expansion_is_bounded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    assert "alias expansion limit" in error_of("\n".join(lines) + "\n")


def test_deep_nesting_is_bounded():
    assert "nesting deeper than" in error_of("a: " + "[" * 100 + "]" * 100 + "\n")


def test_input_size_is_bounded():
    with pytest.raises(InputError, match="limit is"):
        yamlio.load("a: " + "x" * (yamlio.MAX_BYTES + 1), "big.yaml")


def test_more_than_one_document_is_an_error():
    assert "more than one YAML document" in error_of("a: 1\n---\nb: 2\n")


def test_dates_stay_the_text_the_user_wrote():
    assert yamlio.load("expires: 2026-12-31\n", "f")[0] == {"expires": "2026-12-31"}


def test_yaml_1_1_scalars_keep_their_yaml_types_when_unquoted_and_strings_when_quoted():
    value, _ = yamlio.load('a: yes\nb: "yes"\nc: 0755\nd: "0755"\ne: 2.10\nf: "2.10"\n', "f")
    assert value == {"a": True, "b": "yes", "c": 493, "d": "0755", "e": 2.1, "f": "2.10"}


def test_invalid_utf8_is_an_error():
    with pytest.raises(InputError, match="not UTF-8"):
        yamlio.load(b"a: \xff\n", "f.yaml")


def test_format_path_escapes_dots_inside_keys():
    assert yamlio.format_path(("labels", "app.kubernetes.io/name")) == "labels.app\\.kubernetes\\.io/name"
    assert yamlio.format_path(("jetstream", "tolerations", 0, "key")) == "jetstream.tolerations[0].key"
