"""The label Argo CD's resource tracking owns stays off rendered objects unless a profile asks for it.

Facts from argo-cd v3.5.1:

- the default tracking label is ``app.kubernetes.io/instance`` (common/common.go:190), replaced by
  ``application.instanceLabelKey`` of argocd-cm when set (util/settings/settings.go:470-471, 892-902);
- the methods are ``annotation`` (the default since v3: util/settings/settings.go:904-914; ``label`` was the
  default up to v2.14: v2.14.0 util/argo/resource_tracking.go:56-62), ``label`` and
  ``annotation+label`` (pkg/apis/application/v1alpha1/types.go:118-120); the repo-server writes the label
  with the Application's name into every generated object under ``label`` and ``annotation+label``
  (reposerver/repository/repository.go:1805-1811, util/argo/resource_tracking.go:146-190);
- under ``label`` the owner of a live object is read from that label alone (util/argo/resource_tracking.go:
  69-91, controller/cache/cache.go:564-567): a bus applied some other way with
  ``app.kubernetes.io/instance: default`` belongs to an Application named ``default``, which prunes it.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from renderer import pipeline
from renderer.argocd.plugin import run_command
from renderer.errors import InputError
from tests.argocd.helpers import run_cli, write_app

INSTANCE = "app.kubernetes.io/instance"
STANDARD = {"app.kubernetes.io/name": "eventbus", "app.kubernetes.io/component": "eventbus",
            "app.kubernetes.io/part-of": "argo-events", "app.kubernetes.io/managed-by": "eventbus-render"}
TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
METHODS = ("annotation", "label", "annotation+label")


def parsed(text: str) -> list:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def without_tracking(objects: list, label_key: str = INSTANCE) -> list:
    """``objects`` without what Argo CD's tracking adds: the tracking-id annotation and the instance label."""
    out = copy.deepcopy(objects)
    for obj in out:
        metadata = obj["metadata"]
        metadata.get("annotations", {}).pop(TRACKING_ANNOTATION, None)
        metadata.get("labels", {}).pop(label_key, None)
    return out


def labels_of(app_dir, **request) -> dict:
    rendered = pipeline.render(pipeline.RenderRequest(app_dir=app_dir, **request))
    return rendered.manifest["metadata"]["labels"]


def render_error(app_dir, **request) -> str:
    with pytest.raises(InputError) as caught:
        pipeline.render(pipeline.RenderRequest(app_dir=app_dir, **request))
    return caught.value.render()


# -- a local render ------------------------------------------------------------------------------


def test_a_render_carries_the_standard_labels_but_not_the_instance_label(make_app):
    app = make_app("backend: jetstream\nvalues:\n  labels: {team: payments}\n")
    assert labels_of(app) == {**STANDARD, "team": "payments"}


@pytest.mark.parametrize("profile", ["dev", "staging", "prod"])
def test_no_built_in_profile_asks_for_the_instance_label(make_app, profile):
    for backend in ("jetstream", "kafka", "nats-native"):
        app = make_app(f"backend: {backend}\nprofile: {profile}\n", name=backend)
        assert INSTANCE not in labels_of(app, run_guards=False)


def test_a_profile_that_opts_in_gets_the_instance_label_back_with_the_eventbus_name(make_app):
    app = make_app("backend: jetstream\nname: orders\nprofile: tracked\n", files={
        "profiles/tracked.yaml": "extends: dev\ninstanceLabel:\n  emit: true\n"})
    assert labels_of(app) == {**STANDARD, INSTANCE: "orders"}


def test_an_opted_in_profile_lets_values_set_the_instance_label(make_app):
    app = make_app("backend: jetstream\nprofile: tracked\nvalues:\n  labels:\n    app.kubernetes.io/instance: pay\n",
                   files={"profiles/tracked.yaml": "extends: dev\ninstanceLabel: {emit: true}\n"})
    assert labels_of(app)[INSTANCE] == "pay"


def test_a_derived_profile_can_opt_out_again_and_inherits_what_it_does_not_set(make_app):
    files = {"profiles/tracked.yaml": "instanceLabel: {key: example.com/app, emit: true}\n",
             "profiles/quiet.yaml": "extends: tracked\ninstanceLabel: {emit: false}\n"}
    app = make_app("backend: jetstream\nprofile: quiet\nvalues:\n  labels: {example.com/app: x}\n", files=files)
    message = render_error(app)
    assert 'labels["example.com/app"]' in message and "eventbus-render.yaml:4" in message


def test_a_profile_naming_another_key_keeps_that_key_off_and_the_standard_instance_label_on(make_app):
    app = make_app("backend: jetstream\nname: orders\nprofile: platform\n", files={
        "profiles/platform.yaml": "extends: prod\ninstanceLabel: {key: example.com/app}\n"})
    labels = labels_of(app)
    assert labels[INSTANCE] == "orders"
    assert "example.com/app" not in labels


