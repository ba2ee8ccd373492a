"""``render --all -o DIR`` publishes in one step: DIR is always one complete tree, whatever kills the run when.

The kill tests run the real command line under an audit-hook harness
(``tests/review/audit_stop.py``) that stops the process just before a chosen
file-system step of a real run: SIGKILL at that step is kill -9 at exactly
that point; SIGSTOP freezes the process there for the test to look, signal and
go on. Which steps exist is learned from a dry run of the same command.
"""

from __future__ import annotations

import fcntl
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from renderer.commands import outdir, publish
from renderer.commands.tree import INDEX_FILE
from tests.review.helpers import SMALL, app_file

HARNESS = Path(__file__).with_name("audit_stop.py")
APPS = 4
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the exchange is Linux's renameat2")


def sources(root: Path, version: str) -> Path:
    """``APPS`` apps of two environments each, every manifest labelled with ``version``."""
    for index in range(APPS):
        app = root / f"apps/app{index}"
        app.mkdir(parents=True, exist_ok=True)
        (app / "eventbus-render.yaml").write_text(
            app_file(f"bus{index}", f"ns{index}", "jetstream", "small", "dev: {}\nprod: {}\n",
                     f"values:\n  labels:\n    version: {version}\n"))
        (app / "profiles").mkdir(exist_ok=True)
        (app / "profiles/small.yaml").write_text(SMALL)
    return root


