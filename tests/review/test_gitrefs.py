"""Reading a revision from git's objects: exact content, no attributes, nothing in the work tree touched."""

from __future__ import annotations

import os

import pytest

from renderer.commands import bulk as review
from renderer.commands import gitrefs
from renderer.errors import InputError
from tests.review.helpers import app_file


@pytest.fixture
def repo(make_repo):
    repo = make_repo()
    repo.write({
        "apps/a/eventbus-render.yaml": app_file("default", "a", "kafka", "dev",
                                                extra="values: {kafka: {url: 'k:9092'}}\n"),
        "apps/a/notes.txt": "$Format:%H$\n",
        "apps/a/run.sh": "#!/bin/sh\n",
        ".gitattributes": "notes.txt export-subst\nrun.sh export-ignore\n",
        "other/big.txt": "x" * 1000,
    })
    os.chmod(repo.path / "apps/a/run.sh", 0o755)
    os.symlink("notes.txt", repo.path / "apps/a/link.txt")
    repo.commit("base")
    return repo


def export(repo, tmp_path, prefix="", ref="HEAD"):
    commit = gitrefs.resolve(repo.path, ref)
    entries = gitrefs.list_tree(repo.path, commit, prefix)
    gitrefs.export(repo.path, commit, entries, tmp_path / "export")
    return tmp_path / "export", entries


def test_the_export_holds_the_committed_bytes_without_attribute_filters(repo, tmp_path):
    out, entries = export(repo, tmp_path)
    assert sorted(path for _, _, path in entries) == [
        ".gitattributes", "apps/a/eventbus-render.yaml", "apps/a/link.txt", "apps/a/notes.txt", "apps/a/run.sh",
        "other/big.txt"]
    assert (out / "apps/a/notes.txt").read_text() == "$Format:%H$\n"  # no export-subst
    assert (out / "apps/a/run.sh").is_file() and os.access(out / "apps/a/run.sh", os.X_OK)  # no export-ignore
    assert os.readlink(out / "apps/a/link.txt") == "notes.txt"
    assert (out / "other/big.txt").read_text() == "x" * 1000


def test_a_prefix_limits_the_export(repo, tmp_path):
    _, entries = export(repo, tmp_path, prefix="apps")
    assert all(path.startswith("apps/") for _, _, path in entries)
    assert gitrefs.list_tree(repo.path, gitrefs.resolve(repo.path, "HEAD"), "missing") == []


def test_nothing_in_the_work_tree_or_index_changes(repo, tmp_path):
    (repo.path / "apps/a/notes.txt").write_text("edited, not staged\n")
    (repo.path / "new.txt").write_text("untracked\n")
    status = repo.git("status", "--porcelain=v1", "--untracked-files=all")
    index = (repo.path / ".git/index").read_bytes()
    before = sorted(p.name for p in (repo.path / ".git").iterdir())
    export(repo, tmp_path)
    assert repo.git("status", "--porcelain=v1", "--untracked-files=all") == status
    assert (repo.path / ".git/index").read_bytes() == index
    assert sorted(p.name for p in (repo.path / ".git").iterdir()) == before
    assert (repo.path / "apps/a/notes.txt").read_text() == "edited, not staged\n"


def test_locate_finds_the_top_level_and_prefix(repo):
    assert gitrefs.locate(repo.path / "apps" / "a") == gitrefs.Checkout(repo.path.resolve(), "apps/a")
    assert gitrefs.locate(repo.path).prefix == ""


@pytest.mark.parametrize("ref", ["", "-x", "--output=/tmp/pwned", "main\nHEAD", "no-such-ref", "HEAD~5"])
def test_bad_revisions_are_input_errors(repo, ref):
    with pytest.raises(InputError):
        gitrefs.resolve(repo.path, ref)


def test_the_environment_of_a_git_hook_is_dropped(monkeypatch, tmp_path):
    monkeypatch.setenv("GIT_DIR", str(tmp_path))
    monkeypatch.setenv("GIT_WORK_TREE", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "config"))
    env = gitrefs.git_environment()
    assert "GIT_DIR" not in env and "GIT_WORK_TREE" not in env
    assert env["GIT_CONFIG_GLOBAL"] == str(tmp_path / "config")
    assert env["GIT_TERMINAL_PROMPT"] == "0"


def test_a_symlink_leaving_the_app_is_refused_in_an_export_as_in_a_checkout(make_repo, tmp_path, cli):
    repo = make_repo()
    repo.write({"apps/a/eventbus-render.yaml": app_file("default", "a", "jetstream", "stolen"),
                "secret/stolen.yaml": "values: {}\n"})
    (repo.path / "apps/a/profiles").mkdir()
    os.symlink("../../../secret/stolen.yaml", repo.path / "apps/a/profiles/stolen.yaml")
    repo.commit("link")
    out, entries = export(repo, tmp_path)
    tree = review.render_root(out / "apps", jobs=1)
    assert [f.message for f in tree.failures] == [
        "a/profiles/stolen.yaml: profile 'stolen' is a symlink that leaves the app directory\n"
        "  hint: replace the symlink by the file itself"]
    result = cli("diff", "--root", repo.path / "apps", "--base", "HEAD")
    assert result.code == 2 and "is a symlink that leaves the app directory" in result.err
