"""Waivers: the app file's ``waivers`` read into :class:`Waiver` s and applied to findings.

The app file's ``waivers`` excuse single violations until a date (UTC,
inclusive). Nothing else can: overlays, environments, ``--set`` and plugin
parameters reach the values only. A waiver's ``path`` is read with
:func:`renderer.paths.parse_path` (so ``metadata.labels["a.b/c"]`` and
``metadata.labels.a\\.b/c`` are one path) and covers that path and
everything below it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from renderer import paths
from renderer.errors import InputError, Location
from renderer.stages import sources
from renderer.stages.guards.model import WAIVER_RULE, Finding, Waiver, raise_all
from renderer.stages.guards.structure import expiry_date, structural_errors
from renderer.stages.layers import Origin

if TYPE_CHECKING:  # datetime costs ~2 ms to import; only waivers need it
    from datetime import date


def parse_waivers(app) -> list[Waiver]:
    """The app file's ``waivers``; malformed entries are :class:`InputError` s located at file:line."""
    if not app.waivers:
        return []
    doc = app.doc
    errors = structural_errors(doc, "waivers", app.waivers)
    if errors:
        raise_all(errors)
    out = []
    for index, entry in enumerate(app.waivers):
        base = ("waivers", index)
        path = entry.get("path")
        if path is not None:
            try:
                path = paths.parse_path(path, what="waiver path", example="spec.jetstream.replicas")
            except InputError as error:
                errors.append(InputError(error.message, location=doc.where(base + ("path",)), hint=error.hint))
                continue
        line, column = doc.marks.get(base, (None, None))
        out.append(Waiver(index, entry["rule"], path, (entry.get("reason") or "").strip(), entry["owner"].strip(),
                          expiry_date(entry["expires"]), Location(doc.display, line, column, paths.format_path(base))))
    raise_all(errors)
    return out


def today_utc(today=None) -> date:
    """The day (UTC) that decides expiry: ``today`` as a date, datetime or ``YYYY-MM-DD``; None for now."""
    from datetime import date, datetime, timezone

    if today is None:
        return datetime.now(timezone.utc).date()
    if isinstance(today, datetime):
        return today.astimezone(timezone.utc).date() if today.tzinfo else today.date()
    if isinstance(today, date):
        return today
    return date.fromisoformat(str(today))


def _waiver_finding(waiver: Waiver, level: str, actual: str, fix: str) -> Finding:
    origin = Origin("app", sources.APP_FILE, waiver.location.file, waiver.location.line, waiver.location.column)
    return Finding(WAIVER_RULE, level, path=("waivers", waiver.index), actual=actual, fix=fix, origin=origin,
                   located=True)


def apply_waivers(findings: list, waivers: list, config: dict, today: date | None, profile: str) -> tuple[list, list]:
    """Mark waived findings; return the waiver findings and the annotation entries of the waivers applied."""
    problems: list = []
    usable = []
    for w in waivers:
        who = f"owner: {w.owner}"
        if not w.reason:
            problems.append(_waiver_finding(w, "error", f"waiver for {w.rule} has no reason ({who})",
                                            f"{w.owner}: say why the violation is acceptable, or remove the waiver"))
        elif today > w.expires:
            problems.append(_waiver_finding(
                w, "error", f"waiver for {w.rule} expired on {w.expires.isoformat()} ({who})",
                f"{w.owner}: fix the violation and remove the waiver, or renew 'expires' with a current reason"))
        elif not config[w.rule].waivable:
            problems.append(_waiver_finding(
                w, "error", f"waiver for {w.rule}, which profile '{profile}' does not allow to be waived ({who})",
                f"{w.owner}: fix the violation; a waiver cannot excuse {w.rule}"))
        else:
            usable.append(w)
    applied: list = []
    for finding in findings:
        for w in usable:
            if w.matches(finding):
                finding.waived, finding.waiver = True, w
                if w not in applied:
                    applied.append(w)
                break
    for w in usable:
        if w not in applied and config[w.rule].level != "off":
            problems.append(_waiver_finding(w, "warning", f"waiver for {w.rule}"
                                            + (f" at {w.path_text}" if w.path else "") + " matches no violation",
                                            "remove the waiver"))
    return problems, [w.annotation for w in sorted(applied, key=lambda w: w.index)]
