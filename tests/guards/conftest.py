"""Shared harness of the guard tests: one case is one line.

Each case renders a real app directory in tmp_path through the real renderer
(load -> merge -> template -> validate) and evaluates the guards. An overlay
``base`` holds values that pass every prod guard for its backend
(``PASSING``); the case's own values go in an overlay ``case`` on top, so a case is only what it
changes, ``null`` deletes, and provenance points at ``overlays/case.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from renderer.pipeline import RenderRequest, render
from renderer.stages import guards
from tests.files import write_files

TODAY = "2026-06-15"
"""The fixed clock of every guard test (UTC)."""

PASSING = {
    "nats-native": {"nats": {"native": {"priorityClassName": "eventbus-critical"}}},
    "nats-exotic": {"nats": {"exotic": {"url": "nats://nats.messaging.svc:4222", "clusterID": "stan", "auth": "token",
                                        "accessSecret": {"name": "nats-client", "key": "token"}}}},
    "jetstream": {"jetstream": {"priorityClassName": "eventbus-critical"}},
    "jetstream-exotic": {"jetstreamExotic": {"url": "nats://jetstream.messaging.svc:4222",
                                             "accessSecret": {"name": "js-client", "key": "credentials"}}},
    "kafka": {"kafka": {"url": "kafka-0.kafka.data.svc:9093", "topic": "argo-events", "tls": {"enabled": True},
                        "sasl": {"mechanism": "SCRAM-SHA-512", "userSecret": {"name": "kafka-user", "key": "user"},
                                 "passwordSecret": {"name": "kafka-user", "key": "password"}}}},
}
"""Connection values each backend needs from the app to pass the built-in prod profile (and, for the backends
whose pods Argo Events runs, the priority class the prod profile warns about without)."""


def write_case(root: Path, backend: str, values=None, *, profile: str = "prod", name: str = "default",
               extra: dict | None = None, files: dict | None = None) -> Path:
    """An app directory: ``PASSING`` values in overlay ``base``, then ``values`` in overlay ``case``."""
    (root / "overlays").mkdir(parents=True, exist_ok=True)
    app = {"name": name, "backend": backend, "profile": profile, "overlays": ["base"]}
    (root / "overlays" / "base.yaml").write_text(yaml.safe_dump({"values": PASSING[backend]}, sort_keys=False))
    if values is not None:
        app["overlays"].append("case")
        (root / "overlays" / "case.yaml").write_text(yaml.safe_dump({"values": values}, sort_keys=False))
    app.update(extra or {})
    (root / "eventbus-render.yaml").write_text(yaml.safe_dump(app, sort_keys=False))
    return write_files(root, files or {}, dedent=False)


@pytest.fixture
def evaluate(tmp_path):
    """``evaluate(backend, values, **options)`` -> the :class:`~renderer.stages.guards.Evaluation` of a fresh app."""
    counter = iter(range(1_000_000))

    def run(backend: str, values=None, *, sets=(), today=TODAY, **options):
        root = write_case(tmp_path / f"app{next(counter)}", backend, values, **options)
        rendered = render(RenderRequest(root, sets=tuple(sets), run_guards=False))
        return guards.evaluate(rendered, today=today)

    return run


@pytest.fixture
def violations(evaluate):
    """``violations(rule, backend, values, **options)`` -> the paths ``rule`` reports, as printed."""

    def run(rule: str, backend: str, values=None, **options) -> list[str]:
        return [f.path_text for f in evaluate(backend, values, **options).findings if f.rule == rule]

    return run


@pytest.fixture
def findings(evaluate):
    """``findings(rule, backend, values, **options)`` -> the :class:`~renderer.stages.guards.Finding` s of ``rule``."""

    def run(rule: str, backend: str, values=None, **options) -> list:
        return [f for f in evaluate(backend, values, **options).findings if f.rule == rule]

    return run
