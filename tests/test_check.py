"""The guards at the command line: `render` refuses violations, `check` reports them, `guards` lists the rules."""

from __future__ import annotations

import json

import pytest
import yaml

from renderer.stages.guards import RULES
from tests.guards.conftest import PASSING, write_case

APP = """\
backend: jetstream
profile: prod
overlays: [small]
values:
  jetstream:
    version: latest
waivers:
  - rule: pinned-versions
    path: spec.jetstream.version
    value: latest
    reason: waiting for 2.11 in the controller config
    owner: team-payments
    expires: 2099-12-31
"""
SMALL = """\
description: A small bus.
values:
  spread: {zones: preferred}
  jetstream:
    replicas: 4
    persistence:
      volumeSize: 20000Mi
"""


@pytest.fixture
def broken_app(make_app):
    """A prod JetStream app with three violations (replicas, spread, volume) and one waived (version)."""
    return make_app(APP, files={"overlays/small.yaml": SMALL})


# -- render --------------------------------------------------------------------------------------------


def test_render_prints_nothing_and_exits_1_on_a_guard_violation(broken_app, cli):
    result = cli("render", "--app", broken_app)
    assert (result.code, result.out) == (1, "")
    assert "error[replica-count] spec.jetstream.replicas: 4 replicas, expected an odd count of at least 3\n" \
           "  set by overlay 'small' (overlays/small.yaml:5)\n" \
           "  fix: set jetstream.replicas to 3 or 5" in result.err
    assert result.err.rstrip().endswith("error: 3 guard violations; nothing was rendered")
    assert "Traceback" not in result.err


def test_render_writes_no_file_on_a_guard_violation(broken_app, cli, tmp_path):
    out = tmp_path / "out"
    result = cli("render", "--app", broken_app, "-o", out)
    assert (result.code, result.out) == (1, "")
    assert not out.exists() or not any(out.rglob("*"))


def test_render_reports_warnings_on_stderr_and_still_renders(make_app, cli):
    app = make_app("backend: jetstream\nprofile: staging\nvalues:\n  jetstream: {replicas: 4}\n")
    result = cli("render", "--app", app)
    assert result.code == 0
    assert next(yaml.safe_load_all(result.out))["spec"]["jetstream"]["replicas"] == 4
    assert "warning[replica-count] spec.jetstream.replicas: 4 replicas" in result.err
    assert "guards: 0 errors, 1 warning, 0 waived (profile 'staging')" in result.err


def test_a_waived_violation_is_reported_and_the_manifest_names_the_waiver(make_app, cli):
    app = make_app(APP.replace("overlays: [small]\n", ""))
    result = cli("render", "--app", app)
    assert result.code == 0, result.err
    annotations = next(yaml.safe_load_all(result.out))["metadata"]["annotations"]
    assert annotations["eventbus-render/waivers"] == (
        "pinned-versions@spec.jetstream.version until 2099-12-31 (owner: team-payments)")
    assert "waived[pinned-versions] spec.jetstream.version" in result.err


# -- nothing but a profile can weaken a guard ------------------------------------------------------------


@pytest.mark.parametrize("options, files, fragment", [
    ((), {"overlays/lax.yaml": "guards:\n  replica-count: {level: off}\n"},
     "overlays/lax.yaml:1:1: guards: unknown key 'guards'"),
    ((), {"overlays/lax.yaml": "waivers:\n  - {rule: replica-count}\n"},
     "overlays/lax.yaml:1:1: waivers: unknown key 'waivers'"),
    ((), {"overlays/lax.yaml": "values:\n  guards: {replica-count: {level: off}}\n"}, "unknown field 'guards'"),
    (("--set", "guards.replica-count.level=off"), {}, "unknown field 'guards'"),
    (("--set-string", "guards.replica-count.min=1"), {}, "unknown field 'guards'"),
    (("--set", "waivers[0].rule=replica-count"), {}, "unknown field 'waivers'"),
], ids=["overlay-guards", "overlay-waivers", "overlay-values-guards", "set-guards", "set-string-guards",
        "set-waivers"])
def test_no_overlay_or_flag_can_carry_guard_settings_or_waivers(make_app, cli, options, files, fragment):
    overlay = ["--overlay", "lax"] if files else []
    app = make_app("backend: jetstream\nprofile: prod\n", files=files)
    result = cli("render", "--app", app, *overlay, *options)
    assert (result.code, result.out) == (2, "")
    assert fragment in result.err


