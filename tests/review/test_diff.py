"""``diff`` between git revisions, the working tree and a committed render, in text, markdown and JSON."""

from __future__ import annotations

import json

import pytest

from renderer.commands import diff as diff_mod
from renderer.commands.bulk import Entry
from renderer.stages import emit
from tests.review.helpers import GitRepo, app_file

# App-local profiles keep these tests independent of the built-in profiles.
SMALL = """\
description: one JetStream server
values:
  jetstream:
    version: "2.10.29"
    replicas: 1
    streamConfig: |
      maxAge: 24h
      replicas: 1
  nats:
    native:
      auth: token
"""
BIG = """\
description: three JetStream servers
values:
  jetstream:
    version: "2.10.29"
    replicas: 3
"""
WARNING = BIG + """\
guards:
  replica-count: {level: warning, min: 3}
"""
STRICT = """\
description: three servers, enforced
values:
  jetstream:
    version: "2.10.29"
    replicas: 3
guards:
  replica-count: {level: error, min: 3}
"""
ORDERS_ENVIRONMENTS = """\
dev: {profile: small}
staging: {profile: big}
prod-us-east: {profile: big}
prod-eu-west: {profile: big}
"""
KAFKA_EXTRA = """\
values:
  kafka:
    url: kafka:9092
    topic: events
    version: "3.6.0"
"""


def base_files() -> dict:
    return {
        "apps/orders/eventbus-render.yaml": app_file("default", "orders", "jetstream", "small", ORDERS_ENVIRONMENTS),
        "apps/orders/profiles/small.yaml": SMALL,
        "apps/orders/profiles/big.yaml": BIG,
        "apps/payments/eventbus-render.yaml": app_file("default", "payments", "nats-native", "small"),
        "apps/payments/profiles/small.yaml": SMALL,
        "apps/legacy/eventbus-render.yaml": app_file("legacy", "streams", "kafka", "dev", "dev: {}\nprod: {}\n",
                                                     KAFKA_EXTRA),
        "README.md": "not an app\n",
    }


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """One repository with a tagged base, a feature branch, and a commit that only moves a folder."""
    tmp = tmp_path_factory.mktemp("diff")
    home = tmp / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        repo = GitRepo(tmp / "repo", home)
        repo.write(base_files())
        repo.commit("base")
        repo.git("tag", "v1")
        repo.git("mv", "apps/legacy", "apps/streams")
        repo.commit("move a folder")
        repo.git("tag", "moved")
        repo.git("checkout", "-q", "-b", "feature")
        orders = app_file("default", "orders", "jetstream", "small", """\
            dev:
              profile: small
              values:
                jetstream:
                  streamConfig: |
                    maxAge: 48h
                    replicas: 1
            staging:
              profile: big
              values:
                jetstream:
                  replicas: 4
            prod-us-east: {profile: big}
            prod-ap-south: {profile: big}
            """)
        repo.write({
            "apps/orders/eventbus-render.yaml": orders,
            "apps/payments/eventbus-render.yaml": app_file("events", "payments", "nats-native", "small",
                                                           extra="values: {nats: {native: {auth: none}}}\n"),
            "apps/new/eventbus-render.yaml": app_file("default", "new", "jetstream", "small"),
            "apps/new/profiles/small.yaml": SMALL,
        })
        repo.commit("feature")
        repo.git("checkout", "-q", "main")
        yield repo


@pytest.fixture
def run(cli, git_home):
    return cli


def test_text_diff_between_two_revisions(history, run, snapshot):
    result = run("diff", "--root", history.path, "--base", "v1", "--head", "feature")
    assert (result.code, result.err) == (0, "")
    assert result.out == snapshot


def test_markdown_diff_for_a_pull_request_comment(history, run, snapshot):
    result = run("diff", "--root", history.path, "--base", "v1", "--head", "feature", "--format", "markdown")
    assert result.code == 0
    assert result.out.startswith(diff_mod.MARKDOWN_MARKER + "\n")
    assert result.out == snapshot


def test_json_diff_for_tools(history, run, snapshot):
    result = run("diff", "--root", history.path, "--base", "v1", "--head", "feature", "--format", "json")
    assert result.code == 0
    assert json.loads(result.out) == snapshot


