"""The guard catalogue is generated from the code, and every rule module keeps the contract it is generated from."""

from __future__ import annotations

import inspect

import pytest

from renderer.stages.guards import RULES, Param, catalogue
from tests.conftest import ROOT

REFRESH = "run: .venv/bin/python -m renderer.stages.guards.catalogue --write"


def test_docs_guards_md_is_the_generated_catalogue():
    assert (ROOT / "docs" / "guards.md").read_text() == catalogue.generate(1), REFRESH


def test_write_refreshes_the_docs_page(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guards.md").write_text("stale\n")
    assert [p.name for p in catalogue.write(tmp_path)] == ["guards.md"]
    assert (tmp_path / "docs" / "guards.md").read_text() == catalogue.generate(1)


@pytest.mark.parametrize("rule_id", list(RULES))
def test_every_rule_module_has_id_description_rationale_typed_parameters_and_documented_examples(rule_id):
    module = RULES[rule_id]
    assert rule_id == module.ID
    assert module.DESCRIPTION.endswith(".") and module.RATIONALE.endswith(".")
    assert set(module.PARAMS) == set(module.DEFAULTS)
    for name, param in module.PARAMS.items():
        assert isinstance(param, Param)
        assert param.problem(module.DEFAULTS[name]) is None, name
    doc = inspect.getdoc(module)
    assert "Passing" in doc and "Failing" in doc
    assert inspect.isgeneratorfunction(module.check)


def test_the_catalogue_lists_every_rule_with_its_built_in_levels():
    text = catalogue.generate(1)
    for rule_id in RULES:
        assert f"\n## {rule_id}\n" in text
        assert f"| [`{rule_id}`](#{rule_id}) |" in text
