"""The names a user types, found for the command line: profiles, overlays and environments, with where each comes
from, and the shell completion of them (click's ``shell_complete``).

A name resolves in the app directory, then in its repository layer (the
nearest ``.eventbus-render/`` above it), then among the built-ins
(:func:`renderer.stages.tree.places`). ``list``, ``show`` and the completion
all ask :func:`lookup` which places an app directory sees, so they agree with
what ``render`` would load.

Completion never fails: a directory that is no app, a broken app file or a
broken repository layer completes nothing rather than printing a traceback
into the shell.
"""

from __future__ import annotations

from pathlib import Path


def lookup(app_dir):
    """The places names resolve in for ``app_dir``: its own folders only when it is an app directory (holds an app
    file, ``profiles/`` or ``overlays/``), its repository layer, the built-ins."""
    from renderer.stages import sources

    root = Path(app_dir if app_dir is not None else ".")
    where = sources.places(root)
    is_app = (root / sources.APP_FILE).is_file() or (root / "profiles").is_dir() or (root / "overlays").is_dir()
    return where if is_app else tuple(place for place in where if place.where != sources.APP)


def _app_dir(ctx) -> str:
    """The ``--app`` given so far on the command line being completed (``.`` when none)."""
    while ctx is not None:
        value = ctx.params.get("app_dir")
        if value:
            return value
        ctx = ctx.parent
    return "."


def _complete(kind: str):
    def complete(ctx, param, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        from renderer.errors import RendererError
        from renderer.stages import sources

        try:
            found = sources.available(kind, lookup(_app_dir(ctx)))
        except (RendererError, OSError):
            return []
        return [CompletionItem(name, help=place.label) for name, (_, place) in found.items()
                if name.startswith(incomplete)]

    return complete


complete_profile = _complete("profiles")
"""Completes a profile name visible from ``--app``."""
complete_overlay = _complete("overlays")
"""Completes an overlay name visible from ``--app``."""


def complete_environment(ctx, param, incomplete: str) -> list:
    """Completes an environment name of the app file in ``--app``."""
    from renderer.errors import RendererError
    from renderer.stages import sources

    try:
        environments = sources.load_app(Path(_app_dir(ctx))).environments
    except (RendererError, OSError):
        return []
    return [name for name in sorted(environments) if name.startswith(incomplete)]


def complete_shown(ctx, param, incomplete: str) -> list:
    """Completes the NAME of ``show profile NAME`` / ``show overlay NAME``."""
    kind = "overlays" if ctx.command.name == "overlay" else "profiles"
    return _complete(kind)(ctx, param, incomplete)
