"""The install lines and pinned revisions the docs show work with what this version ships.

No index carries the package, so no line may install it by name from one; every pin of this repository
(Git URLs, pre-commit ``rev:``, kustomize ``?ref=``, schema URLs, the wheel's file name, image tags) names
the tag of the package's version, which docs/install.md tells maintainers to create.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import renderer
from tests.conftest import ROOT

VERSION = renderer.__version__
TAG = f"v{VERSION}"

# (what the pin is, pattern whose group 1 is the pinned revision or version, what it must be)
PINS = [
    ("a Git URL of the repository", r"eventbus-renderer(?:\.git)?@([\w.-]+)", TAG),
    ("a pre-commit rev", r"^[\s#]*rev:\s*([\w.-]+)", TAG),
    ("a kustomize ref", r"eventbus-renderer//deploy\?ref=([\w.-]+)", TAG),
    ("a raw file URL", r"raw\.githubusercontent\.com/[\w-]+/eventbus-renderer/([\w.-]+)/", TAG),
    ("the wheel's file name", r"eventbus_renderer-([\d][\w.]*)-py3-none-any\.whl", VERSION),
    ("the sidecar image's tag", r"/eventbus-render:([\w.-]+)", VERSION),
    ("kustomize's image tag", r"newTag:\s*([\w.-]+)", VERSION),
    ("a tag to create", r"git (?:tag -a|push origin|checkout) (v[\w.-]+)", TAG),
]
# Lines that would install the package from an index that does not carry it.
FROM_AN_INDEX = re.compile(r"(pip|pipx|uv pip)\s+install\s[^\n]*?(?<![@/\w-])eventbus-renderer(?!\s*@|[\w-])"
                           r"|eventbus-renderer\s*(==|>=|~=)")


def shown_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / ".pre-commit-hooks.yaml", ROOT / "Dockerfile"]
    files += sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "deploy").glob("*.yaml"))
    files += sorted(path for path in (ROOT / "examples").rglob("*") if path.suffix in (".yaml", ".yml", ".md"))
    return files


def pins() -> list[tuple[Path, int, str, str, str]]:
    found = []
    for path in shown_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for what, pattern, expected in PINS:
                for match in re.finditer(pattern, line):
                    if match.group(1) not in ("<commit>", "REF"):
                        found.append((path, number, what, match.group(1), expected))
    return found


def test_every_pin_names_this_version():
    wrong = [f"{path.relative_to(ROOT)}:{number}: {what} pins {value}, expected {expected}"
             for path, number, what, value, expected in pins() if value != expected]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("relative", [".pre-commit-hooks.yaml", "docs/install.md", "docs/review.md",
                                      "examples/ci/github-workflow.yaml"])
def test_the_files_that_show_an_install_pin_a_revision(relative):
    assert any(path == ROOT / relative for path, *_ in pins()), f"{relative} pins no revision"


def test_no_line_installs_the_package_from_an_index():
    wrong = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in shown_files()
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if FROM_AN_INDEX.search(line)]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("line, installs_from_an_index", [
    ("pip install eventbus-renderer syrupy pytest", True),
    ('pip install "eventbus-renderer==0.1.0"', True),
    ("EVENTBUS_RENDERER: eventbus-renderer==0.1.0", True),
    ("pipx install eventbus-renderer", True),
    ('pip install "git+https://github.com/OWNER/eventbus-renderer@v0.1.0"', False),
    ('pip install "eventbus-renderer @ git+https://github.com/OWNER/eventbus-renderer@v0.1.0" pytest', False),
    ("pip install dist/eventbus_renderer-0.1.0-py3-none-any.whl", False),
])
def test_the_index_install_pattern(line, installs_from_an_index):
    assert bool(FROM_AN_INDEX.search(line)) is installs_from_an_index