def tree(folder: Path) -> dict:
    """Every file below ``folder``: relative path -> bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def harness(*args, stop: str | None = None, log: Path | None = None, env: dict | None = None,
            **popen) -> subprocess.Popen:
    env = dict(os.environ if env is None else env, EVENTBUS_RENDER_WORKER="")
    if stop:
        env["AUDIT_STOP"] = stop
    if log:
        env["AUDIT_LOG"] = str(log)
    # SIGINT as a terminal gives it, whatever started the tests (a shell's background job ignores it, and a
    # process started with SIGINT ignored rightly keeps ignoring it)
    return subprocess.Popen([sys.executable, str(HARNESS), *map(str, args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint, **popen)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_stopped(process: subprocess.Popen) -> None:
    """Wait until ``process`` has stopped itself (SIGSTOP) or has ended: the harness's handshake."""
    _, status = os.waitpid(process.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"the process ended before the step (status {status}): {process.stderr.read()}"


def beside(target: Path) -> list:
    return sorted(os.listdir(target.parent))


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """Sources at version "new", the complete trees of versions "old" and "new", and the steps of a run."""
    base = tmp_path_factory.mktemp("versions")
    root = sources(base / "repo", "old")
    old_tree = base / "old"
    assert subprocess.run([sys.executable, "-m", "renderer", "render", "--all", "--root", root, "-o", old_tree],
                          env=dict(os.environ, EVENTBUS_RENDER_WORKER=""), capture_output=True).returncode == 0
    sources(root, "new")
    log = base / "steps.log"
    target = base / "out" / "rendered"
    shutil.copytree(old_tree, target)
    dry = harness("render", "--all", "--root", root, "-o", target, log=log)
    assert dry.wait(timeout=60) == 0, dry.stderr.read()
    steps = [line.split(" ", 2) for line in log.read_text().splitlines()]
    return root, tree(old_tree), tree(target), old_tree, steps


def step(steps: list, event: str, pattern: str, after: int = 0) -> int:
    """The number of the first step after ``after`` of kind ``event`` whose detail matches ``pattern``."""
    for number, kind, detail in steps:
        if int(number) > after and kind == event and re.search(pattern, detail):
            return int(number)
    raise AssertionError(f"no step {event} {pattern!r} in the run")


def named_steps(steps: list) -> dict:
    """The steps of the publication, by what they are."""
    lock = step(steps, "open", r"\.rendered\.lock")
    staging = step(steps, "os.mkdir", r"\.rendered\.tmp-")
    first = step(steps, "open", r"\.tmp-.*/eventbus-bus", staging)  # written in place: the staging tree is private
    index = step(steps, "os.rename", re.escape(f"/{INDEX_FILE} "), staging)
    exchange = step(steps, "renderer.publish.swap", "", index)  # the instant before renameat2 itself
    removal = step(steps, "shutil.rmtree", r"\.rendered\.tmp-", exchange)  # the first step after it
    half = step(steps, "os.rmdir", "", removal)
    unlock = step(steps, "os.remove", r"\.rendered\.lock", removal)
    return {"lock": (lock, "old"), "staging": (staging, "old"), "first-object": (first, "old"),
            "index": (index, "old"), "before-exchange": (exchange, "old"), "after-exchange": (removal, "new"),
            "old-tree-half-removed": (half, "new"), "unlock": (unlock, "new")}


def fresh_target(tmp_path: Path, old_tree: Path) -> Path:
    target = tmp_path / "out" / "rendered"
    shutil.copytree(old_tree, target)
    return target


KILL_POINTS = ["lock", "staging", "first-object", "index", "before-exchange", "after-exchange",
               "old-tree-half-removed", "unlock"] + [f"random-{seed}" for seed in range(4)]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_9_at_any_step_leaves_the_old_or_the_new_tree_complete_and_the_next_run_cleans_up(
        point, versions, tmp_path, cli):
    root, old, new, old_tree, steps = versions
    named = named_steps(steps)
    if point.startswith("random-"):  # a moment drawn from every step of the run, the same on every run
        number, expected = random.Random(point).randint(1, len(steps)), None
    else:
        number, expected = named[point]
    target = fresh_target(tmp_path, old_tree)
    process = harness("render", "--all", "--root", root, "-o", target, stop=f"{number}:kill")
    assert process.wait(timeout=60) == -signal.SIGKILL
    found = tree(target)
    assert found in (old, new), f"{point}: the output folder is neither tree"
    if expected is not None:
        assert found == (old if expected == "old" else new), point
    assert target.is_dir() and not target.is_symlink()
    again = cli("render", "--all", "--root", root, "-o", target)
    assert again.code == 0, again.err
    assert tree(target) == new
    assert beside(target) == ["rendered"]  # no staging tree, old tree or lock left by the killed run


def test_a_frozen_run_shows_the_old_tree_until_the_exchange_and_the_new_one_right_after(versions, tmp_path):
    root, old, new, old_tree, steps = versions
    named = named_steps(steps)
    for point, expected in (("before-exchange", old), ("after-exchange", new)):
        target = fresh_target(tmp_path / point, old_tree)
        process = harness("render", "--all", "--root", root, "-o", target, stop=f"{named[point][0]}:stop")
        wait_stopped(process)
        try:
            assert tree(target) == expected, point
            staged = [name for name in beside(target) if ".tmp-" in name]
            assert len(staged) == 1 and tree(target.parent / staged[0]) == (new if expected is old else old)
        finally:
            os.kill(process.pid, signal.SIGCONT)
        assert process.wait(timeout=60) == 0, process.stderr.read()
        assert tree(target) == new and beside(target) == ["rendered"]


def test_the_output_folder_stays_a_real_directory_replaced_in_one_exchange(versions, tmp_path, cli):
    root, old, new, old_tree, _ = versions
    target = fresh_target(tmp_path, old_tree)  # a tree as an earlier version wrote it: a plain folder
    before = target.stat().st_ino
    result = cli("render", "--all", "--root", root, "-o", target)
    assert result.code == 0, result.err
    assert not target.is_symlink() and target.is_dir() and target.stat().st_ino != before
    assert tree(target) == new and beside(target) == ["rendered"]


@pytest.mark.parametrize("kind", ["empty folder", "missing folder"])
def test_a_new_or_empty_output_folder_appears_complete_in_one_rename(versions, tmp_path, cli, kind):
    root, _, new, _, _ = versions
    target = tmp_path / "out" / "rendered"
    if kind == "empty folder":
        target.mkdir(parents=True)
    assert cli("render", "--all", "--root", root, "-o", target).code == 0
    assert tree(target) == new and beside(target) == ["rendered"]


READER = r"""
import os, select, sys
target, index = sys.argv[1], sys.argv[2]
reads = missing = mixed = 0
print("ready", flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:  # until told to stop, read as fast as it can
    try:
        fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        missing += 1
        continue
    try:
        here = f"/proc/self/fd/{fd}"
        if not os.path.isfile(f"{here}/{index}"):
            if os.stat(target).st_ino == os.fstat(fd).st_ino:  # else: the old tree, removed while it was read
                missing += 1
            continue
        files = [open(f"{here}/{e}/{n}/{f}").read() for e in os.listdir(here) if e != index
                 for n in os.listdir(f"{here}/{e}") for f in os.listdir(f"{here}/{e}/{n}")]
        labels = {line.strip() for text in files for line in text.splitlines()
                  if line.strip() in ("version: old", "version: new")}
        if len(files) != 8 or len(labels) != 1:
            if os.stat(target).st_ino == os.fstat(fd).st_ino:  # else: the old tree, removed while it was read
                mixed += 1
        reads += 1
    except FileNotFoundError:  # the old tree this read had open is being removed: the folder is the new one
        pass
    finally:
        os.close(fd)
print(reads, missing, mixed, flush=True)
"""


def test_a_reader_never_finds_the_output_folder_missing_or_mixed(versions, tmp_path, cli):
    root, _, _, old_tree, _ = versions
    target = fresh_target(tmp_path, old_tree)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(target), INDEX_FILE], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline() == "ready\n"  # reading from now on, while the tree is published again and again
    for _ in range(10):
        assert cli("render", "--all", "--root", root, "-o", target).code == 0
    reader.stdin.write("stop\n")
    reader.stdin.close()
    reads, missing, mixed = map(int, reader.stdout.readline().split())
    assert reader.wait(timeout=30) == 0
    assert (missing, mixed) == (0, 0) and reads >= 1


