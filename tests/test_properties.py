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
from hypothesis import HealthCheck, given, settings
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
            assert [e.message for e in upstream.iter_errors(manifest)] == []
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
