"""Fixtures of the Argo CD plugin tests (see helpers.py for the simulator harness)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.argocd.helpers import EVENTBUS_RENDER, SIM, run_sim, write_app


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository of app directories: ``apps/payments`` (prod JetStream) to start with."""
    root = tmp_path / "repo"
    write_app(root / "apps" / "payments")
    return root


@pytest.fixture
def sim():
    """The simulator runner; skips, saying why, where the simulator or the installed command is missing."""
    if not SIM.is_file():
        pytest.skip("../shared/tools/argocd-cmp-sim (the Argo CD CMP simulator) is not beside the repo")
    if not EVENTBUS_RENDER.exists():
        pytest.skip(f"eventbus-render is not installed next to {sys.executable}")
    return run_sim
