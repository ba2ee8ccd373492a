"""The pytest plugin, exercised in throwaway test suites with pytester, the way a user's repository uses it."""

from __future__ import annotations

import textwrap

import pytest

from tests.review.helpers import SMALL

pytest_plugins = ["pytester"]

APP = """\
name: default
namespace: orders
backend: jetstream
profile: small
environments:
  dev: {}
  prod:
    values:
      jetstream:
        replicas: 3
"""
# the hypothesis plugin re-imports hypothesis on every in-process run (pytester drops what a run imported)
INI = "[pytest]\naddopts = -p no:cacheprovider -p no:hypothesispytest\n"
USER_TESTS = '''\
import pytest

ENVIRONMENTS = ["dev", "prod"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_orders_eventbus(eventbus_render, snapshot, environment):
    assert eventbus_render("deploy/orders", environment) == snapshot


def test_every_environment(eventbus_render, snapshot):
    assert eventbus_render.all("deploy") == snapshot


def test_environments_are_listed(eventbus_render):
    assert eventbus_render.environments("deploy/orders") == ENVIRONMENTS
'''


@pytest.fixture
def users_repo(pytester):
    """A user's repository: an app directory and a test file that snapshots its manifests."""
    pytester.makefile(".yaml", **{"deploy/orders/eventbus-render": APP, "deploy/orders/profiles/small": SMALL})
    pytester.makepyfile(test_eventbus=USER_TESTS)
    pytester.makeini(INI)
    return pytester


def run(pytester, *args):
    # in process (fast); the plugin is still loaded through its pytest11 entry point
    return pytester.runpytest("-q", *args)


def test_snapshots_are_written_then_hold_then_show_the_change(users_repo):
    first = run(users_repo, "--snapshot-update")
    first.assert_outcomes(passed=4)
    snapshot_file = users_repo.path / "__snapshots__" / "test_eventbus.ambr"
    text = snapshot_file.read_text()
    assert "eventbus-render/environment: prod" in text and "'prod/orders/eventbus-default.yaml'" in text

    run(users_repo).assert_outcomes(passed=4)

    app = users_repo.path / "deploy" / "orders" / "eventbus-render.yaml"
    app.write_text(app.read_text().replace("replicas: 3", "replicas: 5"))
    changed = run(users_repo)
    changed.assert_outcomes(passed=2, failed=2)
    changed.stdout.fnmatch_lines(["*-     replicas: 3*", "*+     replicas: 5*"])


def test_a_broken_app_fails_with_the_renderers_message_and_no_traceback(users_repo):
    run(users_repo, "--snapshot-update").assert_outcomes(passed=4)
    app = users_repo.path / "deploy" / "orders" / "eventbus-render.yaml"
    app.write_text(app.read_text().replace("replicas: 3", "replicas: three"))
    result = run(users_repo, "-k", "prod")
    result.assert_outcomes(failed=1, deselected=3)
    result.stdout.fnmatch_lines(["*eventbus-render: deploy/orders [[]prod[]] does not render:*",
                                 "eventbus-render.yaml:10:9: jetstream.replicas: *"])
    assert "Traceback" not in result.stdout.str()
    assert "During handling" not in result.stdout.str()
    assert "renderer/pipeline.py" not in result.stdout.str()


def test_paths_are_relative_to_the_rootdir(users_repo):
    users_repo.makepyfile(test_root='''\
        def test_rootdir(eventbus_render, pytestconfig):
            assert eventbus_render.rootdir == pytestconfig.rootpath
            absolute = pytestconfig.rootpath / "deploy/orders"
            assert eventbus_render("deploy/orders", "dev") == eventbus_render(absolute, "dev")
        ''')
    run(users_repo, "test_root.py").assert_outcomes(passed=1)


def test_the_waiver_date_can_be_pinned(pytester):
    pytester.makefile(".yaml", **{"app/eventbus-render": APP.replace("environments:", textwrap.dedent("""\
        waivers:
          - rule: replica-count
            path: spec.jetstream.replicas
            value: 1
            environments: [dev]
            reason: one server is enough for this test
            owner: team-orders
            expires: "2026-01-31"
        environments:""")), "app/profiles/small": SMALL + "guards:\n  replica-count: {level: error}\n"})
    pytester.makepyfile(test_waiver='''\
        def test_dev(eventbus_render):
            assert ('eventbus-render/waivers: "replica-count@spec.jetstream.replicas until 2026-01-31'
                    in eventbus_render("app", "dev"))
        ''')
    pytester.makeini(INI + "eventbus_render_today = 2026-01-15\n")
    run(pytester).assert_outcomes(passed=1)
    pytester.makeini(INI + "eventbus_render_today = 2026-02-01\n")
    expired = run(pytester)
    expired.assert_outcomes(failed=1)
    expired.stdout.fnmatch_lines(["*waiver for replica-count expired on 2026-01-31*"])


def test_the_documented_example_runs_as_written(pytester):
    import re
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "review.md").read_text()
    example = re.search(r"```python\n(# tests/test_eventbus.py\n.*?)```", doc, re.S).group(1)
    shutil.copytree(root / "examples" / "environments", pytester.path / "deploy" / "orders")
    pytester.makeini(INI)
    pytester.makepyfile(test_eventbus=example)
    run(pytester, "--snapshot-update").assert_outcomes(passed=6)
    run(pytester).assert_outcomes(passed=6)
