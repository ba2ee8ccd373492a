"""Output that cannot be written is one message and exit 2, leaving nothing half-written and no empty folder.

stdout on ``/dev/full``, a closed pipe, a regular file on a full disk; ``-o``
on a full or read-only file system (real ones: a tmpfs in a private mount
namespace, :mod:`tests.mounts`); links under the output folder; and a
read-only root with no writable temporary folder, where rendering still works.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mounts import needs_mounts, run_private
from tests.review.helpers import SMALL, app_file

RENDERER = [sys.executable, "-m", "renderer"]
ENV = dict(os.environ, EVENTBUS_RENDER_WORKER="")


def repo(root: Path, version: str = "one") -> Path:
    for index in range(4):
        app = root / f"apps/app{index}"
        (app / "profiles").mkdir(parents=True, exist_ok=True)
        (app / "eventbus-render.yaml").write_text(app_file(
            f"bus{index}", f"ns{index}", "jetstream", "small", "dev: {}\nprod: {}\n",
            f"values:\n  labels:\n    version: {version}\n"))
        (app / "profiles/small.yaml").write_text(SMALL)
    return root


def tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def commands(root: Path, rendered: Path) -> dict:
    app = root / "apps/app0"
    return {
        "render": ["render", "--app", app, "--env", "dev"],
        "render --format json": ["render", "--app", app, "--env", "dev", "--format", "json"],
        "render --all": ["render", "--all", "--root", root],
        "list": ["list", "--app", app],
        "explain": ["explain", "--app", app, "--env", "dev"],
        "check": ["check", "--app", app, "--env", "dev"],
        "check --all": ["check", "--all", "--root", root],
        "guards": ["guards"],
        "schema": ["schema", "app"],
        "diff --against": ["diff", "--against", rendered, "--root", root],
        "--help": ["--help"],
        "render --help": ["render", "--help"],
        "--version": ["--version"],
    }


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    base = tmp_path_factory.mktemp("outputs")
    root = repo(base / "repo")
    rendered = base / "rendered"
    assert subprocess.run([*RENDERER, "render", "--all", "--root", root, "-o", rendered], env=ENV).returncode == 0
    repo(root, "two")  # so that diff --against has something to print
    return root, rendered


COMMANDS = list(commands(Path("r"), Path("o")))


def assert_one_output_error(proc, reason: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == f"error: could not write the output to stdout: {reason}", proc.stderr
    assert len(lines) == 2 and lines[1].startswith("  hint: "), proc.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_stdout_on_a_full_device_is_one_message_and_exit_2(sources, command):
    args = commands(*sources)[command]
    with open("/dev/full", "w") as full:
        proc = subprocess.run([*RENDERER, *map(str, args)], stdout=full, stderr=subprocess.PIPE, text=True, env=ENV)
    assert_one_output_error(proc, "No space left on device")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_closed_pipe_is_one_message_and_exit_2_not_a_guard_failure(sources, command):
    args = commands(*sources)[command]
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first byte
    try:
        proc = subprocess.run([*RENDERER, *map(str, args)], stdout=write, stderr=subprocess.PIPE, text=True, env=ENV)
    finally:
        os.close(write)
    assert_one_output_error(proc, "Broken pipe")


@pytest.mark.parametrize("command", [["argocd", "generate"], ["argocd", "parameters"]])
def test_the_argocd_commands_say_so_too_when_stdout_is_a_closed_pipe(tmp_path, command):
    app = repo(tmp_path / "repo") / "apps/app0"
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([str(Path(sys.executable).parent / "eventbus-render"), *command], cwd=app,
                              stdout=write, stderr=subprocess.PIPE, text=True,
                              env=dict(ENV, ARGOCD_ENV_ENVIRONMENT="dev"))
    finally:
        os.close(write)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.endswith("error: could not write the output to stdout: Broken pipe\n")


# -- links under the output folder -----------------------------------------------------------------


@pytest.mark.parametrize("planted", ["namespace folder to a folder", "namespace folder to nowhere",
                                     "output folder to a folder", "namespace folder is a file"])
def test_render_o_never_follows_a_link_under_the_output_folder(tmp_path, cli, planted):
    app = repo(tmp_path / "repo") / "apps/app0"
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    if planted == "namespace folder to a folder":
        os.symlink(elsewhere, out / "ns0")
    elif planted == "namespace folder to nowhere":
        os.symlink(elsewhere / "missing", out / "ns0")
    elif planted == "output folder to a folder":
        out.rmdir()
        os.symlink(elsewhere, out)
    else:
        (out / "ns0").write_text("a file\n")
    before = tree(tmp_path)
    result = cli("render", "--app", app, "--env", "dev", "-o", out)
    assert result.code == 2 and result.out == "" and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) <= 2
    assert ("symlink" in result.err) == (planted != "namespace folder is a file")
    assert tree(tmp_path) == before  # nothing written anywhere, nothing made


def test_a_link_where_the_file_goes_is_replaced_not_followed(tmp_path, cli):
    app = repo(tmp_path / "repo") / "apps/app0"
    (tmp_path / "out/ns0").mkdir(parents=True)
    (tmp_path / "victim").write_text("keep\n")
    os.symlink(tmp_path / "victim", tmp_path / "out/ns0/eventbus-bus0.yaml")
    assert cli("render", "--app", app, "--env", "dev", "-o", tmp_path / "out").code == 0
    assert (tmp_path / "victim").read_text() == "keep\n"
    assert not (tmp_path / "out/ns0/eventbus-bus0.yaml").is_symlink()


def test_temporary_files_left_by_killed_writers_are_removed_and_a_live_writers_kept(tmp_path, cli):
    app = repo(tmp_path / "repo") / "apps/app0"
    folder = tmp_path / "out/ns0"
    folder.mkdir(parents=True)
    dead = [".eventbus-bus0.yaml.999999999-0.tmp", ".eventbus-bus0.yaml.999999999-17.tmp"]
    kept = [f".eventbus-bus0.yaml.{os.getpid()}-3.tmp", ".eventbus-other.yaml.999999999-0.tmp", "notes.txt"]
    for name in dead + kept:
        (folder / name).write_text("half\n")
    assert cli("render", "--app", app, "--env", "dev", "-o", tmp_path / "out").code == 0
    assert sorted(os.listdir(folder)) == sorted(["eventbus-bus0.yaml", *kept])


# -- full and read-only file systems -----------------------------------------------------------------

SCENARIO = """
mount -t tmpfs -o size=1m tmpfs "$M"
mkdir -p "$M/out"
{prepare}
cp -a "$M/." "$HOST/before/"
{spoil}
set +e
eventbus-render {command} {redirect} 2>"$HOST/stderr"
echo $? >"$HOST/code"
set -e
rm -f "$M/fill"
cp -a "$M/." "$HOST/after/"
"""
FILL = 'dd if=/dev/zero of="$M/fill" bs=4096 2>/dev/null || true'
READ_ONLY = 'mount -o remount,ro "$M"'


def scenario(tmp_path: Path, command: str, spoil: str, prepare: str = "", redirect: str = '>"$HOST/stdout"'):
    """Run ``command`` on a tmpfs at ``$M`` after ``spoil``; returns (code, stdout, stderr, before, after)."""
    mount, host = tmp_path / "mnt", tmp_path / "host"
    for folder in (mount, host / "before", host / "after"):
        folder.mkdir(parents=True)
    (host / "stdout").write_text("")
    done = run_private(SCENARIO.format(prepare=prepare, spoil=spoil, command=command, redirect=redirect),
                       env=dict(ENV, M=str(mount), HOST=str(host)))
    assert done.returncode == 0, done.stderr
    read = (host / "stdout").read_text(), (host / "stderr").read_text()
    return int((host / "code").read_text()), *read, tree(host / "before"), tree(host / "after")


@needs_mounts
@pytest.mark.parametrize("spoil", [FILL, READ_ONLY], ids=["full", "read-only"])
def test_render_all_o_on_a_full_or_read_only_file_system_changes_nothing(tmp_path, spoil):
    one, two = repo(tmp_path / "one"), repo(tmp_path / "two", "two")
    code, out, err, before, after = scenario(
        tmp_path, f'render --all --root "{two}" -o "$M/out/rendered"', spoil,
        prepare=f'eventbus-render render --all --root "{one}" -o "$M/out/rendered" 2>/dev/null')
    reason = "No space left on device" if spoil == FILL else "Read-only file system"
    assert code == 2 and out == "" and "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: could not write ") and lines[0].endswith(reason), err
    assert lines[1].startswith("  hint: nothing was changed in "), err
    assert after == before and "out/rendered/.eventbus-render-index.json" in before  # the old tree, nothing beside


@needs_mounts
@pytest.mark.parametrize("spoil", [FILL, READ_ONLY], ids=["full", "read-only"])
@pytest.mark.parametrize("output", ["new/deep/folder", "out"])
def test_render_o_on_a_full_or_read_only_file_system_leaves_no_file_and_no_empty_folder(tmp_path, spoil, output):
    app = repo(tmp_path / "repo") / "apps/app0"
    code, out, err, before, after = scenario(tmp_path, f'render --app "{app}" --env dev -o "$M/{output}"', spoil)
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert len(err.splitlines()) == 2 and err.startswith("error: could not write under "), err
    assert after == before == {"out": None}


ONE_PAGE_LEFT = f'head -c 4096 /dev/zero >"$M/spare"; {FILL}; rm "$M/spare"'


@needs_mounts
@pytest.mark.parametrize("spoil", [ONE_PAGE_LEFT, READ_ONLY], ids=["room-for-one-file", "read-only"])
def test_render_o_of_several_objects_replaces_none_of_them_when_one_cannot_be_written(tmp_path, spoil):
    # staging renders a PodDisruptionBudget beside the bus: two files, both written before either is replaced
    # (with room for one file, the bus's is written and the budget's is not)
    app = tmp_path / "repo/app"
    app.mkdir(parents=True)
    (app / "eventbus-render.yaml").write_text("backend: jetstream\nnamespace: ns\nprofile: staging\n")
    code, out, err, before, after = scenario(
        tmp_path, f'render --app "{app}" --set jetstream.replicas=5 -o "$M/out"', spoil,
        prepare=f'eventbus-render render --app "{app}" -o "$M/out" 2>/dev/null')
    assert code == 2 and out == "" and "Traceback" not in err, err
    assert after == before and sorted(before) == ["out", "out/ns", "out/ns/eventbus-default.yaml",
                                                  "out/ns/poddisruptionbudget-eventbus-default-pdb.yaml"]


@needs_mounts
def test_a_stdout_file_on_a_full_disk_is_cut_back_to_what_it_held(tmp_path):
    root = repo(tmp_path / "repo")
    # the last page of the file has room for part of the stream (5.8 kB of JSON), the disk for nothing more
    code, out, err, before, after = scenario(tmp_path, f'render --all --root "{root}" --format json', FILL,
                                             prepare='printf "kept\\n" >"$M/out/log"', redirect='>>"$M/out/log"')
    assert code == 2 and "Traceback" not in err
    assert err.startswith("error: could not write the output to stdout: No space left on device"), err
    assert after["out/log"] == b"kept\n" == before["out/log"]


@needs_mounts
def test_with_a_read_only_root_and_no_writable_temporary_folder_rendering_still_works(tmp_path, sources):
    from tests.review.helpers import GIT_ENV

    root, rendered = sources
    git = dict(ENV, **GIT_ENV, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "one"]):
        subprocess.run(["git", *args], cwd=root, env=git, check=True, capture_output=True)
    app = root / "apps/app0"
    script = f"""
