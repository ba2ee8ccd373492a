"""State owned by one run: the caches of one command, gone when it ends.

A command (``render``, ``render --all``, ``check``, ``diff``, one Argo CD
generate) opens a run with :func:`run`; every stage that remembers something
(parsed files, listings, merged profile chains, compiled templates) keeps it
in ``cache(NAME)`` of the current run, keyed by what it was computed from
(a path and its bytes, a name), never by ``id()``. Outside a run nothing is
remembered, so an in-process caller of :func:`renderer.pipeline.render` gets
the same answer as a fresh process.

What a run hands back to its caller is its own: documents read from disk are
never handed out by reference (stages copy or freeze them), so a caller that
changes what it got cannot change the next render.
"""

from __future__ import annotations

import contextlib
import contextvars

_CURRENT: contextvars.ContextVar = contextvars.ContextVar("eventbus_render_run", default=None)


class Run:
    """The caches of one run, by name."""

    __slots__ = ("_caches",)

    def __init__(self):
        self._caches: dict = {}

    def cache(self, name: str) -> dict:
        """The cache called ``name`` of this run (made empty on first use)."""
        found = self._caches.get(name)
        if found is None:
            found = self._caches[name] = {}
        return found


@contextlib.contextmanager
def run():
    """Open a run (or join the one already open): ``with context.run(): ...``."""
    if _CURRENT.get() is not None:
        yield _CURRENT.get()
        return
    token = _CURRENT.set(Run())
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def cache(name: str) -> dict:
    """The cache called ``name`` of the current run; outside a run a new empty dict that nobody keeps."""
    current = _CURRENT.get()
    return current.cache(name) if current is not None else {}
