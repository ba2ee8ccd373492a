"""controller-rules: what the Argo Events v1.9 controller rejects or silently rewrites, in every profile."""

from __future__ import annotations

import pytest
import yaml

from renderer.errors import InputError
from renderer.stages import controller
from tests.conftest import SHARED_UPSTREAM

RULE = "controller-rules"

TWO_BACKENDS = """\
apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata: {name: {{ name | yaml }}, namespace: {{ namespace | yaml }}}
spec:
  jetstream: {version: "2.10.29"}
  kafka: {url: "kafka:9092"}
"""
NO_BACKEND = "apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata: {name: x}\nspec: {}\n"
NATIVE_AND_EXOTIC = """\
apiVersion: argoproj.io/v1alpha1
kind: EventBus
metadata: {name: {{ name | yaml }}}
spec:
  nats:
    native: {replicas: 3}
    exotic: {url: "nats://n:4222", clusterID: c}
"""


@pytest.mark.parametrize("backend, values, expected", [
    ("nats-native", {"nats": {"native": {"replicas": 3}}}, []),
    ("nats-native", {"nats": {"native": {"replicas": 5, "auth": "token"}}}, []),
    ("nats-native", {"nats": {"native": {"replicas": None}}}, []),
    ("nats-native", {"nats": {"native": {"replicas": 2}}}, ["spec.nats.native.replicas"]),
    ("nats-native", {"nats": {"native": {"replicas": 1}}}, ["spec.nats.native.replicas"]),
    ("nats-native", {"nats": {"native": {"auth": "none"}}}, []),
    ("nats-native", {"nats": {"native": {"auth": "basic"}}}, ["spec.nats.native.auth"]),
    ("nats-exotic", {"nats": {"exotic": {"url": None}}}, ["spec.nats.exotic.url"]),
    ("nats-exotic", {"nats": {"exotic": {"clusterID": None}}}, ["spec.nats.exotic.clusterID"]),
    ("nats-exotic", {"nats": {"exotic": {"clusterID": ""}}}, ["spec.nats.exotic.clusterID"]),
    ("jetstream-exotic", {"jetstreamExotic": {"url": None}}, ["spec.jetstreamExotic.url"]),
    ("kafka", {"kafka": {"url": None}}, ["spec.kafka.url"]),
    ("kafka", {"kafka": {"consumerGroup": {"groupName": "events"}}}, []),
    ("kafka", {"kafka": {"consumerGroup": {"groupName": ""}}}, []),
], ids=["native-3", "native-5", "native-omitted", "native-2-raised", "native-1-raised", "auth-none",
        "auth-basic-unsupported", "exotic-no-url", "exotic-no-cluster-id", "exotic-empty-cluster-id",
        "jetstream-exotic-no-url", "kafka-no-url", "kafka-group-named",
        "kafka-group-unnamed-each-sensor-names-its-own"])
def test_each_backend_has_what_the_controller_requires(violations, backend, values, expected):
    assert violations(RULE, backend, values) == expected


@pytest.mark.parametrize("values, expected", [
    ({"jetstream": {"version": "2.10.29"}}, []),
    ({"jetstream": {"version": "2.8.1-alpine"}}, []),
    ({"jetstream": {"version": "latest"}}, []),  # listed by the controller; pinned-versions rejects it
    ({"jetstream": {"version": None}}, ["spec.jetstream.version"]),
    ({"jetstream": {"version": ""}}, ["spec.jetstream.version"]),
    ({"jetstream": {"version": "2.10.x"}}, ["spec.jetstream.version"]),
    ({"jetstream": {"version": "v2"}}, ["spec.jetstream.version"]),
    ({"jetstream": {"version": "2.10.30"}}, ["spec.jetstream.version"]),
    ({"jetstream": {"replicas": 2}}, ["spec.jetstream.replicas"]),
    ({"jetstream": {"replicas": 0}}, ["spec.jetstream.replicas"]),
    ({"jetstream": {"replicas": -1}}, ["spec.jetstream.replicas"]),
    ({"jetstream": {"replicas": 1, "streamConfig": "maxAge: 24h\nreplicas: 1\n"}}, []),
    ({"jetstream": {"replicas": 1}}, ["spec.jetstream.streamConfig"]),
    ({"jetstream": {"replicas": 1, "streamConfig": "replicas: 3\n"}}, ["spec.jetstream.streamConfig"]),
    ({"jetstream": {"replicas": 3, "streamConfig": "replicas: 5\n"}}, ["spec.jetstream.streamConfig"]),
    ({"jetstream": {"streamConfig": "- maxAge\n- 24h\n"}}, ["spec.jetstream.streamConfig"]),
    ({"jetstream": {"streamConfig": "maxAge: [24h\n"}}, ["spec.jetstream.streamConfig"]),
], ids=["2.10.29", "alpine-variant", "latest-is-listed", "no-version", "empty-version", "2.10.x", "v2",
        "unlisted-release", "2-replicas", "0-replicas", "negative-replicas", "single-server-single-replica-streams",
        "single-server-default-streams", "single-server-three-replica-streams", "streams-wider-than-servers",
        "stream-config-a-list", "stream-config-not-yaml"])