def test_an_opted_in_profile_with_its_own_key_writes_that_key(make_app):
    app = make_app("backend: jetstream\nname: orders\nprofile: platform\n", files={
        "profiles/platform.yaml": "extends: dev\ninstanceLabel: {key: example.com/app, emit: true}\n"})
    labels = labels_of(app)
    assert labels["example.com/app"] == "orders" and labels[INSTANCE] == "orders"


def test_a_values_label_under_the_tracked_key_is_refused_where_it_was_written(make_app):
    app = make_app("backend: jetstream\nvalues:\n  labels:\n    app.kubernetes.io/instance: payments\n")
    message = render_error(app)
    assert message.startswith('eventbus-render.yaml:4:5: labels["app.kubernetes.io/instance"]: ')
    assert "Argo CD" in message and "prune" in message
    assert "instanceLabel" in message and "emit: true" in message


def test_a_set_flag_under_the_tracked_key_is_refused_naming_the_flag(make_app):
    app = make_app("backend: jetstream\n")
    message = render_error(app, sets=("labels.app\\.kubernetes\\.io/instance=x",))
    assert "--set" in message and 'labels["app.kubernetes.io/instance"]' in message


def test_a_standard_label_under_a_key_the_request_names_as_tracked_is_refused(make_app):
    # the Argo CD deploying it tracks app.kubernetes.io/instance, but the profile says example.com/app:
    # leaving the label out silently would give Argo CD another object than a local render
    app = make_app("backend: jetstream\nprofile: platform\n", files={
        "profiles/platform.yaml": "extends: dev\ninstanceLabel: {key: example.com/app}\n"})
    message = render_error(app, tracked_labels=((INSTANCE, "EVENTBUS_RENDER_INSTANCE_LABEL_KEY"),))
    assert message.startswith('metadata.labels["app.kubernetes.io/instance"]: ')
    assert "EVENTBUS_RENDER_INSTANCE_LABEL_KEY" in message
    assert "instanceLabel: {key: app.kubernetes.io/instance}" in message


def test_a_key_the_request_names_that_no_label_uses_changes_nothing(make_app):
    app = make_app("backend: jetstream\n")
    assert labels_of(app, tracked_labels=(("example.com/app", "the test"),)) == labels_of(app)


def test_an_app_template_that_writes_the_tracked_label_is_refused(make_app):
    template = ("apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata:\n  name: {{ name }}\n"
                "  namespace: {{ namespace }}\n  annotations: {{ annotations | yaml }}\n"
                "  labels: {{ labels | combine({'app.kubernetes.io/instance': name}) | yaml }}\n"
                "spec:\n  jetstream: {version: '2.10.29'}\n")
    app = make_app("backend: jetstream\n", files={"templates/jetstream.yaml.j2": template})
    message = render_error(app)
    assert message.startswith("templates/jetstream.yaml.j2")
    assert 'metadata.labels["app.kubernetes.io/instance"]' in message


@pytest.mark.parametrize("setting, expected", [
    ("instanceLabel: {emit: yes please}\n", "emit"),
    ("instanceLabel: {key: 'not a key!'}\n", "not a valid Kubernetes label key"),
    ("instanceLabel: {emitt: true}\n", "did you mean"),
    ("instanceLabel: true\n", "instanceLabel"),
])
def test_a_malformed_instance_label_setting_is_an_error_in_the_profile(make_app, setting, expected):
    app = make_app("backend: jetstream\nprofile: p\n", files={"profiles/p.yaml": setting})
    message = render_error(app)
    assert message.startswith("profiles/p.yaml:1:") and expected in message


# -- through Argo CD -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_argo_cds_desired_state_is_the_local_render_apart_from_its_own_tracking_metadata(repo, sim, method):
    result = sim(repo, "apps/payments", "--app-namespace", "argo-events", "--app-name", "payments-prod",
                 "--tracking-method", method, "--add-tracking")
    assert result.code == 0, result.err
    local = run_cli("render", "--app", str(repo / "apps" / "payments"))
    assert local.code == 0, local.err
    assert without_tracking(result.objects) == parsed(local.out)
    labels = result.objects[0]["metadata"]["labels"]
    # the label, where there is one, is Argo CD's: the Application's name, not the EventBus name
    assert labels.get(INSTANCE) == (None if method == "annotation" else "payments-prod")


@pytest.mark.parametrize("method", METHODS)
def test_before_tracking_is_added_argo_cd_gets_exactly_the_local_render(repo, sim, method):
    result = sim(repo, "apps/payments", "--app-namespace", "argo-events", "--tracking-method", method)
    assert result.code == 0, result.err
    assert result.objects == parsed(run_cli("render", "--app", str(repo / "apps" / "payments")).out)
    assert INSTANCE not in result.objects[0]["metadata"]["labels"]