def test_environments_added_and_removed_are_reported_as_such(history, run):
    doc = json.loads(run("diff", "--root", history.path, "--base", "v1", "--head", "feature",
                         "--format", "json").out)
    status = {env["name"]: env["status"] for env in doc["environments"]}
    assert status["prod-ap-south"] == "added"
    assert status["prod-eu-west"] == "removed"
    assert status["prod-us-east"] == "unchanged"


def test_moving_an_app_directory_changes_no_manifest(history, run):
    result = run("diff", "--root", history.path, "--base", "v1", "--head", "moved", "--exit-code")
    assert result.code == 0
    assert "No changes in 6 environments (7 objects)." in result.out


def test_immutable_changes_and_renames_are_flagged(history, run):
    doc = json.loads(run("diff", "--root", history.path, "--base", "v1", "--head", "feature",
                         "--format", "json").out)
    notices = {(env["name"], obj["name"], n["kind"], n["message"])
               for env in doc["environments"] for obj in env["objects"] for n in obj["notices"]}
    assert ("dev", "default", "refused", "spec.jetstream.streamConfig is immutable (it is changed)") in notices
    assert ("default", "events", "recreate", "EventBus payments/default is renamed to events") in notices
    assert doc["summary"]["refused"] == 1


def test_guard_findings_that_appear_and_disappear_are_listed(make_repo, run):
    repo = make_repo()
    repo.write({"apps/a/eventbus-render.yaml": app_file("default", "a", "jetstream", "big", "dev: {}\nprod: {}\n"),
                "apps/a/profiles/big.yaml": WARNING.replace("replicas: 3", "replicas: 4")})
    repo.commit("even")
    repo.write({"apps/a/eventbus-render.yaml": app_file("default", "a", "jetstream", "big",
                                                        "dev: {}\nprod: {values: {jetstream: {replicas: 5}}}\n")})
    repo.commit("odd in prod")
    doc = json.loads(run("diff", "--root", repo.path, "--base", "HEAD~1", "--head", "HEAD", "--format", "json").out)
    (prod,) = [e for e in doc["environments"] if e["objects"]]
    guards = prod["objects"][0]["guards"]
    assert prod["name"] == "prod" and guards["appeared"] == []
    assert [(f["rule"], f["level"], f["path"]) for f in guards["disappeared"]] == [
        ("replica-count", "warning", "spec.jetstream.replicas")]
    assert doc["summary"]["guards"] == {"appeared": 0, "disappeared": 1}
    text = run("diff", "--root", repo.path, "--base", "HEAD", "--head", "HEAD~1").out
    assert "  guard + warning replica-count at spec.jetstream.replicas: " in text


def test_every_changed_value_names_the_layer_that_set_it(history, run):
    doc = json.loads(run("diff", "--root", history.path, "--base", "v1", "--head", "feature",
                         "--format", "json").out)
    changes = {(env["name"], c["path"]): c for env in doc["environments"] for obj in env["objects"]
               for c in obj["changes"]}
    replicas = changes[("staging", "spec.jetstream.replicas")]
    assert (replicas["base"], replicas["head"]) == (3, 4)
    assert replicas["origin"] == {"layer": "environment", "name": "staging", "file": "apps/orders/eventbus-render.yaml",
                                  "line": 17, "column": 9}
    assert changes[("default", "metadata.name")]["origin"] is None  # computed, not set by a layer


def test_exit_code_says_whether_anything_changed(history, run):
    assert run("diff", "--root", history.path, "--base", "v1", "--head", "feature", "--exit-code").code == 1
    assert run("diff", "--root", history.path, "--base", "v1", "--head", "v1", "--exit-code").code == 0
    assert run("diff", "--root", history.path, "--base", "v1", "--head", "feature").code == 0


def test_a_subfolder_root_compares_only_what_is_below_it(history, run):
    result = run("diff", "--root", history.path / "apps" / "orders", "--base", "v1", "--head", "feature",
                 "--format", "json")
    doc = json.loads(result.out)
    assert {o["app"] for e in doc["environments"] for o in e["objects"]} == {"."}


def test_color_only_when_asked_or_on_a_terminal(history, run):
    plain = run("diff", "--root", history.path, "--base", "v1", "--head", "feature").out
    colored = run("diff", "--root", history.path, "--base", "v1", "--head", "feature", "--color", "always").out
    assert "\x1b[" not in plain
    assert "\x1b[1;31mREFUSED" in colored and "\x1b[32m+" in colored


