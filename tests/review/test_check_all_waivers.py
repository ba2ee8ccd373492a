"""`check --all` judges a waiver that names no environment over every environment of its app.

A waiver needed in one environment is never called unused because another
environment does not need it (so `--strict` passes); one needed in none is
reported once, as a warning that `--strict` fails on.
"""

from __future__ import annotations

import json

import pytest

APP = """\
name: orders
backend: jetstream
profile: prod
environments:
  prod-eu:
    values: {jetstream: {replicas: %s, priorityClassName: eventbus-critical}}
  prod-us:
    values: {jetstream: {replicas: 5, priorityClassName: eventbus-critical}}
waivers:
  - rule: replica-count
    path: spec.jetstream.replicas
    value: 4
    reason: the fourth zone comes online in March
    owner: team-payments
    expires: 2999-12-31
"""


def tree(tmp_path, replicas):
    app = tmp_path / "apps" / "orders"
    app.mkdir(parents=True)
    (app / "eventbus-render.yaml").write_text(APP % replicas)
    return tmp_path


def test_a_waiver_needed_in_one_environment_is_not_unused_in_another(tmp_path, cli):
    root = tree(tmp_path, 4)
    result = cli("check", "--all", "--root", root, "--strict")
    assert result.code == 0, result.out + result.err
    assert "matches no violation" not in result.out
    assert "1 waived" in result.out


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_a_waiver_needed_in_no_environment_is_one_warning_that_strict_fails_on(tmp_path, cli, fmt):
    root = tree(tmp_path, 5)
    result = cli("check", "--all", "--root", root, "--format", fmt)
    assert result.code == 0, result.out + result.err
    strict = cli("check", "--all", "--root", root, "--format", fmt, "--strict")
    assert strict.code == 1
    text = result.out
    assert text.count("matches no violation in any environment") == 1
    assert "apps/orders/eventbus-render.yaml:10:5" in text
    if fmt == "json":
        assert json.loads(text)["summary"]["warnings"] == 1
    elif fmt == "text":
        assert "1 warning" in text.splitlines()[-1]
