"""Every failure is one clear message on stderr, a non-zero exit and an empty stdout; never an empty success."""

from __future__ import annotations

import json

import yaml

from tests.argocd.helpers import run_cli, write_app

UI_PREFIX = "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error"


def failed(result) -> str:
    """The error text Argo CD would show, after checking the failure is clean."""
    assert result.code == 1, (result.code, result.err)
    assert result.out == ""
    assert UI_PREFIX in result.err
    return result.err


def test_a_prod_guard_violation_from_a_parameter_fails_with_the_guard_report(repo, sim):
    err = failed(sim(repo, "apps/payments", "--param-map", "values=jetstream.replicas=1"))
    assert "`eventbus-render argocd generate` failed exit status 1" in err
    assert "error[replica-count] spec.jetstream.replicas" in err
    assert "set by parameter 'values jetstream.replicas=1'" in err
    assert "guard violation" in err and "nothing was rendered" in err


def test_a_guard_violation_from_env_fails_the_same_way(repo, sim):
    err = failed(sim(repo, "apps/payments", "--env", "VALUES=jetstream.replicas=1"))
    assert "error[replica-count]" in err and "ARGOCD_ENV_VALUES" in err


def test_waivers_cannot_come_from_parameters_or_env(repo, sim):
    waiver = "[{rule: replica-count}]"  # (the simulator splits map flags at commas)
    err = failed(sim(repo, "apps/payments", "--param-map", f"values=waivers={waiver}"))
    assert "exit status 2" in err and "unknown field 'waivers'" in err
    err = failed(sim(repo, "apps/payments", "--env", f"VALUES=waivers={waiver}"))
    assert "exit status 2" in err and "unknown field 'waivers'" in err


def test_guard_settings_cannot_come_from_parameters(repo, sim):
    err = failed(sim(repo, "apps/payments",
                     "--param-map", "values=guards={replica-count: {level: off}},jetstream.replicas=1"))
    assert "exit status 2" in err and "unknown field 'guards'" in err


def test_a_waiver_in_the_app_file_applies_under_argo_cd_as_on_the_command_line(repo, sim):
    write_app(repo / "apps" / "waived", """\
        backend: jetstream
        profile: prod
        values:
          jetstream:
            replicas: 1
            streamConfig: |
              replicas: 1
        waivers:
          - rule: replica-count
            path: spec.jetstream.replicas
            value: 1
            reason: the second zone comes later
            owner: team-payments
            expires: 2999-12-31
          - rule: disruption-budget
            path: PodDisruptionBudget.spec.maxUnavailable
            value: 1
            reason: one server has no quorum to keep until the second zone comes
            owner: team-payments
            expires: 2999-12-31
    """)
    local = run_cli("render", "--app", str(repo / "apps" / "waived"))
    assert local.code == 0, local.err
    result = sim(repo, "apps/waived", "--app-namespace", "argo-events")
    assert result.code == 0, result.err
    assert "waived[replica-count]" in result.err  # the report goes to the sidecar log
    assert result.objects == [doc for doc in yaml.safe_load_all(local.out) if doc]
    assert result.objects[0]["metadata"]["annotations"]["eventbus-render/waivers"].startswith("replica-count")
    assert [obj["kind"] for obj in result.objects] == ["EventBus", "PodDisruptionBudget"]


def test_an_unknown_parameter_is_an_error_naming_it(repo, sim):
    err = failed(sim(repo, "apps/payments", "--param", "replicas=5", "--param", "profil=dev"))
    assert "exit status 2" in err
    assert "unknown plugin parameters 'replicas', 'profil'" in err


def test_a_parameter_of_the_wrong_kind_is_an_error(repo, sim):
    err = failed(sim(repo, "apps/payments", "--param", "overlays=ha"))
    assert "plugin parameter 'overlays' must be an array, got string" in err


