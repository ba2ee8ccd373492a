"""``diff`` renders an environment of the head only when something it reads differs from the base."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from renderer.commands import bulk as review
from renderer.commands.diff import reuse
from renderer.commands.diff.sides import render_both
from tests.review.helpers import SMALL
from tests.review.test_render_all import write

APP = """\
backend: jetstream
namespace: orders
profile: small
overlays: [monitoring]
environments:
  dev: {}
  prod:
    overlays: [region]
"""
REGION = "values:\n  jetstream:\n    nodeSelector:\n      topology.kubernetes.io/region: eu-west1\n"


@pytest.fixture
def sides(tmp_path):
    files = {"apps/orders/eventbus-render.yaml": APP, "apps/orders/profiles/small.yaml": SMALL,
             "apps/orders/overlays/region.yaml": REGION}
    return write(tmp_path / "base", files), write(tmp_path / "head", files)


def rendered_by_environment(root: Path) -> dict:
    kept: list = []
    review.render_app(root, "apps/orders", review.Options(), keep=kept)
    return {made[0].environment: rendered for made, rendered in kept}


def texts(tree) -> dict:
    return {(entry.environment, entry.kind): entry.text for entry in tree.entries}


def test_only_an_environment_whose_inputs_differ_is_rendered_again(sides):
    base, head = sides
    (head / "apps/orders/overlays/region.yaml").write_text(REGION.replace("eu-west1", "eu-west4"))
    rendered = rendered_by_environment(base)
    assert reuse.same_inputs(base / "apps/orders", head / "apps/orders", rendered["dev"])
    assert not reuse.same_inputs(base / "apps/orders", head / "apps/orders", rendered["prod"])
    sides = render_both(base, head, review.Options())
    assert texts(sides.head_tree) == texts(review.render_root(head, jobs=1))  # reuse changes nothing
    assert set(sides.deltas) == {("prod", "apps/orders", "EventBus")}


@pytest.mark.parametrize("change, reusable", [
    ("a local overlay now shadows the built-in", set()),  # both environments use monitoring
    ("a .yaml now shadows the .yml", {"dev"}),  # only prod uses region
    ("the app has templates of its own", set()),
    ("the app file changed", set()),
    ("a file became a symlink", {"dev"}),
])
def test_whatever_the_head_would_read_differently_is_rendered_again(sides, change, reusable):
    base, head = sides
    if change == "a local overlay now shadows the built-in":
        write(head, {"apps/orders/overlays/monitoring.yaml": "values:\n  labels:\n    shadow: \"yes\"\n"})
    elif change == "a .yaml now shadows the .yml":
        for side in (base, head):
            os.rename(side / "apps/orders/overlays/region.yaml", side / "apps/orders/overlays/region.yml")
        write(head, {"apps/orders/overlays/region.yaml": REGION.replace("eu-west1", "eu-west4")})
    elif change == "the app has templates of its own":
        shutil.copy(Path(review.__file__).parents[1] / "templates" / "jetstream.yaml.j2",
                    write(head, {"apps/orders/templates/.keep": ""}) / "apps/orders/templates/jetstream.yaml.j2")
    elif change == "the app file changed":
        write(head, {"apps/orders/eventbus-render.yaml": APP + "# a comment\n"})
    else:
        region = head / "apps/orders/overlays/region.yaml"
        os.rename(region, head / "apps/orders/region-target.yaml")
        os.symlink("../region-target.yaml", region)
    rendered = rendered_by_environment(base)
    assert {env for env, r in rendered.items()
            if reuse.same_inputs(base / "apps/orders", head / "apps/orders", r)} == reusable
    sides = render_both(base, head, review.Options())
    assert texts(sides.head_tree) == texts(review.render_root(head, jobs=1))
