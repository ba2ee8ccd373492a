"""Explicit tags on text they cannot hold and integers no manifest can carry: one message at file:line:col.

PyYAML's constructors raise ``KeyError`` (``!!bool maybe``), ``IndexError``
(``!!int ''``) or ``ValueError`` on such text, and an integer written in hex,
octal or binary has no digit limit, so formatting it in a message raised
``ValueError`` later. Every one of them is an input error located at the
value, in a file, a ``--set`` and an Argo CD value alike.
"""

from __future__ import annotations

import pytest

from renderer.errors import InputError
from renderer.stages import yamlio

IMPOSSIBLE = [
    ("!!bool maybe", "bool"), ("!!bool ''", "bool"), ("!!bool 1", "bool"),
    ("!!int ''", "int"), ("!!int '-'", "int"), ("!!int '+'", "int"), ("!!int _", "int"), ("!!int 0x", "int"),
    ("!!int 0b", "int"), ("!!int 0o", "int"), ("!!int '1::2'", "int"), ("!!int ':'", "int"), ("!!int x", "int"),
    ("!!int 0x_", "int"), ("!!int 1.5", "int"),
    ("!!float ''", "float"), ("!!float .", "float"), ("!!float '-.'", "float"), ("!!float _", "float"),
    ("!!float '1:'", "float"), ("!!float x", "float"),
    ("!!null x", "null"), ("!!null 0", "null"),
]


@pytest.mark.parametrize("text, tag", IMPOSSIBLE)
def test_an_explicit_tag_on_text_it_cannot_hold_is_located(text, tag):
    with pytest.raises(InputError) as info:
        yamlio.load(f"values:\n  labels:\n    a: {text}\n", "f.yaml")
    message = info.value.render()
    assert message.startswith('f.yaml:3:8: values.labels.a: ') and f"cannot be read as !!{tag}" in message


@pytest.mark.parametrize("text, value", [("!!bool yes", True), ("!!int '0x1F'", 31), ("!!float 1", 1.0),
                                         ("!!null ''", None), ("!!null ~", None), ("!!int '1_000'", 1000),
                                         ("!!float '1.5'", 1.5), ("!!str 12", "12")])
def test_explicit_tags_on_text_they_hold_still_read(text, value):
    assert yamlio.load(f"a: {text}\n", "f.yaml")[0] == {"a": value}


LARGE = {
    "hex": "0x" + "f" * 5000,
    "octal": "0" + "7" * 6000,
    "binary": "0b" + "1" * 20000,
    "decimal": "9" * 5000,
    "hex, explicit": "!!int 0x" + "f" * 5000,
    "just past 64 bits": str(2 ** 64),
    "negative": "-0x" + "f" * 17,
    "sexagesimal": "1:" + "59:" * 60 + "1",
}


@pytest.mark.parametrize("case", sorted(LARGE))
def test_an_integer_beyond_64_bits_is_refused_at_its_line(case):
    with pytest.raises(InputError) as info:
        yamlio.load(f"a:\n  b: {LARGE[case]}\n", "f.yaml")
    message = info.value.render()
    assert message.startswith("f.yaml:2:6: a.b: ") and "integer out of range" in message, message
    assert len(message) < 400  # the digits are not all printed


def test_the_largest_64_bit_integers_are_read():
    assert yamlio.load(f"a: {2 ** 64 - 1}\nb: -{2 ** 63}\nc: 0x{'f' * 16}\n", "f.yaml")[0] == {
        "a": 2 ** 64 - 1, "b": -(2 ** 63), "c": 2 ** 64 - 1}


WHERE = {
    "a file": lambda app, text: (app / "eventbus-render.yaml").write_text(
        f"backend: jetstream\nvalues:\n  jetstream:\n    replicas: {text}\n") and ("render", "--app", app),
    "--set": lambda app, text: ("render", "--app", app, "--set", f"jetstream.replicas={text}"),
}


@pytest.mark.parametrize("text", ["!!bool maybe", "!!int ''", "!!float ''", "0x" + "f" * 5000, "0b" + "1" * 15000])
@pytest.mark.parametrize("where", sorted(WHERE))
def test_the_command_line_reports_them_as_input_errors(make_app, cli, where, text):
    app = make_app("backend: jetstream\n")
    result = cli(*WHERE[where](app, text))
    assert result.code == 2 and result.out == "", result.err
    assert "Traceback" not in result.err and ("cannot be read as" in result.err or "out of range" in result.err)
    assert len(result.err) < 1000
    if where == "a file":
        assert "eventbus-render.yaml:4:15: values.jetstream.replicas" in result.err


def test_an_argocd_value_reports_them_as_input_errors(tmp_path):
    from renderer.argocd.plugin import run_command
    from tests.conftest import write_app

    app = write_app(tmp_path / "app", "backend: jetstream\n")
    for text in ("!!bool maybe", "0x" + "f" * 5000):
        code, out, err = run_command("generate", app, {"ARGOCD_ENV_VALUES": f"jetstream.replicas={text}"})
        assert (code, out) == (2, ""), err
        assert "ARGOCD_ENV_VALUES line 1" in err and "Traceback" not in err
