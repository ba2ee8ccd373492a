"""Templates from a repository cannot escape the sandbox or exhaust the machine."""

from __future__ import annotations

import pytest

HEADER = "apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata:\n  name: default\n  namespace: x\nspec:\n"


def render_with_template(make_app, cli, body: str, extra: dict | None = None):
    files = {"templates/jetstream.yaml.j2": body}
    files.update(extra or {})
    app = make_app("backend: jetstream\n", files=files)
    return cli("render", "--app", app)


@pytest.mark.parametrize("expression", [
    "''.__class__.__mro__",
    "''.__class__.__mro__[1].__subclasses__()",
    "cycler.__init__.__globals__",
    "joiner.__init__.__globals__",
    "self._TemplateReference__context",
    "lipsum.__globals__",
    "namespace.__init__.__globals__",
    "range.__self__",
    "values.__class__.__init__.__globals__",
    "config",
    "request",
    "environ",
])
def test_python_internals_are_out_of_reach(make_app, cli, expression):
    result = render_with_template(make_app, cli, HEADER + "  x: {{ " + expression + " }}\n")
    assert result.code == 2 and result.out == ""
    assert "templates/jetstream.yaml.j2:7" in result.err
    assert "Traceback" not in result.err


def test_a_template_cannot_mutate_the_values_it_is_given(make_app, cli):
    result = render_with_template(make_app, cli, "{% set _ = values.update({'x': 1}) %}" + HEADER)
    assert result.code == 2 and "unsafe operation" in result.err


@pytest.mark.parametrize("target", ["../eventbus-render.yaml", "/etc/passwd", "../../../../etc/passwd",
                                    "../../outside.j2"])
def test_include_reaches_only_template_folders(make_app, cli, target):
    result = render_with_template(make_app, cli, HEADER + "{% include '" + target + "' %}\n")
    assert result.code == 2 and result.out == ""
    assert "not found" in result.err


def test_include_through_a_symlink_leaving_the_folder_is_refused(make_app, cli, tmp_path):
    secret = tmp_path / "secret.j2"
    secret.write_text("password: hunter2\n")
    app = make_app("backend: jetstream\n", files={"templates/jetstream.yaml.j2": HEADER + "{% include 'x.j2' %}\n"})
    (app / "templates" / "x.j2").symlink_to(secret)
    result = cli("render", "--app", app)
    assert result.code == 2 and "hunter2" not in result.out + result.err


def test_include_of_a_sibling_template_in_the_app_folder_works(make_app, cli):
    result = render_with_template(make_app, cli, HEADER.replace("spec:\n", "{% include 'spec.j2' %}\n"),
                                  {"templates/spec.j2": "spec:\n  jetstream: {version: '2.10.29'}\n"})
    assert result.code == 0, result.err
    assert "version: \"2.10.29\"" in result.out


@pytest.mark.parametrize("expression", ["'x' * 10000000000", "[0] * 100000000", "2 ** 100000",
                                        "range(100000000) | list"])
def test_expressions_that_would_build_huge_values_are_stopped(make_app, cli, expression):
    result = render_with_template(make_app, cli, HEADER + "  x: {{ " + expression + " }}\n")
    assert result.code == 2 and result.out == ""


def test_a_loop_bomb_is_stopped_by_the_time_limit(make_app, cli, monkeypatch):
    from renderer.stages import template

    monkeypatch.setattr(template, "TIME_LIMIT_SECONDS", 0.5)
    body = HEADER + "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    result = render_with_template(make_app, cli, body)
    assert result.code == 2 and "was stopped" in result.err


def test_a_value_cannot_inject_a_document_or_a_key(make_app, cli):
    app = make_app("""\
        backend: jetstream
        values:
          annotations:
            note: "x\\n---\\napiVersion: v1\\nkind: Secret"
            other: "y\\nspec: {evil: true}"
    """)
    result = cli("render", "--app", app)
    assert result.code == 0, result.err
    import yaml

    docs = list(yaml.safe_load_all(result.out))
    assert len(docs) == 1
    assert docs[0]["metadata"]["annotations"]["note"] == "x\n---\napiVersion: v1\nkind: Secret"
    assert "evil" not in str(docs[0]["spec"])
