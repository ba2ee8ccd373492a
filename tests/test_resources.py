"""A repository cannot make a render slow or large: merges are linear, and what one render holds is bounded.

Each layer file holds at most 50,000 values (:mod:`renderer.stages.yamlio`),
but a render can stack any number of layers, and a merged list is kept once
per layer that merges into it (``explain`` shows what each layer overrode).
So the values one render reads, and those its merge holds, are bounded by
:data:`renderer.stages.layers.MAX_RENDER_VALUES`: past it the render is
refused (exit 2) with the limit named, before the rest is read or merged.
"""

from __future__ import annotations

import pytest

from renderer.stages.layers import MAX_RENDER_BYTES, MAX_RENDER_VALUES, Layer, merge_layers


def layer(kind, values, merge=None, name=None):
    return Layer(kind, name or kind, f"{kind}.yaml", values, {}, (), merge or {})


def test_merge_by_name_of_two_large_lists_merges_every_item_once_in_order():
    size = 8000
    merged = merge_layers([
        layer("defaults", {"jetstream": {"imagePullSecrets": [{"name": f"s{i}"} for i in range(size)]}},
              merge={"*.imagePullSecrets": "mergeBy:name"}),
        layer("overlay", {"jetstream": {"imagePullSecrets": [{"name": f"s{i}", "n": i}
                                                             for i in range(size // 2, size + size // 2)]}}),
    ])
    items = merged.values["jetstream"]["imagePullSecrets"]
    assert [item["name"] for item in items] == [f"s{i}" for i in range(size + size // 2)]
    assert [item.get("n") for item in items[:3]] == [None, None, None]
    assert items[size // 2] == {"name": f"s{size // 2}", "n": size // 2}
    assert merged.provenance.origin(("jetstream", "imagePullSecrets", size, "n")).layer == "overlay"


def test_merge_by_key_keeps_its_order_with_repeated_and_missing_keys():
    merged = merge_layers([
        layer("defaults", {"x": [{"k": 1, "v": "a"}, {"v": "no key"}, {"k": 1, "v": "repeat"}]},
              merge={"x": "mergeBy:k"}),
        layer("overlay", {"x": [{"k": 2}, {"k": 1, "v": "b"}, {"v": "no key either"}, {"k": 2, "w": 1}]}),
    ])
    # the first item with a key takes every later one with it; items without the key are appended
    assert merged.values["x"] == [{"k": 1, "v": "b"}, {"v": "no key"}, {"k": 1, "v": "repeat"},
                                  {"k": 2, "w": 1}, {"v": "no key either"}]


def app_with_overlays(make_app, count: int, items: int, strategy: str = "append", key: str = "startArgs"):
    files = {}
    for index in range(count):
        if strategy == "mergeBy:name":
            body = "".join(f"      - {{name: o{index}-{i}}}\n" for i in range(items))
        else:
            body = "".join(f"      - o{index}-{i}\n" for i in range(items))
        files[f"overlays/o{index}.yaml"] = (f"merge:\n  jetstream.{key}: {strategy}\nvalues:\n  jetstream:\n"
                                            f"    {key}:\n{body}")
    names = ", ".join(f"o{index}" for index in range(count))
    return make_app(f"backend: jetstream\noverlays: [{names}]\n", files=files)


LIMIT = f"{MAX_RENDER_VALUES:,}"


def refused(result, *fragments):
    assert result.code == 2, (result.code, result.err[-2000:])
    assert result.out == "" and "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err, result.err


def test_forty_overlays_each_appending_twenty_thousand_items_are_refused_naming_the_limit(make_app, cli, tmp_path):
    app = app_with_overlays(make_app, 40, 20_000)
    out = tmp_path / "out"
    refused(cli("render", "--app", app, "-o", out), f"the render reads more than {LIMIT} values",
            "the limit of one render")
    assert not out.exists()


def test_many_overlays_of_plain_values_are_refused_by_the_same_limit(make_app, cli):
    files = {f"overlays/o{index}.yaml": "values:\n  annotations:\n" + "".join(
        f"    example.com/k{index}-{i}: v\n" for i in range(20_000)) for index in range(12)}
    app = make_app("backend: jetstream\noverlays: [" + ", ".join(f"o{i}" for i in range(12)) + "]\n", files=files)
    refused(cli("render", "--app", app), f"more than {LIMIT} values", "overlays/o")


def test_small_layers_that_merge_into_one_large_list_are_refused_by_what_the_merge_holds(make_app, cli):
    big = "".join(f"      - {{name: s{i}}}\n" for i in range(24_000))
    files = {"profiles/big.yaml": "extends: dev\nmerge:\n  jetstream.imagePullSecrets: mergeBy:name\nvalues:\n"
                                  "  jetstream:\n    imagePullSecrets:\n" + big}
    for index in range(30):
        files[f"overlays/o{index}.yaml"] = f"values:\n  jetstream:\n    imagePullSecrets: [{{name: o{index}}}]\n"
    app = make_app("backend: jetstream\nprofile: big\noverlays: [" + ", ".join(f"o{i}" for i in range(30)) + "]\n",
                   files=files)
    refused(cli("render", "--app", app), f"more than {LIMIT} values", "merging overlay")
    refused(cli("explain", "--app", app), f"more than {LIMIT} values")


@pytest.mark.parametrize("args", [("--set", "jetstream.startArgs=[" + ", ".join(["a"] * 20_000) + "]")])
def test_values_from_the_command_line_count_too(make_app, cli, args):
    app = app_with_overlays(make_app, 4, 20_000)
    refused(cli("render", "--app", app, *args, "--set", "jetstream.replicas=3"), f"more than {LIMIT} values")


def test_many_files_of_long_strings_are_refused_by_the_bytes_a_render_reads(make_app, cli):
    files = {f"overlays/o{i}.yaml": f"values:\n  annotations:\n    example.com/o{i}: {'x' * 1_000_000}\n"
             for i in range(20)}
    app = make_app("backend: jetstream\noverlays: [" + ", ".join(f"o{i}" for i in range(20)) + "]\n", files=files)
    refused(cli("render", "--app", app), f"the render reads more than {MAX_RENDER_BYTES:,} bytes of files",
            "overlays/o16.yaml")


def test_one_file_at_the_per_file_limit_still_renders(make_app, cli):
    app = app_with_overlays(make_app, 1, 45_000)
    result = cli("explain", "--app", app, "jetstream.replicas")
    assert result.code == 0, result.err
