"""persistence: persistent volumes with a named class, a valid access mode and enough space, sizes compared properly."""

from __future__ import annotations

import pytest

RULE = "persistence"
P = "spec.jetstream.persistence"


def size(value) -> dict:
    return {"jetstream": {"persistence": {"volumeSize": value}}}


@pytest.mark.parametrize("values, expected", [
    (None, []),
    (size("20Gi"), []),
    (size("50Gi"), []),
    (size(21474836480), []),  # 20Gi in bytes
    (size("20000Mi"), [P + ".volumeSize"]),  # 19.53Gi
    (size("20G"), [P + ".volumeSize"]),  # decimal: 18.63Gi
    (size("0.5Ti"), []),
    (size(None), [P + ".volumeSize"]),
    ({"jetstream": {"persistence": None}}, [P]),
    ({"jetstream": {"persistence": {"storageClassName": None}}}, [P + ".storageClassName"]),
    ({"jetstream": {"persistence": {"storageClassName": ""}}}, [P + ".storageClassName"]),
    ({"jetstream": {"persistence": {"accessMode": "ReadWriteOncePod"}}}, []),
    ({"jetstream": {"persistence": {"accessMode": None}}}, []),  # the controller defaults to ReadWriteOnce
    ({"jetstream": {"persistence": {"accessMode": "ReadOnlyMany"}}}, [P + ".accessMode"]),
    ({"jetstream": {"persistence": {"accessMode": "ReadWriteMany"}}}, [P + ".accessMode"]),
], ids=["prod", "20Gi", "50Gi", "20Gi-in-bytes", "20000Mi", "20G", "0.5Ti", "no-size", "no-persistence",
        "no-class", "empty-class", "rwop", "default-mode", "read-only-many", "read-write-many"])
def test_prod_volumes_are_persistent_named_and_at_least_20Gi(violations, values, expected):
    assert violations(RULE, "jetstream", values) == expected


def test_native_nats_is_held_to_the_same_volumes(violations):
    assert violations(RULE, "nats-native", {"nats": {"native": {"persistence": {"volumeSize": "10Gi"}}}}) == [
        "spec.nats.native.persistence.volumeSize"]


@pytest.mark.parametrize("minimum, volume, expected", [
    ("20000Mi", "50Gi", []),
    ("50Gi", "20000Mi", [P + ".volumeSize"]),
    ("1Ti", "1024Gi", []),
    ("1T", "931Gi", [P + ".volumeSize"]),
], ids=["50Gi-over-20000Mi", "20000Mi-under-50Gi", "1Ti-is-1024Gi", "1T-is-over-931Gi"])
def test_sizes_are_compared_as_kubernetes_quantities(violations, minimum, volume, expected):
    files = {"profiles/sized.yaml": f"extends: prod\nguards:\n  persistence: {{minVolumeSize: {minimum}}}\n"}
    assert violations(RULE, "jetstream", size(volume), profile="sized", files=files) == expected


def test_a_small_volume_shows_its_size_in_gibibytes(findings):
    [finding] = findings(RULE, "jetstream", size("20000Mi"))
    assert str(finding) == (
        "error[persistence] spec.jetstream.persistence.volumeSize: volumeSize 20000Mi (19.53Gi), expected at least "
        "20Gi\n"
        "  set by overlay 'case' (overlays/case.yaml:4)\n"
        "  fix: set jetstream.persistence.volumeSize to 20Gi or more")


def test_persistence_deleted_by_a_layer_is_attributed_to_that_layer(findings):
    [finding] = findings(RULE, "jetstream", {"jetstream": {"persistence": None}})
    assert finding.origin.file == "overlays/case.yaml"
    assert finding.actual.startswith("no persistence")


def test_staging_needs_no_storage_class_and_only_10Gi_and_merely_warns(evaluate):
    evaluation = evaluate("jetstream", size("9Gi"), profile="staging")
    found = [(f.path_text, f.level) for f in evaluation.findings if f.rule == RULE]
    assert found == [(P + ".volumeSize", "warning")]


def test_exotic_backends_keep_no_volumes(violations):
    assert violations(RULE, "kafka") == []
