"""The sidecar image, built once per test session from the checkout's Dockerfile (see podman.py).

Without podman, runc, debootstrap or root the image tests are skipped, except in CI (``CI`` set, as
.ci/run does), where that is a failure: CI must build and run the image on every change.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.image.podman import SIDECAR_IMAGE, Podman, Unavailable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def podman() -> Podman:
    try:
        return Podman.prepare()
    except Unavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI builds and runs the sidecar image, but this machine cannot: {exc}", pytrace=False)
        pytest.skip(f"cannot build the sidecar image here: {exc}")


@pytest.fixture(scope="session")
def sidecar_image(podman):
    """The image the Dockerfile builds on the local Python base, under a tag of this session's own."""
    tag = f"{SIDECAR_IMAGE}-{os.getpid()}"
    with podman.locked():
        podman.build(ROOT, tag, podman.python_base())
    yield tag
    podman.run("rmi", tag, check=False)


def readable(path: Path) -> Path:
    """Open ``path`` (a tree) to uid 999 in the container: read-only mounts keep the host's modes."""
    for item in [path, *path.rglob("*")]:
        item.chmod(0o755 if item.is_dir() else 0o644)
    return path


@pytest.fixture
def mounted(tmp_path):
    """Factory: a readable copy of ``source`` (a directory) under tmp_path, to mount read-only."""

    def copy(source: Path, name: str) -> Path:
        target = tmp_path / "mounts" / name
        shutil.copytree(source, target)
        return readable(target)

    return copy
