"""The one path type: printed one way, read back the same, and the Helm-style escape read too."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderer.errors import InputError
from renderer.paths import format_path, is_under, lookup, manifest_to_values, parse_path


@pytest.mark.parametrize("path, text", [
    (("jetstream", "replicas"), "jetstream.replicas"),
    (("jetstream", "tolerations", 0, "effect"), "jetstream.tolerations[0].effect"),
    (("metadata", "labels", "app.kubernetes.io/name"), 'metadata.labels["app.kubernetes.io/name"]'),
    (("a", 'x"y\\z'), r'a["x\"y\\z"]'),
    (("waivers", 2), "waivers[2]"),
    (("", "a"), '[""].a'),
])
def test_a_path_prints_in_the_documented_form_and_reads_back(path, text):
    assert format_path(path) == text
    assert parse_path(text) == path


@pytest.mark.parametrize("text, path", [
    (r"labels.app\.kubernetes\.io/name", ("labels", "app.kubernetes.io/name")),
    ('labels["app.kubernetes.io/name"]', ("labels", "app.kubernetes.io/name")),
    ("jetstream.tolerations[1]", ("jetstream", "tolerations", 1)),
    ("a[0][1].b", ("a", 0, 1, "b")),
])
def test_both_spellings_of_a_dotted_key_are_one_path(text, path):
    assert parse_path(text) == path


@pytest.mark.parametrize("text", ["", "a..b", ".a", "a.", "a[x]", 'a["b', "a[0]b", "a[]", "a[-1]"])
def test_a_malformed_path_is_one_clear_error(text):
    with pytest.raises(InputError) as info:
        parse_path(text, what="--set")
    assert "--set" in info.value.message


keys = st.one_of(st.text(min_size=1, max_size=8), st.integers(min_value=0, max_value=99))


@given(st.lists(keys, min_size=1, max_size=6).filter(lambda p: isinstance(p[0], str)))
def test_every_path_survives_printing_and_reading(path):
    assert parse_path(format_path(path)) == tuple(path)


def test_manifest_paths_map_to_the_values_that_feed_them():
    assert manifest_to_values(("spec", "jetstream", "replicas")) == ("jetstream", "replicas")
    assert manifest_to_values(("metadata", "labels", "x")) == ("labels", "x")
    assert manifest_to_values(("metadata", "name")) == ()
    assert is_under(("a", "b", 0), ("a", "b")) and not is_under(("a",), ("a", "b"))


def test_lookup_walks_mappings_and_lists_and_answers_the_default_where_nothing_is():
    data = {"spec": {"jetstream": {"tolerations": [{"key": "a"}, {"key": "b"}]}}}
    assert lookup(data, ("spec", "jetstream", "tolerations", 1, "key")) == "b"
    assert lookup(data, ()) is data
    missing = object()
    for path in (("spec", "nats"), ("spec", "jetstream", "tolerations", 2), ("spec", "jetstream", "tolerations", -1),
                 ("spec", "jetstream", "tolerations", "0"), ("spec", "jetstream", "tolerations", 0, "key", "x")):
        assert lookup(data, path, missing) is missing, path
