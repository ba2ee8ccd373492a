"""Read files of a git revision without touching the working tree or the index.

``diff --base REF`` renders a repository as it was at ``REF``. The files are
read straight from git's object database (``git ls-tree`` then one
``git cat-file --batch``) into a temporary directory: no checkout, no
worktree, no index, no lock, and no ``.gitattributes`` filters or
substitutions (``git archive`` would apply ``export-ignore`` and
``export-subst``, so the export would differ from the commit).

Every git process runs with a cleaned environment (no ``GIT_DIR``,
``GIT_INDEX_FILE``, ``GIT_CONFIG_PARAMETERS``... inherited from a hook or a
CI step) and with configuration that can run programs or reach the network
switched off, so reading a revision of an untrusted repository runs nothing
but git itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from renderer.errors import InputError
from renderer.stages import writer

# Settings that could run a program, take a lock or reach the network.
SAFE_CONFIG = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.untrackedCache=false",
    "protocol.allow=never",
    "gc.auto=0",
    "maintenance.auto=false",
    "color.ui=false",
    "core.pager=cat",
)
# Variables that only choose which of the user's own config files git reads
# (CI containers put safe.directory there); every other GIT_* is dropped.
_KEPT_GIT_VARIABLES = ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM")
_FILE_MODES = {"100644": 0o644, "100755": 0o755}
_SYMLINK_MODE = "120000"


def git_environment() -> dict:
    """The environment git runs with: the caller's, minus repository-selecting ``GIT_*`` variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in _KEPT_GIT_VARIABLES}
    env.update({
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_NO_LAZY_FETCH": "1",  # a partial clone must not fetch missing objects
        "GIT_OPTIONAL_LOCKS": "0",
        "LC_ALL": "C",
        "LANGUAGE": "C",
    })
    return env


def _command(repo: Path, *args: str) -> list:
    command = ["git", "--no-optional-locks", "--no-replace-objects", "--literal-pathspecs"]
    for setting in SAFE_CONFIG:
        command += ["-c", setting]
    return command + ["-C", str(repo), *args]


def run_git(repo: Path, *args: str, what: str) -> bytes:
    """Run git in ``repo``; a failure becomes an :class:`InputError` saying ``what`` failed."""
    try:
        proc = subprocess.run(_command(repo, *args), stdin=subprocess.DEVNULL, capture_output=True,
                              env=git_environment(), check=False)
    except FileNotFoundError:
        raise InputError("git is not installed (or not on PATH)", hint="install git to compare revisions") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"{what}: {detail[-1] if detail else f'git exited with {proc.returncode}'}")
    return proc.stdout


@dataclass(frozen=True, slots=True)
class Checkout:
    """A directory inside a git work tree: the repository top level and the directory's prefix in it."""

    toplevel: Path
    prefix: str  # POSIX path of the directory relative to the top level, "" for the top level itself


