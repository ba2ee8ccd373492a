"""The sidecar image, built from the Dockerfile and run for real with podman.

Every run is confined as deploy/repo-server-sidecar.yaml confines the sidecar, and more: uid 999, no
network, every capability dropped, no privilege escalation, a read-only root filesystem and no writable
/tmp (podman's usual tmpfs on /tmp is switched off). Apps are mounted read-only. What the image prints
is compared byte for byte with what the checkout prints for the same input.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import renderer
from tests.argocd.helpers import SIM
from tests.image.conftest import ROOT, readable

HERE = Path(__file__).resolve().parent
EXAMPLES = ROOT / "examples"
CONFINED = ["--rm", "--pull=never", "--network=none", "--read-only", "--read-only-tmpfs=false", "--user=999:999",
            "--cap-drop=all", "--security-opt=no-new-privileges"]
SIDECAR_PLUGIN = "/home/argocd/cmp-server/config/plugin.yaml"  # where the Dockerfile puts plugin.yaml
SIM_ARGS = ["--revision", "0123456789abcdef0123456789abcdef01234567", "--repo-url", "https://git.example/repo.git"]


def checkout(*args, cwd=None) -> subprocess.CompletedProcess:
    """``eventbus-render ARGS`` of the checkout, on this machine."""
    return subprocess.run([sys.executable, "-m", "renderer", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


@pytest.fixture
def probe_dir(tmp_path) -> Path:
    """tests/image/probe.py and a ``click`` that cannot be imported, to mount at /probe."""
    directory = tmp_path / "probe"
    (directory / "poison" / "click").mkdir(parents=True)
    (directory / "poison" / "click" / "__init__.py").write_text("raise ImportError('the client imported click')\n")
    shutil.copyfile(HERE / "probe.py", directory / "probe.py")
    return readable(directory)


def run_image(podman, image, *command, mounts=(), options=(), timeout=120) -> subprocess.CompletedProcess:
    volumes = [f"--volume={source}:{target}:ro" for source, target in mounts]
    return podman.run("run", *CONFINED, *volumes, *options, image, *command, timeout=timeout, check=False)


def probe(podman, image, probe_dir, *args, mounts=()) -> dict:
    proc = run_image(podman, image, "python3", "/probe/probe.py", *args, mounts=[(probe_dir, "/probe"), *mounts])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_container_is_confined_as_the_tests_claim(podman, sidecar_image, probe_dir):
    seen = probe(podman, sidecar_image, probe_dir, "sandbox")
    assert (seen["uid"], seen["gid"]) == (999, 999)
    assert seen["tmp"] == seen["root"] == seen["home"] == "EROFS"
    assert seen["interfaces"] == ["lo"]


def test_a_read_only_app_renders_as_in_the_checkout(podman, sidecar_image, mounted):
    app = mounted(EXAMPLES / "eventbus", "app")
    proc = run_image(podman, sidecar_image, "eventbus-render", "render", "--app", "/app", mounts=[(app, "/app")])
    assert proc.returncode == 0, proc.stderr
    expected = checkout("render", "--app", app)
    assert expected.returncode == 0, expected.stderr
    assert "kind: EventBus" in proc.stdout and proc.stdout == expected.stdout


def test_every_example_renders_and_passes_its_guards_as_in_the_checkout(podman, sidecar_image, mounted):
    repo = mounted(EXAMPLES, "repo")
    for command in (["render", "--all", "--root", "{root}", "-o", "-"], ["check", "--all", "--root", "{root}"]):
        proc = run_image(podman, sidecar_image, "eventbus-render", *[a.format(root="/repo") for a in command],
                         mounts=[(repo, "/repo")])
        expected = checkout(*[a.format(root=".") for a in command], cwd=repo)
        assert (proc.returncode, expected.returncode) == (0, 0), proc.stderr + expected.stderr
        assert proc.stdout == expected.stdout, command


def test_a_guard_failure_in_the_image_is_exit_1_as_in_the_checkout(podman, sidecar_image, mounted, tmp_path):
    source = tmp_path / "unguarded"
    source.mkdir()
    (source / "eventbus-render.yaml").write_text(
        "name: default\nbackend: jetstream\nprofile: prod\nvalues:\n  jetstream:\n    replicas: 1\n")
    app = mounted(source, "app")
    proc = run_image(podman, sidecar_image, "eventbus-render", "render", "--app", "/app", mounts=[(app, "/app")])
    expected = checkout("render", "--app", app)
    assert (proc.returncode, expected.returncode) == (1, 1)
    assert proc.stdout == expected.stdout == ""
    assert "replica" in proc.stderr and proc.stderr == expected.stderr.replace(str(app), "/app")


def test_argocd_generate_is_answered_by_the_worker_of_the_sidecar_command(podman, sidecar_image, mounted, probe_dir,
                                                                          sim):
    """The pod's command, ``eventbus-render argocd serve -- CMD``, with the Argo CD CMP simulator in
    place of argocd-cmp-server: it runs the image's plugin.yaml as Argo CD would. The generate command
    cannot import click (``PYTHONPATH`` names one that raises), so only the worker can have rendered.

    /tmp stays read-only. The worker's FIFO directory is a tmpfs of its own (EVENTBUS_RENDER_WORKER;
    in the pod it is under the /tmp emptyDir), and only the simulated argocd-cmp-server, which unpacks
    the repository, gets a TMPDIR. The container ends when the simulator does, the worker with it.
    """
    repo = mounted(EXAMPLES, "repo")
    shutil.copyfile(SIM, probe_dir / "argocd-cmp-sim")
    readable(probe_dir)
    worker = "/run/sidecar/worker"
    simulate = ["python3", "/probe/argocd-cmp-sim", "--plugin", SIDECAR_PLUGIN, "--repo", "/repo", "--path",
                "eventbus", *SIM_ARGS, "--sidecar-env", f"EVENTBUS_RENDER_WORKER={worker}",
                "--sidecar-env", "PYTHONPATH=/probe/poison"]
    options = ["--mount=type=tmpfs,destination=/run/sidecar,tmpfs-mode=1777", f"--env=EVENTBUS_RENDER_WORKER={worker}"]
    mounts = [(probe_dir, "/probe"), (repo, "/repo")]
    served = run_image(podman, sidecar_image, "eventbus-render", "argocd", "serve", "--", "python3",
                       "/probe/probe.py", "await-worker", worker, "/run/sidecar", "--", *simulate,
                       mounts=mounts, options=options, timeout=180)
    assert served.returncode == 0, served.stderr
    expected = sim(repo, "eventbus", *SIM_ARGS)
    assert expected.code == 0, expected.err
    assert "kind: EventBus" in served.stdout and served.stdout == expected.out
    # The control: without the worker, the same command line fails on the poisoned click.
    alone = run_image(podman, sidecar_image, *simulate, mounts=mounts,
                      options=[*options, "--env=TMPDIR=/run/sidecar"])
    assert alone.returncode != 0 and "the client imported click" in alone.stdout + alone.stderr


def test_everything_a_render_imports_was_compiled_into_the_image(podman, sidecar_image, probe_dir, mounted):
    app = mounted(EXAMPLES / "eventbus", "app")
    seen = probe(podman, sidecar_image, probe_dir, "bytecode", "render", "--app", "/app", mounts=[(app, "/app")])
    assert seen["code"] == 0 and seen["rendered"] > 0
    assert seen["modules"] > 100, seen  # the standard library's, the dependencies' and the package's
    assert seen["missing"] == []


def test_the_image_holds_the_pinned_dependencies_and_a_launcher_only_root_can_change(podman, sidecar_image,
                                                                                    probe_dir):
    seen = probe(podman, sidecar_image, probe_dir, "install")
    pins = dict(line.split("==") for line in (ROOT / "image" / "requirements.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert seen["versions"] == {**pins, "eventbus-renderer": renderer.__version__}
    assert seen["launcher"]["mode"] == "0o755" and (seen["launcher"]["uid"], seen["launcher"]["gid"]) == (0, 0)
    assert seen["launcher"]["text"].startswith("#!/usr/local/bin/python3\n")
    version = run_image(podman, sidecar_image, "eventbus-render", "--version")
    assert version.stdout == f"eventbus-render, version {renderer.__version__}\n"