# -- the working tree and committed renders ----------------------------------------------------


@pytest.fixture
def small_repo(make_repo):
    repo = make_repo()
    repo.write({"apps/orders/eventbus-render.yaml": app_file("default", "orders", "jetstream", "small",
                                                             "dev: {}\nprod: {profile: big}\n"),
                "apps/orders/profiles/small.yaml": SMALL, "apps/orders/profiles/big.yaml": BIG})
    repo.commit("base")
    return repo


def test_head_defaults_to_the_working_tree_which_is_left_untouched(small_repo, run):
    app = small_repo.path / "apps/orders/eventbus-render.yaml"
    app.write_text(app.read_text().replace("prod: {profile: big}", "prod: {profile: big, values: "
                                                                   "{labels: {tier: gold}}}"))
    small_repo.git("add", "apps/orders/eventbus-render.yaml")  # staged
    (small_repo.path / "apps/orders/profiles/big.yaml").write_text(BIG + "# unstaged edit\n")
    status = small_repo.git("status", "--porcelain=v1")
    index = (small_repo.path / ".git" / "index").read_bytes()
    result = run("diff", "--root", small_repo.path, "--base", "main")
    assert result.code == 0, result.err
    assert "+    tier: gold" in result.out
    assert "working tree" in result.out.splitlines()[0]
    assert small_repo.git("status", "--porcelain=v1") == status
    assert (small_repo.path / ".git" / "index").read_bytes() == index


def test_git_variables_of_a_hook_do_not_redirect_the_export(small_repo, run, monkeypatch, tmp_path):
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "nowhere" / "index"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.fsmonitor'='touch fsmonitor-ran'")
    result = run("diff", "--root", small_repo.path, "--base", "main", "--exit-code")
    assert (result.code, result.err) == (0, "")
    assert not (small_repo.path / "fsmonitor-ran").exists()


def test_against_a_committed_render(small_repo, run):
    rendered = small_repo.path / "rendered"
    assert run("render", "--all", "--root", small_repo.path, "-o", rendered).code == 0
    same = run("diff", "--root", small_repo.path, "--against", rendered, "--exit-code")
    assert same.code == 0 and "No changes in 2 environments (2 objects)." in same.out
    (small_repo.path / "apps/orders/profiles/big.yaml").write_text(BIG.replace("replicas: 3", "replicas: 5"))
    changed = run("diff", "--root", small_repo.path, "--against", rendered, "--exit-code")
    assert changed.code == 1
    assert "--- a/prod/orders/eventbus-default.yaml" in changed.out
    assert "-    replicas: 3\n+    replicas: 5" in changed.out


def test_against_a_committed_json_render_names_the_layer_that_set_each_value(small_repo, run):
    rendered = small_repo.path / "rendered"
    assert run("render", "--all", "--root", small_repo.path, "-o", rendered, "--format", "json").code == 0
    (small_repo.path / "apps/orders/profiles/big.yaml").write_text(BIG.replace("replicas: 3", "replicas: 5"))
    doc = json.loads(run("diff", "--root", small_repo.path, "--against", rendered, "--format", "json").out)
    (obj,) = [o for e in doc["environments"] for o in e["objects"]]
    assert obj["head"]["file"] == "prod/orders/eventbus-default.json"
    assert [(c["path"], c["base"], c["head"], c["origin"]["name"]) for c in obj["changes"]] == [
        ("spec.jetstream.replicas", 3, 5, "big")]


def test_a_new_root_at_the_head_is_all_added(make_repo, run):
    repo = make_repo()
    repo.write({"README.md": "empty\n"})
    repo.commit("empty")
    repo.write({"apps/a/eventbus-render.yaml": app_file("default", "a", "jetstream", "small"),
                "apps/a/profiles/small.yaml": SMALL})
    result = run("diff", "--root", repo.path / "apps", "--base", "main", "--format", "json")
    doc = json.loads(result.out)
    assert [(e["name"], e["status"]) for e in doc["environments"]] == [("default", "added")]