def test_jetstream_has_a_listed_version_a_valid_count_and_a_stream_config_that_fits(violations, values, expected):
    assert violations(RULE, "jetstream", values) == expected


def test_the_exotic_jetstream_stream_config_must_be_a_mapping(violations):
    assert violations(RULE, "jetstream-exotic", {"jetstreamExotic": {"streamConfig": "just text"}}) == [
        "spec.jetstreamExotic.streamConfig"]


@pytest.mark.parametrize("template, expected", [
    (TWO_BACKENDS, "2 backend sections (jetstream, kafka), expected exactly one (the controller would use "
                   "jetstream and ignore the rest)"),
    (NO_BACKEND, "no backend section, expected exactly one of nats, jetstream, kafka, jetstreamExotic"),
], ids=["two", "none"])
def test_a_template_must_write_exactly_one_backend_section(findings, template, expected):
    [finding] = findings(RULE, "jetstream", files={"templates/jetstream.yaml.j2": template})
    assert finding.message == expected
    assert "set by template 'jetstream.yaml.j2' (templates/jetstream.yaml.j2)" in str(finding)


def test_nats_must_not_hold_native_and_exotic_together(findings):
    found = findings(RULE, "nats-native", files={"templates/nats-native.yaml.j2": NATIVE_AND_EXOTIC})
    assert [f.message for f in found] == ["both native and exotic, expected exactly one of native, exotic"]


def test_a_native_count_below_three_says_the_controller_runs_three(findings):
    [finding] = findings(RULE, "nats-native", {"nats": {"native": {"replicas": 1}}})
    assert str(finding) == (
        "error[controller-rules] spec.nats.native.replicas: 1 replica (the controller silently runs 3), "
        "expected at least 3\n"
        "  set by overlay 'case' (overlays/case.yaml:4)\n"
        "  fix: set nats.native.replicas to 3 or more")


def test_controller_rules_are_errors_in_dev_too(evaluate):
    evaluation = evaluate("jetstream", {"jetstream": {"replicas": 2}}, profile="dev")
    assert [(f.rule, f.level) for f in evaluation.errors] == [(RULE, "error")]


def test_a_profile_can_replace_the_controllers_version_list(violations):
    profile = "extends: prod\ncontroller:\n  jetstreamVersions: ['2.10.29', '2.11.4']\n"
    files = {"profiles/cluster-b.yaml": profile}
    assert violations(RULE, "jetstream", {"jetstream": {"version": "2.11.4"}}, profile="cluster-b", files=files) == []
    assert violations(RULE, "jetstream", {"jetstream": {"version": "2.9.16"}}, profile="cluster-b",
                      files=files) == ["spec.jetstream.version"]


@pytest.mark.parametrize("setting", ["{level: warning}", "{level: off}", "{waivable: true}"])
def test_no_profile_can_weaken_or_waive_the_controller_rules(evaluate, setting):
    files = {"profiles/lax.yaml": f"guards:\n  controller-rules: {setting}\n"}
    with pytest.raises(InputError) as caught:
        evaluate("jetstream", profile="lax", files=files)
    assert "always an error and never waivable" in caught.value.message
    assert str(caught.value.location) == "profiles/lax.yaml:2:22"


def test_a_bad_duration_never_reaches_the_guards_the_schema_refuses_it_at_its_line(evaluate):
    with pytest.raises(InputError) as caught:
        evaluate("nats-native", {"nats": {"native": {"maxAge": "7d"}}})
    assert str(caught.value.location) == "overlays/case.yaml:4:7"
    assert "no day unit" in caught.value.hint