@pytest.mark.parametrize("app_text, fragment", [
    ("backend: jetstream\nprofile: prod\nguards:\n  replica-count: {level: off}\n", "unknown key 'guards'"),
    ("backend: jetstream\nenvironments:\n  prod:\n    profile: prod\n    waivers: []\n", "unknown key 'waivers'"),
], ids=["app-file-guards", "environment-waivers"])
def test_the_app_file_cannot_configure_guards_and_environments_cannot_waive(make_app, cli, app_text, fragment):
    result = cli("render", "--app", make_app(app_text), "--env", "prod")
    assert (result.code, result.out) == (2, "")
    assert fragment in result.err


@pytest.mark.parametrize("args, rule", [
    (("--set", "jetstream.replicas=2"), "replica-count"),
    (("--set", "spread.zones=none"), "zone-anti-affinity"),
    (("--set", "jetstream.persistence=null"), "persistence"),
    (("--set", "jetstream.version=latest"), "pinned-versions"),
    (("--overlay", "lax"), "zone-anti-affinity"),
], ids=["set-replicas", "set-spread", "set-persistence", "set-version", "overlay-spread"])
def test_values_from_overlays_or_flags_that_weaken_prod_are_still_refused(make_app, cli, args, rule):
    app = make_app("backend: jetstream\nprofile: prod\n",
                   files={"overlays/lax.yaml": "values:\n  spread: {zones: none, hosts: none}\n"})
    result = cli("render", "--app", app, *args)
    assert (result.code, result.out) == (1, "")
    assert f"error[{rule}]" in result.err


# -- every way of breaking a guard -----------------------------------------------------------------------

BREAKS = [
    ("jetstream", {"jetstream": {"version": "latest"}}, "pinned-versions", "spec.jetstream.version"),
    ("jetstream", {"jetstream": {"version": "2.10.x"}}, "pinned-versions", "spec.jetstream.version"),
    ("jetstream", {"jetstream": {"version": "2.10.x"}}, "controller-rules", "spec.jetstream.version"),
    ("kafka", {"kafka": {"version": None}}, "pinned-versions", "spec.kafka.version"),
    ("jetstream", {"jetstream": {"replicas": 4}}, "replica-count", "spec.jetstream.replicas"),
    ("nats-native", {"nats": {"native": {"replicas": 2}}}, "replica-count", "spec.nats.native.replicas"),
    ("nats-native", {"nats": {"native": {"replicas": 2}}}, "controller-rules", "spec.nats.native.replicas"),
    ("jetstream", {"spread": {"zones": "preferred"}}, "zone-anti-affinity", "spec.jetstream.affinity.podAntiAffinity"),
    ("nats-native", {"spread": {"hosts": "none"}}, "zone-anti-affinity", "spec.nats.native.affinity.podAntiAffinity"),
    ("jetstream", {"jetstream": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "topology.kubernetes.io/zone", "labelSelector": {"matchLabels": {
            "controller": "eventbus-controller", "eventbus-name": "old-bus"}}}]}}}}, "zone-anti-affinity",
     "spec.jetstream.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector."
     "matchLabels.eventbus-name"),
    ("jetstream", {"jetstream": {"persistence": None}}, "persistence", "spec.jetstream.persistence"),
    ("nats-native", {"nats": {"native": {"persistence": {"storageClassName": ""}}}}, "persistence",
     "spec.nats.native.persistence.storageClassName"),
    ("jetstream", {"jetstream": {"persistence": {"volumeSize": "20000Mi"}}}, "persistence",
     "spec.jetstream.persistence.volumeSize"),
    ("jetstream", {"jetstream": {"persistence": {"accessMode": "ReadOnlyMany"}}}, "persistence",
     "spec.jetstream.persistence.accessMode"),
    ("nats-exotic", {"nats": {"exotic": {"url": "nats://s3cr3t@nats:4222"}}}, "external-credentials",
     "spec.nats.exotic.url"),
    ("nats-exotic", {"nats": {"exotic": {"auth": "none"}}}, "external-credentials", "spec.nats.exotic.auth"),
    ("kafka", {"kafka": {"sasl": None}}, "external-credentials", "spec.kafka.sasl"),
    ("kafka", {"kafka": {"tls": None}}, "external-credentials", "spec.kafka.tls"),
    ("jetstream-exotic", {"jetstreamExotic": {"accessSecret": None}}, "external-credentials",
     "spec.jetstreamExotic.accessSecret"),
    ("jetstream", {"jetstream": {"replicas": 2}}, "controller-rules", "spec.jetstream.replicas"),
    ("jetstream", {"jetstream": {"replicas": 1}}, "controller-rules", "spec.jetstream.streamConfig"),
    ("nats-native", {"nats": {"native": {"auth": "basic"}}}, "controller-rules", "spec.nats.native.auth"),
    ("nats-exotic", {"nats": {"exotic": {"clusterID": None}}}, "controller-rules", "spec.nats.exotic.clusterID"),
    ("kafka", {"kafka": {"url": None}}, "controller-rules", "spec.kafka.url"),
    ("kafka", {"kafka": {"sasl": {"passwordSecret": None}}}, "controller-rules", "spec.kafka.sasl"),
    ("kafka", {"kafka": {"version": "3.6"}}, "controller-rules", "spec.kafka.version"),
    ("nats-exotic", {"nats": {"exotic": {"auth": "token", "accessSecret": None}}}, "controller-rules",
     "spec.nats.exotic.auth"),
    ("jetstream", {"jetstream": {"metadata": {"labels": {"controller": "mine"}}}}, "controller-rules",
     "spec.jetstream.metadata.labels.controller"),
    ("jetstream", {"jetstream": {"streamConfig": "maxAge: 7d\n"}}, "controller-rules", "spec.jetstream.streamConfig"),
    ("jetstream-exotic", {"jetstreamExotic": {"url": None}}, "controller-rules", "spec.jetstreamExotic.url"),
    ("jetstream", {"jetstream": {"streamConfig": "- not\n- a mapping\n"}}, "controller-rules",
     "spec.jetstream.streamConfig"),
]