def locate(directory: Path) -> Checkout:
    """The git work tree holding ``directory``. Not a git repository is an :class:`InputError`."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"directory {str(directory)!r} does not exist")
    try:
        out = run_git(directory, "rev-parse", "--show-toplevel", "--show-prefix", what="not a git work tree")
    except InputError as exc:
        raise InputError(f"{str(directory)!r} is not inside a git work tree",
                         hint="diff --base needs the repository's history; to compare with a committed "
                              "render use diff --against DIR") from exc
    lines = out.decode("utf-8", "surrogateescape").split("\n")
    if len(lines) < 2 or not lines[0]:
        raise InputError(f"{str(directory)!r} is not inside a git work tree (a bare repository?)")
    return Checkout(Path(lines[0]), lines[1].rstrip("/"))


def resolve(repo: Path, ref: str) -> str:
    """The commit id ``ref`` names in ``repo``. Unknown refs are an :class:`InputError`."""
    if not ref or ref.startswith("-") or any(c in ref for c in "\0\n\r"):
        raise InputError(f"{ref!r} is not a git revision", hint="pass a branch, tag or commit, e.g. --base main")
    try:
        out = run_git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}",
                      what=f"unknown revision {ref!r}")
    except InputError:
        raise InputError(f"unknown git revision {ref!r}",
                         hint="fetch it first (in CI: actions/checkout with fetch-depth: 0, "
                              "or git fetch origin BRANCH), or check the spelling") from None
    return out.decode().strip()


def _safe_relative(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and all(p not in ("", ".", "..") and p.lower() != ".git" for p in parts)


def list_tree(repo: Path, commit: str, prefix: str, also: tuple = ()) -> list[tuple[str, str, str]]:
    """``(mode, object id, path)`` of every file below ``prefix`` (and below each folder of ``also``) at
    ``commit`` (paths relative to the top)."""
    args = ["ls-tree", "-r", "-z", "--full-tree", commit]
    if prefix:
        args += ["--", prefix, *also]
    out = run_git(repo, *args, what=f"cannot list the files of {commit[:12]}")
    entries = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, oid = meta.decode().split(" ")
        path = raw_path.decode("utf-8", "surrogateescape")
        if kind != "blob" or not _safe_relative(path):
            continue  # submodules (commits) and paths git would never check out
        entries.append((mode, oid, path))
    return entries


def export(repo: Path, commit: str, entries: list[tuple[str, str, str]], destination: Path,
           reuse: dict | None = None) -> int:
    """Write the blobs of ``entries`` (from :func:`list_tree`) under ``destination``. Returns the file count.

    One ``git cat-file --batch`` process streams every blob. Symlinks are
    recreated as symlinks (so the renderer refuses the same links it refuses
    in a checkout), after every regular file, so no write goes through one.

    ``reuse`` maps ``(mode, object id)`` to a file an earlier export wrote
    (exports into one private folder share it): such files are hard-linked
    instead of read and written again, and the files written here are added.
    """
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    if not entries:
        return 0
    base = str(destination)
    made = {base}
    links, fetch = [], []
    for mode, oid, path in entries:
        target = os.path.join(base, path)
        if mode == _SYMLINK_MODE:
            fetch.append((mode, oid, path, target))
            continue
        known = reuse.get((mode, oid)) if reuse is not None else None
        if known is not None:
            _parent(target, made)
            try:
                os.link(known, target)
                continue
            except OSError:
                pass  # a file system without hard links: write it
        fetch.append((mode, oid, path, target))
    if not fetch:
        return len(entries)
    try:
        proc = subprocess.Popen(_command(repo, "cat-file", "--batch"), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git_environment())
    except FileNotFoundError:
        raise InputError("git is not installed (or not on PATH)") from None

    def feed():
        try:
            proc.stdin.write(b"".join(oid.encode() + b"\n" for _, oid, _, _ in fetch))
            proc.stdin.close()
        except BrokenPipeError:
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    complete = False
    try:
        stdout = proc.stdout
        for mode, oid, path, target in fetch:
            header = stdout.readline().split()
            if len(header) != 3 or header[1] != b"blob":
                raise InputError(f"cannot read {path} at {commit[:12]} from git")
            data = stdout.read(int(header[2]))
            stdout.read(1)  # the newline after each object
            if mode == _SYMLINK_MODE:
                links.append((target, os.fsdecode(data)))
                continue
            _parent(target, made)
            file_mode = _FILE_MODES.get(mode, 0o644)
            writer.write_file(target, data, mode=file_mode)
            if reuse is not None:
                reuse[(mode, oid)] = target
        for target, link in links:
            _parent(target, made)
            os.symlink(link, target)
        complete = True
    finally:
        if not complete:
            proc.kill()  # unblocks the feeder if git stopped reading
        feeder.join()
        proc.stdout.close()
        stderr = proc.stderr.read()
        proc.stderr.close()
        code = proc.wait()
    if code != 0:
        detail = stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"git cat-file failed at {commit[:12]}: {detail[-1] if detail else code}")
    return len(entries)


def _parent(target: str, made: set) -> None:
    """Create the folder of ``target`` (and its parents) unless it was made already."""
    folder = os.path.dirname(target)
    if folder not in made:
        os.makedirs(folder, exist_ok=True)
        made.add(folder)


def remove_tree(path: Path) -> None:
    """Delete a temporary export, symlinks included (never following them)."""
    shutil.rmtree(path, ignore_errors=True)