def test_an_unknown_profile_or_overlay_names_where_it_came_from(repo, sim):
    err = failed(sim(repo, "apps/payments", "--param", "profile=prd"))
    assert "parameter profile: unknown profile 'prd'" in err and "known profiles:" in err
    err = failed(sim(repo, "apps/payments", "--env", "OVERLAYS=../../etc"))
    assert "ARGOCD_ENV_OVERLAYS" in err and "would leave the app directory" in err


def test_an_invalid_name_from_env_is_an_input_error(repo, sim):
    err = failed(sim(repo, "apps/payments", "--env", "NAME=Not_A_Name"))
    assert "ARGOCD_ENV_NAME: 'Not_A_Name' is not a valid EventBus name" in err


def test_a_broken_app_file_fails_with_file_and_line(repo, sim):
    write_app(repo / "apps" / "broken", "backend: jetstream\nprofile: prod\nvalues:\n  jetstream:\n    replicas: [\n")
    err = failed(sim(repo, "apps/broken"))
    assert "eventbus-render.yaml:" in err and "malformed YAML" in err


def test_generate_in_a_directory_without_an_app_file_fails_instead_of_printing_nothing(tmp_path):
    result = run_cli("argocd", "generate", cwd=tmp_path)
    assert (result.code, result.out) == (2, "")
    assert "no eventbus-render.yaml" in result.err


def test_generate_in_a_directory_removed_under_it_fails_with_one_message(tmp_path):
    import os
    import subprocess
    import sys

    from tests.argocd.helpers import EVENTBUS_RENDER

    gone = tmp_path / "gone"
    gone.mkdir()
    script = "import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); os.execv(sys.argv[2], sys.argv[2:])"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "PARAM_"))}
    env["EVENTBUS_RENDER_WORKER"] = ""
    result = subprocess.run([sys.executable, "-c", script, str(gone), str(EVENTBUS_RENDER), "argocd", "generate"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (2, "")
    assert "cannot read the current directory" in result.stderr and "Traceback" not in result.stderr


def test_malformed_parameters_json_is_an_input_error(tmp_path):
    app = write_app(tmp_path / "app")
    result = run_cli("argocd", "generate", cwd=app, env={"ARGOCD_APP_PARAMETERS": "[{"})
    assert (result.code, result.out) == (2, "")
    assert "ARGOCD_APP_PARAMETERS is not valid JSON" in result.err


def test_a_duplicate_parameter_is_an_error(tmp_path):
    app = write_app(tmp_path / "app")
    params = [{"name": "profile", "string": "dev"}, {"name": "profile", "string": "prod"}]
    result = run_cli("argocd", "generate", cwd=app, env={"ARGOCD_APP_PARAMETERS": json.dumps(params)})
    assert (result.code, result.out) == (2, "")
    assert "set twice" in result.err


def test_an_internal_error_is_one_line_and_exit_3(tmp_path, monkeypatch, capsys):
    from renderer.argocd import plugin as argocd

    def broken(cwd, environ):
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(argocd.COMMANDS, "generate", broken)
    code, out, err = argocd.run_command("generate", str(tmp_path), {})
    assert (code, out) == (3, "")
    assert err == "error: internal error in eventbus-render generate: ZeroDivisionError: boom\n"


def test_stray_prints_during_a_render_go_to_stderr_never_stdout(tmp_path, monkeypatch):
    from renderer.argocd import plugin as argocd

    def noisy(cwd, environ):
        print("debug output")
        return 0, "---\nkind: X\n", ""

    monkeypatch.setitem(argocd.COMMANDS, "generate", noisy)
    assert argocd.run_command("generate", str(tmp_path), {}) == (0, "---\nkind: X\n", "debug output\n")


def test_generate_takes_no_arguments(tmp_path):
    result = run_cli("argocd", "generate", "--profile", "prod", cwd=tmp_path)
    assert (result.code, result.out) == (2, "")
    assert "takes no arguments" in result.err