# -- one run at a time, and what earlier runs left -------------------------------------------------


def test_a_second_render_all_into_the_same_folder_fails_at_once_while_the_first_completes(versions, tmp_path, cli):
    root, old, new, old_tree, steps = versions
    target = fresh_target(tmp_path, old_tree)
    first = harness("render", "--all", "--root", root, "-o", target,
                    stop=f"{named_steps(steps)['first-object'][0]}:stop")
    wait_stopped(first)
    try:
        second = cli("render", "--all", "--root", root, "-o", target)
        assert second.code == 2 and second.out == ""
        assert second.err == (f"error: another render --all is writing {str(target)!r} (process {first.pid})\n"
                              "  hint: run one render --all per output folder at a time (.rendered.lock is its lock)\n")
        assert tree(target) == old
        other = cli("render", "--all", "--root", root, "-o", tmp_path / "out" / "other")  # its own lock
        assert other.code == 0, other.err
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert first.wait(timeout=60) == 0, first.stderr.read()
    assert tree(target) == new and beside(target) == ["other", "rendered"]


@pytest.mark.parametrize("planted", ["symlink", "fifo", "stale file of a killed run"])
def test_a_lock_file_that_is_not_a_lock_is_refused_and_a_stale_one_is_taken_over(versions, tmp_path, cli, planted):
    root, _, new, old_tree, _ = versions
    target = fresh_target(tmp_path, old_tree)
    lock = target.parent / ".rendered.lock"
    if planted == "symlink":
        os.symlink(tmp_path / "elsewhere", lock)
    elif planted == "fifo":
        os.mkfifo(lock)
    else:
        lock.write_text("999999999\n")
    result = cli("render", "--all", "--root", root, "-o", target)
    if planted == "stale file of a killed run":
        assert result.code == 0, result.err
        assert tree(target) == new and beside(target) == ["rendered"]
    else:
        assert result.code == 2 and "is not a regular file" in result.err and "Traceback" not in result.err
        assert not (tmp_path / "elsewhere").exists()
        assert beside(target) == [".rendered.lock", "rendered"]


