"""Fixtures of the Argo CD plugin tests (see helpers.py for the simulator harness)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.argocd.helpers import write_app


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository of app directories: ``apps/payments`` (prod JetStream) to start with."""
    root = tmp_path / "repo"
    write_app(root / "apps" / "payments")
    return root

