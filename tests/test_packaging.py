"""The package as a user installs it: ``python -m build`` makes an sdist and, from that sdist, a wheel;
the wheel goes into a fresh virtual environment and renders the bundled examples from outside the
checkout. A profile, overlay, template, defaults file or schema missing from either archive fails here.

The build runs on a copy of the files git would hand to ``pip install git+URL@REF`` (tracked files,
plus new ones not ignored), so it neither writes into the checkout nor sees its virtual environment.
``python -m build`` fetches its build backend (pyproject's ``build-system.requires``) and the wheel's
install its dependencies, from the package index pip is configured with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import renderer
from tests.conftest import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# A clean environment for the installed program: nothing may lead it back to the checkout.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=CLEAN_ENV, **kwargs)


def source_files() -> list[str]:
    """What a checkout of the commit holds: git's tracked files, plus new files that are not ignored."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode()
    return sorted(name for name in listed.split("\0") if name and (ROOT / name).is_file())


def packaged_files() -> set[str]:
    """What the wheel must hold: every file in the directory of each package pyproject.toml lists."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    tracked = set(source_files())
    expected = set()
    for package in setuptools["packages"]:
        directory = setuptools.get("package-dir", {}).get(package, package.replace(".", "/"))
        expected.update(f"{package.replace('.', '/')}/{Path(name).name}" for name in tracked
                        if Path(name).parent == Path(directory))
    return expected


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    source = tmp_path_factory.mktemp("source")
    for name in source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    proc = run([sys.executable, "-m", "build", "--outdir", out, source])
    assert proc.returncode == 0, f"python -m build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def venv(dists, tmp_path_factory) -> Path:
    """A fresh virtual environment holding the built wheel and its dependencies, nothing of the checkout."""
    path = tmp_path_factory.mktemp("venv") / "fresh"
    created = run([sys.executable, "-m", "venv", "--without-pip", path])
    assert created.returncode == 0, created.stderr
    installed = run([sys.executable, "-m", "pip", "--python", path / "bin" / "python", "install", "--quiet",
                     "--no-input", dists["wheel"]])
    assert installed.returncode == 0, f"installing the wheel failed:\n{installed.stderr[-3000:]}"
    return path


@pytest.fixture
def outside(tmp_path) -> Path:
    """A working directory outside the checkout, holding a copy of examples/."""
    shutil.copytree(ROOT / "examples", tmp_path / "repo" / "examples")
    return tmp_path / "repo"


def test_the_wheel_holds_exactly_the_packages_and_their_data(dists):
    names = {name for name in zipfile.ZipFile(dists["wheel"]).namelist() if ".dist-info/" not in name}
    expected = packaged_files()
    assert {"renderer/defaults/common.yaml", "renderer/templates/_eventbus.j2", "renderer/profiles/prod.yaml",
            "renderer/overlays/monitoring.yaml", "renderer/schemas/app.schema.json"} <= expected
    assert names == expected


def test_the_sdist_holds_every_source_file_of_the_wheel(dists):
    with tarfile.open(dists["sdist"]) as archive:
        top = dists["sdist"].name.removesuffix(".tar.gz")
        names = {name.removeprefix(top + "/") for name in archive.getnames()}
    package_dirs = PYPROJECT["tool"]["setuptools"].get("package-dir", {})
    for name in packaged_files():
        package, _, file = name.rpartition("/")
        dotted = package.replace("/", ".")
        source = f"{package_dirs[dotted]}/{file}" if dotted in package_dirs else name
        assert source in names, f"{source} is not in the sdist"
    assert {"pyproject.toml", "README.md"} <= names


def test_version_has_one_source_and_the_installed_program_prints_it(dists, venv, tmp_path):
    assert PYPROJECT["project"]["dynamic"] == ["version"] and "version" not in PYPROJECT["project"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "renderer.__version__"}
    version = renderer.__version__
    assert dists["wheel"].name.startswith(f"eventbus_renderer-{version}-")
    printed = run([venv / "bin" / "eventbus-render", "--version"], cwd=tmp_path)
    assert (printed.returncode, printed.stdout, printed.stderr) == (0, f"eventbus-render, version {version}\n", "")
    metadata = run([venv / "bin" / "python", "-c",
                    "import importlib.metadata as m; print(m.version('eventbus-renderer'))"], cwd=tmp_path)
    assert metadata.stdout == f"{version}\n", metadata.stderr


def test_the_installed_package_is_imported_from_the_environment_not_the_checkout(venv, outside):
    proc = run([venv / "bin" / "python", "-c", "import renderer; print(renderer.__file__)"], cwd=outside)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).is_relative_to(venv)


def files_under(root: Path) -> dict[Path, bytes]:
    return {path.relative_to(root): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_the_installed_package_renders_every_example_as_the_checkout_does(venv, outside, tmp_path):
    command = ["render", "--all", "--root", "examples", "-o"]
    installed = run([venv / "bin" / "eventbus-render", *command, tmp_path / "installed"], cwd=outside)
    assert installed.returncode == 0, installed.stderr
    checkout = run([sys.executable, "-m", "renderer", *command, tmp_path / "checkout"], cwd=outside)
    assert checkout.returncode == 0, checkout.stderr
    rendered = files_under(tmp_path / "installed")
    assert Path("default/payments/eventbus-default.yaml") in rendered and len(rendered) >= 5
    assert rendered == files_under(tmp_path / "checkout")


@pytest.mark.parametrize("kind", ["app", "profile", "overlay"])
def test_the_installed_package_prints_the_committed_schemas(venv, tmp_path, kind):
    proc = run([venv / "bin" / "eventbus-render", "schema", kind], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (ROOT / "renderer" / "schemas" / f"{kind}.schema.json").read_text(encoding="utf-8")