def test_the_default_version_list_is_upstreams_controller_config():
    config_file = SHARED_UPSTREAM / "controller-config.yaml"
    if not config_file.is_file():
        pytest.skip("the upstream Argo Events controller config is not beside the project")
    configmap = yaml.safe_load(config_file.read_text())
    config = yaml.safe_load(configmap["data"]["controller-config.yaml"])
    listed = [str(v["version"]) for v in config["eventBus"]["jetstream"]["versions"]]
    assert list(controller.Controller().jetstream_versions) == listed
    assert controller.Controller().release == "v1.9.11"  # the release the shared upstream data comes from


def test_a_profile_names_its_controller_release_and_gets_that_releases_versions(violations, findings):
    files = {"profiles/old.yaml": "extends: dev\ncontroller: {release: v1.9.5}\n"}
    assert violations(RULE, "jetstream", {"jetstream": {"version": "2.10.10"}}, profile="old", files=files) == []
    [finding] = findings(RULE, "jetstream", {"jetstream": {"version": "2.10.29"}}, profile="old", files=files)
    assert finding.message == ("version '2.10.29' is not one the controller lists, expected one of latest, 2.8.1, "
                               "2.8.1-alpine, 2.8.2, 2.8.2-alpine, 2.9.1, 2.9.12, 2.9.16, 2.10.10 (the controller "
                               "config of Argo Events v1.9.5)")


def test_a_child_profile_overrides_only_the_controller_keys_it_sets(findings):
    files = {"profiles/base.yaml": "extends: dev\ncontroller: {release: v1.9.1, jetstreamVersions: ['2.11.4']}\n",
             "profiles/child.yaml": "extends: base\ncontroller: {release: v1.9.11}\n"}
    [finding] = findings(RULE, "jetstream", {"jetstream": {"version": "2.10.29"}}, profile="child", files=files)
    assert finding.expected == ("one of 2.11.4 (controller.jetstreamVersions of profile 'base' "
                                "(profiles/base.yaml:2:31))")


@pytest.mark.parametrize("default, expected", [
    ("replicas: 1\n", []),
    ("replicas: 3\n", ["spec.jetstream.streamConfig"]),
    ("Replicas: '1'\n", []),
    ("", []),  # a cluster whose config has no stream settings: 0 replicas, which the server makes 1
], ids=["one", "three", "case-and-quotes", "empty-means-no-defaults"])
def test_the_stream_replicas_rule_uses_the_profiles_default_stream_config(violations, default, expected):
    text = "extends: dev\ncontroller:\n  streamConfig: " + (f"|\n    {default}" if default else "''\n")
    files = {"profiles/one.yaml": text}
    single = {"jetstream": {"replicas": 1, "streamConfig": None}}
    assert violations(RULE, "jetstream", single, profile="one", files=files) == expected


@pytest.mark.parametrize("default, fragment", [
    ("maxAge: 7d", "maxAge (line 1 of the text): '7d' is not a Go duration"),
    ("maxAges: 72h", "did you mean 'maxAge'?"),
    ("- replicas: 1", "is a list, not a mapping of settings"),
    ("{maxAge: 1m, duplicates: 5m}", "duplicates window (5m) is longer than maxAge (1m)"),
], ids=["days", "misspelt", "list", "window"])
def test_a_profiles_own_stream_config_is_read_as_the_controller_reads_it(evaluate, default, fragment):
    files = {"profiles/bad.yaml": f"extends: dev\ncontroller:\n  streamConfig: '{default}'\n"}
    with pytest.raises(InputError) as caught:
        evaluate("jetstream", profile="bad", files=files)
    assert fragment in caught.value.message + str(caught.value.hint)
    assert str(caught.value.location) == "profiles/bad.yaml:3:3"


def test_the_moved_version_list_parameter_says_where_it_lives_now(evaluate):
    files = {"profiles/old.yaml": "extends: dev\nguards:\n  controller-rules:\n    jetstreamVersions: ['2.10.29']\n"}
    with pytest.raises(InputError) as caught:
        evaluate("jetstream", profile="old", files=files)
    assert "is a fact about the cluster's controller now" in caught.value.message
    assert caught.value.hint == "move it to the profile's controller block: controller: {jetstreamVersions: [...]}"
    assert str(caught.value.location).startswith("profiles/old.yaml:4")
