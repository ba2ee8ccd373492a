"""Full and read-only file systems for one test: a shell script in a private mount namespace.

``unshare --mount`` (as root) or ``unshare --user --map-root-user --mount``
(as anyone, where user namespaces are allowed) gives the script mounts of its
own: a small tmpfs fills up for real, a read-only remount refuses writes for
real, and both vanish with the script. Tests that need it are skipped, saying
why, where neither works.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

BIN = os.path.dirname(sys.executable)


@functools.cache
def unshare() -> list | None:
    """The ``unshare`` command line that gives a private mount namespace here, or ``None``."""
    command = shutil.which("unshare")
    if not sys.platform.startswith("linux") or command is None:
        return None
    options = [["--mount"]] if os.geteuid() == 0 else []
    options.append(["--user", "--map-root-user", "--mount"])
    probe = tempfile.mkdtemp(prefix="ebr-mount-")
    try:
        for option in options:
            done = subprocess.run([command, *option, "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"],
                                  capture_output=True, timeout=30)
            if done.returncode == 0:
                return [command, *option]
    finally:
        os.rmdir(probe)
    return None


needs_mounts = pytest.mark.skipif(unshare() is None,
                                  reason="no private mount namespace here (unshare --mount, or user namespaces)")


def run_private(script: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the ``sh`` ``script`` (``set -eu``) in a private mount namespace; the venv's bin goes first on PATH."""
    environ = dict(os.environ if env is None else env)
    environ["PATH"] = BIN + os.pathsep + environ.get("PATH", "")
    environ.setdefault("EVENTBUS_RENDER_WORKER", "")
    return subprocess.run([*unshare(), "sh", "-euc", script], env=environ, capture_output=True, text=True,
                          timeout=timeout)