mount --bind "$HOST" "$HOST"  # the results' folder stays writable
mount -o remount,ro,bind /
if touch /tmp/writable 2>/dev/null; then echo "/tmp is writable" >&2; exit 1; fi
cd "{app}"
for command in "render --env dev" "render --all --root {root}" "list" "check --env dev" "explain --env dev" \\
               "diff --against {rendered} --root {root}" "argocd generate" "argocd parameters"; do
    set +e
    eventbus-render $command >"$HOST/out" 2>"$HOST/err"
    code=$?
    set -e
    echo "$command: $code $(wc -c <"$HOST/out") $(grep -c Traceback "$HOST/err" || true)" >>"$HOST/codes"
done
set +e
eventbus-render diff --base HEAD --root {root} >"$HOST/out" 2>"$HOST/diff-err"
echo "diff --base: $? $(wc -c <"$HOST/out") $(grep -c Traceback "$HOST/diff-err" || true)" >>"$HOST/codes"
"""
    host = tmp_path / "host"
    host.mkdir()
    done = run_private(script, env=dict(git, HOST=str(host), ARGOCD_ENV_ENVIRONMENT="dev", TMPDIR="",
                                        XDG_CACHE_HOME=""))
    assert done.returncode == 0, done.stderr
    results = dict(line.split(": ", 1) for line in (host / "codes").read_text().splitlines())
    assert len(results) == 9
    for command, outcome in results.items():
        code, size, tracebacks = outcome.split()
        if command == "diff --base":  # it needs somewhere to export the revision to: one clear message
            assert (code, size, tracebacks) == ("2", "0", "0")
        else:
            assert (code, tracebacks) == ("0", "0") and int(size) > 0, (command, outcome)
    err = (host / "diff-err").read_text()
    assert err.startswith("error: diff --base exports the revisions to a temporary folder and cannot make one")
    assert len(err.splitlines()) == 2 and "TMPDIR" in err, err
