"""``check --all`` and ``check FILE...``: the guards of every environment of many apps, judged as ``render --all``.

The apps are found by :mod:`renderer.commands.discovery` and rendered by
:func:`renderer.commands.bulk.render_app` in the pool of ``render --all``
(:func:`renderer.commands.bulk.map_chunks`); the workers evaluate the guards
and hand back each check as plain data (a text block, a JSON object, SARIF
results), which is serialised once. The whole-tree checks of ``render --all``
apply too: two apps rendering the same EventBus fail with its message, also
when only one of them changed (``check FILE...`` renders the others for it).

Every file is named relative to the root (``apps/billing/eventbus-render.yaml:4:1``).
The text report is one stream on stdout: per check a ``== app [environment] ==``
header followed by its findings or its error, then a summary line. JSON and
SARIF reports are one document on stdout; errors and the summary line go to
stderr as well.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from renderer.commands.bulk import conflicts, map_chunks, relocated, relocated_file, relocated_message, render_app
from renderer.commands.tree import Options


@dataclass(slots=True)
class Checked:
    """One app and environment checked: its report as data (for the format asked), counts and exit code."""

    app: str
    environment: str
    text: str = ""
    record: dict = field(default_factory=dict)
    results: list = field(default_factory=list)
    errors: int = 0
    warnings: int = 0
    waived: int = 0
    failure: str = ""
    code: int = 0
    idle: tuple = ()  # waivers naming no environment that matched nothing here: (index, what, where, owner)


@dataclass(slots=True)
class Report:
    """The outcome of a check of many apps: exit code, stdout and stderr text."""

    code: int
    out: str
    err: str = ""


# -- in the workers -----------------------------------------------------------------------------


def _sarif_result(finding, root: Path, app: str, repo_root: Path, label: str) -> dict:
    """One SARIF result as :func:`renderer.stages.guards.report.sarif_result` writes it, located from ``repo_root``."""
    from renderer.stages import sources
    from renderer.stages.guards.report import sarif_result

    origin = finding.origin
    if origin is not None and origin.file.startswith("builtin:"):
        uri, line, column = origin.file, origin.line or 1, origin.column
    else:
        if origin is not None and sources.is_repository_file(origin.file):  # named from the repository root
            found = sources.real_path(root / app if app != "." else root, origin.file)
        else:
            found = root / origin.file if origin is not None and origin.file else None
        if found is not None and found.is_file():
            target, line, column = found, origin.line or 1, origin.column
        else:
            target, line, column = root / relocated_file(sources.APP_FILE, app), 1, None
        uri = Path(os.path.relpath(target.resolve(), repo_root)).as_posix()
    return sarif_result(finding, uri, line, column, prefix=f"[{label}] ")


def label_of(root: str, app: str, environment: str) -> str:
    """``apps/billing [prod]``: how a check is named in every report."""
    return f"{app if app != '.' else root} [{environment}]"


def _evaluated(root: Path, app: str, entry, rendered, fmt: str, repo_root: Path, today) -> tuple:
    from renderer.stages import guards

    evaluation = guards.evaluate(rendered, today=today)
    findings = [relocated(f, app) for f in evaluation.findings]
    checked = Checked(app, entry.environment, errors=len(evaluation.errors), warnings=len(evaluation.warnings),
                      waived=len(evaluation.waived))
    if evaluation.idle and rendered.app.environments:
        # a waiver that names no environment is judged over all of them, in the parent (check_tree)
        idle = set(evaluation.idle)
        checked.idle = tuple((w.index, f"waiver for {w.rule} at {w.path_text}", _where(w.location, app),
                              w.owner) for w in guards.parse_waivers(rendered.app)
                             if w.index in idle and w.environments is None)
    if fmt == "json":
        checked.record = {"app": app, "environment": entry.environment,
                          "eventbus": {"name": rendered.name, "namespace": rendered.namespace,
                                       "backend": rendered.backend, "profile": rendered.profile.name},
                          "summary": {"errors": checked.errors, "warnings": checked.warnings,
                                      "waived": checked.waived},
                          "findings": [f.as_dict() for f in findings], "waivers": list(evaluation.waivers)}
    elif fmt == "sarif":
        label = label_of(str(root), app, entry.environment)
        checked.results = [_sarif_result(f, root, app, repo_root, label) for f in findings]
    elif findings:
        checked.text = guards.format_report(dataclasses.replace(evaluation, findings=findings)) + "\n"
    else:
        checked.text = f"guards: no violations (profile '{evaluation.profile}', backend {rendered.backend})\n"
    return checked, evaluation


def _check_chunk(root: str, apps: list, fmt: str, repo_root: str, judged, options: Options):
    """Check ``apps`` (those in ``judged``; the others only rendered): ``(entries, checks, rule levels)``."""
    root_path, repo = Path(root), Path(repo_root)
    entries, checks, levels = [], [], None
    for app in apps:
        if judged is not None and app not in judged:
            app_entries, _ = render_app(root_path, app, options, guarded=False)
            entries.extend(app_entries)
            continue
        kept: list = []
        app_entries, failures = render_app(root_path, app, options, keep=kept, guarded=False)
        entries.extend(app_entries)
        app_checks = [failed(app, f.environment, f.message, f.exit_code) for f in failures]
        for made, rendered in kept:  # the guards judge a render once, named by its EventBus (made[0])
            from renderer.errors import RendererError

            try:
                checked, evaluation = _evaluated(root_path, app, made[0], rendered, fmt, repo, options.today)
            except RendererError as exc:  # a guards block that does not read, a profile weakening what it shadows
                app_checks.append(failed(app, made[0].environment, relocated_message(exc, app), exc.exit_code))
                continue
            app_checks.append(checked)
            if levels is None and fmt == "sarif":
                levels = {rule: config.level for rule, config in evaluation.config.items()}
        checks.extend(sorted(app_checks, key=lambda c: c.environment))
    return entries, checks, levels


def failed(app: str, environment: str, message: str, code: int = 2) -> Checked:
    """A check that could not run (bad input, a conflict): its error message, counted as one error."""
    text = message.rstrip("\n")
    text = text if text.startswith("error") else "error: " + text
    return Checked(app, environment, text=text + "\n", errors=1, failure=text, code=code)


# -- in the parent ------------------------------------------------------------------------------


def check_tree(root, apps: list, fmt: str = "text", *, strict: bool = False, repo_root=None,
               known: dict | None = None, everything: list | None = None, jobs: int | None = None) -> Report:
    """Check every environment of ``apps`` (app directories below ``root``) in the pool of ``render --all``.

    ``everything`` (when given) is every app of the tree: those not in
    ``apps`` are rendered too, so an EventBus that one of ``apps`` shares
    with any other app is refused as ``render --all`` refuses it.
    """
    from renderer.stages.guards.report import repository_root

    root = Path(root)
    repo = Path(os.path.realpath(repo_root)) if repo_root else repository_root(root)
    judged = None if everything is None else frozenset(apps)
    items = apps if everything is None else everything
    results = map_chunks(_check_chunk, items,
                         lambda chunk: (str(root), chunk, fmt, str(repo), judged, Options()), jobs=jobs, known=known)
    entries, checks, levels = [], [], None
    for chunk_entries, chunk_checks, chunk_levels in results:
        entries.extend(chunk_entries)
        checks.extend(chunk_checks)
        levels = levels if levels is not None else chunk_levels
    entries.sort(key=lambda e: e.key)
    by_target = {(c.app, c.environment): c for c in checks}
    for conflict in conflicts(entries):
        target = by_target.get((conflict.app, conflict.environment))
        problem = failed(conflict.app, conflict.environment, conflict.message)
        if target is None:
            checks.append(problem)
        else:
            target.text += problem.text
            target.failure = problem.failure
            target.errors += 1
            target.code = 2
    _judge_idle_waivers(checks, fmt, str(root))
    summary = _summary(len(apps), checks)
    errors, warnings = sum(c.errors for c in checks), sum(c.warnings for c in checks)
    code = max([c.code for c in checks] + [1 if errors else 0, 1 if strict and warnings else 0])
    if fmt == "text":
        blocks = [f"== {label_of(str(root), c.app, c.environment)} ==\n{c.text}" for c in checks]
        return Report(code, "".join(blocks) + summary + "\n")
    err = "".join(f"{label_of(str(root), c.app, c.environment)}: {c.failure}\n" for c in checks if c.failure)
    if fmt == "json":
        records = []
        for c in checks:
            record = c.record or {"app": c.app, "environment": c.environment}
            if c.failure:
                record["error"] = c.failure
            records.append(record)
        document = {"summary": _counts(len(apps), checks), "checks": records}
    else:
        document = _sarif_log(str(root), checks, levels or {})
    return Report(code, json.dumps(document, indent=2, ensure_ascii=False) + "\n", err + summary + "\n")


def _where(location, app: str) -> str:
    """``apps/a/eventbus-render.yaml:12:5``: a waiver's place, named relative to the root."""
    return str(dataclasses.replace(location, file=relocated_file(location.file, app)))


