"""The repository layer under Argo CD: generate and the Parameters tab see it in the copy the repo-server sends.

With the documented ``reposerver.plugin.tar.exclusions: .git/*`` the copy
keeps an empty ``.git`` folder (util/io/files/tar.go matches each path,
``.git`` itself included, with filepath.Match: argo-cd v3.5.1
util/io/files/tar.go:219-230), so the lookup stops at the copy's top as in a
checkout. Without any ``.git`` in the copy the lookup still stops there: the
copy's top is the app directory without ``ARGOCD_APP_SOURCE_PATH``.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from renderer.argocd import plugin
from renderer.argocd.inputs import copy_root
from tests.argocd.helpers import run_cli, write_app

PROD_EU = """\
extends: prod
values:
  jetstream:
    persistence:
      storageClassName: premium-rwo
"""
APP = """\
    backend: jetstream
    namespace: orders
    profile: prod-eu
    overlays: [region]
"""


@pytest.fixture
def layered(repo):
    write_app(repo / "apps" / "orders", APP)
    for relative, text in ((".eventbus-render/profiles/prod-eu.yaml", PROD_EU),
                           (".eventbus-render/overlays/region.yaml", "values:\n  labels:\n    region: eu\n")):
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        (repo / relative).write_text(text)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, capture_output=True)
    return repo


@pytest.mark.parametrize("exclusion", [".git/*", ".git", None], ids=["git-contents", "git-folder", "nothing"])
def test_generate_renders_with_the_shared_profile_and_overlay_as_render_does(layered, sim, exclusion):
    args = ["--tar-exclude", exclusion] if exclusion else []
    result = sim(layered, "apps/orders", *args)
    assert result.code == 0, result.err
    local = run_cli("render", "--app", str(layered / "apps" / "orders"))
    assert local.code == 0, local.err
    obj = result.objects[0]  # the EventBus first, then what is rendered beside it
    assert obj["spec"]["jetstream"]["persistence"]["storageClassName"] == "premium-rwo"
    assert obj["metadata"]["labels"]["region"] == "eu"
    assert result.objects == [o for o in yaml.safe_load_all(local.out) if o]


def test_a_guard_failure_under_argo_cd_names_the_shared_file_from_the_repository_root(layered, sim):
    (layered / ".eventbus-render/profiles/prod-eu.yaml").write_text(PROD_EU + "    replicas: 4\n")
    result = sim(layered, "apps/orders", "--tar-exclude", ".git/*")
    assert result.code != 0
    assert ".eventbus-render/profiles/prod-eu.yaml:6" in result.err


def test_the_parameters_tab_lists_the_shared_profiles_and_overlays(layered, sim):
    result = sim(layered, "apps/orders", "--parameters", "--tar-exclude", ".git/*")
    assert result.code == 0, result.err
    profile, overlays = json.loads(result.out)[:2]
    assert "prod-eu (repository)" in profile["tooltip"] and "prod," in profile["tooltip"]
    assert profile["string"] == "prod-eu"
    assert "region (repository)" in overlays["tooltip"] and "(region)" in overlays["tooltip"]


def test_a_parameter_may_name_a_shared_profile_and_an_unknown_one_lists_them(layered, sim):
    (layered / ".eventbus-render/profiles/prod-us.yaml").write_text(PROD_EU.replace("premium-rwo", "gp3"))
    result = sim(layered, "apps/orders", "--param", "profile=prod-us")
    assert result.code == 0, result.err
    assert result.objects[0]["spec"]["jetstream"]["persistence"]["storageClassName"] == "gp3"
    result = sim(layered, "apps/orders", "--param", "profile=prod-uk")
    assert result.code != 0 and "did you mean 'prod-us'" in result.err and "prod-eu" in result.err


@pytest.mark.parametrize("source, expected", [
    ("apps/orders", "copy"), ("./apps/orders/", "copy"), ("", "copy/apps/orders"), (".", "copy/apps/orders"),
    ("monorepo/apps/orders", "copy"),  # a copy of the common folder of the manifest-generate-paths
    ("other/orders", "copy/apps"), ("elsewhere", None), ("../apps/orders", None), (None, None),
])
def test_the_copy_root_is_the_app_directory_without_the_end_of_the_source_path(tmp_path, source, expected):
    app = tmp_path / "copy" / "apps" / "orders"
    found = copy_root(app, {} if source is None else {"ARGOCD_APP_SOURCE_PATH": source})
    assert found == (tmp_path / expected if expected else None)


def test_no_layer_above_argo_cds_copy_is_ever_read(tmp_path):
    # a layer above the copy (the sidecar's /tmp, say) would be found by a walk that does not stop at the copy
    (tmp_path / ".eventbus-render/profiles").mkdir(parents=True)
    (tmp_path / ".eventbus-render/profiles/planted.yaml").write_text("extends: dev\n")
    app = write_app(tmp_path / "copy" / "apps" / "orders", "backend: jetstream\nprofile: planted\n")
    environ = {"ARGOCD_APP_SOURCE_PATH": "apps/orders"}
    code, out, err = plugin.run_command("generate", app, environ)
    assert (code, out) == (2, "") and "unknown profile 'planted'" in err
    code, out, err = plugin.run_command("parameters", app, environ)
    assert code == 0 and "planted (repository)" not in out and "Available here: dev, prod, staging." in out
    code, out, err = plugin.run_command("generate", app, {})  # outside Argo CD: up to the file system's root
    assert code == 0, err
