"""The ``check`` and ``guards`` commands: run the guards without printing manifests, and list them.

``check`` exits 0 when no error-severity violation remains (warnings and
waived violations are reported but pass; ``--strict`` fails on warnings too),
1 on violations, 2 on bad input (raised as :class:`~renderer.errors.InputError`
and reported by ``cli.main``).
"""

from __future__ import annotations

import click

from renderer.commands.common import (
    build_request,
    emit_text,
    layer_options,
    profile_option,
)


@click.command("check")
@layer_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True,
              help="Report format: text, JSON, or SARIF 2.1.0 for code-scanning annotations.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@click.option("--repo-root", metavar="DIR", type=click.Path(file_okay=False, path_type=str),
              help="Root that SARIF locations are relative to (default: the Git work tree holding --app or --root).")
@click.option("--all", "check_all", is_flag=True,
              help="Check every environment of every app directory below --root.")
@click.option("--root", metavar="DIR", default=".", show_default=True,
              help="Root searched by --all and that FILEs are relative to.")
@click.argument("files", nargs=-1, metavar="[FILE]...")
def check_command(app_dir, profile, overlays, sets, set_strings, environment, fmt, strict, repo_root, check_all,
                  root, files):
    """Run the guards on an app's EventBus and report violations; print no manifest.

    With --all, or with FILEs (as pre-commit passes the changed files), every
    environment of every app directory concerned is checked, with the
    whole-tree checks of render --all, and a summary line ends the report.
    """
    from pathlib import Path

    if check_all or files:
        from renderer.errors import UsageError

        if profile or overlays or sets or set_strings or environment:
            raise UsageError("--all and FILEs take only --root, --format, --strict and --repo-root",
                             hint="each app's own profile, overlays and environments are used")
        report = check_many_report(Path(root), list(files), fmt, strict=strict, repo_root=repo_root)
        if report.err:
            from renderer.commands.common import warn

            warn(report.err)
        emit_text(report.out)
        return report.code

    request = build_request(app_dir, profile, overlays, sets, set_strings, environment)
    code, text = check_app(request, fmt, strict=strict, repo_root=Path(repo_root) if repo_root else None)
    emit_text(text)
    return code


def check_app(request, fmt: str = "text", *, strict: bool = False, repo_root=None) -> tuple[int, str]:
    """Render ``request`` (a :class:`~renderer.pipeline.RenderRequest`) and run its guards.

    Returns the exit code (1 when an error-severity violation remains, or a
    warning with ``strict``; else 0) and the report in ``fmt`` (text, json or
    sarif). Bad input raises :class:`~renderer.errors.RendererError`.
    """
    from renderer import context
    from renderer.pipeline import render
    from renderer.stages import guards

    request.run_guards = False
    with context.run():
        rendered = render(request)
        evaluation = guards.evaluate(rendered)
        if fmt == "json":
            from renderer.stages.guards.report import as_json

            text = as_json(evaluation, rendered)
        elif fmt == "sarif":
            from renderer.stages.guards.report import as_sarif

            text = as_sarif(evaluation, rendered, repo_root)
        elif evaluation.findings:
            text = guards.format_report(evaluation) + "\n"
        else:
            text = f"guards: no violations (profile '{evaluation.profile}', backend {rendered.backend})\n"
    failed = evaluation.errors or (strict and evaluation.warnings)
    return (1 if failed else 0), text


# -- many apps (pre-commit, CI) -----------------------------------------------------------------


def check_many_report(root, files: list, fmt: str, *, strict: bool = False, repo_root=None):
    """``check --all`` (no ``files``) or ``check FILE...``: a :class:`renderer.commands.checkall.Report`.

    The apps are found as ``render --all`` finds them; with ``files`` only the
    apps holding one are checked, but every app is rendered, so a conflict
    with an unchanged app is refused too.
    """
    from renderer.commands.checkall import check_tree
    from renderer.commands.common import require_apps
    from renderer.commands.discovery import changed_apps, discover

    known: dict = {}
    everything = discover(root, seen=known)
    if not files:
        require_apps(everything, root)  # a changed-file list may rightly hold no app file; a tree may not
    apps = changed_apps(files, root, everything) if files else everything
    return check_tree(root, apps, fmt, strict=strict, repo_root=repo_root, known=known,
                      everything=everything if files else None)


def check_many(root, apps: list, fmt: str, *, strict: bool = False) -> tuple[int, str]:
    """Check every environment of ``apps`` (below ``root``): the exit code and the report on stdout."""
    from pathlib import Path

    from renderer.commands.checkall import check_tree

    report = check_tree(Path(root), list(apps), fmt, strict=strict)
    return report.code, report.out


@click.command("guards")
@click.option("--app", "app_dir", default=None, metavar="DIR", type=click.Path(file_okay=False, path_type=str),
              help="App directory whose profiles (and its repository layer's) are visible to --profile "
                   "(default: the current directory).")
@profile_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools.")
def guards_command(app_dir, profile, fmt):
    """List every guard: its id, what it checks, why, and its parameters (or their values under --profile)."""
    import json

    from renderer.commands.names import lookup
    from renderer.stages import guards, sources

    config = None
    if profile is not None:
        sources.check_name(profile, None, (), "profile")
        chain = sources.load_profile_chain(profile, lookup(app_dir))
        config = guards.resolve_config(chain)
    if fmt == "json":
        records = []
        for rule_id, module in guards.RULES.items():
            rc = config[rule_id] if config is not None else None
            records.append({
                "id": rule_id, "description": module.DESCRIPTION, "rationale": module.RATIONALE,
                "mandatory": bool(getattr(module, "MANDATORY", False)),
                "level": rc.level if rc is not None else None, "waivable": rc.waivable if rc is not None else None,
                "params": [{"name": name, "type": param.type_text(), "doc": param.doc,
                            "default": module.DEFAULTS[name], "value": rc.params[name] if rc is not None else None}
                           for name, param in module.PARAMS.items()]})
        emit_text(json.dumps({"profile": profile, "guards": records}, indent=2, ensure_ascii=False) + "\n")
        return
    lines = []
    for rule_id, module in guards.RULES.items():
        if config is not None:
            rc = config[rule_id]
            state = rc.level + ("" if rc.waivable or rc.level == "off" else ", not waivable")
            head = f"{rule_id}  [{state} in profile '{profile}']"
        elif getattr(module, "MANDATORY", False):
            head = f"{rule_id}  [an error in every profile, never waivable]"
        else:
            head = rule_id
        lines.append(head)
        lines.append(f"  checks: {module.DESCRIPTION}")
        lines.append(f"  why:    {module.RATIONALE}")
        for name, param in module.PARAMS.items():
            value = config[rule_id].params[name] if config is not None else module.DEFAULTS[name]
            shown = "default" if config is None else "value"
            lines.append(f"  {name}: {param.doc} ({param.type_text()}; {shown} {guards.show_value(value)})")
        lines.append("")
    lines.append("Configure guards in a profile's 'guards:' block; waive one violation in the app file's 'waivers:'.")
    lines.append("The README (and docs/guards.md) has the full catalogue with examples.")
    emit_text("\n".join(lines) + "\n")
