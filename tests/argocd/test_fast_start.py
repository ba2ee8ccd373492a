"""Start-up of the per-render commands: no click, a thin worker client, built-in templates compiled once."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.argocd.helpers import ROOT, run_cli, write_app

PROBE = """\
import sys
before = set(sys.modules)
from renderer.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + " ".join(sorted(set(sys.modules) - before)) + "\\n")
"""


def new_modules(cwd: Path, *args: str, **env) -> set:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_"))}
    full.update(env)
    result = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, env=full, capture_output=True,
                            text=True, timeout=120)
    line = [ln for ln in result.stderr.splitlines() if ln.startswith("MODULES ")][-1]
    return set(line.split()[1:])


def test_argocd_generate_never_imports_click(tmp_path):
    app = write_app(tmp_path / "app")
    modules = new_modules(app, "argocd", "generate", EVENTBUS_RENDER_SOCKET="", XDG_CACHE_HOME=str(tmp_path))
    assert "jinja2" in modules  # it did render in-process
    assert not {m for m in modules if m == "click" or m.startswith("click.")}


def test_a_changed_input_is_rendered_again(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    app = write_app(tmp_path / "app")
    run_cli("argocd", "generate", cwd=app, env=env)
    (app / "eventbus-render.yaml").write_text((app / "eventbus-render.yaml").read_text().replace(
        "team: payments", "team: orders"))
    result = run_cli("argocd", "generate", cwd=app, env=env)
    assert "team: orders" in result.out and "payments" not in result.out


def test_argocd_parameters_never_imports_click_or_jinja(tmp_path):
    app = write_app(tmp_path / "app")
    modules = new_modules(app, "argocd", "parameters", EVENTBUS_RENDER_SOCKET="")
    assert not {m for m in modules if m.split(".")[0] in ("click", "jinja2")}


def test_the_worker_client_imports_no_render_code(tmp_path):
    import socket
    import tempfile
    import threading

    directory = tempfile.mkdtemp(prefix="ebw-")
    path = os.path.join(directory, "fake.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def answer():
        conn, _ = server.accept()
        size = int.from_bytes(conn.recv(4), "big")
        while size > 0:
            size -= len(conn.recv(size))
        body = b"---\nkind: X\n"
        reply = b"0\0%d\0" % len(body) + b"0\0" + body
        conn.sendall(len(reply).to_bytes(4, "big") + reply)
        conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        modules = new_modules(tmp_path, "argocd", "generate", EVENTBUS_RENDER_SOCKET=path)
    finally:
        thread.join(timeout=10)
        server.close()
        os.unlink(path)
        os.rmdir(directory)
    assert modules <= {"renderer", "renderer.cli", "renderer.argocd", "renderer.argocd.adapter", "renderer.argocd.worker", "_socket", "gc"}, modules


def test_apps_without_templates_share_one_template_environment(tmp_path):
    from renderer.stages import template

    first, second = write_app(tmp_path / "a"), write_app(tmp_path / "b")
    assert template.environment(first) is template.environment(second) is template.environment(None)
    own = write_app(tmp_path / "own", files={"templates/README": "x"})
    assert template.environment(own) is not template.environment(None)


@pytest.fixture
def cache_home(tmp_path) -> Path:
    home = tmp_path / "cache"
    home.mkdir()
    return home


def cache_files(home: Path) -> list[Path]:
    return sorted((home / "eventbus-render" / "jinja2").glob("*.j2c"))


def test_built_in_templates_are_compiled_once_into_a_private_cache(tmp_path, cache_home):
    app = write_app(tmp_path / "app")
    first = run_cli("argocd", "generate", cwd=app, env={"XDG_CACHE_HOME": str(cache_home)})
    assert first.code == 0, first.err
    files = cache_files(cache_home)
    assert files
    folder = cache_home / "eventbus-render" / "jinja2"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    again = run_cli("argocd", "generate", cwd=app, env={"XDG_CACHE_HOME": str(cache_home)})
    assert again.out == first.out and cache_files(cache_home) == files


def test_a_corrupt_cache_file_is_ignored(tmp_path, cache_home):
    app = write_app(tmp_path / "app")
    expected = run_cli("argocd", "generate", cwd=app, env={"XDG_CACHE_HOME": str(cache_home)})
    for path in cache_files(cache_home):
        path.write_bytes(b"j2 garbage that is not bytecode")
    result = run_cli("argocd", "generate", cwd=app, env={"XDG_CACHE_HOME": str(cache_home)})
    assert (result.code, result.out) == (0, expected.out)


def test_an_apps_own_templates_are_never_cached(tmp_path, cache_home):
    source = (ROOT / "renderer" / "templates" / "jetstream.yaml.j2").read_text()
    app = write_app(tmp_path / "app", files={"templates/jetstream.yaml.j2": source.replace(
        "eventbus", "eventbus", 1) + "\n{# own copy #}\n"})
    run_cli("argocd", "generate", cwd=write_app(tmp_path / "plain"), env={"XDG_CACHE_HOME": str(cache_home)})
    before = cache_files(cache_home)
    result = run_cli("argocd", "generate", cwd=app, env={"XDG_CACHE_HOME": str(cache_home)})
    assert result.code == 0, result.err
    assert cache_files(cache_home) == before


def test_a_cache_folder_others_can_write_to_is_not_used(tmp_path, cache_home):
    folder = cache_home / "eventbus-render" / "jinja2"
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    result = run_cli("argocd", "generate", cwd=write_app(tmp_path / "app"), env={"XDG_CACHE_HOME": str(cache_home)})
    assert result.code == 0, result.err
    assert cache_files(cache_home) == []
