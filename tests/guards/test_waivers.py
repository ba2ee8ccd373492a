"""Waivers: only in the app file, with reason, owner and an expiry (UTC, inclusive) checked on a fixed clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from renderer.errors import InputError
from renderer.pipeline import RenderRequest, render
from renderer.stages import guards
from tests.guards.conftest import write_case

REPLICAS = {"jetstream": {"replicas": 4}}


def waiver(**fields) -> dict:
    entry = {"rule": "replica-count", "path": "spec.jetstream.replicas", "value": 4, "reason": "fourth zone in March",
             "owner": "team-payments", "expires": "2026-06-30"}
    entry.update(fields)
    return {k: v for k, v in entry.items() if v is not None}


def with_waivers(*entries) -> dict:
    return {"extra": {"waivers": list(entries)}}


def manifest_at(tmp_path, path: str):
    """The manifest value at ``path`` of the REPLICAS case, as a waiver of a parent path must name it."""
    from renderer import paths
    from renderer.stages.guards import lookup

    rendered = render(RenderRequest(write_case(tmp_path / "probe", "jetstream", REPLICAS), run_guards=False))
    return lookup(rendered.manifest, paths.parse_path(path))


def test_a_waiver_excuses_its_violation_which_is_still_reported_as_waived(evaluate):
    evaluation = evaluate("jetstream", REPLICAS, **with_waivers(waiver()))
    [finding] = evaluation.findings
    assert (finding.rule, finding.waived, finding.waiver.owner) == ("replica-count", True, "team-payments")
    assert evaluation.errors == []
    assert str(finding).startswith("waived[replica-count] spec.jetstream.replicas: 4 replicas")
    assert str(finding).endswith("waived until 2026-06-30 by team-payments (eventbus-render.yaml:8): "
                                 "fourth zone in March")


def test_the_rendered_manifest_carries_the_waivers_in_force(tmp_path):
    root = write_case(tmp_path, "jetstream", REPLICAS, extra={"waivers": [waiver()]})
    rendered = render(RenderRequest(root, today="2026-06-15"))
    assert rendered.manifest["metadata"]["annotations"]["eventbus-render/waivers"] == (
        "replica-count@spec.jetstream.replicas until 2026-06-30 (owner: team-payments)")


@pytest.mark.parametrize("path, waived", [
    ("spec.jetstream.replicas", True),
    ("spec.jetstream", True),
    ("spec.jetstream.version", False),
    ("spec.jetstream.rep", False),
], ids=["exact-path", "parent-path", "other-path", "prefix-of-a-key-is-not-a-parent"])
def test_a_waiver_covers_its_path_and_everything_below_it_while_the_value_there_is_the_one_named(
        tmp_path, evaluate, path, waived):
    entry = dict(waiver(path=path), value=manifest_at(tmp_path, path))
    evaluation = evaluate("jetstream", REPLICAS, **with_waivers(entry))
    assert [f.waived for f in evaluation.findings if f.rule == "replica-count"] == [waived]


def test_a_waiver_that_matches_nothing_is_a_warning_to_remove_it(evaluate):
    evaluation = evaluate("jetstream", None, **with_waivers(waiver()))
    [finding] = evaluation.findings
    assert (finding.rule, finding.level, finding.path_text) == ("waiver", "warning", "waivers[0]")
    assert finding.message == "waiver for replica-count at spec.jetstream.replicas matches no violation"
    assert evaluation.waivers == []


@pytest.mark.parametrize("today, expired", [
    ("2026-06-29", False),
    ("2026-06-30", False),  # inclusive: the waiver holds through its last day
    ("2026-07-01", True),
], ids=["day-before", "last-day", "day-after"])
def test_a_waiver_holds_through_its_expiry_date_and_is_an_error_naming_the_owner_after(evaluate, today, expired):
    evaluation = evaluate("jetstream", REPLICAS, today=today, **with_waivers(waiver()))
    messages = [f.message for f in evaluation.errors]
    if expired:
        assert messages == ["4 replicas, expected an odd count of at least 3",
                            "waiver for replica-count expired on 2026-06-30 (owner: team-payments)"]
        assert evaluation.errors[1].fix.startswith("team-payments: fix the violation")
        assert str(evaluation.errors[1]).splitlines()[1] == "  set by the app file (eventbus-render.yaml:8)"
    else:
        assert messages == []


def test_expiry_is_judged_in_utc(evaluate):
    # 23:30 on the last day in New York is already the next day in UTC
    new_york = timezone(timedelta(hours=-5))
    evaluation = evaluate("jetstream", REPLICAS, today=datetime(2026, 6, 30, 23, 30, tzinfo=new_york),
                          **with_waivers(waiver()))
    assert [f.rule for f in evaluation.errors] == ["replica-count", "waiver"]


def test_render_takes_its_clock_from_the_request(tmp_path):
    from renderer.errors import GuardError

    root = write_case(tmp_path, "jetstream", REPLICAS, extra={"waivers": [waiver()]})
    render(RenderRequest(root, today="2026-06-30"))
    with pytest.raises(GuardError):
        render(RenderRequest(root, today="2026-07-01"))


@pytest.mark.parametrize("reason", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_a_waiver_without_a_reason_is_an_error_naming_the_owner(evaluate, reason):
    evaluation = evaluate("jetstream", REPLICAS, **with_waivers(waiver(reason=reason)))
    assert [f.message for f in evaluation.errors] == [
        "4 replicas, expected an odd count of at least 3",
        "waiver for replica-count has no reason (owner: team-payments)"]


def test_a_rule_the_profile_makes_non_waivable_cannot_be_waived(evaluate):
    values = {"nats": {"exotic": {"url": "nats://tok@nats:4222"}}}
    entry = waiver(rule="external-credentials", path="spec.nats.exotic.url")
    evaluation = evaluate("nats-exotic", values, **with_waivers(entry))
    assert [(f.rule, f.waived) for f in evaluation.errors] == [("external-credentials", False), ("waiver", False)]
    assert evaluation.errors[1].message == ("waiver for external-credentials, which profile 'prod' does not allow "
                                            "to be waived (owner: team-payments)")


def test_the_controller_rules_can_never_be_waived(evaluate):
    entry = waiver(rule="controller-rules", path="spec.jetstream.replicas")
    evaluation = evaluate("jetstream", {"jetstream": {"replicas": 2}}, profile="dev", **with_waivers(entry))
    assert [(f.rule, f.waived) for f in evaluation.errors] == [("controller-rules", False), ("waiver", False)]


@pytest.mark.parametrize("entry, where, message", [
    (waiver(path=None), "eventbus-render.yaml:8:3", "missing required waiver key 'path'"),
    (waiver(value=None), "eventbus-render.yaml:8:3", "missing required waiver key 'value'"),
    (waiver(owners="x"), "eventbus-render.yaml:14:3", "unknown waiver key 'owners' (did you mean 'owner'?)"),
    (waiver(owner=None), "eventbus-render.yaml:8:3", "missing required waiver key 'owner'"),
    (waiver(expires=None), "eventbus-render.yaml:8:3", "missing required waiver key 'expires'"),
    (waiver(rule="replica-cont"), "eventbus-render.yaml:8:3", "'replica-cont' is not one of "
     "controller-rules, pinned-versions, replica-count, zone-anti-affinity, capacity, persistence, "
     "external-credentials, disruption-budget, pod-priority"),
    (waiver(expires="2026-13-01"), "eventbus-render.yaml:13:3", "'2026-13-01' is not a date"),
    (waiver(expires="30/06/2026"), "eventbus-render.yaml:13:3", "'30/06/2026' is not a date"),
    (waiver(expires=20260630), "eventbus-render.yaml:13:3", "expected string, got integer 20260630"),
    (waiver(path="jetstream.replicas"), "eventbus-render.yaml:9:3", "'jetstream.replicas' is not a manifest path"),
    (waiver(path="PodDisruptionBudget.maxUnavailable"), "eventbus-render.yaml:9:3",
     "'PodDisruptionBudget.maxUnavailable' is not a manifest path"),
    (waiver(path="ConfigMap.spec"), "eventbus-render.yaml:9:3", "'ConfigMap.spec' is not a manifest path"),
    (waiver(owner=" "), "eventbus-render.yaml:12:3", "' ' is not the name of a person or team"),
    ("replica-count", "eventbus-render.yaml:8:3", "expected object, got string 'replica-count'"),
], ids=["no-path", "no-value", "unknown-key", "no-owner", "no-expiry", "unknown-rule", "month-13", "not-iso",
        "a-number", "values-path", "budget-values-path", "unknown-kind", "blank-owner", "not-a-mapping"])
def test_a_malformed_waiver_is_an_input_error_at_its_line(evaluate, entry, where, message):
    with pytest.raises(InputError) as caught:
        evaluate("jetstream", REPLICAS, **with_waivers(entry))
    assert (str(caught.value.location), caught.value.message) == (where, message)


# -- the waiver path is a path: read with either spelling, compared segment by segment --------------


@pytest.mark.parametrize("path, waived", [
    ('spec["jetstream"].replicas', True),
    ('spec["jetstream"]["replicas"]', True),
    ("spec", True),
    ('spec["jetstream"]', True),
    ("spec.jetstream.replicas.count", False),
    ("spec.jetstream\\.replicas", False),
    ("metadata", False),
], ids=["bracketed-section", "all-bracketed", "whole-spec", "bracketed-parent", "below-the-finding",
        "escaped-dot-is-one-key", "other-branch"])
def test_a_waiver_path_is_compared_as_a_path_whatever_its_spelling(tmp_path, evaluate, path, waived):
    entry = dict(waiver(path=path), value=manifest_at(tmp_path, path))
    evaluation = evaluate("jetstream", REPLICAS, **with_waivers(entry))
    assert [f.waived for f in evaluation.findings if f.rule == "replica-count"] == [waived]


LABEL = ("metadata", "labels", "app.kubernetes.io/name")


@pytest.mark.parametrize("path", [
    'metadata.labels["app.kubernetes.io/name"]',
    "metadata.labels.app\\.kubernetes\\.io/name",
], ids=["bracketed-key", "escaped-dots"])
def test_both_spellings_of_a_dotted_key_read_as_the_same_path(tmp_path, path):
    root = write_case(tmp_path, "jetstream", extra={"waivers": [waiver(path=path)]})
    [entry] = guards.parse_waivers(render(RenderRequest(root, run_guards=False)).app)
    assert entry.path == LABEL


@pytest.mark.parametrize("path, covered", [
    (LABEL, True),
    (LABEL + ("x",), True),
    (("metadata", "labels", "app"), False),
    (("metadata", "labels", "app.kubernetes.io/name-other"), False),
    (("metadata", "labels"), False),
], ids=["the-key", "below-the-key", "key-split-at-a-dot", "longer-key", "the-parent"])
def test_a_waiver_on_a_dotted_key_covers_that_key_and_below_only(tmp_path, path, covered):
    for spelling in ('metadata.labels["app.kubernetes.io/name"]', "metadata.labels.app\\.kubernetes\\.io/name"):
        root = write_case(tmp_path / spelling.replace("/", "_"), "jetstream",
                          extra={"waivers": [waiver(path=spelling)]})
        [entry] = guards.parse_waivers(render(RenderRequest(root, run_guards=False)).app)
        assert entry.matches(guards.Finding("replica-count", path=path)) is covered, spelling


@pytest.mark.parametrize("path", ['spec["jetstream"]["replicas"]', "spec.jetstream.replicas"])
def test_a_waiver_path_is_printed_in_the_one_printed_form(tmp_path, evaluate, path):
    evaluation = evaluate("jetstream", None, **with_waivers(waiver(path=path)))
    assert evaluation.findings[0].message == ("waiver for replica-count at spec.jetstream.replicas matches no "
                                              "violation")
    root = write_case(tmp_path / "applied", "jetstream", REPLICAS, extra={"waivers": [waiver(path=path)]})
    annotations = render(RenderRequest(root, today="2026-06-15")).manifest["metadata"]["annotations"]
    assert annotations["eventbus-render/waivers"] == (
        "replica-count@spec.jetstream.replicas until 2026-06-30 (owner: team-payments)")


@pytest.mark.parametrize("path, problem", [
    ("spec.jetstream[x]", 'has a bad index at column 15 (write [0], [1], ... or ["key"])'),
    ("spec..replicas", "has an empty key at column 6"),
    ('spec["jetstream', 'has an unclosed ["..."] at column 5'),
], ids=["bad-index", "empty-key", "unclosed-bracket"])
def test_a_waiver_path_that_is_not_a_path_is_an_input_error_at_its_line(evaluate, path, problem):
    with pytest.raises(InputError) as caught:
        evaluate("jetstream", REPLICAS, **with_waivers(waiver(path=path)))
    assert str(caught.value.location) == "eventbus-render.yaml:9:3"
    assert caught.value.message == f"waiver path {path!r} {problem}"
    assert caught.value.hint == "write it as printed in reports, e.g. spec.jetstream.replicas"


# -- a value is printed as the app file's reader reads it back, type included -----------------------


@pytest.mark.parametrize("value", [
    4, 0, -1, 2.5, 1e-05, True, False, None, "latest", "2.10", "2.10.29", "4", "yes", "on", "Off", "null", "~", "",
    "20000Mi", "a'b", 'say "hi"', "line\nbreak", "tab\there", "#x", "a: b", "- x", "é", "1e3",
    'metadata.labels["app.kubernetes.io/name"]', [], {}, [1, "2", None], {"a.b/c": [True, {"k": "v w"}], "7": 7},
], ids=repr)
def test_a_value_is_printed_so_that_the_app_file_reads_back_the_same_value_and_type(value):
    from renderer.stages import yamlio
    from renderer.stages.guards.waivers import same_value, show_value

    shown = show_value(value)
    assert "\n" not in shown
    read = yamlio.load(f"value: {shown}\n", "eventbus-render.yaml")[0]["value"]
    assert same_value(read, value), shown


@pytest.mark.parametrize("a, b", [(1, True), (0, False), (4, "4"), ("2.10", 2.1), (None, ""), ([1], [1, 1]),
                                  ({"a": 1}, {"a": "1"})])
def test_values_of_another_type_or_shape_are_not_the_same(a, b):
    from renderer.stages.guards.waivers import same_value

    assert not same_value(a, b) and not same_value(b, a)
