"""Shared fixtures: app directories in tmp_path and an in-process CLI runner."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.files import write_files

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_APPS = Path(__file__).resolve().parent / "fixtures" / "apps"
SHARED_UPSTREAM = ROOT.parent / "shared" / "upstream" / "argo-events"


@dataclass
class Result:
    """Outcome of one CLI run."""

    code: int
    out: str
    err: str


def write_app(root: Path, app: str, files: dict | None = None) -> Path:
    """Create an app directory: ``app`` is the app file's text, ``files`` maps relative paths to text."""
    return write_files(root, {"eventbus-render.yaml": app, **(files or {})})


@pytest.fixture
def make_app(tmp_path):
    """Factory: ``make_app(app_text, files={...}, name="app")`` -> app directory."""

    def factory(app: str, files: dict | None = None, name: str = "app") -> Path:
        return write_app(tmp_path / name, app, files)

    return factory


@pytest.fixture
def cli(capsys):
    """Run ``eventbus-render`` in-process; returns a :class:`Result` (never raises SystemExit)."""
    from renderer.cli import main

    def run(*args) -> Result:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def sim():
    """The Argo CD CMP simulator runner (``tests.argocd.helpers.run_sim``); skips, saying why, where the
    simulator or the installed command is missing."""
    import sys

    from tests.argocd.helpers import EVENTBUS_RENDER, SIM, run_sim

    if not SIM.is_file():
        pytest.skip("../shared/tools/argocd-cmp-sim (the Argo CD CMP simulator) is not beside the repo")
    if not EVENTBUS_RENDER.exists():
        pytest.skip(f"eventbus-render is not installed next to {sys.executable}")
    return run_sim
