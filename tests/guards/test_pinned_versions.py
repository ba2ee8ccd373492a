"""pinned-versions: JetStream and Kafka versions, and any image a value sets, name one concrete release."""

from __future__ import annotations

import pytest

from renderer.pipeline import RenderRequest, render
from renderer.stages import guards
from renderer.stages.guards import pinned_versions
from tests.guards.conftest import write_case

RULE = "pinned-versions"
JS = "spec.jetstream.version"
KAFKA = "spec.kafka.version"


@pytest.mark.parametrize("version, expected", [
    ("2.10.29", []),
    ("2.8.2-alpine", []),
    ("latest", [JS]),
    ("LATEST", [JS]),
    ("v2", [JS]),
    ("2.10", [JS]),
    ("2.10.x", [JS]),
    ("2.*", [JS]),
    (">=2.9", [JS]),
    ("~2.9.1", [JS]),
    ("", []),  # a missing version is a controller rule, reported there
], ids=lambda v: repr(v) if isinstance(v, str) else None)
def test_a_jetstream_version_must_be_one_concrete_release(violations, version, expected):
    assert violations(RULE, "jetstream", {"jetstream": {"version": version}}) == expected


@pytest.mark.parametrize("version, expected", [
    ("3.6.0", []),
    ("0.11.0.2", []),
    (None, [KAFKA]),
    ("latest", [KAFKA]),
    ("3.6", [KAFKA]),
    ("3.x", [KAFKA]),
], ids=["3.6.0", "four-part-0.11", "unset", "latest", "3.6", "3.x"])
def test_a_kafka_version_must_be_set_and_concrete(violations, version, expected):
    assert violations(RULE, "kafka", {"kafka": {"version": version}}) == expected


@pytest.mark.parametrize("version, why", [
    ("latest", "version 'latest' is not a release"),
    ("v2", "version 'v2' is not a full release"),
    ("2.10.x", "version '2.10.x' is a wildcard"),
    (">=2.9", "version '>=2.9' is a range"),
])
def test_the_message_says_why_a_version_is_not_pinned(findings, version, why):
    [finding] = findings(RULE, "jetstream", {"jetstream": {"version": version}})
    assert finding.message == f"{why}, expected a concrete release such as 2.10.29"
    assert finding.fix == "set jetstream.version to the exact release to run, e.g. 2.10.29"
    assert finding.origin.file == "overlays/case.yaml"


@pytest.mark.parametrize("image, problem", [
    ("nats:2.10.29", None),
    ("registry.example:5000/nats:2.10.29", None),
    ("nats@sha256:" + "a" * 64, None),
    ("nats", "has no tag"),
    ("registry.example:5000/nats", "has no tag"),
    ("nats:latest", "is tagged latest"),
    ("nats:", "has an empty tag"),
    ("nats@sha256:xyz", "has a malformed digest"),
])
def test_an_image_is_pinned_by_a_tag_other_than_latest_or_by_a_digest(image, problem):
    assert pinned_versions.image_problem(image) == problem


def test_any_image_a_template_or_value_adds_is_checked_wherever_it_sits(tmp_path):
    # The v1.9 spec has no image field, so the schema keeps images out of real renders; the rule still
    # walks the whole manifest for the day a template or a newer spec adds one.
    rendered = render(RenderRequest(write_case(tmp_path, "jetstream"), run_guards=False))
    rendered.manifest["spec"]["jetstream"]["containerTemplate"]["image"] = "nats"
    rendered.manifest["spec"]["jetstream"]["sidecars"] = [{"exporterImage": "natsio/exporter:latest"}]
    rendered.builtin_text = None  # the manifest is no longer the text the built-in templates wrote
    found = [f for f in guards.evaluate(rendered).findings if f.rule == RULE]
    assert [(f.path_text, f.actual) for f in found] == [
        ("spec.jetstream.containerTemplate.image", "image 'nats' has no tag"),
        ("spec.jetstream.sidecars[0].exporterImage", "image 'natsio/exporter:latest' is tagged latest"),
    ]
    assert found[1].fix == "set jetstream.sidecars[0].exporterImage to a released tag or a digest, e.g. " \
                           "natsio/exporter:<version>"


def test_built_in_template_text_without_an_image_key_skips_the_walk_but_a_mention_does_not(tmp_path):
    rendered = render(RenderRequest(write_case(tmp_path, "jetstream"), run_guards=False))
    assert rendered.builtin_text is not None and "mage" not in rendered.builtin_text
    rendered.manifest["spec"]["jetstream"]["containerTemplate"]["image"] = "nats"
    assert not [f for f in guards.evaluate(rendered).findings if f.rule == RULE]
    rendered.builtin_text += ' "image"'
    assert [f.path_text for f in guards.evaluate(rendered).findings if f.rule == RULE] == [
        "spec.jetstream.containerTemplate.image"]