@pytest.mark.parametrize("backend, values, rule, path", BREAKS,
                         ids=[f"{b}-{r}-{p.rsplit('.', 1)[-1]}-{i}" for i, (b, _, r, p) in enumerate(BREAKS)])
def test_every_way_of_breaking_a_prod_guard_names_rule_path_layer_line_and_fix_and_prints_nothing(
        tmp_path, cli, backend, values, rule, path):
    app = write_case(tmp_path / "app", backend, values)
    result = cli("render", "--app", app)
    assert (result.code, result.out) == (1, "")
    [block] = [b for b in report_blocks(result.err) if b[0].startswith(f"error[{rule}] {path}: ")] or [None]
    assert block is not None, result.err
    if path.endswith("streamConfig") and "replicas" in str(values):
        assert block[1] == "  not set by any layer"  # the controller's default stream config is what breaks
    else:
        assert block[1].startswith("  set by overlay 'case' (overlays/case.yaml:"), block
    assert block[2].startswith("  fix: ")


def report_blocks(err: str) -> list[list[str]]:
    """The report's findings: each a list of lines, the first unindented."""
    blocks: list = []
    for line in err.splitlines():
        if line.startswith("  ") and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return blocks


def test_a_capacity_violation_needs_a_profile_that_declares_the_cluster(tmp_path, cli):
    files = {"profiles/cluster.yaml": "extends: prod\nguards:\n  capacity: {zones: 3}\n"}
    app = write_case(tmp_path / "app", "jetstream", {"jetstream": {"replicas": 5}}, profile="cluster", files=files)
    result = cli("render", "--app", app)
    assert (result.code, result.out) == (1, "")
    assert ("error[capacity] spec.jetstream.replicas: 5 replicas with required zone anti-affinity on 3 zones"
            in result.err)
    assert "set by overlay 'case' (overlays/case.yaml:3)" in result.err


@pytest.mark.parametrize("backend", list(PASSING))
@pytest.mark.parametrize("overlays", [[], ["ha", "monitoring"]], ids=["plain", "ha+monitoring"])
def test_the_built_in_prod_profile_renders_every_backend_without_a_finding(tmp_path, cli, backend, overlays):
    app = write_case(tmp_path / "app", backend, extra={"overlays": ["base", *overlays]})
    check = cli("check", "--app", app)
    assert (check.code, check.out) == (0, f"guards: no violations (profile 'prod', backend {backend})\n"), check.out
    render = cli("render", "--app", app)
    assert render.code == 0 and render.err == ""
    kinds = [doc["kind"] for doc in yaml.safe_load_all(render.out)]
    assert kinds == (["EventBus", "PodDisruptionBudget"] if backend in ("nats-native", "jetstream") else ["EventBus"])


# -- check -----------------------------------------------------------------------------------------------


def test_check_reports_as_text_on_stdout(broken_app, cli, snapshot):
    result = cli("check", "--app", broken_app)
    assert (result.code, result.err) == (1, "")
    assert result.out == snapshot