def test_a_changed_object_whose_app_directory_moved_names_the_layer_that_set_each_value(make_repo, run):
    repo = make_repo()
    repo.write({"apps/old/eventbus-render.yaml": app_file("default", "orders", "jetstream", "small", "dev: {}\n"),
                "apps/old/profiles/small.yaml": SMALL})
    repo.commit("base")
    repo.git("mv", "apps/old", "apps/new")
    repo.write({"apps/new/eventbus-render.yaml": app_file("default", "orders", "jetstream", "small",
                                                          "dev: {values: {jetstream: {replicas: 3}}}\n")})
    repo.commit("moved and changed")
    result = run("diff", "--root", repo.path, "--base", "HEAD~1", "--head", "HEAD", "--format", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    (obj,) = [o for env in doc["environments"] for o in env["objects"]]
    assert (obj["status"], obj["base"]["app"], obj["head"]["app"]) == ("changed", "apps/old", "apps/new")
    (change,) = [c for c in obj["changes"] if c["path"] == "spec.jetstream.replicas"]
    assert (change["base"], change["head"]) == (1, 3)
    assert change["origin"] == {"layer": "environment", "name": "dev", "file": "apps/new/eventbus-render.yaml",
                                "line": 6, "column": 30}


def test_an_environment_is_rendered_at_most_once_a_side_and_its_inputs_unchanged_only_at_the_base(
        small_repo, run, monkeypatch):
    from renderer import pipeline

    rendered = []
    render = pipeline.render
    monkeypatch.setattr(pipeline, "render", lambda request: rendered.append(request.environment) or render(request))
    (small_repo.path / "apps/orders/profiles/big.yaml").write_text(BIG.replace("replicas: 3", "replicas: 5"))
    result = run("diff", "--root", small_repo.path, "--base", "main", "--format", "json")
    assert result.code == 0, result.err
    assert sorted(rendered) == ["dev", "prod", "prod"]  # dev reads nothing that changed
    (change,) = [c for e in json.loads(result.out)["environments"] for o in e["objects"] for c in o["changes"]]
    assert (change["path"], change["base"], change["head"]) == ("spec.jetstream.replicas", 3, 5)
    assert change["origin"] == {"layer": "profile", "name": "big", "file": "apps/orders/profiles/big.yaml",
                                "line": 5, "column": 5}


def test_dotted_keys_are_printed_in_the_one_path_form(small_repo, run):
    app = small_repo.path / "apps/orders/eventbus-render.yaml"
    app.write_text(app.read_text().replace("dev: {}", 'dev: {values: {labels: {"example.com/tier": gold}}}'))
    doc = json.loads(run("diff", "--root", small_repo.path, "--base", "main", "--format", "json").out)
    paths = [c["path"] for e in doc["environments"] for o in e["objects"] for c in o["changes"]]
    assert paths == ['metadata.labels["example.com/tier"]']


def test_a_committed_file_that_does_not_read_is_a_clear_error(small_repo, run):
    rendered = small_repo.path / "rendered"
    assert run("render", "--all", "--root", small_repo.path, "-o", rendered).code == 0
    (rendered / "prod/orders/eventbus-default.yaml").write_text("apiVersion: [unclosed\n")
    (small_repo.path / "apps/orders/profiles/big.yaml").write_text(BIG.replace("replicas: 3", "replicas: 5"))
    result = run("diff", "--root", small_repo.path, "--against", rendered)
    assert result.code == 2 and result.out == ""
    assert "does not read" in result.err
    assert "prod/orders/eventbus-default.yaml:" in result.err
    assert "Traceback" not in result.err


# -- bad input ---------------------------------------------------------------------------------


def test_an_unknown_revision_is_a_clear_error(small_repo, run):
    result = run("diff", "--root", small_repo.path, "--base", "no-such-branch")
    assert result.code == 2 and result.out == ""
    assert "unknown git revision 'no-such-branch'" in result.err
    assert "fetch-depth: 0" in result.err
    assert "Traceback" not in result.err


def test_an_option_like_revision_is_refused(small_repo, run):
    result = run("diff", "--root", small_repo.path, "--base=--output=/tmp/x")
    assert result.code == 2 and result.out == ""
    assert "is not a git revision" in result.err


def test_a_folder_outside_git_is_a_clear_error(tmp_path, run, git_home):
    (tmp_path / "plain").mkdir()
    result = run("diff", "--root", tmp_path / "plain", "--base", "main")
    assert result.code == 2 and result.out == ""
    assert "is not inside a git work tree" in result.err
    assert "diff --against" in result.err


def test_base_or_against_is_required(small_repo, run):
    assert "pass either --base REF or --against DIR" in run("diff", "--root", small_repo.path).err
    both = run("diff", "--root", small_repo.path, "--base", "main", "--against", small_repo.path)
    assert both.code == 2 and both.out == ""


def test_against_a_folder_that_is_no_render(small_repo, run):
    result = run("diff", "--root", small_repo.path, "--against", small_repo.path / "apps")
    assert result.code == 2 and "is not a tree written by render --all" in result.err


def test_an_environment_that_fails_at_one_side_fails_the_diff(small_repo, run):
    app = small_repo.path / "apps/orders/eventbus-render.yaml"
    app.write_text(app.read_text().replace("dev: {}", "dev: {values: {jetstream: {replicas: many}}}"))
    result = run("diff", "--root", small_repo.path, "--base", "main", "--format", "markdown")
    assert result.code == 2 and result.out == ""
    assert "apps/orders [dev]:" in result.err
    assert "apps/orders/eventbus-render.yaml:" in result.err
    assert result.err.startswith("error: the working tree does not render: 1 of 2 renders failed; nothing was "
                                 "compared\n")


def test_a_guard_failure_at_one_side_exits_1(small_repo, run):
    small_repo.write({"apps/orders/profiles/big.yaml": STRICT.replace("replicas: 3", "replicas: 4")})
    small_repo.commit("stricter")
    result = run("diff", "--root", small_repo.path, "--base", "HEAD~1", "--head", "HEAD")
    assert result.code == 1 and result.out == ""
    assert "error[replica-count]" in result.err
    assert "the head HEAD (" in result.err


# -- the comparison itself -----------------------------------------------------------------------


def _manifest(section: dict) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "EventBus", "metadata": {"name": "default"},
            "spec": section}


