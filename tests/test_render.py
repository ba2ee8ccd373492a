"""Rendering every backend under every built-in profile, with and without overlays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from renderer import context
from renderer.pipeline import RenderRequest, render
from renderer.stages import emit
from tests.conftest import FIXTURE_APPS, ROOT, SHARED_UPSTREAM
from tests.kubernetes_schema import kubernetes_errors

BACKENDS = ["nats-native", "nats-exotic", "jetstream", "jetstream-exotic", "kafka"]
PROFILES = ["dev", "staging", "prod"]
OVERLAY_SETS = {"plain": (), "ha+monitoring": ("ha", "monitoring")}


def rendered_text(backend: str, profile: str, overlays=()) -> str:
    result = render(RenderRequest(FIXTURE_APPS / backend, profile=profile, overlays=overlays))
    return emit.yaml_stream(result.manifests)  # what render prints: the EventBus, then its budget


@pytest.mark.parametrize("overlays", OVERLAY_SETS, ids=list(OVERLAY_SETS))
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_renders_under_every_profile(backend, profile, overlays, snapshot):
    assert rendered_text(backend, profile, OVERLAY_SETS[overlays]) == snapshot


@pytest.fixture(scope="module")
def upstream_validator():
    schema_path = SHARED_UPSTREAM / "eventbus.schema.json"
    if not schema_path.is_file():
        pytest.skip("the upstream Argo Events schema (../shared/upstream/argo-events) is not beside the project")
    import jsonschema

    return jsonschema.Draft7Validator(json.loads(schema_path.read_text()))


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_rendered_manifest_is_valid_against_the_upstream_schema(backend, profile, upstream_validator):
    manifest, *beside = yaml.safe_load_all(rendered_text(backend, profile, ("ha", "monitoring")))
    errors = sorted(str(e.message) for e in upstream_validator.iter_errors(manifest))
    assert errors == []
    assert [kubernetes_errors(obj) for obj in beside] == [[]] * len(beside)  # the budget: Kubernetes' policy/v1


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_the_chosen_backends_section_reaches_the_manifest(backend):
    manifest = next(yaml.safe_load_all(rendered_text(backend, "prod")))
    spec = manifest["spec"]
    expected = {"nats-native": "nats", "nats-exotic": "nats", "jetstream": "jetstream",
                "jetstream-exotic": "jetstreamExotic", "kafka": "kafka"}[backend]
    assert list(spec) == [expected]
    if expected == "nats":
        assert list(spec["nats"]) == [backend.split("-")[1]]


def test_objects_carry_the_standard_labels_and_name_the_profile_and_overlays():
    manifest = next(yaml.safe_load_all(rendered_text("jetstream", "staging", ("ha",))))
    labels, annotations = manifest["metadata"]["labels"], manifest["metadata"]["annotations"]
    assert labels["app.kubernetes.io/managed-by"] == "eventbus-render"
    assert "app.kubernetes.io/instance" not in labels  # Argo CD's tracking label: see tests/argocd/test_tracking.py
    assert annotations["eventbus-render/profile"] == "staging"
    assert annotations["eventbus-render/overlays"] == "ha"


def test_zone_and_host_spread_expand_into_anti_affinity_that_selects_this_eventbus(make_app):
    app = make_app("""\
        backend: jetstream
        name: orders
        values:
          spread: {zones: required, hosts: preferred}
    """)
    affinity = render(RenderRequest(app)).manifest["spec"]["jetstream"]["affinity"]["podAntiAffinity"]
    selector = {"matchLabels": {"controller": "eventbus-controller", "eventbus-name": "orders"}}
    assert affinity["requiredDuringSchedulingIgnoredDuringExecution"] == [
        {"labelSelector": selector, "topologyKey": "topology.kubernetes.io/zone"}]
    assert affinity["preferredDuringSchedulingIgnoredDuringExecution"] == [
        {"weight": 50, "podAffinityTerm": {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"}}]


def test_spread_keeps_the_users_own_affinity_and_adds_no_duplicate_terms(make_app):
    app = make_app("""\
        backend: nats-native
        values:
          spread: {zones: required, hosts: none}
          nats:
            native:
              affinity:
                nodeAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    nodeSelectorTerms:
                      - matchExpressions: [{key: pool, operator: In, values: [events]}]
                podAntiAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    - labelSelector:
                        matchLabels: {controller: eventbus-controller, eventbus-name: default}
                      topologyKey: topology.kubernetes.io/zone
    """)
    affinity = render(RenderRequest(app)).manifest["spec"]["nats"]["native"]["affinity"]
    assert "nodeAffinity" in affinity
    assert len(affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]) == 1


def test_string_fields_set_on_the_command_line_stay_exactly_what_was_typed(make_app):
    app = make_app("backend: kafka\nvalues:\n  kafka: {url: 'k:9092'}\n")
    result = render(RenderRequest(app, sets=("kafka.consumerGroup.groupName=2.10", "kafka.topic=yes",
                                             "kafka.tls.enabled=true")))
    kafka = result.manifest["spec"]["kafka"]
    assert kafka["consumerGroup"]["groupName"] == "2.10" and kafka["topic"] == "yes"
    assert kafka["tls"]["enabled"] is True


def test_integer_fields_set_on_the_command_line_are_integers(make_app):
    app = make_app("backend: jetstream\n")
    result = render(RenderRequest(app, profile="staging", sets=("jetstream.replicas=5",)))
    assert result.manifest["spec"]["jetstream"]["replicas"] == 5


def test_set_null_deletes_and_set_string_keeps_null_as_text(make_app):
    app = make_app("backend: jetstream\nvalues:\n  jetstream: {maxPayload: '1MB'}\n")
    deleted = render(RenderRequest(app, sets=("jetstream.maxPayload=null",))).manifest
    kept = render(RenderRequest(app, set_strings=("jetstream.maxPayload=null",))).manifest
    assert "maxPayload" not in deleted["spec"]["jetstream"]
    assert kept["spec"]["jetstream"]["maxPayload"] == "null"


def test_set_can_reach_keys_with_dots_and_list_items(make_app):
    app = make_app("""\
        backend: jetstream
        values:
          jetstream:
            tolerations: [{key: a, operator: Exists}]
    """)
    result = render(RenderRequest(app, sets=("labels.example\\.com/team=payments",
                                             "jetstream.tolerations[0].effect=NoSchedule")))
    assert result.manifest["metadata"]["labels"]["example.com/team"] == "payments"
    assert result.manifest["spec"]["jetstream"]["tolerations"] == [
        {"key": "a", "operator": "Exists", "effect": "NoSchedule"}]


def test_layer_order_is_defaults_profile_overlays_app_values_then_set(make_app):
    app = make_app("""\
        backend: jetstream
        profile: base
        overlays: [first]
        values:
          jetstream: {maxPayload: app}
    """, files={
        "profiles/base.yaml": "values:\n  jetstream: {version: 2.10.29, maxPayload: profile, startArgs: [profile]}\n",
        "overlays/first.yaml": "values:\n  jetstream: {maxPayload: first, startArgs: [first]}\n",
        "overlays/second.yaml": "values:\n  jetstream: {startArgs: [second]}\n",
    })
    result = render(RenderRequest(app, overlays=("second",), sets=("jetstream.priorityClassName=cli",)))
    spec = result.manifest["spec"]["jetstream"]
    assert spec["maxPayload"] == "app"
    assert spec["startArgs"] == ["second"]
    assert spec["priorityClassName"] == "cli"
    assert [s.origin.layer for s in result.merged.provenance.settings(("jetstream", "maxPayload"))] == [
        "profile", "overlay", "app"]


def test_profiles_extend_other_profiles_and_the_app_directory_wins_over_built_ins(make_app):
    app = make_app("backend: jetstream\nprofile: prod\n", files={
        "profiles/prod.yaml": "extends: staging\nvalues:\n  jetstream: {maxPayload: local}\n"})
    result = render(RenderRequest(app, run_guards=False))
    assert [p.name for p in result.profiles] == ["staging", "prod"]
    assert result.manifest["spec"]["jetstream"]["maxPayload"] == "local"
    assert result.manifest["spec"]["jetstream"]["persistence"]["volumeSize"] == "10Gi"


def test_environments_select_their_own_profile_overlays_values_and_namespace(make_app):
    app = make_app("""\
        backend: jetstream
        environments:
          dev: {}
          staging-eu:
            profile: staging
            namespace: events-eu
            overlays: [ha]
            values:
              labels: {region: eu}
    """)
    result = render(RenderRequest(app, environment="staging-eu"))
    assert result.namespace == "events-eu"
    assert result.manifest["spec"]["jetstream"]["replicas"] == 5
    assert result.manifest["metadata"]["labels"]["region"] == "eu"
    assert result.manifest["metadata"]["annotations"]["eventbus-render/environment"] == "staging-eu"


def test_output_is_byte_identical_across_hash_seeds():
    outputs = set()
    for seed in ("1", "2", "314159"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-m", "renderer", "render", "--app", str(FIXTURE_APPS / "kafka"),
                               "--profile", "prod", "--overlay", "monitoring"],
                              capture_output=True, env=env, check=True, cwd=ROOT)
        outputs.add(proc.stdout)
    assert len(outputs) == 1 and outputs.pop().startswith(b"---\napiVersion: argoproj.io/v1alpha1\n")


def test_the_bundled_example_renders_for_prod(cli):
    result = cli("render", "--app", ROOT / "examples" / "eventbus", "--profile", "prod")
    assert result.code == 0, result.err
    manifest, budget = yaml.safe_load_all(result.out)
    assert manifest["spec"]["jetstream"]["persistence"]["storageClassName"] == "fast-ssd"
    assert budget["kind"] == "PodDisruptionBudget"


def test_built_ins_ship_inside_the_installed_package():
    from renderer.stages import sources

    for kind, names in (("profiles", {"dev", "staging", "prod"}), ("overlays", {"ha", "monitoring"})):
        assert names <= set(sources.available(kind, None))
    templates = Path(sys.modules["renderer"].__file__).parent / "templates"
    assert {f"{b}.yaml.j2" for b in BACKENDS} <= {p.name for p in templates.iterdir()}


def test_the_readme_layering_example_renders_as_documented(make_app):
    app = make_app("backend: jetstream\nprofile: platform\noverlays: [trace]\n", files={
        "profiles/platform.yaml": """\
            extends: prod
            values:
              jetstream:
                startArgs: ["--debug"]
                imagePullSecrets: [{name: registry-a}]
                tolerations: [{key: dedicated, operator: Equal, value: events, effect: NoSchedule}]
        """,
        "overlays/trace.yaml": """\
            merge:
              jetstream.startArgs: append
            values:
              jetstream:
                startArgs: ["--trace"]
                imagePullSecrets: [{name: registry-b}]
                tolerations: [{key: dedicated, operator: Equal, value: events-eu, effect: NoSchedule}]
        """,
    })
    spec = render(RenderRequest(app)).manifest["spec"]["jetstream"]
    assert spec["startArgs"] == ["--debug", "--trace"]
    assert spec["imagePullSecrets"] == [{"name": "registry-a"}, {"name": "registry-b"}]
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "events-eu",
                                    "effect": "NoSchedule"}]


def test_an_overlay_copied_into_many_apps_is_read_once_and_blamed_in_each(make_app):
    overlay = "values:\n  jetstream:\n    nodeSelector:\n      topology.kubernetes.io/region: eu-west1\n"
    roots = [make_app(f"backend: jetstream\nnamespace: team-{n}\noverlays: [region]\n",
                      {"overlays/region.yaml": overlay}, name=f"app{n}") for n in range(2)]
    with context.run():
        first, second = (render(RenderRequest(root)) for root in roots)
        # one parsed document for the same name and bytes; each render gets its own copy of it
        assert [key for key in context.cache("sources.parsed") if key[0] == "overlays/region.yaml"] == [
            first.overlays[0].doc.key]
    assert first.overlays[0].doc.key == second.overlays[0].doc.key
    assert first.overlays[0].doc.data is not second.overlays[0].doc.data
    for rendered in (first, second):
        assert rendered.manifest["spec"]["jetstream"]["nodeSelector"] == {
            "topology.kubernetes.io/region": "eu-west1"}
        origin = rendered.origin(("jetstream", "nodeSelector", "topology.kubernetes.io/region"))
        assert (origin.layer, origin.file, origin.line) == ("overlay", "overlays/region.yaml", 4)
    # a different copy is a different document
    (roots[1] / "overlays" / "region.yaml").write_text(overlay.replace("eu-west1", "eu-west4"))
    third = render(RenderRequest(roots[1]))
    assert third.manifest["spec"]["jetstream"]["nodeSelector"]["topology.kubernetes.io/region"] == "eu-west4"
