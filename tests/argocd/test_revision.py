"""``argocd generate`` refuses output that carries the revision being rendered.

Argo CD builds ARGOCD_APP_REVISION, ARGOCD_APP_REVISION_SHORT (7 characters), ARGOCD_APP_REVISION_SHORT_8 and
ARGOCD_APP_SOURCE_TARGET_REVISION for every request (argo-cd v3.5.1 reposerver/repository/repository.go:
1827-1841, 1843-1848) and expands ``$VAR`` and ``${VAR}`` in every ``plugin.env`` value against them before the
plugin runs (repository.go:2286-2303 with pkg/apis/application/v1alpha1/types.go:181-193, where ``$$`` is a
literal ``$``); parameters are passed as written (repository.go:2304). A revision that reaches the manifest
changes it with every commit, which the plugin promises never happens. The target revision counts when it is a
commit id, full or abbreviated, as Argo CD tells them (util/git/git.go:35-40).
"""

from __future__ import annotations

import json

import pytest
import yaml

from renderer.argocd.plugin import run_command
from tests.argocd.helpers import write_app

REVISION = "0123456789abcdef0123456789abcdef01234567"
SHORT, SHORT_8 = REVISION[:7], REVISION[:8]
BUILD = {"ARGOCD_APP_REVISION": REVISION, "ARGOCD_APP_REVISION_SHORT": SHORT,
         "ARGOCD_APP_REVISION_SHORT_8": SHORT_8, "ARGOCD_APP_SOURCE_TARGET_REVISION": "main"}


@pytest.fixture
def app(tmp_path):
    return write_app(tmp_path / "app", "backend: jetstream\nname: orders\n")


def generate(app, **environ) -> tuple[int, str, str]:
    return run_command("generate", str(app), {**BUILD, **environ})


def parameters(**entries) -> str:
    out = []
    for name, value in entries.items():
        kind = "map" if isinstance(value, dict) else "array" if isinstance(value, list) else "string"
        out.append({"name": name, kind: value})
    return json.dumps(out)


def assert_refused(result, value: str, variable: str, source: str) -> str:
    code, out, err = result
    assert (code, out) == (2, ""), err
    assert err.startswith("error: ") and err.count("error:") == 1
    assert value in err and f"({variable})" in err and source in err
    assert "$$" in err  # how to write a literal $
    return err


# -- through plugin.env -------------------------------------------------------------------------


@pytest.mark.parametrize("variable, value, written", [
    ("ARGOCD_APP_REVISION", REVISION, "annotations.commit={}"),
    ("ARGOCD_APP_REVISION_SHORT", SHORT, "labels.build={}"),
    ("ARGOCD_APP_REVISION_SHORT_8", SHORT_8, "annotations.image=registry.example/bus:{}"),
    ("ARGOCD_APP_REVISION_SHORT", SHORT, "jetstream.metadata.labels.rev=r{}"),
    ("ARGOCD_APP_REVISION", REVISION, 'jetstream.startArgs=["--trace", "--tag={}"]'),
])
def test_a_revision_expanded_into_env_values_is_refused_naming_the_value_and_the_line(app, variable, value, written):
    err = assert_refused(generate(app, ARGOCD_ENV_VALUES="labels.team=orders\n" + written.format(value)),
                         value, variable, "ARGOCD_ENV_VALUES line 2")
    assert "plugin.env VALUES" in err


def test_a_revision_in_the_eventbus_name_from_env_is_refused(app):
    assert_refused(generate(app, ARGOCD_ENV_NAME=f"bus-{SHORT}"), SHORT, "ARGOCD_APP_REVISION_SHORT",
                   "ARGOCD_ENV_NAME")


def test_a_revision_in_a_label_key_is_refused(app):
    assert_refused(generate(app, ARGOCD_ENV_VALUES=f"labels.rev-{SHORT_8}=x"), SHORT_8,
                   "ARGOCD_APP_REVISION_SHORT_8", "ARGOCD_ENV_VALUES line 1")


def test_the_message_names_where_in_the_manifest_the_revision_landed(app):
    _, _, err = generate(app, ARGOCD_ENV_VALUES=f"annotations.commit={REVISION}")
    assert "metadata.annotations.commit" in err


# -- through parameters -------------------------------------------------------------------------


@pytest.mark.parametrize("entries, source", [
    ({"values": {"annotations.commit": REVISION}}, "parameter values (annotations.commit)"),
    ({"name": f"bus-{SHORT}"}, "parameter name"),
    ({"values": {"jetstream.metadata.labels.build": f"r{SHORT_8}"}},
     "parameter values (jetstream.metadata.labels.build)"),
])
def test_a_revision_passed_as_a_parameter_is_refused_naming_the_parameter(app, entries, source):
    value = next(v for v in (REVISION, SHORT_8, SHORT) if v in json.dumps(entries))
    variable = {REVISION: "ARGOCD_APP_REVISION", SHORT_8: "ARGOCD_APP_REVISION_SHORT_8",
                SHORT: "ARGOCD_APP_REVISION_SHORT"}[value]
    assert_refused(generate(app, ARGOCD_APP_PARAMETERS=parameters(**entries)), value, variable, source)