def test_an_opted_in_label_is_overwritten_by_label_tracking_with_the_application_name(repo, sim):
    write_app(repo / "apps" / "orders", "backend: jetstream\nname: default\nprofile: tracked\n",
              files={"profiles/tracked.yaml": "extends: dev\ninstanceLabel: {emit: true}\n"})
    local = parsed(run_cli("render", "--app", str(repo / "apps" / "orders")).out)
    assert local[0]["metadata"]["labels"][INSTANCE] == "default"
    result = sim(repo, "apps/orders", "--app-namespace", "argo-events", "--app-name", "orders",
                 "--tracking-method", "label", "--add-tracking")
    assert result.code == 0, result.err
    assert result.objects[0]["metadata"]["labels"][INSTANCE] == "orders"


@pytest.mark.parametrize("method", ["label", "annotation+label"])
def test_a_configured_instance_label_key_named_by_the_profile_matches_argo_cd(repo, sim, method):
    write_app(repo / "apps" / "orders", "backend: jetstream\nname: orders\nprofile: platform\n",
              files={"profiles/platform.yaml": "extends: dev\ninstanceLabel: {key: example.com/app}\n"})
    result = sim(repo, "apps/orders", "--app-namespace", "argo-events", "--app-name", "orders-app",
                 "--tracking-method", method, "--add-tracking", "--app-label-key", "example.com/app")
    assert result.code == 0, result.err
    local = parsed(run_cli("render", "--app", str(repo / "apps" / "orders")).out)
    assert without_tracking(result.objects, "example.com/app") == local
    assert result.objects[0]["metadata"]["labels"]["example.com/app"] == "orders-app"


def test_the_sidecar_can_name_the_key_its_argo_cd_tracks_and_a_value_under_it_is_refused(repo, sim):
    write_app(repo / "apps" / "orders", "backend: jetstream\nvalues:\n  labels: {example.com/app: orders}\n")
    result = sim(repo, "apps/orders", "--tracking-method", "label", "--app-label-key", "example.com/app",
                 sidecar_env={"EVENTBUS_RENDER_INSTANCE_LABEL_KEY": "example.com/app"})
    assert result.code == 1 and result.out == ""
    assert 'error: eventbus-render.yaml:3:12: labels["example.com/app"]: ' in result.err
    assert "EVENTBUS_RENDER_INSTANCE_LABEL_KEY" in result.err
    assert "instanceLabel: {key: example.com/app, emit: true}" in result.err


def test_a_parameter_that_sets_the_tracked_label_is_refused_naming_the_parameter(tmp_path):
    app = write_app(tmp_path / "app", "backend: jetstream\n")
    code, out, err = run_command("generate", str(app), {
        "ARGOCD_APP_PARAMETERS": '[{"name": "values", "map": {"labels.app\\\\.kubernetes\\\\.io/instance": "x"}}]'})
    assert (code, out) == (2, "")
    assert "set by parameter values" in err and 'labels["app.kubernetes.io/instance"]' in err


@pytest.mark.parametrize("value", ["not a key!", "-bad/", "a/b/c"])
def test_a_malformed_instance_label_key_in_the_plugins_environment_is_an_error_naming_it(tmp_path, value):
    app = write_app(tmp_path / "app", "backend: jetstream\n")
    code, out, err = run_command("generate", str(app), {"EVENTBUS_RENDER_INSTANCE_LABEL_KEY": value})
    assert (code, out) == (2, "")
    assert err.startswith("error: EVENTBUS_RENDER_INSTANCE_LABEL_KEY: ") and "label key" in err


def test_an_empty_instance_label_key_in_the_plugins_environment_means_the_default(tmp_path):
    app = write_app(tmp_path / "app", "backend: jetstream\n")
    code, out, err = run_command("generate", str(app), {"EVENTBUS_RENDER_INSTANCE_LABEL_KEY": " "})
    assert code == 0, err
    assert INSTANCE not in parsed(out)[0]["metadata"]["labels"]


# -- one schema: the renderer and the editors agree ----------------------------------------------


@pytest.mark.parametrize("text", [
    "instanceLabel: {emit: true}\n",
    "instanceLabel: {key: example.com/app}\n",
    "instanceLabel: {key: argocd.argoproj.io/instance, emit: false}\n",
    "instanceLabel: {key: null, emit: null}\n",
    "instanceLabel:\n",
])
def test_the_renderer_and_the_editor_schema_accept_an_instance_label_setting(text):
    from tests.test_one_schema import assert_accepted_by_both, load

    assert_accepted_by_both("profile", load(text))


@pytest.mark.parametrize("text", [
    "instanceLabel: {emit: 'true'}\n",
    "instanceLabel: {key: 'a b'}\n",
    "instanceLabel: {key: example.com/}\n",
    "instanceLabel: {keys: example.com/app}\n",
    "instanceLabel: [emit]\n",
])
def test_the_renderer_and_the_editor_schema_reject_a_malformed_instance_label_setting(text):
    from tests.test_one_schema import editors, load, ours

    data = load(text)
    assert ours("profile", data) and editors("profile", data)
