"""A render hands its caller objects of its own: changing them changes no later render.

Two apps share a profile and an overlay; app A is rendered and everything it
gave back (values, manifest, merged values, the app file's and the profiles'
and overlays' data) is changed in place; app B then renders exactly as it
renders alone. Checked in one run (as ``render --all`` and the pytest plugin
share caches) and across runs.
"""

from __future__ import annotations

import pytest

from renderer import context
from renderer.pipeline import RenderRequest, render
from renderer.stages import emit

PROFILE = """\
description: shared
extends: prod
values:
  jetstream:
    replicas: 5
    metadata:
      labels:
        team: shared
"""
OVERLAY = """\
description: shared overlay
values:
  labels:
    tier: gold
  jetstream:
    tolerations:
      - key: dedicated
        operator: Equal
        value: events
        effect: NoSchedule
"""


def _app(root, name):
    app = root / name
    (app / "profiles").mkdir(parents=True)
    (app / "overlays").mkdir()
    (app / "profiles" / "shared.yaml").write_text(PROFILE)
    (app / "overlays" / "extra.yaml").write_text(OVERLAY)
    (app / "eventbus-render.yaml").write_text(
        f"name: {name}\nnamespace: events\nbackend: jetstream\nprofile: shared\noverlays: [extra]\n"
        "values:\n  jetstream:\n    version: 2.10.29\n    persistence:\n      storageClassName: fast\n"
        "      volumeSize: 40Gi\n")
    return app


def _mutate(value, seen):
    """Change every mapping and list reachable from ``value`` in place."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        for key in list(value):
            child = value[key]
            if isinstance(child, (dict, list)):
                _mutate(child, seen)
            else:
                value[key] = "MUTATED"
        value["mutated-key"] = {"x": 1}
    elif isinstance(value, list):
        for index, child in enumerate(value):
            if isinstance(child, (dict, list)):
                _mutate(child, seen)
            else:
                value[index] = "MUTATED"
        value.append("MUTATED")


def _mutate_everything(rendered):
    seen: set = set()
    for target in (rendered.values, rendered.manifest, rendered.merged.values, rendered.app.values,
                   rendered.app.doc.data, rendered.app.environments):
        _mutate(target, seen)
    for loaded in (*rendered.profiles, *rendered.overlays):
        _mutate(loaded.values, seen)
        _mutate(loaded.doc.data, seen)


def _text(app):
    return emit.yaml_stream([render(RenderRequest(app_dir=app)).manifest])


@pytest.mark.parametrize("one_run", [True, False], ids=["in one run", "across runs"])
def test_changing_what_a_render_returned_changes_no_later_render(tmp_path, one_run):
    a, b = _app(tmp_path, "a"), _app(tmp_path, "b")
    alone, a_alone = _text(b), _text(a)
    assert "tier: gold" in alone and "replicas: 5" in alone
    if one_run:
        with context.run():
            _mutate_everything(render(RenderRequest(app_dir=a)))
            assert _text(b) == alone
            assert _text(a) == a_alone
    else:
        _mutate_everything(render(RenderRequest(app_dir=a)))
        assert _text(b) == alone
