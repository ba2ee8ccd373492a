"""The ``diff`` command: export the revisions, render both sides, compare them, print the report.

A git revision is read from the object database into a temporary folder
(:mod:`renderer.commands.gitrefs`), the working tree is rendered in place,
and ``--against DIR`` reads a tree committed by ``render --all``. The
exported revisions are removed before the command returns (also when it is
stopped by SIGINT, SIGTERM or SIGHUP): the base as soon as it is rendered,
the rest while the report is written.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from renderer import processes
from renderer.commands import bulk, gitrefs
from renderer.commands.diff.comparison import compare
from renderer.commands.diff.formats import format_json, format_markdown, format_text
from renderer.commands.diff.model import Comparison
from renderer.commands.diff.sides import render_both
from renderer.errors import InputError, OutputError, UsageError
from renderer.stages import sources


def checked(tree, label: str) -> list:
    """The entries of ``tree``; a failed render is a :class:`renderer.commands.bulk.RenderAllError` naming the side."""
    if tree.failures:
        total = tree.renders
        raise bulk.RenderAllError(tree.failures, total, "nothing was compared",
                                  title=f"{label} does not render: {len(tree.failures)} of {total} renders failed")
    return tree.entries


def export_side(checkout, ref: str, workdir: Path, name: str, reuse: dict | None = None) -> tuple[Path, str]:
    """Export the app directories below the root at ``ref``, and the repository layers they use (at the root,
    below it or above it); returns the root inside the export and the label.

    The export gets an empty ``.git`` folder at its top, as Argo CD's copy of a
    repository keeps one, so that the lookup of the repository layer stops at
    the export's top as it stops at the work tree's. ``reuse`` is shared by
    the exports of one comparison: a file both revisions hold is written once
    and hard-linked into the other export.
    """
    commit = gitrefs.resolve(checkout.toplevel, ref)
    prefix_parts = checkout.prefix.split("/") if checkout.prefix else []
    above = tuple("/".join(prefix_parts[:depth] + [sources.LAYER_FOLDER]) for depth in range(len(prefix_parts)))
    entries = gitrefs.list_tree(checkout.toplevel, commit, checkout.prefix, above)
    app_dirs = {path.rpartition("/")[0] for _, _, path in entries
                if path == sources.APP_FILE or path.endswith("/" + sources.APP_FILE)}
    holders = set()  # every folder at or above an app directory: its layer may be there
    for folder in app_dirs:
        while folder not in holders:
            holders.add(folder)
            if not folder:
                break
            folder = folder.rpartition("/")[0]

    def wanted(path: str) -> bool:
        folder, _, layer = path.partition("/" + sources.LAYER_FOLDER + "/")
        if layer or path.startswith(sources.LAYER_FOLDER + "/"):
            return (folder if layer else "") in holders
        folder = path.rpartition("/")[0]
        while True:
            if folder in app_dirs:
                return True
            if not folder:
                return False
            folder = folder.rpartition("/")[0]

    destination = workdir / name
    gitrefs.export(checkout.toplevel, commit, [e for e in entries if wanted(e[2])], destination, reuse)
    (destination / sources.REPOSITORY_MARK).mkdir(exist_ok=True)
    root = destination / checkout.prefix if checkout.prefix else destination
    return root, f"{ref} ({commit[:12]})" if ref != commit else commit[:12]


def run_diff(root: Path, *, base: str | None = None, head: str | None = None, against: Path | None = None,
             context: int = 3, cleanup: list | None = None) -> tuple[Comparison, str]:
    """Render both sides and compare them. Returns the comparison and the output format of the trees.

    The revisions are exported to a temporary folder, removed before this
    returns; or, with ``cleanup``, by a thread appended to it, which the
    caller joins when it has written its report.
    """
    root = Path(root)
    if (base is None) == (against is None):
        raise UsageError("pass either --base REF or --against DIR",
                         hint="e.g. diff --base origin/main, or diff --against rendered/")
    if not root.is_dir():
        raise InputError(f"root {str(root)!r} is not a directory", hint="pass --root DIR")
    workdir = None
    try:
        checkout = gitrefs.locate(root) if (base is not None or head is not None) else None
        if checkout is not None:
            # resolve both refs before any work, so a typo fails fast
            for ref in (base, head):
                if ref is not None:
                    gitrefs.resolve(checkout.toplevel, ref)
            with processes.signals_blocked():  # made and remembered for removal, or not made
                workdir = _temporary_folder()
        base_root = given = None
        reuse: dict = {}
        if against is not None:
            fmt, given = bulk.read_index(against)
            base_label = str(against).rstrip("/") + "/"
        else:
            fmt = "yaml"
            base_root, base_label = _exported(checkout, base, workdir, "base", reuse)
        if head is not None:
            head_root, head_label = _exported(checkout, head, workdir, "head", reuse)
            head_text = f"the head {head_label}"
        else:
            head_root, head_label, head_text = root, "working tree", "the working tree"
        skip = (against,) if against is not None and head is None else ()
        sides = render_both(base_root if base_root is not None and base_root.is_dir() else None, head_root,
                            bulk.Options(fmt=fmt), base_entries=given, skip=skip, context=context)
        if cleanup is not None and workdir is not None and base_root is not None:
            remove_in_background(workdir / "base", cleanup)  # the base is in memory now
        if sides.unreadable:
            total = len(given or ())
            raise bulk.RenderAllError(sides.unreadable, total, "nothing was compared",
                                      title=f"the rendered tree {base_label} does not read: "
                                            f"{len(sides.unreadable)} of {total} files")
        if sides.base_tree is not None:
            checked(sides.base_tree, f"the base {base_label}")
        checked(sides.head_tree, head_text)
        comparison = compare(sides.base, sides.head, base_label=base_label, head_label=head_label,
                             context=context, deltas=sides.deltas)
    finally:
        if workdir is not None:
            if cleanup is None:
                gitrefs.remove_tree(workdir)
            else:
                remove_in_background(workdir, cleanup)
    return comparison, fmt


def _temporary_folder() -> Path:
    """A new private folder for the exported revisions; an :class:`OutputError` when there is no writable one."""
    try:
        return Path(tempfile.mkdtemp(prefix="eventbus-render-diff-"))
    except OSError as exc:
        raise OutputError(f"diff --base exports the revisions to a temporary folder and cannot make one: "
                          f"{exc.strerror or exc}",
                          hint="set TMPDIR to a writable folder, or compare with a rendered tree: "
                               "diff --against DIR") from None


def _exported(checkout, ref: str, workdir: Path, name: str, reuse: dict):
    """:func:`export_side`, a write that fails (a full temporary folder) an :class:`OutputError`."""
    try:
        return export_side(checkout, ref, workdir, name, reuse)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise OutputError(f"could not export {ref} to the temporary folder{where}: {exc.strerror or exc}",
                          hint="free space in TMPDIR, or set TMPDIR to another folder") from None


def remove_in_background(path: Path, cleanup: list) -> None:
    """Remove ``path`` in a thread appended to ``cleanup``, after the removals already there."""
    import threading

    earlier = list(cleanup)

    def remove():
        for thread in earlier:  # a folder inside this one may still be going
            thread.join()
        gitrefs.remove_tree(path)

    removal = threading.Thread(target=remove, name="remove-exports")
    removal.start()
    cleanup.append(removal)


def use_color(choice: str) -> bool:
    """Whether ``--color choice`` colours the text report."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()