@pytest.mark.parametrize("old, new, expected", [
    ({"jetstream": {"streamConfig": "a"}}, {"jetstream": {"streamConfig": "b"}},
     [("refused", "spec.jetstream.streamConfig is immutable (it is changed)")]),
    ({"jetstream": {}}, {"jetstream": {"streamConfig": "b"}},
     [("refused", "spec.jetstream.streamConfig is immutable (it is set)")]),
    ({"jetstream": {"streamConfig": "a"}}, {"jetstream": {}},
     [("refused", "spec.jetstream.streamConfig is immutable (it is removed)")]),
    ({"jetstream": {"replicas": 3}}, {"jetstream": {"replicas": 5}}, []),
    ({"nats": {"native": {"auth": "token"}}}, {"nats": {"native": {"auth": "none"}}},
     [("refused", "spec.nats.native.auth is immutable (token -> none)")]),
    ({"nats": {"native": {}}}, {"nats": {"native": {"auth": "none"}}}, []),
    ({"nats": {"exotic": {"auth": "token"}}}, {"nats": {"exotic": {}}},
     [("refused", "spec.nats.exotic.auth is immutable (token -> none)")]),
    ({"nats": {"native": {}}}, {"nats": {"exotic": {}}}, [("refused", "NATS changes from native to exotic")]),
    ({"nats": {"exotic": {}}}, {"nats": {"native": {}}}, [("refused", "NATS changes from exotic to native")]),
    ({"nats": {"native": {}}}, {"jetstream": {}},
     [("refused", "backend changes from nats-native to jetstream")]),
    ({"jetstream": {}}, {"jetstreamExotic": {}},
     [("refused", "backend changes from jetstream to jetstream-exotic")]),
    ({"jetstream": {}}, {"kafka": {}}, [("recreate", "backend changes from jetstream to kafka")]),
    ({"kafka": {"topic": "a"}}, {"kafka": {"topic": "b"}}, []),
    # persistence: Kubernetes refuses the controller's StatefulSet update, webhook or not
    ({"jetstream": {"persistence": {"volumeSize": "10Gi"}}}, {"jetstream": {"persistence": {"volumeSize": "20Gi"}}},
     [("stuck", "spec.jetstream.persistence changes (volumeSize 10Gi -> 20Gi)")]),
    ({"jetstream": {"persistence": {"storageClassName": "a"}}},
     {"jetstream": {"persistence": {"storageClassName": "b", "accessMode": "ReadWriteOncePod"}}},
     [("stuck", "spec.jetstream.persistence changes (storageClassName a -> b, accessMode ReadWriteOnce -> "
                "ReadWriteOncePod)")]),
    ({"nats": {"native": {}}}, {"nats": {"native": {"persistence": {"volumeSize": "10Gi"}}}},
     [("stuck", "spec.nats.native.persistence is added")]),
    ({"jetstream": {"persistence": {}}}, {"jetstream": {}}, [("stuck", "spec.jetstream.persistence is removed")]),
    # the same claim written otherwise is no change: 20Gi is the JetStream default, 10Gi the NATS one
    ({"jetstream": {"persistence": {}}}, {"jetstream": {"persistence": {"volumeSize": "20Gi",
                                                                         "accessMode": "ReadWriteOnce"}}}, []),
    ({"jetstream": {"persistence": {"volumeSize": "20Gi"}}},
     {"jetstream": {"persistence": {"volumeSize": "21474836480"}}}, []),
    ({"nats": {"native": {"persistence": {}}}}, {"nats": {"native": {"persistence": {"volumeSize": "10Gi"}}}}, []),
    # a backend change says only that: its StatefulSet is another one
    ({"nats": {"native": {"persistence": {}}}}, {"jetstream": {"persistence": {"volumeSize": "50Gi"}}},
     [("refused", "backend changes from nats-native to jetstream")]),
])
def test_what_the_upstream_webhook_refuses_on_update(old, new, expected):
    notices = diff_mod.immutable_changes(_manifest(old), _manifest(new))
    assert [(n.kind, n.message) for n in notices] == expected


