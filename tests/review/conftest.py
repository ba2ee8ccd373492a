"""Fixtures of the review tests: an isolated git configuration for every test."""

from __future__ import annotations

import pytest

from tests.review.helpers import GitRepo


@pytest.fixture
def git_home(tmp_path, monkeypatch):
    """A HOME and global git config of the test's own, also for the git the renderer runs."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    return home


@pytest.fixture
def make_repo(tmp_path, git_home):
    """Factory: ``make_repo("name")`` -> a fresh :class:`GitRepo` below tmp_path."""

    def factory(name: str = "repo") -> GitRepo:
        return GitRepo(tmp_path / name, git_home)

    return factory
