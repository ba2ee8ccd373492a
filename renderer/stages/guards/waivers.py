"""Waivers: the app file's ``waivers`` read into :class:`Waiver` s and applied to findings.

The app file's ``waivers`` excuse single violations until a date (UTC,
inclusive). Nothing else can: overlays, environments, ``--set`` and plugin
parameters reach the values only. A waiver names the manifest ``path`` and the
``value`` it accepts there: it excuses violations of its rule at or below that
path while the manifest holds that very value there (compared with types:
``4`` is not ``"4"``), in the ``environments`` it names (every one when it
names none). When the value differs the waiver is stale: the violation is an
error again, and so is the waiver, saying what it accepts and what the manifest
holds. The path is read with :func:`renderer.paths.parse_path` (so
``metadata.labels["a.b/c"]`` and ``metadata.labels.a\\.b/c`` are one path).

Every waivable violation carries the block that would waive it
(:func:`waiver_block`): approving is copying.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from renderer import paths
from renderer.errors import InputError, Location
from renderer.stages import companions, emit, sources
from renderer.stages.guards.model import WAIVER_RULE, Finding, Waiver, raise_all
from renderer.stages.guards.structure import expiry_date, structural_errors
from renderer.stages.layers import Origin
from renderer.suggest import did_you_mean

if TYPE_CHECKING:  # datetime costs ~2 ms to import; only waivers need it
    from datetime import date

PLACEHOLDERS = ("reason: <why this value is acceptable>", "owner: <person or team>",
                "expires: <YYYY-MM-DD, the last day it holds>")
"""The lines of a printed waiver block the approver fills in."""


def parse_waivers(app) -> list[Waiver]:
    """The app file's ``waivers``; malformed entries (and environments the app file does not list) are
    :class:`InputError` s located at file:line."""
    if not app.waivers:
        return []
    doc = app.doc
    errors = structural_errors(doc, "waivers", app.waivers)
    if errors:
        raise_all(errors)
    known = list(app.environments or ())
    out = []
    for index, entry in enumerate(app.waivers):
        base = ("waivers", index)
        try:
            path = paths.parse_path(entry["path"], what="waiver path", example="spec.jetstream.replicas")
        except InputError as error:
            errors.append(InputError(error.message, location=doc.where(base + ("path",)), hint=error.hint))
            continue
        environments = entry.get("environments")
        if environments is not None:
            unknown = [(i, name) for i, name in enumerate(environments) if name not in known]
            for i, name in unknown:
                if not known:
                    hint = "the app file lists no environments: remove 'environments' from the waiver"
                else:  # the suggestion ends this hint: no space after it
                    hint = did_you_mean(str(name), known).rstrip() or "known: " + ", ".join(known)
                errors.append(doc.error(base + ("environments", i), f"waiver for {entry['rule']} names environment "
                                        f"{name!r}, which the app file does not list", hint=hint))
            if unknown:
                continue
            environments = tuple(environments)
        line, column = doc.marks.get(base, (None, None))
        out.append(Waiver(index, entry["rule"], path, (entry.get("reason") or "").strip(), entry["owner"].strip(),
                          expiry_date(entry["expires"]), Location(doc.display, line, column, paths.format_path(base)),
                          entry["value"], environments))
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


def show_value(value) -> str:
    """``value`` as YAML in one line, as a waiver's ``value`` is written: ``4``, ``"2.10"``, ``{a: 1}``, ``null``.

    Scalars are written by the one YAML writer (:func:`renderer.stages.emit.scalar`), so a value reads back
    as the manifest holds it in PyYAML and go-yaml alike; lists and mappings in flow style around them.
    """
    if isinstance(value, list):
        return "[" + ", ".join(show_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{show_value(str(k))}: {show_value(v)}" for k, v in value.items()) + "}"
    return emit.scalar(value)


def same_value(a, b) -> bool:
    """Equal with types: ``true`` is not ``1``, ``"4"`` is not ``4``; mappings and lists item by item."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def manifest_value(rule: str, manifest: dict, path: tuple, beside: list = ()):
    """What a waiver of ``rule`` at render path ``path`` compares and shows: the value there in the EventBus
    ``manifest`` or, after its kind, in an object ``beside`` it (None when nothing is set), with credentials in
    URLs masked for external-credentials (a report never prints them)."""
    value = companions.lookup(manifest, list(beside), path)
    if rule != "external-credentials":
        return value
    from renderer.stages.guards.external_credentials import mask

    def hide(node):
        if isinstance(node, str):
            return mask(node)
        if isinstance(node, dict):
            return {k: hide(v) for k, v in node.items()}
        if isinstance(node, list):
            return [hide(v) for v in node]
        return node

    return hide(value)


