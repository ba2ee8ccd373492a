"""Merge strategies and provenance of the layered values."""

from __future__ import annotations

import pytest

from renderer.errors import InputError
from renderer.stages.layers import DELETED, IndexPatch, Layer, merge_layers


def layer(kind, values, merge=None, marks=None, name=None):
    return Layer(kind, name or kind, f"{kind}.yaml", values, marks or {}, (), merge or {})


def test_mappings_merge_deeply_and_scalars_replace():
    merged = merge_layers([
        layer("defaults", {"jetstream": {"replicas": 3, "version": "2.9.16"}}),
        layer("profile", {"jetstream": {"version": "2.10.29"}}),
    ])
    assert merged.values == {"jetstream": {"replicas": 3, "version": "2.10.29"}}


def test_lists_replace_by_default():
    merged = merge_layers([
        layer("profile", {"jetstream": {"startArgs": ["-D", "-V"]}}),
        layer("overlay", {"jetstream": {"startArgs": ["--trace"]}}),
    ])
    assert merged.values["jetstream"]["startArgs"] == ["--trace"]


def test_append_strategy_adds_items_after_the_lower_layers_items():
    merged = merge_layers([
        layer("profile", {"jetstream": {"startArgs": ["-D"]}}, merge={"jetstream.startArgs": "append"}),
        layer("overlay", {"jetstream": {"startArgs": ["--trace"]}}),
    ])
    assert merged.values["jetstream"]["startArgs"] == ["-D", "--trace"]


def test_merge_by_key_merges_items_with_the_same_key_and_appends_the_rest():
    merged = merge_layers([
        layer("defaults", {"jetstream": {"imagePullSecrets": [{"name": "a"}, {"name": "b"}]}},
              merge={"*.imagePullSecrets": "mergeBy:name"}),
        layer("overlay", {"jetstream": {"imagePullSecrets": [{"name": "b"}, {"name": "c"}]}}),
    ])
    assert merged.values["jetstream"]["imagePullSecrets"] == [{"name": "a"}, {"name": "b"}, {"name": "c"}]


def test_merge_by_composite_key_keeps_tolerations_with_different_effects_apart():
    merged = merge_layers([
        layer("defaults", {"jetstream": {"tolerations": [{"key": "dedicated", "effect": "NoSchedule",
                                                          "value": "a"}]}},
              merge={"*.tolerations": "mergeBy:key+effect"}),
        layer("overlay", {"jetstream": {"tolerations": [
            {"key": "dedicated", "effect": "NoSchedule", "value": "b"},
            {"key": "dedicated", "effect": "NoExecute", "operator": "Exists"}]}}),
    ])
    assert merged.values["jetstream"]["tolerations"] == [
        {"key": "dedicated", "effect": "NoSchedule", "value": "b"},
        {"key": "dedicated", "effect": "NoExecute", "operator": "Exists"},
    ]


def test_the_most_specific_strategy_pattern_wins():
    merged = merge_layers([
        layer("defaults", {"jetstream": {"startArgs": ["a"]}},
              merge={"*.startArgs": "append", "jetstream.startArgs": "replace"}),
        layer("overlay", {"jetstream": {"startArgs": ["b"]}}),
    ])
    assert merged.values["jetstream"]["startArgs"] == ["b"]


def test_a_strategy_applies_only_from_the_layer_that_declares_it_upwards():
    merged = merge_layers([
        layer("defaults", {"jetstream": {"startArgs": ["a"]}}),
        layer("profile", {"jetstream": {"startArgs": ["b"]}}),
        layer("overlay", {"jetstream": {"startArgs": ["c"]}}, merge={"jetstream.startArgs": "append"}),
    ])
    assert merged.values["jetstream"]["startArgs"] == ["b", "c"]


def test_null_deletes_a_key_set_by_a_lower_layer():
    merged = merge_layers([
        layer("profile", {"jetstream": {"persistence": {"volumeSize": "20Gi"}, "replicas": 3}}),
        layer("overlay", {"jetstream": {"persistence": None}}),
    ])
    assert merged.values == {"jetstream": {"replicas": 3}}
    assert merged.provenance.settings(("jetstream", "persistence"))[-1].value is DELETED


