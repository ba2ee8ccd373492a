"""The worker's bounds: at most ``--max-renders`` children, each dies with its client and answers within ``--deadline``.

Requests are made here as the client makes them (:mod:`renderer.argocd.protocol`),
so that a test can hold one: its reply FIFO is shrunk to one page
(``F_SETPIPE_SZ``) and not read, so the child that serves it waits, having
rendered, until the test reads or closes it. A slow render is an app template
that loops until the template time limit stops it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from renderer import __version__
from renderer.argocd import protocol
from renderer.stages.template import TIME_LIMIT_SECONDS
from tests.argocd.helpers import EVENTBUS_RENDER, worker_ready, write_app
from tests.argocd.test_worker import alive, children, wait_for

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; F_SETPIPE_SZ is Linux's"),
    pytest.mark.skipif(not EVENTBUS_RENDER.exists(),
                       reason=f"eventbus-render is not installed next to {sys.executable}"),
]

# labels enough for a reply larger than one page of a pipe
BIG = "backend: jetstream\nname: big\nvalues:\n  labels:\n" + "".join(
    f"    label{i}: {'x' * 60}\n" for i in range(80))
SLOW = "backend: jetstream\nname: slow\n"
LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n"


def slow_app(folder: Path) -> Path:
    """An app whose own template loops until the template time limit stops it."""
    return write_app(folder, SLOW, {"templates/jetstream.yaml.j2": LOOP})


@pytest.fixture
def start(tmp_path):
    """Factory: ``start(*options)`` -> (worker directory, worker process) of a worker run with ``options``."""
    started = []

    def run(*options):
        path = tmp_path / f"worker{len(started)}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_"))}
        process = subprocess.Popen([str(EVENTBUS_RENDER), "argocd", "worker", "--dir", str(path), *options],
                                   env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        started.append(process)
        wait_for(lambda: worker_ready(path) or process.poll() is not None, what="the worker's FIFO")
        assert process.poll() is None, process.stderr.read().decode()
        return path, process

    yield run
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def send(directory: Path, app: Path, *, held: bool) -> tuple[str, int]:
    """Name a request to run ``argocd generate`` in ``app``: (its folder's name, the reply FIFO open to read).

    ``held``: the reply FIFO holds one page only, so the child serving it waits until the test reads.
    """
    name = protocol.new_name()
    folder = directory / name
    folder.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_"))}
    (folder / protocol.REQUEST).write_bytes(protocol.encode_request(__version__, str(app), ["argocd", "generate"],
                                                                    env))
    os.mkfifo(folder / protocol.REPLY, 0o600)
    reply = os.open(folder / protocol.REPLY, os.O_RDONLY | os.O_NONBLOCK)
    if held:
        fcntl.fcntl(reply, fcntl.F_SETPIPE_SZ, 4096)
    requests = os.open(directory / protocol.REQUESTS, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(requests, protocol.encode_record(name))
    finally:
        os.close(requests)
    return name, reply


def answer(reply: int, timeout: float = 60.0):
    """The decoded reply (``None``: a fallback, or cut off), read to its end."""
    try:
        data = protocol.read_to_end(reply, time.monotonic() + timeout)
    finally:
        os.close(reply)
    assert data is not None, "no reply in time"
    return protocol.decode_reply(data)


def taken(directory: Path, name: str) -> bool:
    """Whether a child has taken the request ``name`` (it removes the request's folder once it has read it)."""
    return not (directory / name).exists()


def test_at_most_max_renders_children_live_and_past_them_clients_render_themselves(start, tmp_path):
    path, process = start("--max-renders", "2")
    app = write_app(tmp_path / "app", BIG)
    wait_for(lambda: len(children(process.pid)) == 2, what="two spares")
    held = [send(path, app, held=True) for _ in range(2)]
    for name, _ in held:
        wait_for(lambda name=name: taken(path, name), what="a child to take the request")
    extra = [send(path, app, held=False) for _ in range(3)]  # no child may take them: the worker says fallback
    for _, reply in extra:
        assert answer(reply) is None
    assert len([pid for pid in children(process.pid) if alive(pid)]) <= 2
    for _, reply in held:  # read: the two children answer in full, and exit
        code, out, err = answer(reply)
        assert code == 0 and "label79: " in out, err
    wait_for(lambda: len(children(process.pid)) == 2, what="the spares to be refilled")
    _, reply = send(path, app, held=False)
    assert answer(reply)[0] == 0


def test_a_child_whose_client_has_gone_stops_rendering_at_once(start, tmp_path):
    path, process = start()
    app = slow_app(tmp_path / "slow")
    wait_for(lambda: len(children(process.pid)) == 2, what="two spares")
    spares = set(children(process.pid))
    name, reply = send(path, app, held=False)
    wait_for(lambda: taken(path, name), what="a child to take the request")
    begun = time.monotonic()
    os.close(reply)  # the client gives up (Argo CD's deadline killed it, or it runs the command itself)
    wait_for(lambda: len([pid for pid in spares if alive(pid)]) == 1, what="the serving child to exit")
    # it did not render on until the template time limit stopped the loop: had it, the full limit would have
    # passed (the exact line between the two outcomes, not a speed figure)
    assert time.monotonic() - begun < TIME_LIMIT_SECONDS


def test_a_render_past_the_deadline_is_answered_with_one_error_and_exit_2(start, tmp_path):
    path, process = start("--deadline", "1")
    _, reply = send(path, slow_app(tmp_path / "slow"), held=False)
    code, out, err = answer(reply)
    assert (code, out) == (2, "")
    # the deadline's message, not the template time limit's (which would come after 10 s)
    assert err == ("error: the render took longer than 1 s and was stopped (the render worker's deadline)\n"
                   "  hint: look for templates with long loops, or very large values; Argo CD gives up after 60 s\n")


def test_a_child_that_cannot_stop_itself_is_killed_by_the_worker_after_its_deadline(start, tmp_path):
    path, process = start("--deadline", "1")
    wait_for(lambda: len(children(process.pid)) == 2, what="two spares")
    spares = set(children(process.pid))
    name, reply = send(path, slow_app(tmp_path / "slow"), held=False)
    wait_for(lambda: taken(path, name), what="a child to take the request")
    for pid in spares:  # freeze them: a render stuck where no thread of its own can act
        os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: len([pid for pid in spares if alive(pid)]) == 1, timeout=30, what="the worker's kill")
    finally:
        for pid in spares:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert answer(reply) is None  # a cut-off reply: the real client runs the command itself


def test_a_child_whose_worker_dies_mid_render_answers_run_it_yourself_never_a_failure(start, tmp_path):
    path, process = start()
    name, reply = send(path, slow_app(tmp_path / "slow"), held=False)
    wait_for(lambda: taken(path, name), what="a child to take the request")
    process.kill()  # the child gets SIGTERM (PR_SET_PDEATHSIG) while its template loops
    process.wait(timeout=30)
    assert answer(reply) is None  # "fallback": the client renders itself, as when no worker runs


@pytest.mark.parametrize("option", [["--deadline", "inf"], ["--deadline", "nan"], ["--deadline", "-1"],
                                    ["--deadline", "0"], ["--deadline", "soon"], ["--max-renders", "0"],
                                    ["--max-renders", "-3"]])
@pytest.mark.parametrize("command", ["worker", "serve"])
def test_a_bound_that_is_no_number_of_seconds_or_children_is_a_usage_error(tmp_path, option, command):
    extra = ["--", "true"] if command == "serve" else []
    done = subprocess.run([str(EVENTBUS_RENDER), "argocd", command, "--dir", str(tmp_path / "w"), *option, *extra],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert f"Invalid value for '{option[0]}'" in done.stderr
    assert not (tmp_path / "w").exists()
