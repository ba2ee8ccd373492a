"""Machine-readable forms of an :class:`~renderer.stages.guards.model.Evaluation`: JSON and SARIF 2.1.0.

SARIF results are located at the file and line that set the offending value
(the provenance of the merged values), relative to the repository, so code
scanning annotates the line of a pull request that introduced a violation.
Values set by the command line, and values no layer set, are located at the
app file, where a fix would go. Built-in files keep their ``builtin:`` name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from renderer import __version__
from renderer.stages import sources, tree
from renderer.stages.guards.model import WAIVER_DESCRIPTION, WAIVER_RULE, describe_origin
from renderer.stages.guards.registry import RULES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "off": "none"}


def as_json(evaluation, rendered) -> str:
    """The evaluation as a JSON document (stable key order, no absolute paths)."""
    document = {
        "eventbus": {"name": rendered.name, "namespace": rendered.namespace, "backend": rendered.backend,
                     "profile": rendered.profile.name, "environment": rendered.environment},
        "summary": {"errors": len(evaluation.errors), "warnings": len(evaluation.warnings),
                    "waived": len(evaluation.waived)},
        "findings": [f.as_dict() for f in evaluation.findings],
        "waivers": list(evaluation.waivers),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def repository_root(app_root: Path) -> Path:
    """The Git work tree holding ``app_root`` with its symlinks resolved (:func:`tree.repository_root`), else the
    current directory."""
    found = tree.repository_root(str(app_root.resolve()))
    return Path(found) if found is not None else Path.cwd().resolve()


def _artifact(origin, rendered, repo_root: Path) -> tuple[str, int, int | None]:
    """``(uri, line, column)`` of the file that set a value; the app file when no file did."""
    if origin is not None and origin.file.startswith("builtin:"):
        return origin.file, origin.line or 1, origin.column
    found = sources.real_path(rendered.app.root, origin.file) if origin is not None and origin.file else None
    if found is not None and found.is_file():
        target, line, column = found.parent.resolve() / found.name, origin.line or 1, origin.column
    else:
        target, line, column = rendered.app.root.resolve() / sources.APP_FILE, 1, None
    return Path(os.path.relpath(target, repo_root)).as_posix(), line, column


def _rule_descriptor(rule_id: str, short: str, full: str, help_text: str, level: str) -> dict:
    return {"id": rule_id, "name": rule_id, "shortDescription": {"text": short}, "fullDescription": {"text": full},
            "help": {"text": help_text}, "defaultConfiguration": {"level": _SARIF_LEVEL.get(level, "error")}}


def sarif_rules(levels: dict) -> list:
    """The rule table of a SARIF run: every guard of the registry (at ``levels[rule]``) and the waiver rule."""
    rules = [_rule_descriptor(rule_id, module.DESCRIPTION, module.DESCRIPTION + " " + module.RATIONALE,
                              (module.__doc__ or "").strip(), levels.get(rule_id, "error"))
             for rule_id, module in RULES.items()]
    rules.append(_rule_descriptor(WAIVER_RULE, WAIVER_DESCRIPTION, WAIVER_DESCRIPTION,
                                  "Waivers need rule, reason, owner and expires (YYYY-MM-DD, UTC, inclusive).",
                                  "error"))
    return rules


def sarif_result(finding, uri: str, line: int, column: int | None, prefix: str = "") -> dict:
    """One SARIF result for ``finding``, located at ``uri:line:column``; ``prefix`` starts its message."""
    region = {"startLine": line}
    if column:
        region["startColumn"] = column
    text = f"{finding.path_text}: {finding.message}" if finding.path else finding.message
    text += f" ({describe_origin(finding.origin)})."
    if finding.fix:
        text += f" Fix: {finding.fix}."
    result = {
        "ruleId": finding.rule,
        "ruleIndex": [*RULES, WAIVER_RULE].index(finding.rule),
        "level": _SARIF_LEVEL[finding.level],
        "message": {"text": prefix + text},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}],
        "properties": {"manifestPath": finding.path_text, "actual": finding.actual,
                       "expected": finding.expected, "fix": finding.fix},
    }
    if finding.waived and finding.waiver is not None:
        w = finding.waiver
        result["suppressions"] = [{"kind": "inSource", "status": "accepted",
                                   "justification": f"{w.reason} (owner {w.owner}, until {w.expires.isoformat()})"}]
    return result


def as_sarif(evaluation, rendered, repo_root: Path | None = None) -> str:
    """The evaluation as a SARIF 2.1.0 log with one run; rules come from the registry."""
    repo_root = Path(os.path.realpath(repo_root or repository_root(rendered.app.root)))
    rules = sarif_rules({rule_id: config.level for rule_id, config in evaluation.config.items()})
    results = [sarif_result(finding, *_artifact(finding.origin, rendered, repo_root))
               for finding in evaluation.findings]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "eventbus-render", "version": __version__, "rules": rules}},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
