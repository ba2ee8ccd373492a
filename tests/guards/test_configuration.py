"""Guard configuration: only profiles set it, typed and located; children override; shadows of built-ins are floored."""

from __future__ import annotations

import pytest

from renderer.errors import InputError, MultipleErrors
from renderer.stages.guards import RULES

PROFILE = "profiles/team.yaml"


def config_of(evaluate, profile_text: str, profile: str = "team", files: dict | None = None) -> dict:
    evaluation = evaluate("jetstream", profile=profile, files={f"profiles/{profile}.yaml": profile_text,
                                                               **(files or {})})
    return evaluation.config


def input_error(evaluate, profile_text: str, profile: str = "team", files: dict | None = None) -> InputError:
    with pytest.raises(InputError) as caught:
        config_of(evaluate, profile_text, profile, files)
    return caught.value


@pytest.mark.parametrize("text, where, message, hint", [
    ("guards:\n  replica-cont: {min: 3}\n", f"{PROFILE}:2:3", "unknown guard 'replica-cont' (did you mean "
     "'replica-count'?)", "rename it to 'replica-count'"),
    ("guards:\n  persistence: {minVolumeSiz: 20Gi}\n", f"{PROFILE}:2:17", "guard 'persistence': minVolumeSiz: unknown "
     "setting 'minVolumeSiz' (did you mean 'minVolumeSize'?)", "rename it to 'minVolumeSize'"),
    ("guards:\n  replica-count: {min: three}\n", f"{PROFILE}:2:19", "guard 'replica-count': min: expected integer, "
     "got string 'three'", None),
    ("guards:\n  replica-count: {level: fatal}\n", f"{PROFILE}:2:19", "guard 'replica-count': level: 'fatal' is not "
     "one of off, warning, error", "use one of off, warning, error"),
    ("guards:\n  persistence: {minVolumeSize: 20GB}\n", f"{PROFILE}:2:17", "guard 'persistence': minVolumeSize: "
     "'20GB' is not a valid Kubernetes quantity", "drop the 'B': '20G' (or '20Gi' for powers of 1024)"),
    ("guards:\n  zone-anti-affinity: {zones: always}\n", f"{PROFILE}:2:24", "guard 'zone-anti-affinity': zones: "
     "'always' is not one of none, preferred, required",
     "use one of none, preferred, required"),
    ("guards:\n  capacity: [3]\n", f"{PROFILE}:2:3", "expected object, got array",
     None),
], ids=["unknown-rule", "unknown-setting", "ill-typed-parameter", "unknown-level", "bad-quantity", "bad-choice",
        "not-a-mapping"])
def test_a_mistake_in_a_guards_block_is_an_input_error_at_its_line(evaluate, text, where, message, hint):
    error = input_error(evaluate, text)
    assert (str(error.location), error.message, error.hint) == (where, message, hint)


def test_every_mistake_of_a_guards_block_is_reported_at_once(evaluate):
    error = input_error(evaluate, "guards:\n  replica-count: {min: x, mx: 3}\n  pined-versions: {}\n")
    assert isinstance(error, MultipleErrors)
    assert len(error.errors) == 3


def test_a_rule_no_profile_mentions_is_off_and_one_mentioned_without_level_is_an_error(evaluate):
    config = config_of(evaluate, "guards:\n  replica-count: {min: 5}\n")
    assert config["replica-count"].level == "error"
    assert config["replica-count"].params == {"min": 5, "max": None, "odd": True}
    assert {rule: rc.level for rule, rc in config.items() if rule not in ("replica-count", "controller-rules")} == {
        rule: "off" for rule in RULES if rule not in ("replica-count", "controller-rules")}


def test_an_unquoted_off_reads_as_off(evaluate):
    assert config_of(evaluate, "extends: prod\nguards:\n  pinned-versions: {level: off}\n")[
        "pinned-versions"].level == "off"


def test_a_child_profile_overrides_its_parent_key_by_key_within_a_rule(evaluate):
    files = {"profiles/base.yaml": "guards:\n  replica-count: {level: warning, min: 5, max: 9}\n"}
    config = config_of(evaluate, "extends: base\nguards:\n  replica-count: {min: 3}\n", files=files)
    rc = config["replica-count"]
    assert (rc.level, rc.params["min"], rc.params["max"]) == ("warning", 3, 9)
    assert str(rc.where["min"]) == f"{PROFILE}:3:19"
    assert str(rc.where["level"]) == "profiles/base.yaml:2:19"