def _judge_idle_waivers(checks: list, fmt: str, root: str) -> None:
    """A waiver that names no environment is unused only when it matched nothing in every environment of its
    app: then one warning, on the app's first environment; a waiver needed somewhere is never called unused."""
    by_app: dict = {}
    for c in checks:
        by_app.setdefault(c.app, []).append(c)
    for app, app_checks in by_app.items():
        if any(c.failure for c in app_checks):
            continue  # an environment that did not render cannot vouch for its waivers
        common = set.intersection(*(set(c.idle) for c in app_checks))
        for _index, what, where, owner in sorted(common):
            message = f"{what} matches no violation in any environment ({where}, owner: {owner})"
            first = app_checks[0]
            first.warnings += 1
            if fmt == "json":
                first.record.setdefault("findings", []).append(
                    {"rule": "waiver", "level": "warning", "waived": False, "message": message,
                     "fix": "remove the waiver"})
            elif fmt == "sarif":
                first.results.append({"ruleId": "waiver", "level": "warning",
                                      "message": {"text": f"[{label_of(root, app, first.environment)}] {message}"}})
            else:
                first.text += f"warning[waiver] {message}\n  fix: remove the waiver\n"


def _counts(apps: int, checks: list) -> dict:
    environments = {c.environment for c in checks if c.environment != "*"}
    return {"apps": apps, "environments": len(environments), "errors": sum(c.errors for c in checks),
            "warnings": sum(c.warnings for c in checks), "waived": sum(c.waived for c in checks)}


def _summary(apps: int, checks: list) -> str:
    """``check: 2 apps, 2 environments: 1 error, 0 warnings, 0 waived``."""
    from renderer.stages.guards import plural

    counts = _counts(apps, checks)
    return (f"check: {plural(counts['apps'], 'app')}, {plural(counts['environments'], 'environment')}: "
            f"{plural(counts['errors'], 'error')}, {plural(counts['warnings'], 'warning')}, {counts['waived']} waived")


def _sarif_log(root: str, checks: list, levels: dict) -> dict:
    """One SARIF 2.1.0 log, one run: every check's results, and every error as a tool notification."""
    from renderer import __version__
    from renderer.stages.guards.report import SARIF_SCHEMA, sarif_rules

    rules = sarif_rules(levels)
    notes = [{"level": "error", "message": {"text": f"[{label_of(root, c.app, c.environment)}] {c.failure}"}}
             for c in checks if c.failure]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "eventbus-render", "version": __version__, "rules": rules}},
        "invocations": [{"executionSuccessful": not notes, "toolExecutionNotifications": notes}],
        "results": [result for c in checks for result in c.results]}]}