@click.command("diff")
@click.option("--base", metavar="REF", help="Git revision to compare from (branch, tag or commit).")
@click.option("--head", metavar="REF", help="Git revision to compare to. Default: the working tree.")
@click.option("--against", metavar="DIR", type=click.Path(path_type=Path),
              help="Compare with a tree written by render --all instead of a git revision.")
@click.option("--root", metavar="DIR", default=".", show_default=True, type=click.Path(path_type=Path),
              help="Folder searched for app directories.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True, help="text for a terminal, markdown for a pull-request comment, json for tools.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything changed.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour the text format (auto: when stdout is a terminal and NO_COLOR is unset).")
@click.option("-U", "--context", type=click.IntRange(0, 1000), default=3, show_default=True,
              help="Lines of context around each change.")
def diff_command(base, head, against, root, fmt, exit_code, color, context):
    """Show which manifests change in which environment between two revisions.

    Renders every environment of every app below --root at --base and at
    --head (or the working tree), then prints the changes per environment
    and object, the guard findings that appear or disappear, and the changes
    the cluster will refuse, that leave the bus undeployed, or that recreate
    an EventBus.
    """
    from renderer.commands import pool
    from renderer.commands.common import emit_text

    cleanup: list = []
    try:
        with pool.paused_gc():  # a bulk command: see renderer.commands.pool.paused_gc
            comparison, _ = run_diff(root, base=base, head=head, against=against, context=context,
                                     cleanup=cleanup)
            if fmt == "json":
                text = format_json(comparison)
            elif fmt == "markdown":
                text = format_markdown(comparison)
            else:
                text = format_text(comparison, color=use_color(color))
        emit_text(text)
    finally:
        for removal in cleanup:  # the exported revisions, removed while the report was written
            removal.join()
    return 1 if exit_code and comparison.changed else 0
