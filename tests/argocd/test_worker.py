"""The sidecar's pre-forked worker: same output as in-process, isolated requests, never a failed render."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.argocd.helpers import EVENTBUS_RENDER, FakeWorker, run_cli, worker_ready, write_app

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(os, "mkfifo"), reason="needs fork and FIFOs"),
    pytest.mark.skipif(not EVENTBUS_RENDER.exists(),
                       reason=f"eventbus-render is not installed next to {sys.executable}"),
]

PROD = "backend: jetstream\nprofile: prod\nname: {name}\nvalues:\n  labels:\n    team: {name}\n"


@pytest.fixture
def scratch():
    directory = Path(tempfile.mkdtemp(prefix="ebw-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_worker(path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_"))}
    process = subprocess.Popen([str(EVENTBUS_RENDER), "argocd", "worker", "--dir", str(path)], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(lambda: worker_ready(path) or process.poll() is not None, what="the worker's FIFO")
    assert process.poll() is None, process.stderr.read().decode()
    return process


@pytest.fixture
def worker(scratch):
    path = scratch / "worker"
    process = start_worker(path)
    yield path, process
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)


def generate(app: Path, directory, **env):
    return run_cli("argocd", "generate", cwd=app, env={"EVENTBUS_RENDER_WORKER": str(directory), **env})


@pytest.fixture
def clientless(tmp_path) -> dict:
    """An environment in which the client process cannot import click: only the worker can have answered."""
    poison = tmp_path / "poison" / "click"
    poison.mkdir(parents=True)
    (poison / "__init__.py").write_text("raise ImportError('the client imported click')\n", encoding="utf-8")
    return {"PYTHONPATH": str(poison.parent)}


def test_generate_is_run_by_the_worker_not_by_the_client(worker, tmp_path, clientless):
    path, _ = worker
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    served = generate(app, path, **clientless)
    assert served.code == 0, served.err
    assert "kind: EventBus" in served.out
    alone = generate(app, "", **clientless)  # the control: without the worker the client needs click
    assert alone.code != 0 and "the client imported click" in alone.err


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_worker_directory_and_its_fifo_are_private_to_the_user(worker):
    path, _ = worker
    directory, fifo = os.stat(path), os.stat(path / "requests")
    assert stat.S_ISDIR(directory.st_mode) and stat.S_IMODE(directory.st_mode) == 0o700
    assert stat.S_ISFIFO(fifo.st_mode) and stat.S_IMODE(fifo.st_mode) == 0o600
    assert directory.st_uid == fifo.st_uid == os.geteuid()


def test_a_served_request_leaves_nothing_behind_in_the_worker_directory(worker, tmp_path, clientless):
    path, _ = worker
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    assert generate(app, path, **clientless).code == 0
    assert sorted(os.listdir(path)) == ["requests", "warm", "worker.lock"]  # warm: the warm-up apps


def test_the_worker_renders_exactly_what_an_in_process_generate_renders(worker, tmp_path, clientless):
    path, _ = worker
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    params = json.dumps([{"name": "values", "map": {"jetstream.replicas": "5"}}])
    via_worker = generate(app, path, ARGOCD_APP_PARAMETERS=params, ARGOCD_ENV_FOO="x", **clientless)
    in_process = generate(app, "", ARGOCD_APP_PARAMETERS=params, ARGOCD_ENV_FOO="x")
    assert via_worker.code == in_process.code == 0, via_worker.err
    assert (via_worker.out, via_worker.err) == (in_process.out, in_process.err)
    assert "replicas: 5" in via_worker.out


def test_the_worker_reports_errors_exactly_as_in_process(worker, tmp_path, clientless):
    path, _ = worker
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    params = json.dumps([{"name": "values", "map": {"jetstream.replicas": "1"}}])
    via_worker = generate(app, path, ARGOCD_APP_PARAMETERS=params, **clientless)
    in_process = generate(app, "", ARGOCD_APP_PARAMETERS=params)
    assert (via_worker.code, via_worker.out) == (1, "")
    assert via_worker.err == in_process.err
    assert "error[replica-count]" in via_worker.err


def test_the_worker_parses_the_command_line_exactly_as_in_process(worker, tmp_path, clientless):
    path, _ = worker
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    for args in (["--help"], ["--profile", "prod"], ["extra"]):
        via_worker = run_cli("argocd", "generate", *args, cwd=app,
                             env={"EVENTBUS_RENDER_WORKER": str(path), **clientless})
        in_process = run_cli("argocd", "generate", *args, cwd=app)
        assert (via_worker.code, via_worker.out, via_worker.err) == (in_process.code, in_process.out,
                                                                      in_process.err), args
    assert via_worker.code == 2 and "takes no arguments" in via_worker.err


def test_the_worker_announces_parameters_exactly_as_in_process(worker, tmp_path, clientless):
    path, _ = worker
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    via_worker = run_cli("argocd", "parameters", cwd=app, env={"EVENTBUS_RENDER_WORKER": str(path), **clientless})
    in_process = run_cli("argocd", "parameters", cwd=app)
    assert via_worker.code == 0, via_worker.err
    assert (via_worker.out, via_worker.err) == (in_process.out, in_process.err)
    assert [p["name"] for p in json.loads(via_worker.out)] == ["profile", "overlays"]


def test_each_request_uses_the_callers_directory_and_environment(worker, tmp_path, clientless):
    path, _ = worker
    first = write_app(tmp_path / "first", PROD.format(name="first"))
    second = write_app(tmp_path / "second", PROD.format(name="second"))
    a = generate(first, path, ARGOCD_APP_NAMESPACE="ns-a", **clientless)
    b = generate(second, path, ARGOCD_APP_NAMESPACE="ns-b", ARGOCD_ENV_NAME="renamed", **clientless)
    assert "name: first" in a.out and "namespace: ns-a" in a.out
    assert "name: renamed" in b.out and "namespace: ns-b" in b.out
    # Nothing leaks from one request into the next.
    again = generate(first, path, ARGOCD_APP_NAMESPACE="ns-a", **clientless)
    assert again.out == a.out


def test_a_worker_timeout_that_is_no_number_of_seconds_means_the_default(worker, tmp_path, clientless):
    path, _ = worker
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    for value in ("nan", "inf", "-inf", "1e999", "1e308", "-1", "soon", ""):
        served = generate(app, path, EVENTBUS_RENDER_WORKER_TIMEOUT=value, **clientless)
        assert served.code == 0 and "kind: EventBus" in served.out, (value, served.err)


def test_concurrent_generates_do_not_interfere(worker, tmp_path, clientless):
    path, _ = worker
    apps = [write_app(tmp_path / f"app{i}", PROD.format(name=f"bus{i}")) for i in range(8)]

    def one(i):
        replicas = 3 if i % 2 else 5
        params = json.dumps([{"name": "values", "map": {"jetstream.replicas": str(replicas)}}])
        return i, replicas, generate(apps[i], path, ARGOCD_APP_PARAMETERS=params, ARGOCD_APP_NAMESPACE=f"ns{i}",
                                     **clientless)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(8)))
    for i, replicas, result in results:
        assert result.code == 0, result.err
        assert f"name: bus{i}\n" in result.out and f"namespace: ns{i}\n" in result.out
        assert f"replicas: {replicas}\n" in result.out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_worker_does_not_fail_a_render(worker, tmp_path):
    path, process = worker
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    expected = generate(app, "")
    process.kill()
    process.wait(timeout=10)
    wait_for(lambda: not worker_ready(path), timeout=15, what="the spares to exit")  # PR_SET_PDEATHSIG
    assert (path / "requests").exists()  # SIGKILL leaves the FIFO behind, read by nobody
    result = generate(app, path)
    assert (result.code, result.out, result.err) == (expected.code, expected.out, expected.err)


def test_a_worker_that_dies_mid_request_hangs_or_never_reads_does_not_fail_a_render(tmp_path):
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    expected = generate(app, "")
    for behaviour in ("close", "hang", "garbage", "deaf"):
        fake = FakeWorker(behaviour)
        try:
            result = generate(app, fake.path, EVENTBUS_RENDER_WORKER_TIMEOUT="1")
            assert (result.code, result.out) == (expected.code, expected.out), behaviour
            assert len(fake.requests) == (behaviour != "deaf"), behaviour
        finally:
            fake.close()


def test_a_missing_fifo_or_something_else_in_its_place_means_rendering_in_process(scratch, tmp_path):
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    assert generate(app, scratch / "absent").code == 0
    assert generate(app, scratch).code == 0  # a directory without a FIFO
    (scratch / "requests").write_text("not a FIFO")
    assert generate(app, scratch).code == 0


def test_a_worker_directory_or_fifo_others_can_write_to_is_not_used(tmp_path):
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    for modes in ({"mode": 0o777}, {"mode": 0o720}, {"fifo_mode": 0o622}):
        fake = FakeWorker(**modes)
        try:
            result = generate(app, fake.path)
            assert result.code == 0 and "kind: EventBus" in result.out, modes  # rendered here, not the fake's reply
            assert not fake.requests, modes
        finally:
            fake.close()


def test_the_worker_refuses_to_serve_from_a_directory_others_can_write_to(scratch):
    path = scratch / "open"
    path.mkdir()
    path.chmod(0o777)
    result = subprocess.run([str(EVENTBUS_RENDER), "argocd", "worker", "--dir", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "refusing to use it" in result.stderr
    assert not (path / "requests").exists()


def test_a_second_worker_on_the_same_directory_refuses_to_start(worker):
    path, _ = worker
    second = subprocess.run([str(EVENTBUS_RENDER), "argocd", "worker", "--dir", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 1
    assert "already serving" in second.stderr


def test_a_stale_fifo_and_the_folders_of_gone_clients_are_replaced(scratch, tmp_path, clientless):
    path = scratch / "stale"
    path.mkdir(mode=0o700)
    os.mkfifo(path / "requests", 0o600)  # left by a killed worker: nobody reads it
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = path / f"r{int(gone.stdout)}-0123456789abcdef"
    leftover.mkdir(mode=0o700)
    (leftover / "request").write_bytes(b"")
    process = start_worker(path)  # returns once a process reads the FIFO
    try:
        assert generate(write_app(tmp_path / "app", PROD.format(name="x")), path, **clientless).code == 0
        assert not leftover.exists()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert not (path / "requests").exists()  # a stopped worker removes its FIFO


def test_a_worker_removes_the_directory_it_made_when_it_stops(worker):
    path, process = worker
    process.terminate()
    process.wait(timeout=10)
    assert not path.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_spares_are_replaced_and_every_child_goes_with_the_worker(worker, tmp_path, clientless):
    from renderer.argocd.server import SPARES

    path, process = worker

    def live():
        return [pid for pid in children(process.pid) if alive(pid)]

    wait_for(lambda: len(live()) == SPARES, what="the spare children")
    first = live()
    for pid in first:
        os.kill(pid, signal.SIGKILL)
    app = write_app(tmp_path / "app", PROD.format(name="payments"))
    served = generate(app, path, **clientless)
    assert served.code == 0, served.err
    wait_for(lambda: len(live()) == SPARES, what="new spare children")
    second = live()
    assert not set(first) & set(second)
    process.terminate()
    process.wait(timeout=10)
    wait_for(lambda: not any(alive(pid) for pid in second), timeout=15, what="the spares to exit")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_serve_execs_the_command_without_a_shell_and_the_worker_dies_with_it(scratch):
    path = scratch / "serve"
    script = "import sys, time; print(sys.argv[1:], flush=True); time.sleep(120)"
    process = subprocess.Popen([str(EVENTBUS_RENDER), "argocd", "serve", "--dir", str(path), "--",
                                sys.executable, "-c", script, "a b", "$HOME", ";true"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == repr(["a b", "$HOME", ";true"])
        wait_for(lambda: worker_ready(path), what="the worker's FIFO")
        workers = [pid for pid in children(process.pid) if alive(pid)]
        assert len(workers) == 1  # the worker is a child of the exec'd command
    finally:
        process.kill()
        process.wait(timeout=10)
    # Its parent is gone: the worker exits (PR_SET_PDEATHSIG, else getppid polling) and removes its FIFO.
    wait_for(lambda: not alive(workers[0]), timeout=15, what="the worker to exit")
    wait_for(lambda: not (path / "requests").exists(), timeout=5, what="the FIFO to be removed")


def test_serve_fails_clearly_when_the_command_cannot_run(scratch):
    path = scratch / "bad"
    result = subprocess.run([str(EVENTBUS_RENDER), "argocd", "serve", "--dir", str(path), "--",
                             str(scratch / "no-such-command")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 127
    assert "cannot run" in result.stderr
