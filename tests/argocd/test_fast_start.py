"""Start-up of the per-render commands: a thin worker client, built-in templates compiled once."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.argocd.helpers import EVENTBUS_RENDER, ROOT, FakeWorker, run_cli, write_app

PROBE = """\
import sys
sys.stderr.write("\\nPROBE START\\n")
sys.stderr.flush()
from renderer.__main__ import main
sys.argv[0] = "eventbus-render"
main()
"""


def probe(cwd: Path, *args: str, **env) -> tuple[subprocess.CompletedProcess, set]:
    """Run the executable's entry point on ``args``: the process and the modules it imported.

    The modules are those ``-X importtime`` reports after the probe starts
    (the entry point may end the process without returning).
    """
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_"))}
    full.update(env)
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", PROBE, *args], cwd=cwd, env=full,
                            capture_output=True, text=True, timeout=120)
    lines = result.stderr.splitlines()
    after = lines[lines.index("PROBE START") + 1:]
    modules = {line.rsplit("|", 1)[1].strip() for line in after
               if line.startswith("import time:") and not line.endswith("imported package")}
    result.stderr = "\n".join(line for line in after if not line.startswith("import time:"))
    return result, modules


def top_level(modules: set) -> set:
    return {name.split(".")[0] for name in modules}


@pytest.fixture
def fake_worker():
    worker = FakeWorker()
    yield worker
    worker.close()


def test_the_worker_client_imports_neither_click_nor_render_code_nor_socket(tmp_path, fake_worker):
    result, modules = probe(tmp_path, "argocd", "generate", EVENTBUS_RENDER_WORKER=str(fake_worker.path))
    assert result.stdout == "---\nkind: X\n"  # the worker's answer, written as it came
    assert fake_worker.requests and b"\0argocd\0generate" in fake_worker.requests[0]
    ours = {m for m in modules if m.split(".")[0] == "renderer"}
    assert "renderer.argocd.client" in ours
    assert ours <= {"renderer", "renderer.__main__", "renderer.argocd", "renderer.argocd.client",
                    "renderer.argocd.protocol", "renderer.descriptors"}, ours
    assert not top_level(modules) & {"click", "jinja2", "yaml", "deepmerge", "json", "re", "socket"}, modules


def test_commands_other_than_generate_and_parameters_never_go_to_the_worker(tmp_path, fake_worker):
    app = write_app(tmp_path / "app")
    result, modules = probe(app, "render", "--app", ".", EVENTBUS_RENDER_WORKER=str(fake_worker.path))
    assert result.returncode == 0, result.stderr
    assert "kind: EventBus" in result.stdout and not fake_worker.requests
    assert "click" in top_level(modules)


def test_without_a_worker_generate_renders_in_process_through_click(tmp_path):
    app = write_app(tmp_path / "app")
    result, modules = probe(app, "argocd", "generate", EVENTBUS_RENDER_WORKER="")
    assert result.returncode == 0, result.stderr
    assert "kind: EventBus" in result.stdout
    assert {"click", "jinja2"} <= top_level(modules)


def test_argocd_parameters_never_imports_jinja(tmp_path):
    app = write_app(tmp_path / "app")
    result, modules = probe(app, "argocd", "parameters", EVENTBUS_RENDER_WORKER="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[")
    assert "jinja2" not in top_level(modules)


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


def test_a_changed_input_is_rendered_again(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    app = write_app(tmp_path / "app")
    run_cli("argocd", "generate", cwd=app, env=env)
    (app / "eventbus-render.yaml").write_text((app / "eventbus-render.yaml").read_text().replace(
        "team: payments", "team: orders"))
    result = run_cli("argocd", "generate", cwd=app, env=env)
    assert "team: orders" in result.out and "payments" not in result.out


def test_a_per_render_command_writes_all_its_output_to_a_file_and_exits_with_its_code(tmp_path, fake_worker):
    # The process ends without the interpreter's teardown: what it wrote must already be flushed.
    app = write_app(tmp_path / "app")
    piped = run_cli("argocd", "generate", cwd=app)
    for env, expected in (({"EVENTBUS_RENDER_WORKER": ""}, piped.out),
                          ({"EVENTBUS_RENDER_WORKER": str(fake_worker.path)}, FakeWorker.REPLY_BODY.decode())):
        full = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_"))}
        full.update(env)
        with open(tmp_path / "out.yaml", "wb") as out, open(tmp_path / "err.txt", "wb") as err:
            code = subprocess.run([str(EVENTBUS_RENDER), "argocd", "generate"], cwd=app, env=full, stdout=out,
                                  stderr=err, timeout=120).returncode
        assert code == 0, (tmp_path / "err.txt").read_text()
        assert (tmp_path / "out.yaml").read_text() == expected
    (app / "eventbus-render.yaml").write_text("backend: nats\nprofile: nope\n")
    with open(tmp_path / "err.txt", "wb") as err:
        failed = subprocess.run([str(EVENTBUS_RENDER), "argocd", "generate"], cwd=app, stdout=subprocess.DEVNULL,
                                stderr=err, env={**os.environ, "EVENTBUS_RENDER_WORKER": ""}, timeout=120)
    assert failed.returncode == 2 and "error" in (tmp_path / "err.txt").read_text()
