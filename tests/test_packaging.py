"""A wheel install finds the built-in profiles, overlays, templates and defaults."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import FIXTURE_APPS, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{proc.stderr[-2000:]}")
    (path,) = out.glob("*.whl")
    return path


def test_the_wheel_carries_every_built_in_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("profiles", "overlays"):
        for source in (ROOT / kind).glob("*.yaml"):
            assert f"renderer/{kind}/{source.name}" in names
    for source in (ROOT / "renderer" / "templates").glob("*.j2"):
        assert f"renderer/templates/{source.name}" in names
    assert "renderer/defaults/common.yaml" in names


def test_an_installed_wheel_renders_outside_the_checkout(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = subprocess.run([sys.executable, "-c", "import renderer, sys; print(renderer.__file__); "
                           "from renderer.cli import main; main(sys.argv[1:])",
                           "render", "--app", str(FIXTURE_APPS / "jetstream"), "--profile", "prod"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith(str(target))
    assert "storageClassName: standard" in proc.stdout
