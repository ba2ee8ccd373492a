"""Every relative link of the README and docs/ leads somewhere: a file of the checkout, and a heading there.

(The YAML examples of the same pages are checked against the schemas by tests/test_one_schema.py.)
Anchors follow GitHub's rule: the heading's text in lower case, without punctuation but ``-`` and
``_``, spaces as ``-``, and ``-1``, ``-2``... for repeats.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def prose(path: Path) -> list[tuple[int, str]]:
    """The lines of a Markdown page outside fenced code blocks, numbered from 1."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def anchors(path: Path) -> set[str]:
    found, seen = set(), {}
    for _, line in prose(path):
        heading = re.match(r"#{1,6} (.*)", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links() -> list:
    found = []
    for page in PAGES:
        for number, line in prose(page):
            for target in LINK.findall(line):
                if not re.match(r"[a-z]+:", target):
                    found.append(pytest.param(page, target, id=f"{page.relative_to(ROOT)}:{number}:{target}"))
    return found


LINKS = links()


def test_the_pages_have_links_to_check():
    assert len(PAGES) >= 8 and len(LINKS) >= 10


@pytest.mark.parametrize(("page", "target"), LINKS)
def test_a_relative_link_leads_to_a_file_of_the_checkout_and_a_heading_there(page, target):
    file, _, fragment = target.partition("#")
    destination = (page.parent / file).resolve() if file else page
    assert destination.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"
    assert destination.is_relative_to(ROOT), f"{target} leaves the checkout"
    if fragment:
        assert destination.suffix == ".md", f"{target}: an anchor into a file that is not Markdown"
        assert fragment in anchors(destination), f"{target}: no heading makes the anchor #{fragment}"


def test_the_anchor_rule_is_githubs():
    page = ROOT / "docs" / "argocd.md"
    assert {"-in-pluginenv-values", "inputs-and-their-precedence", "2a-install-with-kustomize-recommended"} <= \
        anchors(page)


def test_the_front_page_example_prints_what_the_renderer_prints(tmp_path, cli):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    app = re.search(r"This app file:\n\n```yaml\n(.*?)```", text, re.S).group(1)
    shown = re.search(r"value\):\n\n```text\n(.*?)```", text, re.S).group(1)
    (tmp_path / "eventbus-render.yaml").write_text(app)
    result = cli("render", "--app", tmp_path)
    assert result.code == 0 and result.err == ""
    assert result.out == shown
    (tmp_path / "eventbus-render.yaml").write_text(app.replace("    priorityClassName:", "    replicas: 2\n"
                                                                   "    priorityClassName:"))
    refused = cli("render", "--app", tmp_path)
    assert refused.code == 1 and refused.out == ""
    for line in re.search(r"stderr says why:\n\n```text\n(.*?)```", text, re.S).group(1).splitlines():
        assert line == "  ..." or line in refused.err.splitlines()
