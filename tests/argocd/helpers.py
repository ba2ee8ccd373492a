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
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

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
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "eventbus-render.yaml").write_text(textwrap.dedent(app), encoding="utf-8")
    for relative, text in (files or {}).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


def sidecar_path() -> str:
    return f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"


def run_sim(repo: Path, path: str, *args: str, sidecar_env: dict | None = None, timeout: float = 120) -> SimResult:
    """Run the real plugin.yaml on ``repo``/``path`` through the simulator.

    The worker is disabled (``EVENTBUS_RENDER_SOCKET=``) unless ``sidecar_env``
    names a socket, so that no worker left running on this machine answers.
    """
    env = {"PATH": sidecar_path(), "EVENTBUS_RENDER_SOCKET": ""}
    env.update(sidecar_env or {})
    argv = [sys.executable, str(SIM), "--plugin", str(PLUGIN), "--repo", str(repo), "--path", path,
            "--revision", "0123456789abcdef0123456789abcdef01234567", "--repo-url", "https://git.example/repo.git"]
    for key, value in env.items():
        argv += ["--sidecar-env", f"{key}={value}"]
    result = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout)
    return SimResult(result.returncode, result.stdout, result.stderr)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120) -> Cli:
    """``eventbus-render ARGS`` as a subprocess (worker disabled unless ``env`` names a socket)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_"))}
    full["EVENTBUS_RENDER_SOCKET"] = ""
    full.update(env or {})
    result = subprocess.run([str(EVENTBUS_RENDER), *args], cwd=cwd, env=full, capture_output=True, text=True,
                            timeout=timeout)
    return Cli(result.returncode, result.stdout, result.stderr)


def which(name: str) -> str | None:
    return shutil.which(name)
