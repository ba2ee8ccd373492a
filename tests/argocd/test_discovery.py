"""plugin.yaml's discovery claims exactly the directories that hold an eventbus-render.yaml."""

from __future__ import annotations

from tests.argocd.helpers import write_app


def test_an_app_directory_with_eventbus_render_yaml_is_claimed(repo, sim):
    result = sim(repo, "apps/payments", "--discover-only", "--no-plugin-name")
    assert result.code == 0, result.err
    assert "discover: match" in result.err


def test_a_directory_without_the_app_file_is_not_claimed(repo, sim):
    (repo / "apps" / "other").mkdir()
    (repo / "apps" / "other" / "kustomization.yaml").write_text("resources: []\n")
    result = sim(repo, "apps/other", "--discover-only", "--no-plugin-name")
    assert result.code == 3, result.err
    assert "discover: no match" in result.err


def test_discovery_does_not_look_into_subdirectories(repo, sim):
    # The repository root holds app directories but is not one itself.
    result = sim(repo, ".", "--discover-only", "--no-plugin-name")
    assert result.code == 3, result.err


def test_an_application_naming_the_plugin_still_needs_the_app_file(repo, sim):
    (repo / "docs").mkdir()
    (repo / "docs" / "README.md").write_text("not an app\n")
    result = sim(repo, "docs")
    assert result.code == 1
    assert "could not find cmp-server plugin with name \"eventbus-render-v1\"" in result.err


def test_a_second_app_directory_in_the_same_repository_is_claimed_on_its_own(repo, sim):
    write_app(repo / "apps" / "orders", "backend: kafka\nprofile: dev\nvalues:\n  kafka:\n    url: k:9092\n")
    assert sim(repo, "apps/orders", "--discover-only").code == 0
