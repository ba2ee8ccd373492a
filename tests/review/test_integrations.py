"""The pre-commit hooks and the GitHub Actions example run exactly the commands they name."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from renderer.commands.tree import INDEX_FILE
from tests.review.helpers import app_file

ROOT = Path(__file__).resolve().parents[2]
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
WORKFLOW = yaml.safe_load((ROOT / "examples" / "ci" / "github-workflow.yaml").read_text())

GOOD = """\
values:
  jetstream:
    version: "2.10.29"
    replicas: 3
guards:
  replica-count: {level: error}
"""


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "repo"
    for app in ("apps/a", "apps/b"):
        (root / app / "profiles").mkdir(parents=True)
        (root / app / "eventbus-render.yaml").write_text(
            app_file("default", app.replace("/", "-"), "jetstream", "good", "dev: {}\nprod: {}\n"))
        (root / app / "profiles" / "good.yaml").write_text(GOOD)
    (root / "README.md").write_text("docs\n")
    return root


def hook(hook_id: str) -> dict:
    return next(h for h in HOOKS if h["id"] == hook_id)


@pytest.mark.parametrize("path, matches", [
    ("eventbus-render.yaml", True),
    ("apps/a/eventbus-render.yaml", True),
    ("apps/a/profiles/prod.yaml", True),
    ("apps/a/overlays/ha.yml", True),
    ("apps/a/templates/jetstream.yaml.j2", True),
    (".eventbus-render/profiles/prod-eu.yaml", True),  # the repository layer: every app using it is checked
    ("teams/.eventbus-render/overlays/eu.yml", True),
    (".eventbus-render/templates/jetstream.yaml.j2", True),
    ("README.md", False),
    ("apps/a/values.yaml", False),
    ("apps/a/my-eventbus-render.yaml", False),
])
def test_the_hooks_run_on_the_files_that_change_a_render(path, matches):
    for hook_id in ("eventbus-render-check", "eventbus-render-tree"):
        assert bool(re.search(hook(hook_id)["files"], path)) is matches


def test_the_check_hook_checks_every_environment_of_each_changed_app(tree, cli):
    entry = shlex.split(hook("eventbus-render-check")["entry"])
    assert entry == ["eventbus-render", "check"]
    result = cli(*entry[1:], "--root", tree, "apps/b/profiles/good.yaml", "README.md")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0::2] == ["== apps/b [dev] ==", "== apps/b [prod] ==", lines[-1]]
    assert lines[-1] == "check: 1 app, 2 environments: 0 errors, 0 warnings, 0 waived"


def test_the_check_hook_fails_on_a_violation(tree, cli):
    (tree / "apps/a/profiles/good.yaml").write_text(GOOD.replace("replicas: 3", "replicas: 2"))
    result = cli("check", "--root", tree, "apps/a/eventbus-render.yaml")
    assert result.code == 1 and "error[replica-count]" in result.out


def test_the_check_hook_exits_2_on_a_broken_app_file(tree, cli):
    (tree / "apps/a/eventbus-render.yaml").write_text("backend: jetstreem\n")
    result = cli("check", "--root", tree, "apps/a/eventbus-render.yaml")
    assert result.code == 2 and "hint: use 'jetstream'" in result.out


def test_check_all_takes_no_per_app_choices(tree, cli):
    result = cli("check", "--all", "--root", tree, "--profile", "prod")
    assert result.code == 2 and result.out == "" and "--all and FILEs take only" in result.err


def test_checking_changed_apps_runs_the_check_itself_not_the_command_line(tree):
    import subprocess
    import sys

    probe = ("import sys\n"
             "from renderer.commands.check import check_many\n"
             "code, text = check_many(sys.argv[1], ['apps/a', 'apps/b'], 'text')\n"
             "print(code, 'renderer.cli' in sys.modules, text.count('guards: no violations'))\n")
    result = subprocess.run([sys.executable, "-c", probe, str(tree)], capture_output=True, text=True, cwd=ROOT,
                            check=True)
    assert result.stdout.split() == ["0", "False", "4"]


def test_the_tree_hook_renders_into_the_folder_it_names(tree, cli):
    entry = shlex.split(hook("eventbus-render-tree")["entry"])
    assert entry[:3] == ["eventbus-render", "render", "--all"]
    args = [tree / a if a == "rendered" else a for a in hook("eventbus-render-tree")["args"]]
    result = cli(*entry[1:], "--root", tree, *args)
    assert result.code == 0, result.err
    assert (tree / "rendered" / INDEX_FILE).is_file()


def test_ci_check_merges_every_environment_into_one_sarif_run(tree, cli):
    (tree / "apps/a/profiles/good.yaml").write_text(GOOD.replace("replicas: 3", "replicas: 4"))
    command = _run_lines("check")[0]
    args = shlex.split(command.split(">")[0])
    assert args[:2] == ["eventbus-render", "check"]
    result = cli(*args[1:], "--root", tree)
    log = json.loads(result.out)
    assert result.code == 1
    (run,) = log["runs"]
    assert sorted(r["message"]["text"].split("]")[0] + "]" for r in run["results"]) == [
        "[apps/a [dev]", "[apps/a [prod]"]
    assert all(r["ruleId"] == "replica-count" for r in run["results"])


def test_ci_check_of_a_tree_without_findings_is_an_empty_valid_log(tree, cli):
    assert cli("check", "--all", "--root", tree / "README.md", "--format", "sarif").code == 2
    result = cli("check", "--all", "--root", tree, "--format", "sarif")
    assert result.code == 0, result.err
    assert json.loads(result.out)["runs"][0]["results"] == []


def _run_lines(job: str) -> list:
    lines = []
    for step in WORKFLOW["jobs"][job]["steps"]:
        for line in step.get("run", "").splitlines():
            if line.startswith("eventbus-render "):
                lines.append(line)
    return lines


def test_ci_workflow_permissions_are_the_least_each_job_needs():
    assert WORKFLOW["permissions"] == {"contents": "read"}
    assert WORKFLOW["jobs"]["check"]["permissions"] == {"contents": "read", "security-events": "write"}
    assert WORKFLOW["jobs"]["diff"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    triggers = WORKFLOW.get("on", WORKFLOW.get(True))  # PyYAML reads the key "on" as YAML 1.1's true
    assert set(triggers) == {"pull_request", "push"}
    checkout = WORKFLOW["jobs"]["diff"]["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0


def test_ci_diff_posts_what_the_diff_command_prints(make_repo, cli):
    (command,) = _run_lines("diff")
    repo = make_repo()
    repo.write({"apps/a/eventbus-render.yaml": app_file("default", "a", "jetstream", "good", "dev: {}\n"),
                "apps/a/profiles/good.yaml": GOOD})
    repo.commit("base")
    repo.git("update-ref", "refs/remotes/origin/main", "HEAD")
    (repo.path / "apps/a/profiles/good.yaml").write_text(GOOD.replace("replicas: 3", "replicas: 5"))
    args = shlex.split(command.split(">")[0].replace("$BASE_REF", "main"))
    assert args[0] == "eventbus-render"
    result = cli(*args[1:], "--root", repo.path)
    assert result.code == 0, result.err
    assert result.out.startswith("<!-- eventbus-render-diff -->\n")
    assert "+    replicas: 5" in result.out
    post = WORKFLOW["jobs"]["diff"]["steps"][-1]["run"]
    assert "<!-- eventbus-render-diff -->" in post


# -- check --all judges what render --all publishes ---------------------------------------------

CONFLICT = "EventBus apps-a/default is also rendered by app apps/a: one of them must change its name or namespace"


def _same_object_in_two_apps(tree):
    path = tree / "apps/b/eventbus-render.yaml"
    path.write_text(path.read_text().replace("namespace: apps-b", "namespace: apps-a"))


def test_check_all_refuses_a_duplicate_eventbus_with_the_message_render_all_gives(tree, cli):
    _same_object_in_two_apps(tree)
    rendered = cli("render", "--all", "--root", tree)
    assert rendered.code == 2 and CONFLICT in rendered.err
    checked = cli("check", "--all", "--root", tree)
    assert checked.code == 2 and CONFLICT in checked.out
    assert checked.out.index("== apps/b [dev] ==") < checked.out.index(CONFLICT)


def test_the_check_hook_refuses_a_changed_app_that_duplicates_an_unchanged_one(tree, cli):
    _same_object_in_two_apps(tree)
    result = cli("check", "--root", tree, "apps/b/eventbus-render.yaml")
    assert result.code == 2 and CONFLICT in result.out


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_check_all_reports_a_duplicate_eventbus_in_machine_formats_too(tree, cli, fmt):
    _same_object_in_two_apps(tree)
    result = cli("check", "--all", "--root", tree, "--format", fmt)
    assert result.code == 2 and CONFLICT in result.out
    json.loads(result.out)


def test_check_all_ends_with_a_summary_of_apps_environments_and_findings(tree, cli):
    result = cli("check", "--all", "--root", tree)
    assert result.code == 0, result.out + result.err
    assert result.out.splitlines()[-1] == "check: 2 apps, 2 environments: 0 errors, 0 warnings, 0 waived"


def test_check_all_as_json_is_one_document_with_every_check_and_the_summary(tree, cli):
    (tree / "apps/a/profiles/good.yaml").write_text(GOOD.replace("replicas: 3", "replicas: 4"))
    result = cli("check", "--all", "--root", tree, "--format", "json")
    assert result.code == 1
    doc = json.loads(result.out)
    assert doc["summary"] == {"apps": 2, "environments": 2, "errors": 2, "warnings": 0, "waived": 0}
    assert [(c["app"], c["environment"]) for c in doc["checks"]] == [
        ("apps/a", "dev"), ("apps/a", "prod"), ("apps/b", "dev"), ("apps/b", "prod")]
    (finding,) = doc["checks"][0]["findings"]
    assert finding["rule"] == "replica-count" and finding["origin"]["file"] == "apps/a/profiles/good.yaml"
    assert "check: 2 apps, 2 environments: 2 errors, 0 warnings, 0 waived" in result.err


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_check_all_fails_on_warnings_only_when_strict(tree, cli, fmt):
    (tree / "apps/a/profiles/good.yaml").write_text(
        GOOD.replace("replicas: 3", "replicas: 4").replace("level: error", "level: warning"))
    lenient = cli("check", "--all", "--root", tree, "--format", fmt)
    strict = cli("check", "--all", "--root", tree, "--format", fmt, "--strict")
    assert (lenient.code, strict.code) == (0, 1)
    assert "0 errors, 2 warnings, 0 waived" in (strict.out if fmt == "text" else strict.err)


def test_check_all_names_files_relative_to_the_root_under_each_app_header(tree, cli):
    (tree / "apps/a/eventbus-render.yaml").write_text("backend: jetstreem\n")
    (tree / "apps/b/profiles/good.yaml").write_text(GOOD.replace("replicas: 3", "replicas: 4"))
    result = cli("check", "--all", "--root", tree)
    assert result.code == 2 and result.err == ""
    out = result.out
    assert "apps/a/eventbus-render.yaml:1:1" in out and "hint: use 'jetstream'" in out
    assert out.index("== apps/a [*] ==") < out.index("apps/a/eventbus-render.yaml:1:1") < out.index("== apps/b [dev]")
    assert "set by profile 'good' (apps/b/profiles/good.yaml:4)" in out
    assert "check: 2 apps, 2 environments: 3 errors, 0 warnings, 0 waived" in out


def test_check_all_of_a_broken_app_puts_the_error_in_the_sarif_log_and_on_stderr(tree, cli):
    (tree / "apps/a/eventbus-render.yaml").write_text("backend: jetstreem\n")
    result = cli("check", "--all", "--root", tree, "--format", "sarif")
    assert result.code == 2
    (run,) = json.loads(result.out)["runs"]
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "error" and "apps/a/eventbus-render.yaml:1:1" in note["message"]["text"]
    assert "apps/a/eventbus-render.yaml:1:1" in result.err


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_check_all_of_a_large_tree_reports_the_same_through_the_pool_of_workers(tmp_path, fmt):
    from renderer.commands.bulk import PARALLEL_MIN_APPS
    from renderer.commands.checkall import check_tree

    root = tmp_path / "repo"
    apps = [f"apps/a{i:03d}" for i in range(PARALLEL_MIN_APPS + 6)]
    for i, app in enumerate(apps):
        (root / app / "profiles").mkdir(parents=True)
        text = app_file("default", f"ns{i}", "jetstream", "good", "dev: {}\n")
        (root / app / "eventbus-render.yaml").write_text(text)
        (root / app / "profiles" / "good.yaml").write_text(GOOD.replace("replicas: 3", f"replicas: {3 + i % 2}"))
    (root / "apps/a007/eventbus-render.yaml").write_text("backend: jetstreem\n")
    pooled, alone = check_tree(root, apps, fmt, jobs=2), check_tree(root, apps, fmt, jobs=1)
    assert (pooled.code, pooled.out, pooled.err) == (alone.code, alone.out, alone.err)
    assert pooled.code == 2 and "apps/a007/eventbus-render.yaml:1:1" in pooled.out + pooled.err
    assert f"{len(apps)} apps, 1 environment: 35 errors" in pooled.out + pooled.err  # 34 violations, 1 broken file