def test_check_reports_as_json(broken_app, cli, snapshot):
    result = cli("check", "--app", broken_app, "--format", "json")
    assert result.code == 1
    document = json.loads(result.out)
    assert document["summary"] == {"errors": 3, "warnings": 1, "waived": 1}  # the warning: no priority class
    assert result.out == snapshot


@pytest.mark.parametrize("app_text, args, code", [
    ("backend: jetstream\nprofile: prod\n", (), 0),
    ("backend: jetstream\nprofile: staging\nvalues:\n  jetstream: {replicas: 4}\n", (), 0),
    ("backend: jetstream\nprofile: staging\nvalues:\n  jetstream: {replicas: 4}\n", ("--strict",), 1),
    ("backend: jetstream\nprofile: prod\nvalues:\n  jetstream: {replicas: 4}\n", (), 1),
    ("backend: jetstream\nprofile: prod\nvalues:\n  jetstream: {replicas: 4}\n", ("--format", "json"), 1),
    ("backend: jetstream\nprofile: prodd\n", (), 2),
    ("backend: jetstream\nwaivers:\n  - {rule: replica-count, owner: me, expires: 31.12.2026}\n", (), 2),
    ("backend: jetstream\n", ("--format", "json", "--set", "jetstream.replicas=x"), 2),
], ids=["clean", "warnings-pass", "warnings-fail-strict", "violations", "violations-json", "unknown-profile",
        "malformed-waiver", "bad-set"])
def test_check_exits_0_when_clean_1_on_violations_2_on_bad_input(make_app, cli, app_text, args, code):
    result = cli("check", "--app", make_app(app_text), *args)
    assert result.code == code, result.err
    if code == 2:
        assert result.out == ""
        assert result.err.startswith(("error", "eventbus-render.yaml")), result.err


def test_a_malformed_waiver_is_located_at_its_line(make_app, cli):
    result = cli("check", "--app", make_app(
        "backend: jetstream\nwaivers:\n  - rule: replica-count\n    owner: me\n    expires: 31.12.2026\n"))
    assert result.code == 2
    assert "eventbus-render.yaml:5:5: waivers[0].expires: '31.12.2026' is not a date" in result.err


@pytest.mark.parametrize("written", ['spec["jetstream"].version', 'spec["jetstream"]["version"]',
                                     "spec.jetstream.version"])
def test_check_reports_a_waiver_path_in_the_printed_form_whichever_way_it_was_written(make_app, cli, written):
    app = make_app(APP.replace("path: spec.jetstream.version", f"path: '{written}'"),
                   files={"overlays/small.yaml": SMALL})
    document = json.loads(cli("check", "--app", app, "--format", "json").out)
    [waived] = [f for f in document["findings"] if f["waived"]]
    assert (waived["path"], waived["waiver"]["path"]) == ("spec.jetstream.version", "spec.jetstream.version")
    text = cli("check", "--app", app).out
    assert "waived[pinned-versions] spec.jetstream.version:" in text


def test_a_waiver_path_that_cannot_be_read_is_located_at_its_line(make_app, cli):
    app = make_app(APP.replace("path: spec.jetstream.version", "path: spec..version"),
                   files={"overlays/small.yaml": SMALL})
    result = cli("check", "--app", app)
    assert result.code == 2
    assert result.out == ""
    assert ("eventbus-render.yaml:9:5: waivers[0].path: waiver path 'spec..version' has an empty key at column 6"
            in result.err), result.err
    assert "hint: write it as printed in reports, e.g. spec.jetstream.replicas" in result.err


def test_check_as_sarif_locates_each_result_where_its_value_was_set_relative_to_the_repository(tmp_path, cli):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    app = repo / "apps" / "payments"
    app.mkdir(parents=True)
    (app / "eventbus-render.yaml").write_text(APP)
    (app / "overlays").mkdir()
    (app / "overlays" / "small.yaml").write_text(SMALL)
    result = cli("check", "--app", app, "--format", "sarif")
    assert result.code == 1
    log = json.loads(result.out)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [*RULES, "waiver"]
    located = {(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                r["locations"][0]["physicalLocation"]["region"]["startLine"], r["level"], "suppressions" in r)
               for r in run["results"]}
    assert located == {
        ("pod-priority", "apps/payments/eventbus-render.yaml", 1, "warning", False),  # set nowhere: the app file
        ("replica-count", "apps/payments/overlays/small.yaml", 5, "error", False),
        ("zone-anti-affinity", "apps/payments/overlays/small.yaml", 3, "error", False),
        ("persistence", "apps/payments/overlays/small.yaml", 7, "error", False),
        ("pinned-versions", "apps/payments/eventbus-render.yaml", 6, "error", True),
    }
    rule_index = {r["ruleId"]: r["ruleIndex"] for r in run["results"]}
    assert all(run["tool"]["driver"]["rules"][i]["id"] == rule for rule, i in rule_index.items())


