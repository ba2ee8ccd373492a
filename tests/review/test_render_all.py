"""``render --all``: discovery, the tree layout, all-or-nothing writes, and the index."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from renderer.commands import bulk as review
from tests.files import write_files
from tests.review.helpers import SMALL, app_file

STRICT = """\
values:
  jetstream:
    version: "2.10.29"
    replicas: 4
guards:
  replica-count: {level: error}
"""


def write(root, files: dict):
    return write_files(root, files, dedent=False)


@pytest.fixture
def repo(tmp_path):
    """Two apps with environments, one without, and things discovery must not enter."""
    root = tmp_path / "repo"
    return write(root, {
        "apps/orders/eventbus-render.yaml": app_file("default", "orders", "jetstream", "small",
                                                     "dev: {}\nprod: {namespace: orders-prod}\n"),
        "apps/orders/profiles/small.yaml": SMALL,
        "apps/payments/eventbus-render.yaml": app_file("bus", "payments", "nats-native", "dev"),
        "teams/a/b/eventbus-render.yaml": app_file("deep", "deep", "jetstream", "small", "dev: {}\n"),
        "teams/a/b/profiles/small.yaml": SMALL + "guards:\n  replica-count: {level: warning}\n",
        ".hidden/eventbus-render.yaml": "not: an app\n",
        "node/.git/eventbus-render.yaml": "not: an app\n",
    })


def files_below(path) -> dict:
    return {p.relative_to(path).as_posix(): p.read_text() for p in sorted(path.rglob("*")) if p.is_file()}


def test_every_environment_of_every_app_lands_in_a_stable_tree(repo, tmp_path, cli):
    result = cli("render", "--all", "--root", repo, "-o", tmp_path / "out")
    assert result.code == 0, result.err
    assert result.out == ""
    assert sorted(files_below(tmp_path / "out")) == [
        ".eventbus-render-index.json",
        "default/payments/eventbus-bus.yaml",
        "dev/deep/eventbus-deep.yaml",
        "dev/orders/eventbus-default.yaml",
        "prod/orders-prod/eventbus-default.yaml",
    ]
    assert "rendered 4 manifests of 3 apps in 3 environments into" in result.err
    prod = (tmp_path / "out/prod/orders-prod/eventbus-default.yaml").read_text()
    assert "  namespace: orders-prod\n" in prod and "eventbus-render/environment: prod" in prod


def test_the_index_records_app_and_findings_of_every_object(repo, tmp_path, cli, snapshot):
    assert cli("render", "--all", "--root", repo, "-o", tmp_path / "out").code == 0
    index = json.loads((tmp_path / "out" / review.INDEX_FILE).read_text())
    findings = [f for entry in index["objects"] for f in entry["findings"]]
    assert [(f["rule"], f["level"], f["path"]) for f in findings] == [
        ("replica-count", "warning", "spec.jetstream.replicas")]
    for finding in findings:  # the wording belongs to the guard, not to this test
        assert finding.pop("message")
    assert index == snapshot


def test_rendering_twice_gives_the_same_bytes_and_drops_stale_files(repo, tmp_path, cli):
    out = tmp_path / "out"
    assert cli("render", "--all", "--root", repo, "-o", out).code == 0
    first = files_below(out)
    (repo / "apps/payments/eventbus-render.yaml").unlink()
    assert cli("render", "--all", "--root", repo, "-o", out).code == 0
    second = files_below(out)
    assert "default/payments/eventbus-bus.yaml" not in second
    assert {k: v for k, v in first.items() if k in second and k != review.INDEX_FILE} == {
        k: v for k, v in second.items() if k != review.INDEX_FILE}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failing_environment_fails_the_whole_tree_and_lists_every_failure(repo, tmp_path, cli):
    out = tmp_path / "out"
    assert cli("render", "--all", "--root", repo, "-o", out).code == 0
    before = files_below(out)
    write(repo, {"apps/orders/eventbus-render.yaml": app_file(
        "default", "orders", "jetstream", "small", "dev: {values: {jetstream: {replicas: many}}}\nprod: {}\n"),
        "teams/a/b/eventbus-render.yaml": "backend: jetstreem\n"})
    result = cli("render", "--all", "--root", repo, "-o", out)
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines()[:2] == [f"error: 2 of 4 renders failed; nothing was written to {out}",
                                           "apps/orders [dev]:"]
    assert "apps/orders/eventbus-render.yaml:" in result.err
    assert "teams/a/b [*]:" in result.err
    assert "hint: use 'jetstream'" in result.err
    assert files_below(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out", "repo"]


def test_only_guard_failures_exit_1(repo, tmp_path, cli):
    write(repo, {"apps/orders/profiles/small.yaml": STRICT})
    result = cli("render", "--all", "--root", repo, "-o", tmp_path / "out")
    assert result.code == 1
    assert "error[replica-count]" in result.err
    assert not (tmp_path / "out").exists()


def test_a_guard_failure_names_the_file_that_set_the_value_relative_to_the_root(repo, tmp_path, cli):
    write(repo, {"apps/orders/profiles/small.yaml": STRICT})
    result = cli("render", "--all", "--root", repo, "-o", tmp_path / "out")
    assert result.code == 1
    assert "set by profile 'small' (apps/orders/profiles/small.yaml:4)" in result.err
    assert "(profiles/small.yaml:4)" not in result.err


def test_diff_names_the_file_of_a_guard_failure_relative_to_the_root(make_repo, cli):
    repo = make_repo()
    repo.write({"apps/orders/eventbus-render.yaml": app_file("default", "orders", "jetstream", "small", "dev: {}\n"),
                "apps/orders/profiles/small.yaml": SMALL})
    repo.commit("base")
    repo.write({"apps/orders/profiles/small.yaml": STRICT})
    result = cli("diff", "--root", repo.path, "--base", "main")
    assert result.code == 1 and "apps/orders [dev]:" in result.err
    assert "set by profile 'small' (apps/orders/profiles/small.yaml:4)" in result.err


def test_two_apps_rendering_the_same_object_conflict(repo, tmp_path, cli):
    write(repo, {"apps/copy/eventbus-render.yaml": app_file("bus", "payments", "nats-native", "dev")})
    result = cli("render", "--all", "--root", repo, "-o", tmp_path / "out")
    assert result.code == 2
    assert "EventBus payments/bus is also rendered by app apps/copy" in result.err


def test_without_output_dir_the_stream_goes_to_stdout(repo, cli):
    result = cli("render", "--all", "--root", repo)
    assert result.code == 0
    assert result.out.count("---\n") == 4
    assert result.out.index("name: bus") < result.out.index("name: deep") < result.out.index("namespace: orders-prod")


def test_json_trees(repo, tmp_path, cli):
    assert cli("render", "--all", "--root", repo, "-o", tmp_path / "out", "--format", "json").code == 0
    doc = json.loads((tmp_path / "out/dev/deep/eventbus-deep.json").read_text())
    assert doc["metadata"]["name"] == "deep"
    listing = json.loads(cli("render", "--all", "--root", repo, "--format", "json").out)
    assert listing["kind"] == "List" and len(listing["items"]) == 4


def test_refuses_to_replace_a_folder_it_did_not_write(repo, tmp_path, cli):
    precious = write(tmp_path / "precious", {"notes.txt": "keep me\n"})
    result = cli("render", "--all", "--root", repo, "-o", precious)
    assert result.code == 2 and "refusing to replace" in result.err
    assert (precious / "notes.txt").read_text() == "keep me\n"
    assert cli("render", "--all", "--root", repo, "-o", repo).code == 2
    assert cli("render", "--all", "--root", repo / "apps", "-o", repo).code == 2


def test_the_output_inside_the_root_is_not_discovered(repo, cli):
    out = repo / "rendered"
    assert cli("render", "--all", "--root", repo, "-o", out).code == 0
    (out / "dev" / "eventbus-render.yaml").write_text("backend: kafka\n")  # would be an app if entered
    again = cli("render", "--all", "--root", repo, "-o", out)
    assert again.code == 0, again.err
    assert review.discover(repo) == ["apps/orders", "apps/payments", "teams/a/b"]


def test_discovery_skips_hidden_symlinked_and_rendered_folders(repo, tmp_path):
    outside = write(tmp_path / "outside", {"x/eventbus-render.yaml": app_file("x", "x", "kafka", "dev")})
    os.symlink(outside / "x", repo / "apps" / "linked")
    write(repo, {"old-render/.eventbus-render-index.json": "{}",
                 "old-render/sub/eventbus-render.yaml": "backend: kafka\n"})
    assert review.discover(repo) == ["apps/orders", "apps/payments", "teams/a/b"]
    assert review.discover(repo / "apps" / "orders") == ["."]


def test_a_root_that_is_missing_is_an_input_error(tmp_path, cli):
    result = cli("render", "--all", "--root", tmp_path / "nope", "-o", tmp_path / "out")
    assert result.code == 2 and "is not a directory" in result.err


def test_worker_processes_render_the_same_tree(repo, tmp_path, monkeypatch):
    for index in range(6):
        write(repo, {f"many/app{index}/eventbus-render.yaml": app_file(f"bus{index}", f"ns{index}", "kafka", "dev",
                                                                      "dev: {}\nprod: {}\n", "values: {kafka: "
                                                                      "{url: 'k:9092', topic: t}}\n")})
    monkeypatch.setattr(review, "PARALLEL_MIN_APPS", 2)
    one = review.render_root(repo, jobs=1)
    two = review.render_root(repo, jobs=2)
    assert [(e.key, e.text, e.findings) for e in one.entries] == [(e.key, e.text, e.findings) for e in two.entries]
    review.render_all(repo, tmp_path / "parallel", review.Options(), jobs=2)
    review.render_all(repo, tmp_path / "serial", review.Options(), jobs=1)
    assert files_below(tmp_path / "parallel") == files_below(tmp_path / "serial")


def test_an_unexpected_error_while_rendering_names_the_app(repo):
    # overlays must be a sequence of names: None is a caller's bug, not a user's mistake
    with pytest.raises(review.AppCrashed, match="rendering app apps/orders failed: TypeError"):
        review.render_root(repo, review.Options(overlays=None), jobs=1)


def test_files_map_to_the_app_directories_that_hold_them(repo):
    files = ["apps/orders/profiles/small.yaml", "apps/orders/eventbus-render.yaml", "teams/a/b/templates/x.j2",
             "README.md", "../elsewhere/eventbus-render.yaml", "apps/payments"]
    assert review.changed_apps(files, repo) == ["apps/orders", "apps/payments", "teams/a/b"]


def test_the_environments_example_renders_and_its_prod_passes_the_prod_guards():
    example = Path(__file__).resolve().parents[2] / "examples" / "environments"
    tree = review.render_root(example, jobs=1)
    assert tree.failures == []
    # prod and staging render each bus's PodDisruptionBudget beside it (dev has none)
    assert [(e.environment, e.profile, e.kind) for e in tree.entries] == [
        ("dev", "dev", "EventBus"), ("prod-eu-west", "prod", "EventBus"),
        ("prod-eu-west", "prod", "PodDisruptionBudget"), ("prod-us-east", "prod", "EventBus"),
        ("prod-us-east", "prod", "PodDisruptionBudget"), ("staging", "staging", "EventBus"),
        ("staging", "staging", "PodDisruptionBudget")]
    for entry in tree.entries:
        assert [f for f in entry.findings if f["level"] == "error" or f["waived"]] == []


def test_rendered_files_and_folders_follow_the_umask(repo, tmp_path, cli):
    previous = os.umask(0o027)
    try:
        assert cli("render", "--all", "--root", repo, "-o", tmp_path / "out").code == 0
    finally:
        os.umask(previous)
    out = tmp_path / "out"
    assert out.stat().st_mode & 0o777 == 0o750
    for path in out.rglob("*"):
        assert path.stat().st_mode & 0o777 == (0o750 if path.is_dir() else 0o640), path


def test_a_successful_bulk_render_leaves_no_reference_cycles(repo):
    # bulk renders pause the cyclic garbage collector; that is only free if rendering makes no cycles
    import gc

    review.render_root(repo, jobs=1)  # first use: imports, compiled templates and caches are not garbage
    gc.collect()
    gc.disable()
    try:
        tree = review.render_root(repo, jobs=1)
        assert tree.entries and not tree.failures
        del tree
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_what_discovery_saw_of_an_app_still_gets_every_symlink_check(tmp_path, cli):
    outside = write(tmp_path / "outside", {"overlays/region.yaml": "values:\n  labels:\n    leak: \"yes\"\n"})
    root = write(tmp_path / "repo", {
        "apps/a/eventbus-render.yaml": "backend: jetstream\nnamespace: a\noverlays: [region]\n",
        "apps/b/eventbus-render.yaml": "backend: jetstream\nnamespace: b\n",
        "apps/b/templates/.keep": "",
    })
    os.symlink(outside / "overlays", root / "apps/a/overlays")
    result = cli("render", "--all", "--root", root, "-o", tmp_path / "out")
    assert result.code == 2 and result.out == ""
    assert "apps/a" in result.err and "leaves the app directory" in result.err
    os.remove(root / "apps/a/overlays")
    os.symlink(root / "apps/a/real-overlays", root / "apps/a/overlays")  # a link that stays inside is fine
    write(root, {"apps/a/real-overlays/region.yaml": "values:\n  labels:\n    region: eu\n"})
    result = cli("render", "--all", "--root", root, "-o", tmp_path / "out")
    assert result.code == 0, result.err
    assert "region: eu" in (tmp_path / "out" / "default/a/eventbus-default.yaml").read_text()


@pytest.mark.parametrize(("key", "value", "said"), [
    ("environment", 1, "'environment' is not a string"),
    ("findings", [1, 2], "'findings' is not a list of objects"),
    ("overlays", 3, "'overlays' is not a list of names"),
    ("overlays", [1], "'overlays' is not a list of names"),
    ("kind", ["EventBus"], "'kind' is not a string"),
    (None, [], "an entry of the index is not an object"),
])
def test_a_hand_edited_index_is_one_message_and_exit_2_not_an_internal_error(repo, tmp_path, cli, key, value,
                                                                           said):
    out = tmp_path / "out"
    assert cli("render", "--all", "--root", repo, "-o", out).code == 0
    index = json.loads((out / review.INDEX_FILE).read_text())
    if key is None:
        index["objects"][-1] = value
    else:
        index["objects"][-1][key] = value
    (out / review.INDEX_FILE).write_text(json.dumps(index))
    result = cli("diff", "--root", repo, "--against", out)
    assert result.code == 2 and result.out == "" and "Traceback" not in result.err
    assert "is incomplete" in result.err and said in result.err
