"""The PodDisruptionBudget beside a NATS native or JetStream bus: what it is, and that it goes wherever the bus goes.

Facts from upstream argo-events v1.9.11: the controller labels every pod of a bus
``controller: eventbus-controller`` and ``eventbus-name: <bus>`` (pkg/reconciler/eventbus/installer/installer.go:57-63,
written over the bus's own pod labels in nats.go:648-666 and jetstream.go:235-270), creates no PodDisruptionBudget
(nothing under pkg/reconciler/ does), and its HA guide names the budget eventbus-<bus>-pdb with maxUnavailable 1
for 3 replicas (docs/dr_ha_recommendations.md:101-118).
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from renderer.stages import disruption
from tests.kubernetes_schema import kubernetes_errors

JETSTREAM = """\
name: orders
namespace: payments
backend: jetstream
profile: prod
values:
  jetstream: {priorityClassName: eventbus-critical}
"""
SELECTOR = {"controller": "eventbus-controller", "eventbus-name": "orders"}


def documents(text: str) -> list:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def budget_of(result) -> dict:
    assert result.code == 0, result.err
    bus, budget = documents(result.out)
    assert (bus["kind"], budget["kind"]) == ("EventBus", "PodDisruptionBudget")
    return budget


# -- what the budget is -----------------------------------------------------------------------------


def test_a_prod_jetstream_bus_renders_its_quorum_safe_budget_after_it_in_one_stream(make_app, cli):
    result = cli("render", "--app", make_app(JETSTREAM))
    assert result.out.startswith("---\napiVersion: argoproj.io/v1alpha1\nkind: EventBus\n")
    assert result.out.count("\n---\n") == 1
    budget = budget_of(result)
    assert budget["apiVersion"] == "policy/v1"
    assert budget["metadata"]["name"] == "eventbus-orders-pdb"
    assert budget["metadata"]["namespace"] == "payments"
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": SELECTOR}}


def test_the_selector_is_the_one_the_anti_affinity_terms_use_for_the_same_pods(make_app, cli):
    bus, budget = documents(cli("render", "--app", make_app(JETSTREAM)).out)
    terms = bus["spec"]["jetstream"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert {json.dumps(t["labelSelector"], sort_keys=True) for t in terms} == {
        json.dumps(budget["spec"]["selector"], sort_keys=True)}


def test_the_budget_carries_the_bus_labels_and_annotations_but_not_its_waivers(make_app, cli):
    app = make_app(JETSTREAM.replace("jetstream: {priorityClassName: eventbus-critical}",
                                     "jetstream: {priorityClassName: eventbus-critical, version: latest}\n"
                                     "  labels: {team: payments}\n  annotations: {example.com/owner: payments}")
                   + WAIVER_LATEST)
    result = cli("render", "--app", app)
    assert result.code == 0, result.err
    bus, budget = documents(result.out)
    assert budget["metadata"]["labels"] == bus["metadata"]["labels"]
    assert budget["metadata"]["labels"]["team"] == "payments"
    assert "eventbus-render/waivers" in bus["metadata"]["annotations"]
    assert budget["metadata"]["annotations"] == {k: v for k, v in bus["metadata"]["annotations"].items()
                                                 if k != "eventbus-render/waivers"}


WAIVER_LATEST = """\
waivers:
  - {rule: pinned-versions, path: spec.jetstream.version, value: latest, reason: test, owner: t, expires: 2999-12-31}
