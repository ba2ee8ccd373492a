"""The fast block-YAML reader reads every document it accepts exactly as PyYAML does.

Each test compares :func:`renderer.stages.yamlfast.parse` with
:func:`renderer.stages.yamlio.load_composed` (PyYAML's composer and our builder):
for any text, the fast reader either declines (``None``) or returns the same
values and the same marks, and it never accepts what PyYAML rejects. The
inputs are every YAML file of the project (and upstream's examples when
``../shared`` is there), documents PyYAML itself writes from random values,
and random mutations of those. EVENTBUS_RENDER_HYPOTHESIS_EXAMPLES raises the
example count.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renderer.errors import InputError
from renderer.stages import yamlfast, yamlio

from .conftest import ROOT, SHARED_UPSTREAM

EXAMPLES = int(os.environ.get("EVENTBUS_RENDER_HYPOTHESIS_EXAMPLES", "60"))


def reference(text: str):
    try:
        return yamlio.load_composed(text, "doc.yaml")
    except InputError as exc:
        return exc


def assert_same(text: str) -> bool:
    """Whether the fast reader accepted ``text``; fails when it read it differently from PyYAML."""
    fast = yamlfast.parse(text)
    if fast is None:
        return False
    expected = reference(text)
    assert not isinstance(expected, InputError), f"accepted what PyYAML rejects ({expected}):\n{text}"
    value, marks = fast
    assert value == expected[0], text
    assert [type(v) for v in _leaves(value)] == [type(v) for v in _leaves(expected[0])], text
    assert marks == expected[1], text
    return True


def _leaves(value):
    if isinstance(value, dict):
        for key, sub in value.items():
            yield key
            yield from _leaves(sub)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def project_yaml_files() -> list[Path]:
    roots = [ROOT / "profiles", ROOT / "overlays", ROOT / "renderer", ROOT / "examples", ROOT / "tests",
             ROOT / "deploy", ROOT / "benchmarks" / "fixtures"]
    if SHARED_UPSTREAM.is_dir():
        roots.append(SHARED_UPSTREAM)
    files = []
    for root in roots:
        files.extend(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return sorted(files)


def test_every_yaml_file_of_the_project_reads_the_same():
    files = project_yaml_files()
    accepted = sum(assert_same(path.read_text(encoding="utf-8")) for path in files)
    assert len(files) > 40 and accepted > 25, (accepted, len(files))


def test_app_files_overlays_and_defaults_take_the_fast_path():
    # the files read once per app (and the defaults) are what a repository holds hundreds of
    files = [p for p in project_yaml_files()
             if p.name == "eventbus-render.yaml" or p.parent.name in ("overlays", "defaults")]
    assert len(files) > 10
    for path in files:
        assert yamlfast.parse(path.read_text(encoding="utf-8")) is not None, path


@pytest.mark.parametrize("text", [
    "a: yes\nb: on\nc: 0755\nd: 1e3\ne: 2.10\nf: ~\ng: 2026-12-31\nh: 0x1F\ni: 1:20\nj: .inf\nk: -1\nl: +2\n",
    "a:\n- x\n- y: 1\n  z: 2\nb: 3\n",
    "a:\n  - - nested\n",
    "a:\n  -\n    b: 1\n",
    "key: 'it''s'\nother: \"a # b\" # comment\n",
    "a: b # c: d\n",
    "a: b: c\n",
    "a: 1\n  b: 2\n",
    "a:\n    b: 1\n  c: 2\n",
    "a: 1\na: 2\n",
    "? a\n: b\n",
    "yes: 1\n",
    "<<: {a: 1}\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a: |\n  text\n",
    "a: \"x\\ny\"\n",
    "---\na: 1\n",
    "a: 1\n---\nb: 2\n",
    "a:\tb\n",
    "a: [1, 2]\nb: {c: d}\nc: []\nd: {}\n",
    "a: plain\n  continued\n",
    "  a: 1\n  b: 2\n",
    "a:\n- 1\n b: 2\n",
    "\"quoted key\": 1\n'single': 2\n",
    "a: =\n",
    "a: -\n",
    "a: @x\n",
    "- 1\n- 2\n",
    "just a scalar\n",
    "",
    "# only a comment\n",
    "a: \u00e9t\u00e9\nb: \u2603\n",
    "a: \x07\n",
    "\ufeffa: 1\n",
    "a: 'unterminated\n",
    "a: x#y\nb: x #y\n",
    "a:\n\n  b: 1\n\n  # c\n  d: 2\n",
    "a:   spaced   \nb:\n",
    "a: \"x\"y\n",
    "a: 'x' y\n",
    "\"a\":1\n",
    "a: null\nb: Null\nc: NULL\nd: ~\ne:\n",
    "a: True\nb: FALSE\nc: off\nd: Y\ne: n\n",
    "a: 1_000\nb: 0b101\nc: 0o17\nd: 190:20:30\ne: -.5\nf: 1.5e+3\ng: 190:20:30.15\nh: 0b_\ni: -0\n",
    # literal block scalars
    "a: |\n  line1\n  line2\nb: 1\n",
    "a: |-\n  x\n\n  y\n\n\nb: 2\n",
    "a: |\n    deeper\n  less\n",
    "a: |\nb: 1\n",
    "a: |+\n  x\n\n",
    "a: |2\n  x\n",
    "a: | # comment\n  x\n",
    "a: |\n  x",
    "a: |\n  # not a comment\n  key: value\n     indented more\n",
    "a:\n  b: |\n    x\n  c: 1\n",
    "a: |\n  x\n   \n  y\n",
    "a: >\n  folded\n",
    "a: |x\n  y\n",
    # one-line flow collections
    "a: {x: 1, y: two, z: 2026-01-01}\n",
    "a: [1, b, yes, ~, -2.5]\n",
    "a: {x: 1,}\n",
    "a: {x: {y: 1}}\n",
    "a: [a, [b]]\n",
    "a: {x: 'q'}\n",
    "a: {x}\n",
    "a: {x: }\n",
    "a: [a, b] # c\n",
    "a: [a, b]x\n",
    "a: {x: 1, x: 2}\n",
    "a:\n- {k: v, n: 3}\n- [1, 2]\n",
    "a: {x:1}\n",
    "a: [ a ,  b ]\n",
    "a: {on: 1}\n",
    "a: [a:b]\n",
    "a: {level: error, min: 3, odd: true}\nb:\n  c: [x]\n",
])
def test_tricky_documents_read_the_same_or_are_declined(text):
    assert_same(text)


SCALARS = st.one_of(
    st.sampled_from(["yes", "no", "on", "off", "true", "null", "~", "", "1e3", "0755", "2.10", "0x1F", "1:20",
                     ".inf", "-1", "+2", "=", "<<", "a: b", "a #b", "#x", "- x", "x:y", ":", "@x", "`x",
                     "2026-12-31", "1_000", "it's", 'say "hi"', "a\\b", "tab\there", "line\nbreak", "é", "[x]",
                     "{x}", "&a", "*a", "!t", "|", ">", "%x", "?", "-", "x-", "a,b", "end:", " lead", "trail "]),
    st.text(alphabet="ab:-# '\"\\.,0123456789xyz", max_size=8),
    st.integers(-10**6, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
)
KEYS = st.one_of(st.sampled_from(["a", "b", "key", "app.kubernetes.io/name", "x-y", "on", "1", "a b", "a:b",
                                  "#k", "-k", "k'", "é"]),
                 st.text(alphabet="abk:-#. '\"", min_size=1, max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)
DOCUMENTS = st.dictionaries(KEYS, VALUES, min_size=1, max_size=5)


def dump(value, style: dict) -> str:
    return yaml.safe_dump(value, allow_unicode=True, width=10**6, **style)


STYLES = st.fixed_dictionaries({"indent": st.sampled_from([2, 3, 4]), "sort_keys": st.booleans(),
                                "default_style": st.sampled_from([None, None, None, "'", '"', "|"]),
                                "default_flow_style": st.sampled_from([False, False, None])})


@settings(max_examples=EXAMPLES * 3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS, STYLES)
def test_documents_pyyaml_writes_read_the_same(value, style):
    text = dump(value, style)
    accepted = assert_same(text)
    if accepted:
        assert yamlfast.parse(text)[0] == value


@settings(max_examples=EXAMPLES * 5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS, STYLES, st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 3),
                                             st.sampled_from(list(" :-#'\"\n\\[]{}&*!|>x1\t?,%@"))),
                                   min_size=1, max_size=4))
def test_mutated_documents_read_the_same_or_are_declined(value, style, edits):
    text = dump(value, style)
    for position, action, char in edits:
        position %= len(text) + 1
        if action == 0:
            text = text[:position] + char + text[position:]
        elif action == 1:
            text = text[:position] + text[position + 1:]
        elif action == 2:
            text = text[:position] + char + text[position + 1:]
        else:
            text = text[:position] + "  " + text[position:]
    assert_same(text)
