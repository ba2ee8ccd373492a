"""An EventBus's identity comes from the app file (and Argo CD's destination namespace), never from a template
or from values: ``apiVersion``, ``kind``, ``metadata.name``, ``metadata.namespace``, the ``managed-by`` label and
every ``eventbus-render/`` label and annotation are the renderer's. A template that writes another, or values
that set one, are refused (exit 2) with the place named; nothing is printed or written.
"""

from __future__ import annotations

import pytest

HEADER = ('{"apiVersion": AV, "kind": KIND, "metadata": {"name": NAME, "namespace": NS, '
          '"labels": LABELS, "annotations": ANNOTATIONS}, "spec": {"jetstream": {"version": "2.10.29"}}}\n')
DEFAULTS = {"AV": '"argoproj.io/v1alpha1"', "KIND": '"EventBus"', "NAME": "{{ name | yaml }}",
            "NS": "{{ namespace | yaml }}", "LABELS": "{{ labels | yaml }}", "ANNOTATIONS": "{{ annotations | yaml }}"}


def template(**changes) -> str:
    text = HEADER
    for key, value in {**DEFAULTS, **changes}.items():
        text = text.replace(key, value, 1)
    return text


def app_with(make_app, body: str, app_text: str = "backend: jetstream\nnamespace: payments\n"):
    return make_app(app_text, files={"templates/jetstream.yaml.j2": body})


def refused(result, *fragments):
    assert result.code == 2, (result.code, result.out, result.err)
    assert result.out == "" and "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err, result.err


def test_a_template_that_keeps_the_identity_renders(make_app, cli):
    result = cli("render", "--app", app_with(make_app, template()))
    assert result.code == 0, result.err
    assert "namespace: payments" in result.out and "app.kubernetes.io/managed-by: eventbus-render" in result.out


REWRITES = {
    "namespace": ({"NS": '"kube-system"'}, "metadata.namespace: the template wrote 'kube-system'", "'payments'"),
    "namespace left out": ({"NS": "null"}, "metadata.namespace: the template wrote null", "'payments'"),
    "name": ({"NAME": '"other"'}, "metadata.name: the template wrote 'other'", "'default'"),
    "kind": ({"KIND": '"ConfigMap"'}, "kind: the template wrote 'ConfigMap'", "'EventBus'"),
    "apiVersion": ({"AV": '"v1"'}, "apiVersion: the template wrote 'v1'", "'argoproj.io/v1alpha1'"),
    "managed-by": ({"LABELS": '{{ labels | combine({"app.kubernetes.io/managed-by": "helm"}) | yaml }}'},
                   'metadata.labels["app.kubernetes.io/managed-by"]: the template wrote \'helm\'',
                   "'eventbus-render'"),
    "managed-by left out": ({"LABELS": "{}"}, 'metadata.labels["app.kubernetes.io/managed-by"]: the template wrote '
                            "nothing", "'eventbus-render'"),
    "the profile annotation": (
        {"ANNOTATIONS": '{{ annotations | combine({"eventbus-render/profile": "prod"}) | yaml }}'},
        'metadata.annotations["eventbus-render/profile"]: the template wrote \'prod\'', "'dev'"),
    "a waivers annotation": (
        {"ANNOTATIONS": '{{ annotations | combine({"eventbus-render/waivers": "all"}) | yaml }}'},
        'metadata.annotations["eventbus-render/waivers"]: the template wrote \'all\'', "nothing"),
    "the audit annotations left out": ({"ANNOTATIONS": "{}"},
                                       'metadata.annotations["eventbus-render/profile"]: the template wrote nothing',
                                       "'dev'"),
    "a label under the reserved prefix": (
        {"LABELS": '{{ labels | combine({"eventbus-render/x": "y"}) | yaml }}'},
        'metadata.labels["eventbus-render/x"]: the template wrote \'y\'', "nothing"),
    "metadata not a mapping": ({"NAME": '"default"}, "x": {"y": 1'}, "", ""),
}


