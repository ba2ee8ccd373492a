"""``explain``: the final value of every leaf, who set it (layer, file:line), and what it overrode."""

from __future__ import annotations

import json

import pytest

from renderer.commands import explain
from renderer.pipeline import RenderRequest, collect_layers
from renderer.stages import layers, sources

APP = """\
name: orders
namespace: orders
backend: jetstream
profile: team
overlays: [watch]
values:
  labels:
    team: orders
  jetstream:
    replicas: 3
    tolerations:
      - {key: dedicated, operator: Equal, value: events, effect: NoSchedule}
environments:
  prod:
    overlays: [extra]
    values:
      jetstream:
        streamConfig: null
        replicas: 5
"""
BASE = """\
description: the team's base, standing in for a built-in profile
values:
  jetstream:
    version: "2.10.29"
    replicas: 1
    streamConfig: |
      maxAge: 24h
      replicas: 1
"""
TEAM = """\
extends: base
values:
  jetstream:
    version: "2.10.29"
    tolerations:
      - {key: dedicated, operator: Equal, value: default, effect: NoSchedule}
      - {key: spot, operator: Exists, effect: NoExecute}
"""
WATCH = """\
values:
  jetstream:
    metadata:
      annotations:
        prometheus.io/scrape: "true"
"""
EXTRA = """\
values:
  jetstream:
    nodeSelector:
      pool: events
    persistence:
      volumeSize: 30Gi
"""


@pytest.fixture
def app(make_app):
    return make_app(APP, {"profiles/base.yaml": BASE, "profiles/team.yaml": TEAM, "overlays/watch.yaml": WATCH,
                          "overlays/extra.yaml": EXTRA})


def explained(app, *args):
    return ["explain", "--app", app, "--env", "prod", *args]


def test_every_layer_kind_in_json(app, cli, snapshot):
    result = cli(*explained(app, "--set", "jetstream.replicas=7", "--set-string", "labels.tier=1",
                            "--format", "json"))
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["app"] == str(app)
    doc["app"] = "<app>"
    assert [layer["kind"] for layer in doc["layers"]] == [
        "defaults", "defaults", "profile", "profile", "overlay", "overlay", "app", "environment", "set", "set"]
    assert doc == snapshot


def test_text_report_of_one_subtree(app, cli, snapshot):
    result = cli(*explained(app, "--set", "jetstream.replicas=7", "jetstream"))
    assert result.code == 0, result.err
    assert result.out.replace(str(app), "<app>") == snapshot


def test_history_is_in_layer_order_with_the_setter_last(app):
    merged = explain.build(app, None, (), ("jetstream.replicas=7",), (), "prod")[3]
    (leaf,) = explain.explain_values(merged, ("jetstream", "replicas"))
    assert leaf.value == 7
    assert [(s.origin.layer, s.origin.name, s.value) for s in leaf.history] == [
        ("defaults", "jetstream", 3), ("profile", "base", 1), ("app", "eventbus-render.yaml", 3),
        ("environment", "prod", 5), ("set", "--set jetstream.replicas=7", 7)]
    assert leaf.history[-1].origin.file == "--set"
    assert (leaf.history[3].origin.file, leaf.history[3].origin.line) == ("eventbus-render.yaml", 19)


def test_a_deleted_value_shows_who_deleted_it(app, cli):
    result = cli(*explained(app, "jetstream.streamConfig"))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    block = lines[lines.index("jetstream.streamConfig = (not set)"):]
    assert block[1] == '    was      "maxAge: 24h\\nreplicas: 1\\n"  profile base (profiles/base.yaml:6:5)'
    assert block[2] == "    deleted  environment prod (eventbus-render.yaml:18:9)"


def test_list_items_merged_by_key_keep_their_own_history(app):
    merged = explain.build(app, None, (), (), (), "prod")[3]
    leaves = {leaf.path: leaf for leaf in explain.explain_values(merged, ("jetstream", "tolerations"))}
    value = leaves[("jetstream", "tolerations", 0, "value")]
    assert value.value == "events"
    assert [(s.origin.layer, s.origin.line, s.value) for s in value.history] == [
        ("profile", 6, "default"), ("app", 12, "events")]
    spot = leaves[("jetstream", "tolerations", 1, "key")]
    assert [(s.origin.layer, s.origin.name) for s in spot.history] == [("profile", "team")]


def test_manifest_paths_are_accepted(app, cli):
    by_value = cli(*explained(app, "jetstream.nodeSelector"))
    by_manifest = cli(*explained(app, "spec.jetstream.nodeSelector"))
    assert by_value.code == by_manifest.code == 0
    assert by_value.out == by_manifest.out
    assert "overlay extra (overlays/extra.yaml:4:7)" in by_value.out
    assert cli(*explained(app, "metadata.labels.team")).out.count("set by   app eventbus-render.yaml") == 1


def test_an_unknown_path_suggests_close_ones(app, cli):
    result = cli(*explained(app, "jetstream.replica"))
    assert result.code == 2 and result.out == ""
    assert "no value at 'jetstream.replica'" in result.err
    assert "did you mean jetstream.replicas" in result.err


def test_an_unknown_environment_is_an_input_error(app, cli):
    result = cli("explain", "--app", app, "--env", "nope")
    assert result.code == 2 and "unknown environment 'nope'" in result.err and "known environments: prod" in result.err


def test_explain_works_while_the_value_breaks_the_render(app, cli):
    assert cli("render", "--app", app, "--env", "prod", "--set", "jetstream.replicas=two").code == 2
    result = cli(*explained(app, "--set", "jetstream.replicas=two", "jetstream.replicas"))
    assert result.code == 0
    assert 'jetstream.replicas = "two"' in result.out


def test_layers_from_argo_cd_parameters_are_explained_too(app):
    loaded = sources.load_app(app)
    parameter = layers.Layer("parameter", "replicas", "<argocd parameter>", {"jetstream": {"replicas": 9}})
    request = RenderRequest(app_dir=app, environment="prod", extra_layers=[parameter])
    stack = collect_layers(loaded, request, loaded.environments["prod"])[2]
    (leaf,) = explain.explain_values(layers.merge_layers(stack), ("jetstream", "replicas"))
    assert (leaf.value, leaf.origin.layer, leaf.origin.file) == (9, "parameter", "<argocd parameter>")
    assert [s.value for s in leaf.history] == [3, 1, 3, 5, 9]


def test_built_in_profiles_and_overlays_are_named_as_such(make_app, cli):
    app = make_app("backend: jetstream\nprofile: prod\noverlays: [monitoring]\n")
    doc = json.loads(cli("explain", "--app", app, "--format", "json").out)
    files = {leaf["path"]: leaf["origin"]["file"] for leaf in doc["values"]}
    assert files["jetstream.replicas"] == "builtin:profiles/prod.yaml"
    assert files['jetstream.metadata.annotations["prometheus.io/scrape"]'] == "builtin:overlays/monitoring.yaml"
    assert files["spread.zoneWeight"] == "builtin:defaults/common.yaml"


def test_generated_anti_affinity_points_at_spread(make_app, cli):
    app = make_app("backend: jetstream\nprofile: prod\n")
    result = cli("explain", "--app", app, "spec.jetstream.affinity.podAntiAffinity")
    assert result.code == 2
    assert "come from 'spread': explain spread" in result.err
    assert 'spread.zones = "required"' in cli("explain", "--app", app, "spread").out
