"""``diff`` stopped by SIGTERM, SIGHUP or SIGINT removes the revisions it exported to the temporary folder."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from tests.review.helpers import SMALL, app_file
from tests.review.test_publish import harness, wait_stopped

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals and audit hooks as on Linux")


@pytest.fixture
def two_commits(make_repo):
    repo = make_repo()
    for index in range(3):
        repo.write({f"apps/a{index}/eventbus-render.yaml": app_file(f"bus{index}", f"ns{index}", "jetstream", "small"),
                    f"apps/a{index}/profiles/small.yaml": SMALL})
    repo.commit("base")
    repo.write({"apps/a0/eventbus-render.yaml": app_file("bus0", "ns0", "jetstream", "small",
                                                         extra="values:\n  labels:\n    changed: x\n")})
    repo.commit("head")
    return repo


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
@pytest.mark.parametrize("head", [None, "HEAD"])
def test_a_stopped_diff_leaves_no_exported_revision_behind(two_commits, tmp_path, signum, head):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    args = ["diff", "--root", two_commits.path, "--base", "HEAD~1"] + (["--head", head] if head else [])
    log = tmp_path / "steps.log"
    dry = harness(*args, log=log, env=dict(two_commits.env(), TMPDIR=str(temporary), EVENTBUS_RENDER_WORKER=""))
    assert dry.wait(timeout=60) == 0, dry.stderr.read()
    assert exports(temporary) == []
    # stop it once the export is half written: just before its second file lands
    renames = [line.split(" ")[0] for line in log.read_text().splitlines()
               if line.split(" ")[1] == "os.rename" and "eventbus-render-diff-" in line]
    process = harness(*args, stop=f"{renames[1]}:stop",
                      env=dict(two_commits.env(), TMPDIR=str(temporary), EVENTBUS_RENDER_WORKER=""))
    wait_stopped(process)
    assert exports(temporary)  # the export is there while it runs
    os.kill(process.pid, signum)
    os.kill(process.pid, signal.SIGCONT)
    assert process.wait(timeout=60) == 128 + signum
    err = process.stderr.read()
    assert "Traceback" not in err and process.stdout.read() == ""
    assert err.strip().splitlines()[-1] in (f"stopped by {signal.Signals(signum).name}", "interrupted")
    assert exports(temporary) == []


def exports(temporary) -> list:
    """The exports of ``diff`` in the temporary folder (the template cache may live there too)."""
    return [name for name in os.listdir(temporary) if name.startswith("eventbus-render-diff-")]