def test_sarif_keeps_built_in_files_by_their_builtin_name_and_puts_flags_at_the_app_file(make_app, cli, tmp_path):
    app = make_app("backend: kafka\nprofile: prod\nvalues:\n  kafka:\n    url: k:9093\n    version: latest\n"
                   "    sasl: {userSecret: {name: u, key: u}, passwordSecret: {name: u, key: p}}\n")
    result = cli("check", "--app", app, "--format", "sarif", "--repo-root", tmp_path,
                 "--set", "kafka.tls.insecureSkipVerify=true")
    uris = {r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(result.out)["runs"][0]["results"]}
    assert uris == {"controller-rules": "app/eventbus-render.yaml", "pinned-versions": "app/eventbus-render.yaml",
                    "external-credentials": "app/eventbus-render.yaml"}
    result = cli("check", "--app", app, "--format", "sarif", "--repo-root", tmp_path, "--profile", "prod",
                 "--set", "kafka.url=k:9093", "--set", "kafka.version=3.6.0", "--set", "kafka.tls=null")
    [only] = json.loads(result.out)["runs"][0]["results"]
    assert only["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/eventbus-render.yaml"
    result = cli("check", "--app", make_app("backend: jetstream\nprofile: prod\n", name="js"), "--format", "sarif",
                 "--set", "spread.zones=none")
    zone = [r for r in json.loads(result.out)["runs"][0]["results"] if r["ruleId"] == "zone-anti-affinity"]
    assert zone and zone[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "js/eventbus-render.yaml")
    floor = {"profiles/big.yaml": "extends: staging\nguards:\n  persistence: {minVolumeSize: 20Gi}\n"}
    result = cli("check", "--app", make_app("backend: jetstream\nprofile: big\n", files=floor, name="st"),
                 "--format", "sarif")
    [volume] = json.loads(result.out)["runs"][0]["results"]
    location = volume["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "builtin:profiles/staging.yaml"
    assert location["region"]["startLine"] == _line_of("profiles/staging.yaml", "volumeSize: 10Gi", after="jetstream:")


def _line_of(relative: str, text: str, after: str) -> int:
    from tests.conftest import ROOT

    lines = (ROOT / relative).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == after)
    return next(i for i, line in enumerate(lines) if i > start and line.strip() == text) + 1


# -- guards ----------------------------------------------------------------------------------------------


def test_guards_lists_every_rule_with_what_it_checks_and_why(cli):
    result = cli("guards")
    assert (result.code, result.err) == (0, "")
    for rule_id, module in RULES.items():
        assert f"{rule_id}" in result.out
        assert f"  checks: {module.DESCRIPTION}" in result.out
        assert f"  why:    {module.RATIONALE}" in result.out
    assert "controller-rules  [an error in every profile, never waivable]" in result.out


def test_guards_shows_the_settings_a_profile_puts_in_force(cli):
    result = cli("guards", "--profile", "staging")
    assert result.code == 0
    assert "pinned-versions  [warning in profile 'staging']" in result.out
    assert "minVolumeSize: smallest volumeSize allowed (quantity; value 10Gi)" in result.out


def test_sarif_names_files_from_the_nearest_folder_holding_git_above_the_real_app_directory(tmp_path, monkeypatch):
    from renderer.stages.guards.report import repository_root

    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "apps" / "a").mkdir(parents=True)
    (repo / "apps" / "linked" / "b").mkdir(parents=True)
    (repo / "apps" / "linked" / ".git").write_text("gitdir: ../../.git/worktrees/linked\n")  # a linked work tree
    (tmp_path / "shortcut").symlink_to(repo / "apps" / "a")
    (tmp_path / "alone" / "c").mkdir(parents=True)
    assert repository_root(repo / "apps" / "a") == repo.resolve()
    assert repository_root(repo) == repo.resolve()
    assert repository_root(repo / "apps" / "linked" / "b") == (repo / "apps" / "linked").resolve()
    assert repository_root(tmp_path / "shortcut") == repo.resolve()  # where the app really is
    monkeypatch.chdir(tmp_path / "alone")
    assert repository_root(tmp_path / "alone" / "c") == (tmp_path / "alone").resolve()  # none: the current folder
