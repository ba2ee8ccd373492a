"""Helpers of the Argo CD plugin tests: the real plugin.yaml through ../shared/tools/argocd-cmp-sim.

The simulator copies a repository the way the repo-server streams it to the
sidecar, runs plugin.yaml's discover and generate with the environment Argo
CD builds (ARGOCD_ENV_*, ARGOCD_APP_PARAMETERS, PARAM_*, the build env) and
parses the output as Argo CD does. It runs the plugin's commands by name, so
the venv's bin directory (where ``eventbus-render`` is installed) goes first
on the sidecar's PATH. Every test that needs it is skipped, with the reason,
where the tool is absent (it lives beside the repository, in ../shared).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.files import write_files

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugin.yaml"
SIM = ROOT / ".." / "shared" / "tools" / "argocd-cmp-sim"
BIN = Path(sys.executable).parent
EVENTBUS_RENDER = BIN / "eventbus-render"

needs_sim = pytest.mark.skipif(
    not SIM.is_file(), reason="../shared/tools/argocd-cmp-sim (the Argo CD CMP simulator) is not beside the repo")
needs_cli = pytest.mark.skipif(
    not EVENTBUS_RENDER.exists(), reason=f"eventbus-render is not installed next to {sys.executable}")

APP = """\
    description: payments
    name: default
    backend: jetstream
    profile: prod
    values:
      labels:
        team: payments
"""


@dataclass
class SimResult:
    """What the simulator reports: exit code, stdout (the manifests as Argo CD parsed them) and stderr."""

    code: int
    out: str
    err: str

    @property
    def objects(self) -> list:
        return [doc for doc in yaml.safe_load_all(self.out) if doc is not None]


@dataclass
class Cli:
    """One ``eventbus-render`` run as a subprocess."""

    code: int
    out: str
    err: str


def write_app(directory: Path, app: str = APP, files: dict | None = None) -> Path:
    """An app directory: ``app`` is eventbus-render.yaml, ``files`` relative path -> text."""
    return write_files(directory, {"eventbus-render.yaml": app, **(files or {})})


def sidecar_path() -> str:
    return f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"


def run_sim(repo: Path, path: str, *args: str, sidecar_env: dict | None = None, timeout: float = 120) -> SimResult:
    """Run the real plugin.yaml on ``repo``/``path`` through the simulator.

    The worker is disabled (``EVENTBUS_RENDER_WORKER=``) unless ``sidecar_env``
    names a worker directory, so that no worker left running on this machine answers.
    """
    env = {"PATH": sidecar_path(), "EVENTBUS_RENDER_WORKER": ""}
    env.update(sidecar_env or {})
    argv = [sys.executable, str(SIM), "--plugin", str(PLUGIN), "--repo", str(repo), "--path", path,
            "--revision", "0123456789abcdef0123456789abcdef01234567", "--repo-url", "https://git.example/repo.git"]
    for key, value in env.items():
        argv += ["--sidecar-env", f"{key}={value}"]
    result = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout)
    return SimResult(result.returncode, result.stdout, result.stderr)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120) -> Cli:
    """``eventbus-render ARGS`` as a subprocess (worker disabled unless ``env`` names its directory)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_"))}
    full["EVENTBUS_RENDER_WORKER"] = ""
    full.update(env or {})
    result = subprocess.run([str(EVENTBUS_RENDER), *args], cwd=cwd, env=full, capture_output=True, text=True,
                            timeout=timeout)
    return Cli(result.returncode, result.stdout, result.stderr)


def which(name: str) -> str | None:
    return shutil.which(name)


def worker_ready(directory: Path) -> bool:
    """Whether a process reads the FIFO of the worker directory ``directory`` (opening it to write succeeds)."""
    try:
        fd = os.open(directory / "requests", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    os.close(fd)
    return True


class FakeWorker:
    """A worker directory whose FIFO a thread reads, recording each request and answering as ``behaviour`` says.

    The layout is the protocol's: ``DIR/requests`` (64-byte records naming a
    request folder), ``DIR/NAME/request`` and the FIFO ``DIR/NAME/reply``.
    ``behaviour``: ``answer`` (exit 0 with ``REPLY_BODY`` on stdout), ``close``
    (open the reply and close it unwritten), ``hang`` (hold it open for 3 s),
    ``garbage`` (write bytes that are no reply), ``deaf`` (hold the FIFO open
    and never read it).
    """

    REPLY_BODY = b"---\nkind: X\n"

    def __init__(self, behaviour: str = "answer", mode: int = 0o700, fifo_mode: int = 0o600):
        self.behaviour = behaviour
        self.path = Path(tempfile.mkdtemp(prefix="ebw-"))
        self.path.chmod(mode)
        fifo = self.path / "requests"
        os.mkfifo(fifo, 0o600)
        fifo.chmod(fifo_mode)
        self.fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        self.requests: list = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        if behaviour != "deaf":
            self.thread.start()

    def _serve(self):
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while not self.stopping.is_set():
            if not poller.poll(100):
                continue
            folder = self.path / os.read(self.fd, 64).decode().strip()
            self.requests.append((folder / "request").read_bytes())
            reply = os.open(folder / "reply", os.O_WRONLY | os.O_NONBLOCK)
            if self.behaviour == "hang":
                self.stopping.wait(3)
            elif self.behaviour == "garbage":
                os.write(reply, b"hello")
            elif self.behaviour == "answer":
                os.write(reply, b"0\0%d\0" % len(self.REPLY_BODY) + b"0\0" + self.REPLY_BODY)
            os.close(reply)

    def close(self):
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        os.close(self.fd)
        self.path.chmod(0o700)
        shutil.rmtree(self.path)