@pytest.mark.parametrize("old, new, otherwise", [
    ({"jetstream": {"streamConfig": "a"}}, {"jetstream": {"streamConfig": "b"}},
     "otherwise the new settings never apply: the stream already exists"),
    ({"nats": {"native": {"auth": "token"}}}, {"nats": {"native": {}}},
     "otherwise the controller replaces the auth Secrets for the new strategy"),
    ({"nats": {"exotic": {"auth": "token"}}}, {"nats": {"exotic": {}}},
     "otherwise EventSources and Sensors connect with the new strategy"),
    ({"jetstream": {}}, {"nats": {"native": {}}},
     "otherwise the controller installs the new backend beside the old one"),
], ids=["stream-config", "native-auth", "exotic-auth", "backend"])
def test_a_refused_change_says_the_webhook_is_optional_and_what_the_controller_does_without_it(old, new, otherwise):
    [notice] = diff_mod.immutable_changes(_manifest(old), _manifest(new))
    assert "refused by the Argo Events webhook when it is installed; " + otherwise in notice.detail
    assert "to apply it, " in notice.detail


def test_a_persistence_change_names_the_statefulset_and_the_way_out():
    old = _manifest({"jetstream": {"persistence": {"volumeSize": "10Gi"}}})
    new = _manifest({"jetstream": {"persistence": {"volumeSize": "50Gi"}}})
    new["metadata"].update(name="orders", namespace="payments")
    [notice] = diff_mod.immutable_changes(old, new)
    assert "Kubernetes refuses the controller's update of StatefulSet eventbus-orders-js" in notice.detail
    assert "kubectl -n payments delete statefulset eventbus-orders-js --cascade=orphan" in notice.detail
    assert "or recreate the bus" in notice.detail
    comparison = diff_mod.compare([_version("dev", "orders", old)], [_version("dev", "orders", new)])
    text = diff_mod.format_text(comparison)
    assert "STUCK    dev ns/orders: spec.jetstream.persistence changes (volumeSize 10Gi -> 50Gi)" in text
    assert "1 refused by Kubernetes to the controller (the bus stays undeployed)" in text
    markdown = diff_mod.format_markdown(comparison)
    assert "> [!CAUTION]\n> **Kubernetes will refuse the controller these StatefulSet updates:**" in markdown
    assert json.loads(diff_mod.format_json(comparison))["summary"]["stuck"] == 1