@pytest.mark.parametrize("case", sorted(REWRITES))
def test_a_template_cannot_rewrite_the_identity(make_app, cli, tmp_path, case):
    changes, wrote, expected = REWRITES[case]
    app = app_with(make_app, template(**changes))
    out = tmp_path / "out"
    result = cli("render", "--app", app, "-o", out)
    if case == "metadata not a mapping":
        assert result.code == 2 and result.out == "" and "Traceback" not in result.err
        return
    refused(result, f"templates/jetstream.yaml.j2: {wrote}", f"must be {expected}",
            "comes from the app file, not from a template")
    assert not out.exists()
    refused(cli("check", "--app", app, "--format", "sarif"), wrote)


def test_the_destination_namespace_of_argo_cd_is_kept_too(tmp_path):
    from renderer.argocd.plugin import run_command
    from tests.conftest import write_app

    app = write_app(tmp_path / "app", "backend: jetstream\n",
                    {"templates/jetstream.yaml.j2": template(NS='"kube-system"')})
    code, out, err = run_command("generate", app, {"ARGOCD_APP_NAMESPACE": "team-a"})
    assert (code, out) == (2, "")
    assert "metadata.namespace: the template wrote 'kube-system'" in err and "must be 'team-a'" in err
    write_app(app, "backend: jetstream\n", {"templates/jetstream.yaml.j2": template()})
    code, out, err = run_command("generate", app, {"ARGOCD_APP_NAMESPACE": "team-a"})
    assert code == 0 and "namespace: team-a" in out, err


def test_render_all_files_nothing_under_a_namespace_a_template_chose(tmp_path, cli):
    from tests.conftest import write_app

    write_app(tmp_path / "apps" / "a", "backend: jetstream\nnamespace: payments\n",
              {"templates/jetstream.yaml.j2": template(NS='"kube-system"')})
    write_app(tmp_path / "apps" / "b", "backend: jetstream\nnamespace: kube-system\n")
    result = cli("render", "--all", "--root", tmp_path / "apps", "-o", tmp_path / "out")
    assert result.code == 2 and "metadata.namespace: the template wrote 'kube-system'" in result.err
    assert not (tmp_path / "out").exists()


RESERVED = ["annotations.eventbus-render/waivers", "annotations.eventbus-render/profile",
            "annotations.eventbus-render/environment", "annotations.eventbus-render/overlays",
            "annotations.eventbus-render/anything", "labels.eventbus-render/x",
            "labels.app.kubernetes.io/managed-by"]


def escaped(path: str) -> str:
    section, _, key = path.partition(".")
    return section + "." + key.replace(".", "\\.")


@pytest.mark.parametrize("path", RESERVED)
def test_values_cannot_set_a_key_the_renderer_owns_from_any_layer(make_app, cli, path):
    section, _, key = path.partition(".")
    app = make_app("backend: jetstream\n", files={"overlays/o.yaml": f"values:\n  {section}:\n    {key}: x\n"})
    refused(cli("render", "--app", app, "--overlay", "o"), f'overlays/o.yaml:3:5: {section}["{key}"]',
            "belongs to the renderer")
    refused(cli("render", "--app", app, "--set", f"{escaped(path)}=x"), f'(set by --set {escaped(path)}=x)')
    app_file = make_app(f"backend: jetstream\nvalues:\n  {section}:\n    {key}: x\n", name="other")
    refused(cli("render", "--app", app_file), f'eventbus-render.yaml:4:5: {section}["{key}"]')


def test_the_renderer_still_writes_its_own_keys(make_app, cli):
    app = make_app("backend: jetstream\nvalues:\n  labels: {app.kubernetes.io/name: bus, team: a}\n"
                   "  annotations: {example.com/note: x}\n")
    result = cli("render", "--app", app)
    assert result.code == 0, result.err
    for line in ("app.kubernetes.io/managed-by: eventbus-render", "eventbus-render/profile: dev",
                 "app.kubernetes.io/name: bus", "example.com/note: x"):
        assert line in result.out
