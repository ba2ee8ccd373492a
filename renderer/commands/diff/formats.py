"""The report of a comparison, for a terminal (text), a pull-request comment (markdown) or tools (JSON).

Every format says the same things in the same order: a summary line of
counts, the changes the cluster refuses, that leave the bus undeployed, or that
recreate an EventBus (loudly, first), then per environment each changed object with its notices, the layer
that set each changed value, the guard findings that appeared or
disappeared, and its unified diff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from renderer.commands.diff.model import (
    NOTICE_KINDS,
    RECREATE,
    REFUSED,
    SELECTOR,
    STATUS_TEXT,
    STUCK,
    Comparison,
    plural,
)

MARKDOWN_BUDGET = 60_000
"""Characters of diff text in a markdown report (GitHub comments hold 65,536)."""
MARKDOWN_MARKER = "<!-- eventbus-render-diff -->"
"""First line of the markdown report, so CI can find and update its earlier comment."""
STATUS_MARK = {"added": "+", "removed": "-", "changed": "~", "renamed": ">", "guards": "!"}
COLOURS = {"bold": "1", "red": "31", "green": "32", "yellow": "33", "cyan": "36", "red_bold": "1;31",
           "yellow_bold": "1;33"}
"""ANSI codes of the text format's styles."""


@dataclass(frozen=True, slots=True)
class Style:
    """ANSI colours, or none: ``style(text, "bold")``."""

    enabled: bool

    def __call__(self, text: str, style: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{COLOURS[style]}m{text}\x1b[0m"


def finding_text(finding: dict) -> str:
    """One guard finding in a sentence: ``warning replica-count at spec.jetstream.replicas: ...``."""
    waived = " (waived)" if finding.get("waived") else ""
    where = f" at {finding['path']}" if finding.get("path") else ""
    return f"{finding.get('level', '')}{waived} {finding.get('rule', '')}{where}: {finding.get('message', '')}"


def short(value) -> str:
    """A value as JSON, cut to 48 characters; ``(unset)`` for a missing one."""
    text = "(unset)" if value is None else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 48 else text[:45] + "..."


def why(item: dict) -> str:
    """``path: old -> new, set by layer (file:line)`` for one changed leaf."""
    origin = item["origin"]
    where = origin["file"] + (f":{origin['line']}" if origin.get("line") else "")
    verb = "removed by" if item["head"] is None else "set by"
    return (f"{item['path']}: {short(item['base'])} -> {short(item['head'])}, {verb} {origin['layer']} "
            f"{origin['name']} ({where})")


def env_counts(env) -> str:
    """``1 added, 2 changed`` for one environment."""
    return ", ".join(f"{n} {STATUS_TEXT[s]}" for s, n in sorted(env.counts().items()))


def format_text(comparison: Comparison, color: bool = False) -> str:
    """The report for a terminal: summary, loud notices, then per environment each object's diff."""
    style = Style(color)
    out = [style(f"eventbus-render diff: {comparison.base_label} -> {comparison.head_label}", "bold"),
           comparison.summary_line()]
    notices = comparison.notices
    if notices:
        out.append("")
        for env, change, notice in notices:
            tag, colour = NOTICE_KINDS[notice.kind]
            out.append(style(f"{tag:<8}", colour) + f" {env} {change.title}: {notice.message}")
    for env in comparison.changed:
        note = f" (environment {env.status})" if env.status in ("added", "removed") else ""
        out.append("")
        out.append(style(f"=== {env.name}{note}: {env_counts(env)} ===", "bold"))
        for change in env.objects:
            out.append("")
            out.append(style(f"{STATUS_MARK[change.status]} {change.title} [{STATUS_TEXT[change.status]}]",
                             "bold") + f" (app {change.entry.app})")
            for notice in change.notices:
                tag, colour = NOTICE_KINDS[notice.kind]
                out.append("  " + style(tag, colour) + f": {notice.full}")
            for item in change.changes:
                if item.get("origin"):
                    out.append(f"  {why(item)}")
            for finding in change.appeared:
                out.append("  " + style("guard +", "yellow") + " " + finding_text(finding))
            for finding in change.disappeared:
                out.append("  " + style("guard -", "green") + " " + finding_text(finding))
            out.extend(_diff_lines(change.diff, style))
    return "\n".join(out) + "\n"


def _diff_lines(diff: str, style: Style) -> list:
    out = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")):
            out.append(style(line, "bold"))
        elif line.startswith("@@"):
            out.append(style(line, "cyan"))
        elif line.startswith("+"):
            out.append(style(line, "green"))
        elif line.startswith("-"):
            out.append(style(line, "red"))
        else:
            out.append(line)
    return out


def fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``."""
    longest, run = 0, 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def md(text: str) -> str:
    """Inline text safe in markdown: no HTML, no stray emphasis or table syntax."""
    for char in "\\`*_[]<>|":
        text = text.replace(char, "\\" + char)
    return text


def code(text: str) -> str:
    """Inline code that survives backticks in ``text``."""
    ticks = "``" if "`" in text else "`"
    return f"{ticks}{text.replace(chr(10), ' ')}{ticks}" if ticks == "`" else f"{ticks} {text} {ticks}"
def format_markdown(comparison: Comparison, budget: int = MARKDOWN_BUDGET) -> str:
    """A pull-request comment: summary first, loud notices, then one collapsible section per environment."""
    out = [MARKDOWN_MARKER,
           f"### EventBus changes: {code(comparison.base_label)} → {code(comparison.head_label)}", "",
           f"**{md(comparison.summary_line())}**"]
    notices = comparison.notices
    groups = ((REFUSED, "CAUTION", "The Argo Events webhook, when installed, will refuse these updates"),
              (STUCK, "CAUTION", "Kubernetes will refuse the controller these StatefulSet updates"),
              (RECREATE, "WARNING", "These changes recreate an EventBus"),
              (SELECTOR, "WARNING", "These disruption budgets select other pods"))
    for kind, alert, title in groups:
        group = [t for t in notices if t[2].kind == kind]
        if group:
            out += ["", f"> [!{alert}]", f"> **{title}:**"]
            for env, change, notice in group:
                out.append(f"> - **{md(env)}** {code(change.title)}: {md(notice.message)}")
    spent = 0
    omitted = 0
    for env in comparison.changed:
        counts = env_counts(env)
        kinds = {n.kind for o in env.objects for n in o.notices}
        flags = [kind for kind in NOTICE_KINDS if kind in kinds]
        note = f" (environment {env.status})" if env.status in ("added", "removed") else ""
        flag_text = "".join(f" · <b>{f}</b>" for f in flags)
        out += ["", "<details>", f"<summary><b>{md(env.name)}</b>{note}: {counts}{flag_text}</summary>", ""]
        for change in env.objects:
            out.append(f"**{code(change.title)}** {STATUS_TEXT[change.status]} (app {code(change.entry.app)})")
            out.append("")
            for notice in change.notices:
                out.append(f"- **{notice.kind}**: {md(notice.full)}")
            for item in change.changes:
                if item.get("origin"):
                    out.append(f"- {md(why(item))}")
            for finding in change.appeared:
                out.append(f"- guard finding **appears**: {md(finding_text(finding))}")
            for finding in change.disappeared:
                out.append(f"- guard finding **disappears**: {md(finding_text(finding))}")
            if change.notices or change.appeared or change.disappeared or any(c.get("origin") for c in
                                                                               change.changes):
                out.append("")
            if change.diff:
                if spent + len(change.diff) > budget:
                    omitted += 1
                    out += [f"_Diff omitted ({len(change.diff.splitlines())} lines) to keep this comment under "
                            "GitHub's size limit; run `eventbus-render diff` locally to see it._", ""]
                else:
                    spent += len(change.diff)
                    ticks = fence(change.diff)
                    out += [f"{ticks}diff", change.diff.rstrip("\n"), ticks, ""]
        out.append("</details>")
    if omitted:
        out += ["", f"_{plural(omitted, 'diff')} omitted for size._"]
    return "\n".join(out) + "\n"


def format_json(comparison: Comparison) -> str:
    """Everything, for tools."""
    doc = {
        "base": comparison.base_label,
        "head": comparison.head_label,
        "changed": bool(comparison.changed),
        "summary": comparison.summary(),
        "environments": [
            {"name": env.name, "status": env.status, "unchanged": env.unchanged,
             "objects": [o.as_dict() for o in env.objects]}
            for env in comparison.environments
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

