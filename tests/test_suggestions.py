"""Every "did you mean" the renderer prints, word for word: each caller keeps its own cutoff, count and quoting.

A mistyped name is answered with the closest known one (or, for ``explain``,
up to three close paths), and with nothing when no name is close enough.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from renderer.argocd import inputs
from renderer.errors import InputError
from renderer.stages import sources, stack, streamconfig, userfiles
from renderer.stages.validate import validate
from renderer.suggest import closest, did_you_mean

REPO = Path(__file__).resolve().parents[1]

ENVIRONMENTS = "backend: jetstream\nenvironments:\n  dev: {}\n  prod: {}\n"
KEYS_READ = "maxMsgs, maxAge, maxBytes, replicas, duplicates, retention, discard"
READS_ONLY = ("eventbus-render reads only ARGOCD_ENV_PROFILE, ARGOCD_ENV_ENVIRONMENT, ARGOCD_ENV_OVERLAYS, "
              "ARGOCD_ENV_NAME, ARGOCD_ENV_NAMESPACE, ARGOCD_ENV_VALUES")
ACCEPTS = "eventbus-render accepts: environment, profile, overlays, values, name, namespace"
BACKENDS = "nats-native, nats-exotic, jetstream, jetstream-exotic, kafka"
WAIVED_APP = """\
backend: jetstream
profile: prod
environments:
  prod-eu: {values: {jetstream: {replicas: 4}}}
  prod-us: {values: {jetstream: {replicas: 4}}}
waivers:
  - rule: replica-count
    path: spec.jetstream.replicas
    value: 4
    environments: [%s]
    reason: the fourth zone comes online in March
    owner: team-payments
    expires: 2999-12-31