def _version(env, name, manifest, app="apps/x", findings=()):
    """One object of a tree as a render gives it: its entry (with the emitted text) and its manifest."""
    text = emit.to_yaml(manifest)
    entry = Entry(env, "ns", name, app, "jetstream", "p", (), f"{env}/ns/eventbus-{name}.yaml", text, tuple(findings))
    return diff_mod.Version(entry, manifest)


def test_a_guard_finding_change_alone_is_a_change():
    finding = {"rule": "replica-count", "level": "warning", "path": "spec.jetstream.replicas",
               "message": "4, expected odd", "waived": False}
    manifest = {"apiVersion": "v1"}
    comparison = diff_mod.compare([_version("dev", "a", manifest)],
                                  [_version("dev", "a", manifest, findings=[finding])])
    (change,) = comparison.objects
    assert (change.status, change.appeared, change.disappeared, change.diff) == ("guards", [finding], [], "")
    assert comparison.summary_line() == ("1 object differs in 1 of 1 environment (1 with other guard findings); "
                                         "guard findings: 1 new, 0 gone.")


def test_markdown_omits_diffs_beyond_the_comment_budget():
    base = [_version("dev", f"bus{i}", {"apiVersion": "v1", "kind": "A"}) for i in range(3)]
    head = [_version("dev", f"bus{i}", {"apiVersion": "v1", "kind": "B"}) for i in range(3)]
    comparison = diff_mod.compare(base, head)
    text = diff_mod.format_markdown(comparison, budget=300)
    assert text.count("```diff") == 2
    assert "_1 diff omitted for size._" in text


def test_markdown_fences_survive_backticks_in_values():
    base = [_version("dev", "a", {"apiVersion": "v1", "note": "plain"})]
    head = [_version("dev", "a", {"apiVersion": "v1", "note": "```"})]
    text = diff_mod.format_markdown(diff_mod.compare(base, head))
    assert "````diff" in text


def test_the_exported_revisions_are_gone_when_the_command_returns(history, run, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    from renderer.commands import gitrefs

    removed = []
    remove_tree = gitrefs.remove_tree
    monkeypatch.setattr(gitrefs, "remove_tree", lambda path: (removed.append(path), remove_tree(path)))
    result = run("diff", "--base", "v1", "--head", "feature", "--root", history.path)
    assert result.code == 0, result.err
    assert "apps/new" in result.out
    # the base export goes as soon as it is rendered, the rest when the report is written; both are gone
    assert removed and removed[-1].parent == scratch and all(not path.exists() for path in removed)
    assert not [p for p in scratch.iterdir() if p.name.startswith("eventbus-render-diff-")]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from renderer.commands.diff import comparison as comparing  # noqa: E402
from renderer.paths import format_path  # noqa: E402

_LEAVES = st.one_of(st.sampled_from([0, 1, 1.0, True, False, None, "", "1", "a", "b", {}, []]), st.integers(-2, 2))
_VALUES = st.recursive(_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.sampled_from("abcd"), inner, max_size=3)),
                       max_leaves=10)


def _leaf_changes_by_flattening(old, new) -> list:
    """The reference: flatten both sides whole and compare every path (what leaf_changes must equal)."""
    before = comparing.flatten(old, (), {}) if old is not None else {}
    after = comparing.flatten(new, (), {}) if new is not None else {}
    missing = object()
    out = []
    for path in sorted(set(before) | set(after), key=comparing.path_key):
        a, b = before.get(path, missing), after.get(path, missing)
        if a is missing or b is missing or a != b or type(a) is not type(b):
            out.append(path)
    return out


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from("abc"), _VALUES, max_size=3),
       st.dictionaries(st.sampled_from("abc"), _VALUES, max_size=3), st.booleans())
def test_leaf_changes_skips_equal_parts_and_misses_nothing(old, new, start_equal):
    if start_equal:
        new = json.loads(json.dumps(old))  # same values, fresh objects
        if new.get("a") == 1:
            new["a"] = True  # equal in Python, not in a manifest
    expected = _leaf_changes_by_flattening(old, new)
    assert [path for path, _, _ in comparing.leaf_paths(old, new)] == expected
    assert [c["path"] for c in comparing.leaf_changes(old, new)] == [format_path(p) for p in expected]