def test_the_built_in_profiles_configure_the_guards_as_documented(evaluate):
    levels = {name: {rule: rc.level for rule, rc in evaluate("jetstream", profile=name).config.items()}
              for name in ("dev", "staging", "prod")}
    # pod priority classes are the cluster's own: prod warns without one (a cluster profile makes it an error)
    assert {rule for rule, level in levels["prod"].items() if level != "error"} == {"pod-priority"}
    assert levels["prod"]["pod-priority"] == "warning"
    assert {rule for rule, level in levels["dev"].items() if level != "off"} == {"controller-rules"}
    assert sorted(rule for rule, level in levels["staging"].items() if level == "warning") == [
        "capacity", "disruption-budget", "persistence", "pinned-versions", "replica-count", "zone-anti-affinity"]
    assert levels["staging"]["pod-priority"] == "off"


# -- an app-local profile shadowing a built-in name ---------------------------------------------------


def test_a_local_prod_without_guards_keeps_every_built_in_prod_guard(evaluate):
    local = config_of(evaluate, "values:\n  jetstream: {maxPayload: 2MB}\n", profile="prod")
    builtin = evaluate("jetstream", profile="prod").config
    assert {r: (c.level, c.waivable, c.params) for r, c in local.items()} == {
        r: (c.level, c.waivable, c.params) for r, c in builtin.items()}


@pytest.mark.parametrize("guards, key, where", [
    ("replica-count: {min: 1}", "replica-count.min is 1, the built-in requires 3", "profiles/prod.yaml:3:19"),
    ("replica-count: {odd: false}", "replica-count.odd is false", "profiles/prod.yaml:3:19"),
    ("persistence: {level: warning}", "persistence.level is 'warning'", "profiles/prod.yaml:3:17"),
    ("persistence: {minVolumeSize: 20000Mi}", "persistence.minVolumeSize is '20000Mi'", "profiles/prod.yaml:3:17"),
    ("persistence: {accessModes: [ReadWriteOnce, ReadWriteMany]}", "persistence.accessModes",
     "profiles/prod.yaml:3:17"),
    ("zone-anti-affinity: {zones: preferred}", "zone-anti-affinity.zones is 'preferred'",
     "profiles/prod.yaml:3:24"),
    ("external-credentials: {waivable: true}", "external-credentials.waivable is true", "profiles/prod.yaml:3:26"),
    ("pinned-versions: {level: off}", "pinned-versions.level is 'off'", "profiles/prod.yaml:3:21"),
], ids=["smaller-minimum", "even-allowed", "lower-level", "smaller-volume", "more-access-modes", "weaker-spread",
        "waivable", "switched-off"])
def test_a_local_profile_shadowing_a_built_in_cannot_weaken_its_guards(evaluate, guards, key, where):
    error = input_error(evaluate, f"description: ours\nguards:\n  {guards}\n", profile="prod")
    assert "shadows the built-in profile 'prod' and cannot weaken its guards" in error.message
    assert key in error.message
    assert str(error.location) == where
    assert "rename the profile" in error.hint


def test_a_local_prod_extending_staging_is_held_to_prod_and_pointed_at_stagings_lines(evaluate):
    with pytest.raises(MultipleErrors) as caught:
        config_of(evaluate, "extends: staging\n", profile="prod")
    locations = {str(e.location) for e in caught.value.errors}
    assert all(loc.startswith("builtin:profiles/staging.yaml:") for loc in locations)


def test_a_local_prod_may_tighten_the_built_in_guards(evaluate):
    config = config_of(evaluate, "guards:\n  replica-count: {min: 5}\n  capacity: {zones: 3}\n", profile="prod")
    assert config["replica-count"].params["min"] == 5
    assert config["capacity"].params["zones"] == 3
    assert config["persistence"].level == "error"


def test_a_profile_under_its_own_name_owns_its_guards(evaluate):
    config = config_of(evaluate, "extends: prod\nguards:\n  replica-count: {min: 1}\n  persistence: {level: off}\n",
                       profile="prod-relaxed")
    assert (config["replica-count"].params["min"], config["persistence"].level) == (1, "off")