"""


@pytest.mark.parametrize("backend, values", [
    ("nats-exotic", "nats: {exotic: {url: 'nats://n:4222', clusterID: stan}}"),
    ("jetstream-exotic", "jetstreamExotic: {url: 'nats://j:4222'}"),
    ("kafka", "kafka: {url: 'k:9092', topic: t}"),
])
def test_backends_without_pods_of_their_own_get_no_budget_even_when_asked(make_app, cli, backend, values):
    app = make_app(f"backend: {backend}\nprofile: dev\nvalues:\n  disruptionBudget: {{enabled: true}}\n  {values}\n")
    result = cli("render", "--app", app)
    assert result.code == 0, result.err
    assert [doc["kind"] for doc in documents(result.out)] == ["EventBus"]


@pytest.mark.parametrize("profile, kinds", [
    ("prod", ["EventBus", "PodDisruptionBudget"]),
    ("staging", ["EventBus", "PodDisruptionBudget"]),
    ("dev", ["EventBus"]),
])
@pytest.mark.parametrize("backend", ["jetstream", "nats-native"])
def test_prod_and_staging_turn_the_budget_on_and_dev_leaves_it_off(make_app, cli, profile, kinds, backend):
    result = cli("render", "--app", make_app(f"backend: {backend}\nprofile: {profile}\n"))
    assert result.code == 0, result.err
    assert [doc["kind"] for doc in documents(result.out)] == kinds


@pytest.mark.parametrize("values, spec", [
    ("{enabled: true}", {"maxUnavailable": 1}),
    ("{enabled: true, maxUnavailable: 2}", {"maxUnavailable": 2}),
    ("{enabled: true, maxUnavailable: null, minAvailable: 3}", {"minAvailable": 3}),
    ("{enabled: true, unhealthyPodEvictionPolicy: AlwaysAllow}",
     {"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow"}),
], ids=["default", "max", "min", "eviction-policy"])
def test_the_values_set_the_budget(make_app, cli, values, spec):
    app = make_app(f"name: orders\nbackend: nats-native\nprofile: dev\nvalues:\n  disruptionBudget: {values}\n"
                   "  nats: {native: {replicas: 5}}\n")
    budget = budget_of(cli("render", "--app", app))
    assert budget["spec"] == {**spec, "selector": {"matchLabels": SELECTOR}}


def test_turning_it_off_removes_the_budget(make_app, cli):
    result = cli("render", "--app", make_app(JETSTREAM), "--profile", "staging", "--set",
                 "disruptionBudget.enabled=false")
    assert [doc["kind"] for doc in documents(result.out)] == ["EventBus"]


# -- bad values: one clear message where the value was set, nothing printed -------------------------------


@pytest.mark.parametrize("setting, message", [
    ("disruptionBudget.minAvailable=2", "takes maxUnavailable or minAvailable, not both"),
    ("disruptionBudget.maxUnavailable=-1", "-1 is out of range"),
    ("disruptionBudget.enabled=sometimes", "expected boolean"),
    ("disruptionBudget.unhealthyPodEvictionPolicy=Always", "AlwaysAllow"),
    ("disruptionBudget.name=mine", "unknown"),
    ("disruptionBudget.namespace=elsewhere", "unknown"),
    ("disruptionBudget.selector.matchLabels.app=x", "unknown"),
], ids=["both-bounds", "negative", "not-a-bool", "unknown-policy", "no-name", "no-namespace", "no-selector"])
def test_a_bad_budget_value_is_an_input_error_naming_where_it_was_set(make_app, cli, setting, message):
    result = cli("render", "--app", make_app(JETSTREAM), "--set", setting)
    assert (result.code, result.out) == (2, "")
    assert message in result.err
    assert "--set" in result.err and "Traceback" not in result.err


def test_a_percentage_is_refused_with_the_reason_in_the_editor_schema(make_app, cli):
    app = make_app(JETSTREAM.replace("values:\n", "values:\n  disruptionBudget: {maxUnavailable: '34%'}\n"))
    result = cli("render", "--app", app)
    assert (result.code, result.out) == (2, "")
    assert "eventbus-render.yaml:6" in result.err and "disruptionBudget.maxUnavailable" in result.err
    schema = json.loads(cli("schema", "app").out)
    text = json.dumps(schema)
    assert "a percentage of 3 pods rounds up" in text


def test_both_bounds_from_two_files_name_the_line_of_the_one_that_adds_the_second(make_app, cli):
    app = make_app(JETSTREAM + "overlays: [strict]\n", files={
        "overlays/strict.yaml": "values:\n  disruptionBudget:\n    minAvailable: 2\n"})
    result = cli("render", "--app", app)
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("error: overlays/strict.yaml:3:5: disruptionBudget.minAvailable:")
    assert "hint: write maxUnavailable: null beside minAvailable" in result.err


# -- the strict schema is a subset of Kubernetes' own -----------------------------------------------------------


def rendered_budget() -> dict:
    return disruption.budget("orders", "payments", "jetstream", {"disruptionBudget": {"enabled": True,
                             "maxUnavailable": 1, "unhealthyPodEvictionPolicy": "IfHealthyBudget"}},
                             {"app.kubernetes.io/name": "eventbus"}, {"eventbus-render/profile": "prod"})


def mutate(path: tuple, value):
    budget = rendered_budget()
    node = budget
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return budget


@pytest.mark.parametrize("path, value", [
    (("kind",), "Deployment"),
    (("apiVersion",), "policy/v1beta1"),
    (("spec", "maxUnavailable"), True),
    (("spec", "maxUnavailable"), 1.5),
    (("spec", "minAvailabel"), 2),
    (("spec", "selector", "matchLabels"), ["controller"]),
    (("spec", "selector", "matchLabel"), {"a": "b"}),
    (("spec", "selector", "matchExpressions"), [{"key": "a"}]),
    (("spec", "selector", "matchExpressions"), [{"key": "a", "operator": "In", "value": ["b"]}]),
    (("spec", "unhealthyPodEvictionPolicy"), 3),
    (("metadata", "labels"), {"a": 1}),
    (("metadata", "uid"), {"a": "b"}),
    (("spec", "selector"), "controller=eventbus-controller"),
    (("status",), {"currentHealthy": "3"}),
], ids=lambda v: str(v))
def test_what_kubernetes_refuses_our_validator_refuses_too(path, value):
    broken = mutate(path, value)
    assert kubernetes_errors(broken) != []
    assert disruption.problems(broken) != []


def test_a_budget_without_metadata_is_refused_though_the_offline_schema_lets_it_pass():
    broken = mutate(("metadata",), KeyError)
    assert kubernetes_errors(broken) == []  # the published schema leaves metadata optional...
    assert disruption.problems(broken) != []  # ...but the API server requires metadata.name


@pytest.mark.parametrize("values", [
    {"enabled": True},
    {"enabled": True, "maxUnavailable": 2},
    {"enabled": True, "maxUnavailable": None, "minAvailable": 4},
    {"enabled": True, "maxUnavailable": 0, "unhealthyPodEvictionPolicy": "AlwaysAllow"},
    {"enabled": True, "maxUnavailable": 2**31 - 1},
])
@pytest.mark.parametrize("backend", disruption.POD_BACKENDS)
def test_every_budget_the_renderer_writes_passes_kubernetes_strict_policy_v1_schema(values, backend):
    labels = {"app.kubernetes.io/name": "eventbus", "example.com/team": "payments"}
    budget = disruption.budget("a" * 63, "argo-events", backend, {"disruptionBudget": values}, labels,
                               {"eventbus-render/profile": "prod", "note": "a\nb"})
    assert disruption.problems(budget) == []
    assert kubernetes_errors(budget) == []
    assert kubernetes_errors(budget, "1.27") == []  # unhealthyPodEvictionPolicy is in policy/v1 since 1.26


def test_both_bounds_are_refused_by_our_validator_as_the_api_server_does():
    both = mutate(("spec", "minAvailable"), 2)
    assert [p.path for p in disruption.problems(both)] == [("spec", "minAvailable")]


# -- everywhere the EventBus goes ---------------------------------------------------------------------


def test_output_dir_writes_each_object_to_its_own_file(make_app, cli, tmp_path):
    result = cli("render", "--app", make_app(JETSTREAM), "-o", tmp_path / "out")
    assert result.code == 0, result.err
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert files == ["payments/eventbus-orders.yaml", "payments/poddisruptionbudget-eventbus-orders-pdb.yaml"]
    budget = yaml.safe_load((tmp_path / "out/payments/poddisruptionbudget-eventbus-orders-pdb.yaml").read_text())
    assert budget["spec"]["maxUnavailable"] == 1
    json_out = tmp_path / "json"
    assert cli("render", "--app", make_app(JETSTREAM, name="j"), "-o", json_out, "--format", "json").code == 0
    assert json.loads((json_out / "payments/poddisruptionbudget-eventbus-orders-pdb.json").read_text())[
        "kind"] == "PodDisruptionBudget"


def test_json_output_is_a_list_of_both_objects(make_app, cli):
    result = cli("render", "--app", make_app(JETSTREAM), "--format", "json")
    document = json.loads(result.out)
    assert (document["apiVersion"], document["kind"]) == ("v1", "List")
    assert [item["kind"] for item in document["items"]] == ["EventBus", "PodDisruptionBudget"]


def test_render_all_writes_the_budget_beside_its_bus_and_records_it_in_the_index(make_app, cli, tmp_path):
    make_app(JETSTREAM, name="apps/orders")
    make_app("name: events\nbackend: kafka\nprofile: prod\nvalues:\n  kafka: {url: 'k:9093', topic: t, "
             "tls: {enabled: true}, sasl: {mechanism: PLAIN, userSecret: {name: u, key: u}, passwordSecret: "
             "{name: u, key: p}}}\n", name="apps/events")
    out = tmp_path / "out"
    result = cli("render", "--all", "--root", tmp_path / "apps", "-o", out)
    assert result.code == 0, result.err
    index = json.loads((out / ".eventbus-render-index.json").read_text())
    assert index["format"] == 2
    assert [(o["kind"], o["file"]) for o in index["objects"]] == [
        ("EventBus", "default/argo-events/eventbus-events.yaml"),
        ("EventBus", "default/payments/eventbus-orders.yaml"),
        ("PodDisruptionBudget", "default/payments/poddisruptionbudget-eventbus-orders-pdb.yaml")]
    assert all(o["findings"] == [] for o in index["objects"])
    assert "rendered 3 manifests of 2 apps" in result.err
    stream = cli("render", "--all", "--root", tmp_path / "apps")
    assert [d["kind"] for d in documents(stream.out)] == ["EventBus", "EventBus", "PodDisruptionBudget"]
    listed = json.loads(cli("render", "--all", "--root", tmp_path / "apps", "--format", "json").out)
    assert [item["kind"] for item in listed["items"]] == ["EventBus", "EventBus", "PodDisruptionBudget"]


def test_two_apps_rendering_the_same_bus_are_one_conflict_not_one_per_object(make_app, cli, tmp_path):
    make_app(JETSTREAM, name="apps/a")
    make_app(JETSTREAM, name="apps/b")
    result = cli("render", "--all", "--root", tmp_path / "apps")
    assert (result.code, result.out) == (2, "")
    assert result.err.count("is also rendered by app") == 1
    assert "error: 1 of 3 renders failed; nothing was printed" in result.err  # as without budgets
    assert "EventBus payments/orders is also rendered by app a" in result.err


def test_a_tree_indexed_before_budgets_existed_still_reads(make_app, cli, tmp_path):
    make_app(JETSTREAM.replace("prod", "dev"), name="apps/orders")
    out = tmp_path / "out"
    assert cli("render", "--all", "--root", tmp_path / "apps", "-o", out).code == 0
    index = json.loads((out / ".eventbus-render-index.json").read_text())
    index["format"] = 1
    for record in index["objects"]:
        del record["kind"]
    (out / ".eventbus-render-index.json").write_text(json.dumps(index))
    result = cli("diff", "--root", tmp_path / "apps", "--against", out)
    assert result.code == 0, result.err
    assert "No changes" in result.out


def test_explain_follows_a_budget_path_from_a_report_to_its_values(make_app, cli):
    app = make_app(JETSTREAM)
    result = cli("explain", "--app", app, "PodDisruptionBudget.spec.maxUnavailable")
    assert result.code == 0, result.err
    assert "disruptionBudget.maxUnavailable = 1\n    set by   defaults common (builtin:defaults/common.yaml:" \
        in result.out
    enabled = cli("explain", "--app", app, "disruptionBudget.enabled")
    assert "set by   profile prod (builtin:profiles/prod.yaml:" in enabled.out
    computed = cli("explain", "--app", app, "PodDisruptionBudget.spec.selector")
    assert computed.code == 2 and "not set from the values" in computed.err


def test_the_pytest_plugin_gives_both_objects(make_app):
    from renderer.pytest_plugin import EventBusRenderer

    app = make_app(JETSTREAM)
    renderer = EventBusRenderer(app.parent)
    text = renderer(app.name)
    assert text.startswith("apiVersion: argoproj.io/v1alpha1\n") and "\n---\napiVersion: policy/v1\n" in text
    assert [m["kind"] for m in renderer.manifests(app.name)] == ["EventBus", "PodDisruptionBudget"]
    assert renderer.manifest(app.name)["kind"] == "EventBus"
    assert json.loads(renderer(app.name, fmt="json"))["kind"] == "List"
    lone = make_app("backend: jetstream\nprofile: dev\n", name="lone")
    assert renderer(lone.name).startswith("apiVersion:") and "---" not in renderer(lone.name)


def test_a_renders_objects_are_the_callers_own(make_app):
    from renderer.pipeline import RenderRequest, render

    app = make_app(JETSTREAM)
    first = render(RenderRequest(app))
    kept = copy.deepcopy(first.manifests)
    first.companions[0]["spec"]["maxUnavailable"] = 9
    assert render(RenderRequest(app)).manifests == kept
