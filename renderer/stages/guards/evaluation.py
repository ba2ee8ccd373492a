"""Evaluation: run every rule in force over a Rendered, locate each finding, apply the waivers.

Everything comes from the ``rendered`` object passed in (its manifest, merged
values with their provenance, profile chain and app); nothing here imports
the pipeline. The resolved configuration of a profile chain is remembered for
the current run only (:func:`renderer.context.cache`), and every evaluation
gets its own copy of it.
"""

from __future__ import annotations

from renderer import context
from renderer.stages import companions
from renderer.stages.guards.configuration import resolve_config
from renderer.stages.guards.model import Evaluation
from renderer.stages.guards.registry import RULES
from renderer.stages.guards.waivers import apply_waivers, parse_waivers, today_utc
from renderer.stages.layers import Origin

_MISSING = object()
_SEVERITY = {"error": 0, "warning": 1}


def _origin_of(rendered, path: tuple) -> Origin | None:
    """Origin of a rendered value (at a render path: the EventBus's, or a companion's after its kind): the layer
    that set (or deleted) it; None when no layer set it."""
    values_path = companions.values_path(path, rendered.section_path)
    if values_path and rendered.merged.provenance.settings(values_path):
        return rendered.origin_of_manifest_path(path)
    if companions.lookup(rendered.manifest, rendered.companions, path, _MISSING) is _MISSING:
        return None
    return rendered.origin_of_manifest_path(path)


def config_of(profiles: list) -> dict:
    """:func:`resolve_config` of a profile chain, resolved once per run and copied for each caller."""
    # keyed by what each profile is made of: its name, place, and its file's display name and bytes
    # (Document.key); and by the places below the last one, where the profile it shadows (its floor) is found
    key = (tuple((p.name, p.place.where, p.doc.key) for p in profiles), profiles[-1].below if profiles else ())
    cache = context.cache("guards.config")
    config = cache.get(key)
    if config is None:
        config = cache[key] = resolve_config(profiles)
    return {rule_id: rc.copy() for rule_id, rc in config.items()}


def evaluate(rendered, today=None) -> Evaluation:
    """Run every guard the profile chain enables against ``rendered``; ``today`` (UTC) decides waiver expiry.

    Raises :class:`InputError` for a bad ``guards`` block or a malformed waiver.
    """
    config = config_of(rendered.profiles)
    waivers = parse_waivers(rendered.app)
    findings = []
    for rule_id, module in RULES.items():
        rc = config[rule_id]
        if rc.level == "off":
            continue
        for finding in module.check(rendered, rc.params):
            finding.level = rc.level
            if not finding.located:
                finding.origin = _origin_of(rendered, finding.path)
            findings.append(finding)
    problems, applied, idle = apply_waivers(findings, waivers, config, today_utc(today) if waivers else None,
                                            rendered.profile.name, rendered)
    findings.extend(problems)
    findings.sort(key=lambda f: (f.waived, _SEVERITY.get(f.level, 2)))
    return Evaluation(findings, applied, config, rendered.profile.name, idle)


def format_report(evaluation: Evaluation) -> str:
    """Text report of the findings (one block per finding, then a summary line), for stderr."""
    if not evaluation.findings:
        return ""
    blocks = [str(f) + _waiver_text(f) for f in evaluation.findings]
    blocks.append(f"guards: {evaluation.summary()} (profile '{evaluation.profile}')")
    return "\n".join(blocks)


def _waiver_text(finding) -> str:
    """The lines under a waivable violation that show the waiver excusing exactly it."""
    if finding.waived or not finding.waiver_block:
        return ""
    return "\n  to waive exactly this value, add to the app file's waivers (fill in reason, owner, expires):\n" + \
        "\n".join("    " + line for line in finding.waiver_block.splitlines())
