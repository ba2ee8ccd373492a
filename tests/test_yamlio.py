"""Safe YAML loading: marks, limits, rejected constructs, and lines that end where PyYAML and go-yaml end them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from renderer.errors import InputError
from renderer.stages import yamlio

from .conftest import ROOT


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


def test_a_key_path_in_a_message_is_printed_in_the_one_path_form():
    text = error_of("labels:\n  app.kubernetes.io/name: a\n  app.kubernetes.io/name: b\n")
    assert 'f.yaml:3:3: labels["app.kubernetes.io/name"]: duplicate key' in text
    assert "f.yaml:3:5: items[1]: tag" in error_of("items:\n  - x\n  - !!binary aGVsbG8=\n")


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
    assert "nesting deeper than" in error_of("".join(" " * i + "- \n" for i in range(0, 200, 2)))


def test_nesting_deeper_than_the_composer_allows_is_an_error_not_a_crash():
    assert error_of("a: " + "[" * 5000 + "]" * 5000 + "\n").startswith("f.yaml:")


def test_a_recursive_alias_is_an_error():
    assert "recursive alias" in error_of("a: &a [*a]\n")


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


def test_an_empty_document_is_none():
    assert yamlio.load("", "f.yaml") == (None, {})
    assert yamlio.load("# only a comment\n", "f.yaml") == (None, {})


# -- lines end where PyYAML and go-yaml end them ----------------------------------------------------
#
# libyaml, PyYAML's scanner and go-yaml (yamlprivateh.go, is_break, lines 102-108 at commit 01df36a0 of
# go-yaml/yaml, the reader Argo CD and the Argo Events controller use) all end a line at NEL (U+0085),
# LS (U+2028) and PS (U+2029) as well as at LF and CR. An editor may show such a line as one line, a
# comment and all: what follows the comment is still a key for Argo CD, and so it is for the renderer.

BREAKS = {"NEL": "\x85", "LS": "\u2028", "PS": "\u2029"}
AFTER_A_COMMENT = {
    "a key of the top mapping": ("replicas: 3 # note{b}paused: true\n", {"replicas": 3, "paused": True},
                                 ("paused",), (2, 1)),
    "a key of a nested mapping": ("jetstream:\n  replicas: 3 # note{b}  version: latest\n",
                                  {"jetstream": {"replicas": 3, "version": "latest"}}, ("jetstream", "version"),
                                  (3, 3)),
    "an item of a list": ("args:\n  - --debug # note{b}  - --trace\n", {"args": ["--debug", "--trace"]},
                          ("args", 1), (3, 5)),
    "a key after a quoted value": ('name: "bus" # note{b}namespace: prod\n', {"name": "bus", "namespace": "prod"},
                                   ("namespace",), (2, 1)),
    "a key after a comment line": ("# header{b}backend: kafka\n", {"backend": "kafka"}, ("backend",), (2, 1)),
    "a key after a value without a comment": ("replicas: 3{b}paused: true\n", {"replicas": 3, "paused": True},
                                              ("paused",), (2, 1)),
}


@pytest.mark.parametrize("brk", BREAKS.values(), ids=BREAKS.keys())
@pytest.mark.parametrize("case", AFTER_A_COMMENT.values(), ids=AFTER_A_COMMENT.keys())
def test_nel_ls_and_ps_end_a_line_as_they_do_for_pyyaml_and_go_yaml(case, brk):
    template, expected, path, mark = case
    text = template.format(b=brk)
    value, marks = yamlio.load(text, "f.yaml")
    assert value == expected
    assert marks[path] == mark
    assert yaml.load(text, Loader=yaml.SafeLoader) == expected  # the pure-Python reader reads it so too
    assert yaml.load(text, Loader=yaml.CSafeLoader) == expected  # and libyaml, which go-yaml ports


@pytest.mark.parametrize("brk", BREAKS.values(), ids=BREAKS.keys())
def test_a_key_hidden_after_a_comment_is_seen_and_so_a_second_one_is_a_duplicate(brk):
    text = error_of(f"jetstream:\n  replicas: 3 # was 5{brk}  replicas: 5\n")
    assert "f.yaml:3:3: jetstream.replicas: duplicate key 'replicas' (first set on line 2)" in text


# -- the 50,000-values limit holds for every file, plain block YAML too -----------------------------

def _flat_map(values: int) -> str:  # the mapping itself is a value: n keys are n + 1 values
    return "".join(f"k{i}: {i}\n" for i in range(values - 1))


def _list(values: int) -> str:
    return "items:\n" + "".join(f"  - {i}\n" for i in range(values - 2))


def _nested(values: int) -> str:  # groups of a mapping and ten keys: 11 values each
    groups, rest = divmod(values - 1, 11)
    text = "".join(f"g{g}:\n" + "".join(f"  k{k}: v\n" for k in range(10)) for g in range(groups))
    return text + "".join(f"r{r}: v\n" for r in range(rest))


def _aliases(values: int) -> str:  # block YAML only; each use of the alias expands to 1 + 99 values
    uses, rest = divmod(values - 1 - 100, 100)
    text = "base: &base\n" + "".join(f"  k{k}: v\n" for k in range(99)) + "".join(f"u{u}: *base\n" for u in range(uses))
    return text + "".join(f"r{r}: v\n" for r in range(rest))


SHAPES = {"a long flat mapping": _flat_map, "a long list": _list, "nested mappings": _nested,
          "aliases in block style": _aliases}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_plain_block_file_of_exactly_50000_values_is_read(shape):
    text = shape(yamlio.MAX_NODES)
    assert len(text.encode()) <= yamlio.MAX_BYTES
    value, _ = yamlio.load(text, "f.yaml")
    assert _count(value) == yamlio.MAX_NODES


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_plain_block_file_of_50001_values_is_refused(shape):
    text = shape(yamlio.MAX_NODES + 1)
    assert len(text.encode()) <= yamlio.MAX_BYTES
    message = error_of(text)
    assert "expands to more than 50000 values" in message
    assert message.startswith("f.yaml:")


def _count(value) -> int:
    if isinstance(value, dict):
        return 1 + sum(_count(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_count(v) for v in value)
    return 1


# -- one reader, with the C composer where PyYAML has it ------------------------------------------

def test_the_c_composer_reads_every_file_when_pyyaml_has_it():
    assert yaml.__with_libyaml__
    assert yamlio._pyyaml()[1] is yaml.CSafeLoader


FALLBACK_CASES = [
    "a:\n  b: 1\n  c: [x, {d: 2}]\nlabels:\n  app.kubernetes.io/name: n\n",
    "a: 1 # note\u2028b: 2\n",
    "a: 1\nb: 2\na: 3\n",
    "a: [1\nb: 2\n",
    "a: !!binary aGVsbG8=\n",
    "a: " + "[" * 100 + "]" * 100 + "\n",
    "a: 1\n---\nb: 2\n",
    "a: " + "[" * 5000 + "]" * 5000 + "\n",  # libyaml stops at 1,000 levels, the pure composer recurses
]


def _outcomes() -> list:
    out = []
    for text in FALLBACK_CASES:
        try:
            value, marks = yamlio.load(text, "f.yaml")
            out.append(["ok", value, sorted([list(k), list(v)] for k, v in marks.items())])
        except InputError as exc:
            # where and what kind of problem; libyaml and PyYAML word a syntax error each their own way
            kind = exc.message.split(":")[0]
            out.append(["error", exc.location.file] if text.count("[") > 1000 else ["error", str(exc.location), kind])
    return out


def test_without_libyaml_the_pure_python_composer_reads_the_same_values_marks_and_errors():
    # a fresh interpreter in which PyYAML's C extension cannot be imported, as where it was built without it
    script = (
        "import json, sys\n"
        "sys.modules['yaml._yaml'] = None\n"
        "import yaml\n"
        "assert not yaml.__with_libyaml__\n"
        "from tests import test_yamlio as t\n"
        "from renderer.stages import yamlio\n"
        "assert yamlio._pyyaml()[1] is yaml.SafeLoader\n"
        "print(json.dumps(t._outcomes()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == json.loads(json.dumps(_outcomes()))
