"""Records behave as the dataclasses they replace: equality, repr, replace, and frozen ones immutable."""

from __future__ import annotations

import pickle

import pytest

from renderer.commands.bulk import Entry
from renderer.errors import Location
from renderer.stages.layers import Layer, Origin


def test_records_compare_show_and_copy_field_by_field():
    origin = Origin("overlay", "ha", "overlays/ha.yaml", 3, 5)
    assert origin == Origin("overlay", "ha", "overlays/ha.yaml", 3, 5)
    assert origin != Origin("overlay", "ha", "overlays/ha.yaml", 4, 5)
    assert origin != ("overlay", "ha", "overlays/ha.yaml", 3, 5)
    assert repr(origin) == "Origin(layer='overlay', name='ha', file='overlays/ha.yaml', line=3, column=5)"
    moved = origin.replace(file="apps/a/overlays/ha.yaml")
    assert (moved.file, moved.line, origin.file) == ("apps/a/overlays/ha.yaml", 3, "overlays/ha.yaml")
    with pytest.raises(TypeError):
        origin.replace(lines=4)


def test_frozen_records_cannot_change_and_hash_by_value():
    location = Location("eventbus-render.yaml", 3)
    with pytest.raises(AttributeError):
        location.line = 4
    with pytest.raises(AttributeError):
        del location.file
    assert {location: 1}[Location("eventbus-render.yaml", 3)] == 1
    assert pickle.loads(pickle.dumps(location)) == location


def test_mutable_records_default_fresh_containers_and_are_not_hashable():
    first, second = Layer("app", "a", "f", {}), Layer("app", "b", "f", {})
    first.marks["x"] = 1
    assert second.marks == {} and first.notes == {} and first.merge == {}
    with pytest.raises(TypeError):
        hash(first)
    entry = Entry("dev", "ns", "bus", "apps/a", "jetstream", "dev", (), "dev/ns/eventbus-bus.yaml")
    assert pickle.loads(pickle.dumps(entry)) == entry  # workers send entries back pickled