def test_what_killed_runs_left_beside_the_folder_is_removed_and_nothing_else(versions, tmp_path, cli):
    root, _, new, old_tree, _ = versions
    target = fresh_target(tmp_path, old_tree)
    parent = target.parent
    for name in (".rendered.tmp-0123456789ab", ".rendered.old-ba9876543210", ".rendered.tmp-0000000000ff"):
        (parent / name / "dev").mkdir(parents=True)
        (parent / name / "dev" / "x.yaml").write_text("half\n")
    keep = [".rendered.tmp-notours", ".other.tmp-0123456789ab", "rendered.tmp-0123456789ab"]
    for name in keep:
        (parent / name).mkdir()
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "keep.txt").write_text("keep\n")
    os.symlink(tmp_path / "victim", parent / ".rendered.tmp-aaaaaaaaaaaa")  # never followed, never removed
    busy = os.open(parent / ".rendered.tmp-0000000000ff", os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(busy, fcntl.LOCK_EX)  # a worker of a killed run that has not finished dying
    try:
        result = cli("render", "--all", "--root", root, "-o", target)
    finally:
        os.close(busy)
    assert result.code == 0, result.err
    assert tree(target) == new
    assert beside(target) == sorted([*keep, ".rendered.tmp-0000000000ff", ".rendered.tmp-aaaaaaaaaaaa", "rendered"])
    assert (tmp_path / "victim" / "keep.txt").read_text() == "keep\n"
    assert cli("render", "--all", "--root", root, "-o", target).code == 0  # now nobody holds it
    assert beside(target) == sorted([*keep, ".rendered.tmp-aaaaaaaaaaaa", "rendered"])


def test_an_old_tree_set_aside_by_a_killed_run_is_put_back_before_anything_else(versions, tmp_path, cli):
    root, old, _, old_tree, _ = versions
    target = fresh_target(tmp_path, old_tree)
    os.rename(target, target.parent / ".rendered.old-0123456789ab")  # killed between the two renames
    (root / "apps/app0/eventbus-render.yaml").write_text("backend: nope\n")
    try:
        result = cli("render", "--all", "--root", root, "-o", target)
    finally:
        sources(root, "new")
    assert result.code == 2 and "nothing was written" in result.err
    assert tree(target) == old and beside(target) == ["rendered"]


def test_without_an_exchange_the_old_tree_is_moved_aside_for_an_instant_and_removed(versions, tmp_path, cli,
                                                                                   monkeypatch):
    root, _, new, old_tree, _ = versions
    monkeypatch.setattr(publish, "_EXCHANGE_FUNCTION", [None])  # a system or file system without renameat2
    target = fresh_target(tmp_path, old_tree)
    result = cli("render", "--all", "--root", root, "-o", target)
    assert result.code == 0, result.err
    assert tree(target) == new and beside(target) == ["rendered"]


def test_the_exchange_swaps_two_folders_and_says_when_it_cannot(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one").write_text("1")
    (tmp_path / "b").mkdir()
    assert publish.exchange(tmp_path / "a", tmp_path / "b") is True
    assert os.listdir(tmp_path / "b") == ["one"] and os.listdir(tmp_path / "a") == []
    with pytest.raises(FileNotFoundError):
        publish.exchange(tmp_path / "a", tmp_path / "missing")


# -- signals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
@pytest.mark.parametrize("point", ["first-object", "before-exchange"])
def test_sigterm_sighup_and_sigint_remove_the_staging_tree_and_the_lock(versions, tmp_path, signum, point):
    root, old, new, old_tree, steps = versions
    target = fresh_target(tmp_path, old_tree)
    process = harness("render", "--all", "--root", root, "-o", target, stop=f"{named_steps(steps)[point][0]}:stop")
    wait_stopped(process)
    os.kill(process.pid, signum)  # pending until it runs again
    os.kill(process.pid, signal.SIGCONT)
    assert process.wait(timeout=60) == 128 + signum
    err = process.stderr.read()
    assert "Traceback" not in err and err.strip().splitlines()[-1] in (
        f"stopped by {signal.Signals(signum).name}", "interrupted")
    # stopped while rendering: the old tree; while publishing: the step completes first, then the clean-up
    assert tree(target) == (old if point == "first-object" else new)
    assert beside(target) == ["rendered"]


def test_workers_of_a_killed_run_die_with_it_and_leave_nothing_after_the_next_run(tmp_path, cli):
    root = tmp_path / "repo"
    for index in range(70):  # enough apps for forked workers
        app = root / f"apps/app{index:02d}"
        app.mkdir(parents=True)
        (app / "eventbus-render.yaml").write_text(app_file(f"bus{index}", f"ns{index}", "jetstream", "dev"))
    target = tmp_path / "out" / "rendered"
    rng = random.Random(11)
    env = dict(os.environ, EVENTBUS_RENDER_WORKER="")
    for _ in range(3):
        process = subprocess.Popen([sys.executable, "-m", "renderer", "render", "--all", "--root", root, "-o",
                                    target], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        written = rng.randint(5, 60)  # kill -9 the parent alone once its workers have written this many objects
        while process.poll() is None and staged_objects(target) < written:
            time.sleep(0.002)  # polls the condition; the kill lands whenever it holds
        process.kill()
        process.wait(timeout=60)
        for name in beside(target):  # the workers die with their parent: their lock on the staging tree goes
            if ".tmp-" in name:
                fd = os.open(target.parent / name, os.O_RDONLY | os.O_DIRECTORY)
                fcntl.flock(fd, fcntl.LOCK_EX)  # returns once the last worker has exited
                os.close(fd)
        assert not target.exists() or len(tree(target)) == 71
    result = cli("render", "--all", "--root", root, "-o", target)
    assert result.code == 0, result.err
    assert beside(target) == ["rendered"]
    assert len(tree(target)) == 71


def staged_objects(target: Path) -> int:
    """How many objects the staging trees beside ``target`` hold."""
    count = 0
    if target.parent.is_dir():
        for name in os.listdir(target.parent):
            if ".tmp-" in name:
                count += sum(len(files) for _, _, files in os.walk(target.parent / name))
    return count


def test_leftover_names_are_only_those_of_this_output_folder():
    pattern = outdir._leftover_pattern(Path("/x/rendered"))
    assert pattern.fullmatch(".rendered.tmp-0123456789ab") and pattern.fullmatch(".rendered.old-0123456789ab")
    for name in (".rendered.tmp-0123456789aB", ".rendered.tmp-0123456789abc", ".renderedx.tmp-0123456789ab",
                 ".rendered.lock", "rendered", ".rendered.new-0123456789ab"):
        assert not pattern.fullmatch(name), name