def waiver_block(finding: Finding, value, environment: str | None) -> str:
    """The entry of the app file's ``waivers`` that waives exactly ``finding`` (the manifest holding ``value``
    at its path) in ``environment``, with placeholders for reason, owner and expiry."""
    lines = [f"- rule: {finding.rule}", f"  path: {show_value(finding.path_text)}",
             f"  value: {show_value(value)}" + ("  # nothing is set at this path" if value is None else "")]
    if environment:
        lines.append(f"  environments: [{show_value(environment)}]")
    lines.extend("  " + line for line in PLACEHOLDERS)
    return "\n".join(lines)


def _waiver_finding(waiver: Waiver, level: str, actual: str, fix: str) -> Finding:
    origin = Origin("app", sources.APP_FILE, waiver.location.file, waiver.location.line, waiver.location.column)
    return Finding(WAIVER_RULE, level, path=("waivers", waiver.index), actual=actual, fix=fix, origin=origin,
                   located=True)


def _unusable(w: Waiver, config: dict, today: date, profile: str) -> Finding | None:
    """The error that keeps ``w`` from waiving anything (no reason, expired, rule not waivable), or None."""
    who = f"owner: {w.owner}"
    if not w.reason:
        return _waiver_finding(w, "error", f"waiver for {w.rule} has no reason ({who})",
                               f"{w.owner}: say why the violation is acceptable, or remove the waiver")
    if today > w.expires:
        return _waiver_finding(w, "error", f"waiver for {w.rule} expired on {w.expires.isoformat()} ({who})",
                               f"{w.owner}: fix the violation and remove the waiver, or renew 'expires' with a "
                               "current reason")
    if not config[w.rule].waivable:
        return _waiver_finding(w, "error", f"waiver for {w.rule}, which profile '{profile}' does not allow to be "
                               f"waived ({who})", f"{w.owner}: fix the violation; a waiver cannot excuse {w.rule}")
    return None


def apply_waivers(findings: list, waivers: list, config: dict, today: date | None, profile: str,
                  rendered=None) -> tuple[list, list, list]:
    """Mark waived findings and give every other waivable one its :func:`waiver_block`; return the waiver
    findings, the annotation entries of the waivers applied, and the indexes of the waivers meant for this
    environment that matched nothing here (for a caller judging every environment of an app at once).

    Only the waivers meant for the environment rendered are judged; a waiver that matches nothing is a
    warning to remove it when it names this environment, or when the app file has no environments (an
    app-wide waiver of an app with environments may be needed by another one, so it is not judged here).
    """
    environment = getattr(rendered, "environment", None)
    manifest = getattr(rendered, "manifest", None) or {}
    beside = getattr(rendered, "companions", None) or []
    problems: list = []
    usable = []
    for w in waivers:
        if not w.holds_in(environment):
            continue
        problem = _unusable(w, config, today, profile)
        if problem is None:
            usable.append(w)
        else:
            problems.append(problem)
    applied: list = []
    stale: dict = {}
    for finding in findings:
        for w in usable:
            if not w.matches(finding):
                continue
            actual = manifest_value(w.rule, manifest, w.path, beside)
            if same_value(actual, w.value):
                finding.waived, finding.waiver = True, w
                if w not in applied:
                    applied.append(w)
                break
            stale.setdefault(w.index, (w, finding.level, actual))
    for w, level, actual in stale.values():
        if w not in applied:
            problems.append(_waiver_finding(
                w, level, f"waiver for {w.rule} at {w.path_text} is stale: it accepts {show_value(w.value)}, the "
                f"manifest has {show_value(actual)} (owner: {w.owner})",
                f"{w.owner}: fix the violation, or approve the value now rendered with the block printed under it"))
    with_environments = bool(getattr(getattr(rendered, "app", None), "environments", None))
    idle = []
    for w in usable:
        if w in applied or w.index in stale or config[w.rule].level == "off":
            continue
        idle.append(w.index)
        if w.environments is None and with_environments:
            continue  # may be needed by another environment: not this render's to judge
        others = [name for name in w.environments or () if name != environment]
        fix = (f"remove {environment!r} from its environments ({', '.join(others)} remain)" if others
               else "remove the waiver")
        where = f" in environment {environment!r}" if environment else ""
        problems.append(_waiver_finding(w, "warning", f"waiver for {w.rule}" + (f" at {w.path_text}" if w.path else "")
                                        + f" matches no violation{where}", fix))
    for finding in findings:
        rc = config.get(finding.rule)
        if not finding.waived and rc is not None and rc.waivable:
            value = manifest_value(finding.rule, manifest, finding.path, beside)
            finding.waiver_block = waiver_block(finding, value, environment)
    return problems, [w.annotation for w in sorted(applied, key=lambda w: w.index)], idle