"""


@pytest.mark.parametrize("kind, name, message, hint", [
    ("profiles", "prdo", "unknown profile 'prdo'", "did you mean 'prod'? known profiles: dev, prod, staging"),
    ("overlays", "zzzz", "unknown overlay 'zzzz'", "known overlays: ha, large-volumes, monitoring"),
])
def test_an_unknown_profile_or_overlay_names_the_closest_and_every_known_one(kind, name, message, hint):
    error = sources.unknown_name(kind, name, None)
    assert (error.message, error.hint) == (message, hint)


@pytest.mark.parametrize("name, hint", [
    ("prdo", "did you mean 'prod'? known environments: dev, prod"),
    ("xyzzy", "known environments: dev, prod"),
])
def test_an_unknown_environment_names_the_closest_and_every_known_one(name, hint):
    with pytest.raises(InputError) as caught:
        stack.select_environment(SimpleNamespace(environments={"dev": {}, "prod": {}}), name)
    assert caught.value.hint == hint


def test_an_unknown_default_environment_names_the_closest(make_app, cli):
    result = cli("render", "--app", make_app(ENVIRONMENTS + "defaultEnvironment: prd\n"))
    assert result.code == 2
    assert result.err.endswith("  hint: did you mean 'prod'? known environments: dev, prod\n"), result.err


@pytest.mark.parametrize("data, message, fix", [
    ({"backend": "jetstream", "profil": "x"}, "unknown key 'profil' (did you mean 'profile'?)",
     "rename it to 'profile'"),
    ({"backend": "jetstream", "Profile": "x"}, "unknown key 'Profile' (did you mean 'profile'?)",
     "rename it to 'profile'"),
    ({"backend": "jetstrem"}, f"'jetstrem' is not one of {BACKENDS}", "use 'jetstream'"),
    ({"backend": "zzzzzz"}, f"'zzzzzz' is not one of {BACKENDS}", f"use one of {BACKENDS}"),
], ids=["key", "key-in-another-case", "choice", "choice-far-off"])
def test_an_unknown_key_or_choice_in_a_user_file_names_the_closest(data, message, fix):
    [problem] = userfiles.check("app", data)
    assert (problem.message, problem.fix) == (message, fix)


@pytest.mark.parametrize("word, fix", [
    ("Alwys", "use 'Always'"),
    ("always", "use 'Always'"),
    ("zzz", "use one of Always, Never, IfNotPresent"),
])
def test_a_value_outside_an_enum_names_the_closest(word, fix):
    [problem] = validate(word, {"type": "string", "enum": ["Always", "Never", "IfNotPresent"]})
    assert (problem.message, problem.fix) == (f"'{word}' is not one of Always, Never, IfNotPresent", fix)


@pytest.mark.parametrize("text, problem", [
    ("max-age: 1h\n", (1, "max-age", "is not a key Argo Events reads (did you mean 'maxAge'?)",
                       "rename it to 'maxAge'")),
    ("Max_Msgs: 3\n", (1, "Max_Msgs", "is not a key Argo Events reads (did you mean 'maxMsgs'?)",
                       "rename it to 'maxMsgs'")),
    ("zzzz: 1\n", (1, "zzzz", "is not a key Argo Events reads; it would be ignored",
                   f"remove it; the keys read are {KEYS_READ}")),
])
def test_an_unknown_stream_config_key_names_the_closest_without_case_dashes_or_underscores(text, problem):
    assert streamconfig.read(text).problems == [problem]


def test_an_unknown_argo_cd_variable_names_the_closest():
    read = inputs.Inputs()
    inputs.read_env({"ARGOCD_ENV_PROFLE": "x", "ARGOCD_ENV_ZZZZ": "y"}, read)
    assert read.warnings == [f"warning: ignoring ARGOCD_ENV_PROFLE (did you mean ARGOCD_ENV_PROFILE?): {READS_ONLY}",
                             f"warning: ignoring ARGOCD_ENV_ZZZZ: {READS_ONLY}"]


@pytest.mark.parametrize("parameters, message, hint", [
    ([{"name": "profiel", "string": "x"}, {"name": "zzzz", "string": "y"}, {"name": "overlay", "array": ["a"]}],
     "unknown plugin parameters 'profiel', 'zzzz', 'overlay'", f"did you mean 'profile', 'overlays'? {ACCEPTS}"),
    ([{"name": "zzzz", "string": "y"}], "unknown plugin parameter 'zzzz'", ACCEPTS),
])
def test_unknown_argo_cd_parameters_name_the_closest_of_each(parameters, message, hint):
    with pytest.raises(InputError) as caught:
        inputs.read_parameters({inputs.PARAMETERS_JSON: json.dumps(parameters)}, inputs.Inputs())
    assert (caught.value.message, caught.value.hint) == (message, hint)


@pytest.mark.parametrize("named, hint", [
    ("prod-ue", "did you mean 'prod-us'?"),
    ("staging", "known: prod-eu, prod-us"),
])
def test_a_waiver_naming_an_unknown_environment_names_the_closest(make_app, cli, named, hint):
    result = cli("render", "--app", make_app(WAIVED_APP % named), "--env", "prod-eu")
    assert result.code == 2
    assert result.err.endswith(f"  hint: {hint}\n"), result.err


@pytest.mark.parametrize("path, hint", [
    ("jetstream.replica", "did you mean jetstream.replicas, jetstream.version, nats.native.replicas?"),
    ("nothing.like.it", "run explain without PATH to list every value"),
])
def test_explain_of_an_unknown_path_names_up_to_three_close_ones(make_app, cli, path, hint):
    result = cli("explain", "--app", make_app("backend: jetstream\nprofile: prod\n"), path)
    assert result.code == 2
    assert result.err.endswith(f"  hint: {hint}\n"), result.err


def test_the_closest_names_are_the_best_first_and_none_when_none_is_close_enough():
    assert closest("replica", ["replicas", "version", "nats"]) == ["replicas"]
    assert closest("prd", ["prod", "prd-eu", "dev"], n=2) == ["prod", "prd-eu"]
    assert closest("zzz", ["prod", "dev"]) == [] and did_you_mean("zzz", ["prod", "dev"]) == ""
    assert did_you_mean("prdo", {"dev": {}, "prod": {}}) == "did you mean 'prod'? "


def test_a_name_in_another_case_is_the_one_answer_when_case_is_ignored():
    assert closest("clusterId", ["clusterID", "clusterIP"], n=2, ignore_case=True) == ["clusterID"]
    # alike to difflib, which breaks the tie the other way
    assert closest("clusterId", ["clusterID", "clusterIP"], n=2) == ["clusterIP", "clusterID"]


def test_a_render_that_succeeds_never_imports_difflib(make_app):
    app = make_app("backend: jetstream\n")
    code = ("import sys\nfrom renderer.cli import main\n"
            f"try:\n    main(['render', '--app', {str(app)!r}])\nexcept SystemExit as exc:\n    assert not exc.code\n"
            "sys.stderr.write(str('difflib' in sys.modules))\n")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stderr == "False" and "kind: EventBus" in out.stdout