def test_null_inside_a_new_subtree_is_dropped():
    merged = merge_layers([layer("app", {"kafka": {"url": "k:9092", "topic": None}})])
    assert merged.values == {"kafka": {"url": "k:9092"}}


def test_an_unknown_strategy_is_an_error_naming_the_file_and_pattern():
    with pytest.raises(InputError) as info:
        merge_layers([layer("overlay", {}, merge={"jetstream.startArgs": "concat"},
                            marks={("merge", "jetstream.startArgs"): (3, 3)})])
    text = info.value.render()
    assert "overlay.yaml:3:3" in text and "unknown merge strategy 'concat'" in text and "mergeBy:KEY" in text


def test_index_patches_change_one_list_item():
    merged = merge_layers([
        layer("profile", {"jetstream": {"tolerations": [{"key": "a"}, {"key": "b"}]}}),
        layer("set", {"jetstream": {"tolerations": IndexPatch({1: {"value": "x"}})}}),
    ])
    assert merged.values["jetstream"]["tolerations"] == [{"key": "a"}, {"key": "b", "value": "x"}]


def test_an_index_past_the_end_of_a_list_is_an_error():
    with pytest.raises(InputError, match="past the end"):
        merge_layers([
            layer("profile", {"jetstream": {"tolerations": [{"key": "a"}]}}),
            layer("set", {"jetstream": {"tolerations": IndexPatch({3: {"value": "x"}})}}),
        ])


def test_every_leaf_remembers_its_layer_file_and_line_and_what_it_overrode():
    merged = merge_layers([
        layer("defaults", {"jetstream": {"replicas": 3}}, marks={("jetstream", "replicas"): (4, 5)}),
        layer("profile", {"jetstream": {"replicas": 5, "version": "2.10.29"}},
              marks={("jetstream", "replicas"): (7, 5), ("jetstream", "version"): (8, 5)}, name="prod"),
    ])
    settings = merged.provenance.settings(("jetstream", "replicas"))
    assert [(s.origin.layer, s.origin.file, s.origin.line, s.value) for s in settings] == [
        ("defaults", "defaults.yaml", 4, 3),
        ("profile", "profile.yaml", 7, 5),
    ]
    assert str(merged.provenance.origin(("jetstream", "version"))) == "profile prod (profile.yaml:8)"


def test_provenance_of_merged_list_items_points_at_the_line_in_the_layer_that_wrote_them():
    merged = merge_layers([
        layer("defaults", {"x": {"imagePullSecrets": [{"name": "a"}]}}, merge={"*.imagePullSecrets": "mergeBy:name"},
              marks={("x", "imagePullSecrets", 0, "name"): (2, 9)}),
        layer("overlay", {"x": {"imagePullSecrets": [{"name": "b"}]}},
              marks={("x", "imagePullSecrets", 0, "name"): (11, 9)}),
    ])
    origin = merged.provenance.origin(("x", "imagePullSecrets", 1, "name"))
    assert (origin.layer, origin.line) == ("overlay", 11)


def test_history_keeps_the_values_each_layer_set_even_when_later_layers_change_them():
    merged = merge_layers([
        layer("defaults", {"x": {"imagePullSecrets": [{"name": "a"}]}}, merge={"*.imagePullSecrets": "append"}),
        layer("overlay", {"x": {"imagePullSecrets": [{"name": "b"}]}}),
    ])
    history = merged.provenance.settings(("x", "imagePullSecrets"))
    assert history[0].value == [{"name": "a"}]
    assert history[-1].value == [{"name": "a"}, {"name": "b"}]


def test_merging_never_changes_the_layers_own_values():
    base = {"jetstream": {"tolerations": [{"key": "a", "effect": "NoSchedule"}]}}
    top = {"jetstream": {"tolerations": [{"key": "a", "effect": "NoSchedule", "value": "v"}]}}
    merge_layers([layer("defaults", base, merge={"*.tolerations": "mergeBy:key+effect"}), layer("overlay", top)])
    assert base == {"jetstream": {"tolerations": [{"key": "a", "effect": "NoSchedule"}]}}
