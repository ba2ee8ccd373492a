"""Property tests: any stack of profiles, overlays and --set values ends in valid output or a clean error.

The default example count is modest for CI; set EVENTBUS_RENDER_HYPOTHESIS_EXAMPLES for a longer run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from renderer.stages import disruption
from renderer.stages.validate import validate_eventbus
from tests.conftest import ROOT, SHARED_UPSTREAM
from tests.kubernetes_schema import kubernetes_errors

EXAMPLES = int(os.environ.get("EVENTBUS_RENDER_HYPOTHESIS_EXAMPLES", "60"))

BACKENDS = ["nats-native", "nats-exotic", "jetstream", "jetstream-exotic", "kafka"]
# fragments of layer values, valid and broken, for every backend
FRAGMENTS = [
    {"jetstream": {"replicas": 3}}, {"jetstream": {"replicas": 2}}, {"jetstream": {"replicas": "3"}},
    {"jetstream": {"version": "latest"}}, {"jetstream": {"version": "2.9.16"}}, {"jetstream": {"replcas": 1}},
    {"jetstream": {"persistence": {"volumeSize": "20000Mi", "storageClassName": "ssd"}}},
    {"jetstream": {"persistence": None}}, {"jetstream": {"streamConfig": "maxAge: 24h\n"}},
    {"jetstream": {"streamConfig": "- not a mapping"}}, {"jetstream": {"startArgs": ["--debug"]}},
    {"nats": {"native": {"replicas": 5, "maxAge": "72h"}}}, {"nats": {"native": {"maxAge": "3 days"}}},
    {"nats": {"native": {"auth": "basic"}}}, {"nats": {"native": {"antiAffinity": True}}},
    {"nats": {"exotic": {"url": "nats://n:4222", "clusterID": "stan"}}}, {"nats": {"exotic": {"url": 5}}},
    {"jetstreamExotic": {"url": "nats://j:4222"}}, {"jetstreamExotic": {"url": "nats://user:pw@j:4222"}},
    {"kafka": {"url": "k:9092", "topic": "t", "version": "2.10"}}, {"kafka": {"consumerGroup": {"oldest": True}}},
    {"kafka": {"consumerGroup": {"groupName": "g", "startOldest": True}}}, {"kafka": {"tls": {"enabled": "yes"}}},
    {"spread": {"zones": "required", "hosts": "preferred"}}, {"spread": {"zones": "sometimes"}},
    {"labels": {"team": "a"}}, {"labels": {"team": "no spaces allowed"}}, {"annotations": {"note": "y"}},
    {"annotations": {"text": "a\n---\nkind: Secret\n"}}, {"labels": None}, {"kafka": None}, {},
    {"disruptionBudget": {"enabled": False}}, {"disruptionBudget": {"maxUnavailable": 2}},
    {"disruptionBudget": {"minAvailable": 2}}, {"disruptionBudget": {"minAvailable": 2, "maxUnavailable": None}},
    {"disruptionBudget": {"maxUnavailable": "34%"}}, {"disruptionBudget": {"enabled": "yes"}},
    {"disruptionBudget": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}}, {"disruptionBudget": None},
]
SETS = ["jetstream.replicas=3", "jetstream.replicas=4", "jetstream.version=2.10.29", "kafka.version=2.10",
        "labels.team=yes", "jetstream.persistence=null", "spread.zones=required", "nats.native.replicas=x",
        "jetstream", "kafka.url=k:9092", "jetstream.tolerations[0].key=a", "annotations.a\\.b/c=0755",
        "disruptionBudget.enabled=false", "disruptionBudget.minAvailable=2", "disruptionBudget.maxUnavailable=-1"]


def app_files(backend, profile_values, overlay_values, app_values):
    files = {
        "eventbus-render.yaml": yaml.safe_dump({"backend": backend, "profile": "p", "overlays": ["o1", "o2"],
                                                "values": app_values}),
        "profiles/p.yaml": yaml.safe_dump({"extends": "staging", "values": profile_values}),
    }
    for index, values in enumerate(overlay_values, 1):
        files[f"overlays/o{index}.yaml"] = yaml.safe_dump({"values": values})
    return files


fragment = st.sampled_from(FRAGMENTS)


@pytest.fixture(scope="module")
def upstream():
    path = SHARED_UPSTREAM / "eventbus.schema.json"
    if not path.is_file():
        return None
    import jsonschema

    return jsonschema.Draft7Validator(json.loads(path.read_text()))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(backend=st.sampled_from(BACKENDS), profile=fragment, overlays=st.lists(fragment, min_size=2, max_size=2),
       app=fragment, sets=st.lists(st.sampled_from(SETS), max_size=3))
def test_any_stack_renders_valid_output_or_fails_cleanly(tmp_path_factory, cli, upstream, backend, profile,
                                                         overlays, app, sets):
    root = tmp_path_factory.mktemp("app")
    for relative, text in app_files(backend, profile, overlays, app).items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    args = ["render", "--app", root]
    for item in sets:
        args += ["--set", item]
    result = cli(*args)
    assert "Traceback" not in result.err
    if result.code == 0:
        manifest, *beside = yaml.safe_load_all(result.out)
        assert validate_eventbus(manifest) == []
        if upstream is not None:
            # upstream's schema requires kafka.consumerGroup.groupName, but the controller runs without one
            # (each Sensor uses <namespace>-<sensor>: tests/test_upstream.py, kafka_sensor.go:50-55)
            assert [e.message for e in upstream.iter_errors(manifest)
                    if e.message != "'groupName' is a required property"] == []
        for obj in beside:  # the PodDisruptionBudget: ours and Kubernetes' own schema accept it
            assert (disruption.problems(obj), kubernetes_errors(obj)) == ([], [])
    else:
        assert result.code in (1, 2)
        assert result.out == ""
        assert result.err.strip()


def test_output_is_identical_across_two_runs_with_different_hash_seeds(tmp_path):
    root = tmp_path / "app"
    files = app_files("jetstream", FRAGMENTS[0], [FRAGMENTS[23], FRAGMENTS[25]], FRAGMENTS[28])
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    outputs = []
    for seed in ("0", "4242"):
        proc = subprocess.run([sys.executable, "-m", "renderer", "render", "--app", str(root), "--format", "json",
                               "--set", "labels.b=2", "--set", "labels.a=1"],
                              capture_output=True, env=dict(os.environ, PYTHONHASHSEED=seed), cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]


# -- hostile repositories: random app directories, value trees and --set strings ------------------------------

KEYS = ["jetstream", "nats", "native", "exotic", "kafka", "jetstreamExotic", "labels", "annotations", "spread",
        "replicas", "version", "url", "auth", "persistence", "volumeSize", "tolerations", "key", "effect", "name",
        "imagePullSecrets", "startArgs", "streamConfig", "zones", "hosts", "eventbus-render/waivers",
        "app.kubernetes.io/managed-by", "topic", "tls", "sasl", "metadata", "containerTemplate", "resources"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["3", "2.10.29", "latest", "required", "token", "20Gi", "72h", "0755", "yes", "on", "~", "",
                     "nats://user:pw@h:4222", "a\n---\nkind: Secret", "\u2028", "%2000000000d"]))
VALUE_TREES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(KEYS) | st.text(min_size=1, max_size=8), inner, max_size=4), max_leaves=16)
LAYER_VALUES = st.dictionaries(st.sampled_from(KEYS[:9]) | st.text(min_size=1, max_size=6), VALUE_TREES, max_size=3)
RAW_YAML = st.sampled_from([
    "values: {jetstream: {replicas: !!bool maybe}}\n", "values: {jetstream: {replicas: !!int ''}}\n",
    "values: {jetstream: {replicas: 0x" + "f" * 5000 + "}}\n", "values: {jetstream: {replicas: !!float ''}}\n",
    "values: &a {x: *a}\n", "a: &a [*a, *a]\nvalues: {}\n", "values:\n\t- x\n", "<<: {values: {}}\n",
    "values: {labels: {x: y}}\nvalues: {}\n", "---\n---\n", "values: [1, 2]\n", "\xff\xfe", "values: !!binary aGk=\n",
    "values: {jetstream: {replicas: 1e999}}\n", "description: \"\\ud800\"\n", "merge: {jetstream.startArgs: bogus}\n",
    "values: {annotations: {eventbus-render/profile: x}}\n", "extends: p\n", "extends: ../x\n", "",
])
TEMPLATES = st.sampled_from([
    None, "{% extends '_eventbus.j2' %}{% block spec %}{\"jetstream\": {{ section | yaml }}}{% endblock %}",
    "{{ '%2000000000d' | format(1) }}", "{{ 'x' | center(2000000000) }}", "{% include 'x' %}", "{{ values.a.b }}",
    "{% for i in range(10) %}{{ i }}{% endfor %}", "{{ ''.__class__ }}", "{% extends 'jetstream.yaml.j2' %}",
    '{"apiVersion": "argoproj.io/v1alpha1", "kind": "EventBus", "metadata": {"name": "other", "namespace": "x"}, '
    '"spec": {"jetstream": {"version": "latest"}}}',
])
SET_PATHS = st.sampled_from(["jetstream.replicas", "jetstream.version", "labels.team", "annotations.note",
                             "kafka.url", "jetstream.tolerations[0].key", "nats.native.auth", "spread.zones",
                             "labels.eventbus-render/x", "jetstream", "a\\.b", '["x"]', "[0]", "x..y", ""])
SET_VALUES = st.sampled_from(["3", "null", "", "[1, 2]", "{a: 1}", "!!bool maybe", "0x" + "f" * 200, "[",
                              "kafka://u:S3cr3t@h:1", "yes", "2.10"]) | st.text(max_size=10)
SET_STRINGS = st.one_of(st.builds(lambda p, v: f"{p}={v}", SET_PATHS, SET_VALUES), st.text(max_size=16))
NAMES = st.sampled_from(["p", "dev", "prod", "staging", "o1", "../x", "x/y", "", "missing"])


def often(draw, usual, rare, odds: int = 4):
    """``usual`` most of the time, ``rare`` one time in ``odds``: hostile input mixed into valid input, so that
    renders succeed, fail a guard and fail on input alike."""
    return draw(rare if draw(st.sampled_from(range(odds))) == 1 else usual)  # not 0, which hypothesis favours


@st.composite
def app_directories(draw):
    """``{relative path: text or a special entry}`` of one app directory, and the --set strings of its render."""
    files = {}
    backend = often(draw, st.sampled_from(BACKENDS), st.sampled_from(["bogus", 5]), odds=10)
    local = {kind: draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
             for kind, names in (("profiles", ["p", "prod"]), ("overlays", ["o1", "o2"]))}
    app = {"backend": backend,
           "profile": often(draw, st.sampled_from(["dev", "staging", "prod", *local["profiles"]]), NAMES),
           "overlays": often(draw, st.lists(st.sampled_from(["ha", "monitoring", *local["overlays"]]), max_size=2),
                             st.lists(NAMES, max_size=2)),
           "values": often(draw, fragment, LAYER_VALUES)}
    if draw(st.sampled_from(range(5))) == 1:
        app["merge"] = draw(st.dictionaries(st.sampled_from(["jetstream.startArgs", "*.imagePullSecrets", "x["]),
                                            st.sampled_from(["append", "mergeBy:name", "replace", "bogus"]),
                                            max_size=2))
    files["eventbus-render.yaml"] = often(draw, st.just(yaml.safe_dump(app)), RAW_YAML, odds=20)
    for kind, names in local.items():
        for name in names:
            content = {"values": often(draw, fragment, LAYER_VALUES)}
            if kind == "profiles":
                content["extends"] = often(draw, st.sampled_from(["dev", "staging", "prod"]),
                                           st.sampled_from(["p", "missing", "../x"]))
            how = draw(st.sampled_from(range(20)))
            if how == 1:
                files[f"{kind}/{name}.yaml"] = draw(RAW_YAML)
            elif how == 2:
                files[f"{kind}/{name}.yaml"] = draw(st.sampled_from([("loop",), ("outside",), ("fifo",)]))
            else:
                files[f"{kind}/{name}.yaml"] = yaml.safe_dump(content)
    template = often(draw, st.none(), TEMPLATES, odds=5)
    if template is not None:
        files[f"templates/{backend if isinstance(backend, str) else 'x'}.yaml.j2"] = template
    return files, often(draw, st.lists(st.sampled_from(SETS), max_size=3), st.lists(SET_STRINGS, max_size=3))


def write_entries(root, files: dict) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == ("loop",):
            os.symlink(path.name, path)
        elif content == ("outside",):
            os.symlink("/etc/hostname", path)
        elif content == ("fifo",):
            os.mkfifo(path)
        else:
            path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=app_directories())
def test_a_hostile_app_directory_renders_the_same_bytes_twice_or_fails_cleanly(tmp_path_factory, cli, case):
    files, sets = case
    root = tmp_path_factory.mktemp("hostile")
    write_entries(root, files)
    args = ["render", "--app", root]
    for item in sets:
        args += ["--set", item]
    result = cli(*args)
    assert "Traceback" not in result.err and result.code in (0, 1, 2), result.err
    assert "S3cr3t" not in result.err  # a credential a --set plants is masked in every message
    event(f"exit {result.code}")
    checked = cli("check", "--format", "json", *args[1:])
    assert "Traceback" not in checked.err and checked.code in (0, 1, 2), checked.err
    assert (checked.code == 2) == (result.code == 2)  # check and render read the same input alike
    assert (checked.out == "") == (checked.code == 2) and "S3cr3t" not in checked.out + checked.err
    if result.code != 0:
        assert result.out == "" and result.err.strip()
        return
    manifests = list(yaml.safe_load_all(result.out))
    assert validate_eventbus(manifests[0]) == []
    again = cli(*args)
    assert (again.code, again.out) == (0, result.out)  # the same bytes
    from renderer.stages import emit

    assert emit.yaml_stream(manifests) == result.out  # and the canonical form of what it says
