"""Evaluation: the guards take what they need from the Rendered they are given, and keep nothing of it."""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from renderer import context
from renderer.errors import Location
from renderer.stages import guards
from tests.guards.conftest import TODAY

STREAM = {"jetstream": {"streamConfig": "maxAge: [72h\n"}}


def test_the_guards_never_import_the_pipeline_not_even_inside_a_function():
    imported = set()
    for module in Path(guards.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
    assert "renderer.stages.guards.evaluation" in imported  # the walk sees the package's own imports
    assert not {name for name in imported if name.startswith(("renderer.pipeline", "renderer.commands"))}
    code = "import sys, renderer.stages.guards; print('renderer.pipeline' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_changing_the_configuration_an_evaluation_hands_back_changes_no_later_evaluation(evaluate):
    with context.run():
        first = evaluate("jetstream", {"jetstream": {"replicas": 4}})
        first.config["replica-count"].params["min"] = 1
        first.config["replica-count"].params["odd"] = False
        first.config["persistence"].params["accessModes"].append("ReadOnlyMany")
        first.config["persistence"].where.clear()
        second = evaluate("jetstream", {"jetstream": {"replicas": 4}})
    assert second.config["replica-count"].params == {"min": 3, "max": None, "odd": True}
    assert "ReadOnlyMany" not in second.config["persistence"].params["accessModes"]
    assert second.config["persistence"].where
    assert [f.rule for f in second.errors] == ["replica-count"]


def _module_state() -> dict:
    """Every dict, list and set held by a module of the guards package, by module and name."""
    state = {}
    for name, module in sorted(sys.modules.items()):
        if name.startswith("renderer.stages.guards"):
            for key, value in vars(module).items():
                if isinstance(value, (dict, list, set)) and not key.startswith("__"):
                    state[(name, key)] = repr(value)
    return state


@pytest.mark.parametrize("in_a_run", [False, True], ids=["outside-a-run", "inside-a-run"])
def test_evaluating_leaves_nothing_behind_in_the_guards_modules(evaluate, in_a_run):
    evaluate("jetstream", None)  # every module imported
    before = _module_state()
    with context.run() if in_a_run else contextlib.nullcontext():
        evaluate("jetstream", {"jetstream": {"replicas": 4, **STREAM["jetstream"]}})
        evaluate("jetstream", None, profile="staging")
    assert _module_state() == before


def test_a_stream_config_read_once_in_a_run_gives_the_same_finding_again(evaluate):
    with context.run():
        first = [f.actual for f in evaluate("jetstream", STREAM).findings if f.path_text.endswith("streamConfig")]
        second = [f.actual for f in evaluate("jetstream", STREAM).findings if f.path_text.endswith("streamConfig")]
    assert first == second
    assert [text.split(" (")[0] for text in first] == ["line 2: streamConfig is not valid YAML"]


def test_params_and_waivers_cannot_change_once_made():
    param = guards.Param("int", "fewest replicas allowed", stricter="higher")
    waiver = guards.Waiver(0, "replica-count", None, "why", "team", date.fromisoformat(TODAY), Location("f.yaml"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        param.kind = "bool"
    with pytest.raises(dataclasses.FrozenInstanceError):
        waiver.rule = "capacity"
    assert dataclasses.replace(param, nullable=True).type_text() == "integer or null"


def test_a_finding_without_a_message_says_actual_versus_expected():
    assert guards.Finding("replica-count", actual="4 replicas", expected="an odd count").message == (
        "4 replicas, expected an odd count")
    assert guards.Finding("replica-count", actual="4 replicas").message == "4 replicas"
    assert guards.Finding("replica-count", message="own words", actual="4").message == "own words"
