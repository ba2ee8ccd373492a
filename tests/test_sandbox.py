"""Templates from a repository cannot escape the sandbox or exhaust the machine; rendering writes no
rendered text to disk and needs no writable folder; the template stage uses public modules only."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# the identity a template must keep (renderer.stages.checks.check_identity_kept), in six lines
HEADER = ("apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata: {name: default, namespace: argo-events,\n"
          "  labels: {{ labels | yaml }},\n  annotations: {{ annotations | yaml }}}\nspec:\n")


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


@pytest.mark.parametrize("expression", [
    "'{0.__class__.__mro__}'.format(values)",
    "'{0.__init__.__globals__}'.format(namespace)",
    "'{x.__class__}'.format_map({'x': values})",
    "'{0[0].__class__}'.format([values])",
    "'{0.keys.__self__.__class__}'.format(values)",
])
def test_format_strings_cannot_reach_python_internals(make_app, cli, expression):
    result = render_with_template(make_app, cli, HEADER + "  x: {{ " + expression + " }}\n")
    assert result.code == 2 and result.out == ""
    assert "templates/jetstream.yaml.j2:7" in result.err and "Traceback" not in result.err
    assert "<class" not in result.err and "__globals__" not in result.err.replace(expression, "")


@pytest.mark.parametrize("statement", ["values.update({'x': 1})", "values.setdefault('x', 1)", "values.pop('backend')",
                                       "values.clear()", "[1].append(2)", "values.labels.update({'a': 'b'})"])
def test_a_template_cannot_mutate_the_values_it_is_given(make_app, cli, statement):
    result = render_with_template(make_app, cli, "{% set _ = " + statement + " %}" + HEADER)
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


def test_a_template_whose_output_passes_one_mebibyte_is_refused(make_app, cli):
    body = HEADER + "{% for i in range(20000) %}  # {{ 'x' * 100 }}\n{% endfor %}"
    result = render_with_template(make_app, cli, body)
    assert result.code == 2 and result.out == ""
    assert "templates/jetstream.yaml.j2: the template's output (or a block or macro of it) would pass 1,048,576 " \
           "characters" in result.err


def test_a_template_file_larger_than_256_kib_is_not_loaded(make_app, cli):
    result = render_with_template(make_app, cli, HEADER + "# " + "x" * (256 * 1024) + "\n")
    assert result.code == 2 and "larger than 262144 bytes" in result.err


def test_a_symlinked_template_leaving_the_folder_is_refused_even_as_the_backend_template(make_app, cli, tmp_path):
    outside = tmp_path / "outside.yaml.j2"
    outside.write_text(HEADER + "  jetstream: {version: latest}\n")
    app = make_app("backend: jetstream\n", files={"templates/README": "x"})
    (app / "templates" / "jetstream.yaml.j2").symlink_to(outside)
    result = cli("render", "--app", app)
    assert result.code == 2 and result.out == ""
    assert "is a symlink that leaves the app's templates folder" in result.err


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


def test_an_apps_own_template_changed_between_two_renders_in_one_process_is_read_again(make_app, cli):
    body = HEADER + "  jetstream: {version: '2.10.29', replicas: 3}\n"
    app = make_app("backend: jetstream\n", files={"templates/jetstream.yaml.j2": body})
    first = cli("render", "--app", app)
    (app / "templates" / "jetstream.yaml.j2").write_text(body.replace("replicas: 3", "replicas: 5"))
    second = cli("render", "--app", app)
    assert first.code == second.code == 0, first.err + second.err
    assert "replicas: 3" in first.out and "replicas: 5" in second.out


def test_an_apps_own_templates_get_an_environment_of_the_run_and_the_package_one_per_process(tmp_path):
    from renderer import context
    from renderer.stages import template

    own = tmp_path / "own"
    (own / "templates").mkdir(parents=True)
    with context.run():
        first = template.environment(own)
        assert template.environment(own) is first
        assert template.environment(None) is template.environment(tmp_path) is not first
    with context.run():
        assert template.environment(own) is not first
    assert template.environment(own) is not template.environment(own)  # outside a run nothing is kept


# --- no memo of rendered text, no writable folder needed ------------------------------------------------

APP_FILE = "backend: jetstream\nprofile: prod\nvalues:\n  labels:\n    team: payments\n"


def run_fresh(app: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    """``eventbus-render ARGS`` in a new process with exactly ``env`` (plus PATH and the worker off)."""
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "EVENTBUS_RENDER_WORKER": ""}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "renderer", *args], cwd=app, env=full, capture_output=True,
                          text=True, timeout=120)


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if not path.is_dir())


@pytest.fixture
def plain_app(tmp_path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "eventbus-render.yaml").write_text(APP_FILE)
    return app


@pytest.mark.parametrize("command", [("argocd", "generate"), ("render", "--app", ".")])
def test_rendering_works_when_no_cache_folder_can_be_made_and_writes_nothing(tmp_path, plain_app, command):
    home, temp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    expected = run_fresh(plain_app, {"HOME": str(home), "TMPDIR": str(temp), "XDG_CACHE_HOME": str(tmp_path / "c")},
                         *command)
    assert expected.returncode == 0, expected.stderr
    for path in (home, temp):
        for found in files_under(path):
            found.unlink()
    before = files_under(tmp_path)
    # a cache folder below a regular file cannot be created, whoever runs the render
    result = run_fresh(plain_app, {"HOME": str(home), "TMPDIR": str(temp), "XDG_CACHE_HOME": str(blocker / "cache")},
                       *command)
    assert (result.returncode, result.stdout, result.stderr) == (0, expected.stdout, expected.stderr)
    assert files_under(tmp_path) == before
    assert files_under(home) == files_under(temp) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes through read-only modes")
def test_rendering_works_with_read_only_home_and_cache_folders(tmp_path, plain_app):
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    cache.mkdir()
    home.chmod(0o555)
    cache.chmod(0o555)
    try:
        result = run_fresh(plain_app, {"HOME": str(home), "XDG_CACHE_HOME": str(cache)}, "argocd", "generate")
    finally:
        home.chmod(0o755)
        cache.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "team: payments" in result.stdout
    assert files_under(home) == files_under(cache) == []


def test_with_home_and_xdg_cache_home_unset_only_compiled_built_in_templates_are_kept(tmp_path, plain_app):
    temp = tmp_path / "tmp"
    temp.mkdir()
    for command in (("argocd", "generate"), ("render", "--app", "."), ("argocd", "generate")):
        result = run_fresh(plain_app, {"TMPDIR": str(temp)}, *command)
        assert result.returncode == 0, result.stderr
        assert "team: payments" in result.stdout
    kept = files_under(temp)
    uid = os.geteuid() if hasattr(os, "geteuid") else "user"
    assert kept and all(path.parent == temp / f"eventbus-render-{uid}" / "jinja2" and path.suffix == ".j2c"
                        for path in kept), kept
    # compiled template code only: no rendered text, no value of the app
    assert not any(b"payments" in path.read_bytes() for path in kept)
    assert not (temp / f"eventbus-render-{uid}" / "rendered").exists()
    assert files_under(plain_app) == [plain_app / "eventbus-render.yaml"]


# --- public modules only ---------------------------------------------------------------------------------

TEMPLATE_MODULES = sorted((ROOT / "renderer" / "stages").glob("template*.py"))


def test_the_template_stage_is_split_into_readable_modules():
    assert {path.name for path in TEMPLATE_MODULES} >= {"template.py", "template_sandbox.py", "template_filters.py"}
    for path in TEMPLATE_MODULES:
        assert len(path.read_text().splitlines()) <= 400, path


@pytest.mark.parametrize("path", TEMPLATE_MODULES, ids=lambda p: p.name)
def test_the_template_stage_imports_no_private_module(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            imported.append(node.module)
            imported += [f"{node.module}.{alias.name}" for alias in node.names]
    private = [name for name in imported
               if any(part.startswith("_") and not part.endswith("__") for part in name.split("."))]
    assert not private, private
    # nor a private part reached through a public module (json.encoder.c_make_encoder, ...)
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not attributes & {"c_make_encoder", "allocate_lock", "encode_basestring", "encode_basestring_ascii"}
    assert "_thread" not in attributes and "_signal" not in attributes
