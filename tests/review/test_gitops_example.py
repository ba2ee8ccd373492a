"""examples/gitops: a two-app repository with a shared layer renders, passes its guards, and stays as reviewed.

The example is copied into a folder of its own holding ``.git`` (as the root
of a user's repository), so its shared files are named from that root.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from renderer.commands import bulk

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gitops"


@pytest.fixture
def gitops(tmp_path) -> Path:
    root = tmp_path / "gitops"
    shutil.copytree(EXAMPLE, root)
    (root / ".git").mkdir()
    return root


def test_the_example_holds_a_shared_layer_and_two_apps():
    found = sorted(p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("*.yaml"))
    assert found == [".eventbus-render/overlays/dedicated-nodes.yaml", ".eventbus-render/profiles/prod-eu.yaml",
                     "apps/orders/eventbus-render.yaml", "apps/payments/eventbus-render.yaml",
                     "apps/payments/profiles/prod-eu.yaml"]


def test_every_environment_of_the_example_renders_as_snapshotted(gitops, snapshot):
    tree = bulk.render_root(gitops, jobs=1)
    assert tree.failures == []
    assert {entry.file: entry.text for entry in tree.entries} == snapshot
    for entry in tree.entries:
        assert [f for f in entry.findings if f["level"] == "error" or f["waived"]] == []


def test_the_example_passes_check_all_and_its_values_come_from_the_shared_files(gitops, cli):
    result = cli("check", "--all", "--root", gitops)
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines()[-1] == "check: 2 apps, 3 environments: 0 errors, 0 warnings, 0 waived"
    report = json.loads(cli("explain", "--app", gitops / "apps/payments", "--env", "prod-eu", "--format", "json",
                            "nats.native.persistence").out)
    origins = {leaf["path"]: leaf["origin"]["file"] for leaf in report["values"]}
    assert origins == {"nats.native.persistence.storageClassName": ".eventbus-render/profiles/prod-eu.yaml",
                       "nats.native.persistence.accessMode": "builtin:profiles/prod.yaml",
                       "nats.native.persistence.volumeSize": "profiles/prod-eu.yaml"}
    assert [layer["file"] for layer in report["layers"] if layer["kind"] in ("profile", "overlay")] == [
        "builtin:profiles/prod.yaml", ".eventbus-render/profiles/prod-eu.yaml", "profiles/prod-eu.yaml",
        ".eventbus-render/overlays/dedicated-nodes.yaml"]


def test_the_payments_profile_may_only_tighten_the_shared_one(gitops, cli):
    own = gitops / "apps/payments/profiles/prod-eu.yaml"
    own.write_text(own.read_text().replace("minVolumeSize: 50Gi", "minVolumeSize: 10Gi"))
    result = cli("render", "--app", gitops / "apps/payments", "--env", "prod-eu")
    assert result.code == 2
    assert "shadows the repository layer's profile 'prod-eu' (.eventbus-render/profiles/prod-eu.yaml)" in result.err


@pytest.mark.parametrize("page, app, path, leaves", [
    ("README.md", "apps/orders", "jetstream.persistence.storageClassName",
     ["jetstream.persistence.storageClassName"]),
    ("docs/app-files.md", "apps/payments", "nats.native.persistence",
     ["nats.native.persistence.storageClassName", "nats.native.persistence.volumeSize"]),
])
def test_the_documented_explain_output_is_what_explain_prints(gitops, cli, page, app, path, leaves):
    result = cli("explain", "--app", gitops / app, "--env", "prod-eu", path)
    assert result.code == 0, result.err
    documented = [line.strip() for line in (EXAMPLE.parents[1] / page).read_text().splitlines()]
    blocks = {block.split(" = ")[0]: [line.strip() for line in block.splitlines()]
              for block in result.out.split("\n\n")[1:]}
    for leaf in leaves:
        lines = blocks[leaf]
        start = documented.index(lines[0])
        assert documented[start:start + len(lines)] == lines
