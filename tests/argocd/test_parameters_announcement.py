"""The Parameters tab: dynamic announcements for the app directory first, then plugin.yaml's static ones."""

from __future__ import annotations

import json

import yaml

from tests.argocd.helpers import PLUGIN, run_cli, write_app

ENVIRONMENTS_APP = """\
    backend: jetstream
    profile: dev
    overlays: [monitoring]
    environments:
      staging:
        profile: staging
        overlays: [ha]
      live:
        profile: prod
"""


def announced(result) -> list:
    assert result.code == 0, result.err
    return json.loads(result.out)


def static() -> list:
    return yaml.safe_load(PLUGIN.read_text())["spec"]["parameters"]["static"]


def test_the_static_announcements_are_the_parameters_generate_accepts():
    from renderer.argocd.inputs import PARAMETERS

    assert {p["name"]: p.get("collectionType", "string") for p in static()} == PARAMETERS


def test_dynamic_announcements_list_what_the_app_directory_can_use(repo, sim):
    write_app(repo / "apps" / "orders", ENVIRONMENTS_APP, {"profiles/team.yaml": "extends: prod\n",
                                                            "overlays/eu.yaml": "values: {}\n"})
    parameters = announced(sim(repo, "apps/orders", "--parameters"))
    dynamic, rest = parameters[:3], parameters[3:]
    assert [p["name"] for p in dynamic] == ["environment", "profile", "overlays"]
    environment, profile, overlays = dynamic
    assert "staging, live" in environment["tooltip"]
    assert "team (app)" in profile["tooltip"] and "prod" in profile["tooltip"]
    assert profile["string"] == "dev"  # what renders when the parameter is not set
    assert "eu (app)" in overlays["tooltip"] and "ha" in overlays["tooltip"]
    assert "(monitoring)" in overlays["tooltip"]  # the app file's own overlays always apply first
    assert "array" not in overlays  # announced defaults are never sent back, so none that would mislead
    # Argo CD appends the static announcements, as plugin.yaml declares them.
    assert rest == [{k: v for k, v in p.items() if v} for p in static()]


def test_the_dynamic_profile_follows_env_and_the_selected_environment(repo, sim):
    write_app(repo / "apps" / "orders", ENVIRONMENTS_APP)
    profile = announced(sim(repo, "apps/orders", "--parameters", "--param", "environment=live"))[1]
    assert profile["string"] == "prod"
    profile = announced(sim(repo, "apps/orders", "--parameters", "--env", "PROFILE=staging"))[1]
    assert profile["string"] == "staging"


def test_an_app_without_environments_announces_no_environment(repo, sim):
    parameters = announced(sim(repo, "apps/payments", "--parameters"))
    assert [p["name"] for p in parameters[:2]] == ["profile", "overlays"]
    assert parameters[0]["string"] == "prod"


def test_the_tab_still_opens_when_a_parameter_or_the_app_file_is_wrong(repo, sim):
    # An unknown parameter fails generate, but the user must be able to open the tab to remove it.
    assert announced(sim(repo, "apps/payments", "--parameters", "--param", "bogus=1"))
    write_app(repo / "apps" / "broken", "backend: [\n")
    result = sim(repo, "apps/broken", "--parameters")
    parameters = announced(result)
    assert [p["name"] for p in parameters[:2]] == ["profile", "overlays"]


def test_the_announcement_is_a_json_array_even_outside_an_app_directory(tmp_path):
    result = run_cli("argocd", "parameters", cwd=tmp_path)
    assert result.code == 0
    assert isinstance(json.loads(result.out), list)
    assert "no eventbus-render.yaml" in result.err
