"""Helpers of the review tests: real git repositories in temporary folders, and app files."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from tests.files import write_files

# fixed identity and dates, so commit ids (shown in diff labels) are the same on every run
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


# an app-local profile with one JetStream server, independent of the built-in profiles
SMALL = """\
values:
  jetstream:
    version: "2.10.29"
    replicas: 1
    streamConfig: |
      replicas: 1
"""


class GitRepo:
    """A git work tree in a temporary folder, driven the way a user drives one."""

    def __init__(self, path: Path, home: Path):
        self.path = Path(path)
        self.home = Path(home)
        self.path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_ENV)
        env.update({"HOME": str(self.home), "GIT_CONFIG_GLOBAL": str(self.home / ".gitconfig"),
                    "GIT_CONFIG_NOSYSTEM": "1"})
        return env

    def git(self, *args: str) -> str:
        proc = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                              cwd=self.path, env=self.env(), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    def write(self, files: dict) -> None:
        write_files(self.path, files)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


def app_file(name: str, namespace: str, backend: str, profile: str, environments: str = "", extra: str = "") -> str:
    """The text of a small app file."""
    text = f"name: {name}\nnamespace: {namespace}\nbackend: {backend}\nprofile: {profile}\n"
    if extra:
        text += textwrap.dedent(extra)
    if environments:
        text += "environments:\n" + textwrap.indent(textwrap.dedent(environments), "  ")
    return text
