"""Guards: rules evaluated on the merged values and the rendered manifest.

This package is filled in by the guards work (one module per rule). The
render pipeline calls :func:`evaluate` and fails on error-severity findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Evaluation:
    """Outcome of the guards for one render: findings and the waivers in force."""

    findings: list = field(default_factory=list)
    waivers: list = field(default_factory=list)

    @property
    def errors(self) -> list:
        """Findings that fail the render (error severity, not waived)."""
        return [f for f in self.findings if getattr(f, "level", "error") == "error" and not getattr(f, "waived", False)]


def evaluate(rendered) -> Evaluation:
    """Run the guards the profile chain enables against ``rendered``."""
    return Evaluation()


def format_report(evaluation: Evaluation) -> str:
    """Text report of the findings, for stderr."""
    return "\n".join(str(f) for f in evaluation.findings)