def test_a_revision_in_param_variables_is_refused_when_the_json_is_absent(app):
    assert_refused(generate(app, PARAM_NAME=f"bus-{SHORT}"), SHORT, "ARGOCD_APP_REVISION_SHORT", "PARAM_NAME")


# -- the target revision ------------------------------------------------------------------------


@pytest.mark.parametrize("target", [REVISION, REVISION[:12], "ABCDEF0123"])
def test_a_target_revision_that_is_a_commit_is_refused(app, target):
    code, out, err = generate(app, ARGOCD_APP_SOURCE_TARGET_REVISION=target,
                              ARGOCD_ENV_VALUES=f"annotations.pinned={target}")
    assert (code, out) == (2, "")
    assert target in err and "ARGOCD_APP_SOURCE_TARGET_REVISION" in err and "$$" in err


@pytest.mark.parametrize("target", ["main", "v1.2.3", "release-2026", "HEAD", "abc"])
def test_a_target_revision_that_is_a_branch_or_tag_is_stable_and_accepted(app, target):
    code, out, err = generate(app, ARGOCD_APP_SOURCE_TARGET_REVISION=target,
                              ARGOCD_ENV_VALUES=f"labels.track={target}")
    assert code == 0, err
    assert yaml.safe_load(out)["metadata"]["labels"]["track"] == target


def test_a_revision_written_in_the_app_directory_is_refused_saying_so(tmp_path):
    app = write_app(tmp_path / "app", f"backend: jetstream\nvalues:\n  annotations: {{built-from: '{SHORT}'}}\n")
    code, out, err = generate(app)
    assert (code, out) == (2, "")
    assert SHORT in err and "from the app directory's files" in err and "metadata.annotations.built-from" in err


# -- what is not a revision ---------------------------------------------------------------------


def test_another_commit_id_is_accepted(app):
    other = "fedcba9876543210fedcba9876543210fedcba98"
    code, out, err = generate(app, ARGOCD_ENV_VALUES=f"annotations.upstream={other}")
    assert code == 0, err


def test_the_short_revision_inside_a_longer_hex_string_is_not_the_revision(app):
    code, out, err = generate(app, ARGOCD_ENV_VALUES=f"annotations.digest=ff{SHORT}ff00")
    assert code == 0, err


def test_without_build_variables_nothing_is_checked(app):
    code, out, err = run_command("generate", str(app), {"ARGOCD_ENV_VALUES": f"annotations.commit={REVISION}"})
    assert code == 0, err


def test_a_revision_that_is_not_a_commit_id_is_not_looked_for(app):
    code, out, err = run_command("generate", str(app), {"ARGOCD_APP_REVISION": "1.2.3",
                                                        "ARGOCD_ENV_VALUES": "annotations.chart=1.2.3"})
    assert code == 0, err


# -- end to end, as Argo CD expands plugin.env --------------------------------------------------


@pytest.mark.parametrize("written, variable, value", [
    ("annotations.commit=$ARGOCD_APP_REVISION", "ARGOCD_APP_REVISION", REVISION),
    ("labels.build=${ARGOCD_APP_REVISION_SHORT}", "ARGOCD_APP_REVISION_SHORT", SHORT),
    ("annotations.tag=bus-${ARGOCD_APP_REVISION_SHORT_8}", "ARGOCD_APP_REVISION_SHORT_8", SHORT_8),
])
def test_argo_cds_expansion_of_plugin_env_is_refused_through_the_simulator(repo, sim, written, variable, value):
    result = sim(repo, "apps/payments", "--revision", REVISION, "--env", f"VALUES={written}")
    assert result.code != 0 and result.out == ""
    assert value in result.err and f"({variable})" in result.err and "$$" in result.err


def test_a_commit_target_revision_expanded_by_argo_cd_is_refused(repo, sim):
    result = sim(repo, "apps/payments", "--revision", REVISION, "--target-revision", REVISION[:10],
                 "--env", "VALUES=annotations.pinned=${ARGOCD_APP_SOURCE_TARGET_REVISION}")
    assert result.code != 0 and result.out == ""
    assert "ARGOCD_APP_SOURCE_TARGET_REVISION" in result.err


def test_a_literal_dollar_is_written_as_two_and_a_single_one_is_eaten_by_argo_cd(repo, sim):
    result = sim(repo, "apps/payments", "--env", "VALUES=annotations.price=$$5off\nannotations.lost=$5off")
    assert result.code == 0, result.err
    annotations = result.objects[0]["metadata"]["annotations"]
    assert annotations["price"] == "$5off"
    assert annotations["lost"] == "off"  # what the README warns of: $5 is an (empty) variable
