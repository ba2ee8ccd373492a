"""pytest plugin of eventbus-render: render app directories inside a repository's own test suite.

Installed with the package and registered through the ``pytest11`` entry
point, it gives every test the ``eventbus_render`` fixture. Combined with a
snapshot library such as syrupy, the rendered manifests of every environment
become snapshot files in the repository, so each pull request shows how it
changes them::

    def test_orders_eventbus(eventbus_render, snapshot):
        assert eventbus_render("deploy/orders", "prod-us-east") == snapshot

    def test_every_environment(eventbus_render, snapshot):
        assert eventbus_render.all("deploy") == snapshot

Relative paths are relative to pytest's root directory, never to the
current directory. A render that fails fails the test with the renderer's
own message (file, line, hint), without a traceback. Guard waivers expire by
date; set the ``eventbus_render_today`` ini option (``YYYY-MM-DD``) to pin
the date the guards use, so snapshots do not change when a waiver expires.

Nothing from the renderer is imported until a test uses the fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TODAY_INI = "eventbus_render_today"


def pytest_addoption(parser):
    """Register the plugin's ini option."""
    parser.addini(TODAY_INI, "Date (YYYY-MM-DD) the eventbus_render fixture's guards use for waiver expiry "
                             "(default: today, UTC).", default="")


def _date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise pytest.UsageError(f"{TODAY_INI} = {text!r} is not a date (YYYY-MM-DD)") from None


class EventBusRenderer:
    """The ``eventbus_render`` fixture: call it to render one EventBus, or use :meth:`all` for a whole tree."""

    def __init__(self, rootdir: Path, today=None):
        self.rootdir = Path(rootdir)
        self.today = today

    def _path(self, path) -> Path:
        path = Path(path)
        return path if path.is_absolute() else self.rootdir / path

    def rendered(self, app_dir, environment: str | None = None, *, profile: str | None = None, overlays=(),
                 sets=(), set_strings=(), today=None):
        """The :class:`renderer.pipeline.Rendered` of one app (and environment), guards included."""
        from renderer.errors import RendererError
        from renderer.pipeline import RenderRequest, render

        request = RenderRequest(app_dir=self._path(app_dir), profile=profile, overlays=tuple(overlays),
                                sets=tuple(sets), set_strings=tuple(set_strings), environment=environment,
                                today=today if today is not None else self.today)
        try:
            return render(request)
        except RendererError as exc:
            message = exc.render()
        where = f"{app_dir}" + (f" [{environment}]" if environment else "")
        # outside the except block, so pytest shows the renderer's message and no exception chain
        pytest.fail(f"eventbus-render: {where} does not render:\n{message}", pytrace=False)

    def manifest(self, app_dir, environment: str | None = None, **options) -> dict:
        """The rendered EventBus as data."""
        return self.rendered(app_dir, environment, **options).manifest

    def manifests(self, app_dir, environment: str | None = None, **options) -> list:
        """Every rendered object as data, EventBus first (then its PodDisruptionBudget, when it has one)."""
        return self.rendered(app_dir, environment, **options).manifests

    def __call__(self, app_dir, environment: str | None = None, *, fmt: str = "yaml", **options) -> str:
        """The rendered objects as text, exactly as ``eventbus-render render`` writes them, without the leading
        ``---`` (so a lone EventBus is one plain document): a YAML stream, or JSON (a ``List`` of several)."""
        from renderer.stages import emit

        manifests = self.manifests(app_dir, environment, **options)
        return emit.to_json(manifests) if fmt == "json" else emit.yaml_stream(manifests)[len("---\n"):]

    def environments(self, app_dir) -> list:
        """Names of an app's environments, sorted (empty when its app file lists none)."""
        from renderer.errors import RendererError
        from renderer.stages import sources

        try:
            return sorted(sources.load_app(self._path(app_dir)).environments)
        except RendererError as exc:
            message = exc.render()
        pytest.fail(f"eventbus-render: {app_dir}: {message}", pytrace=False)

    def all(self, root=".", *, fmt: str = "yaml") -> dict:
        """Every environment of every app below ``root``, as ``render --all`` writes them: file -> text."""
        from renderer.commands.bulk import Options, RenderAllError, render_root

        tree = render_root(self._path(root), Options(fmt=fmt, today=self.today), jobs=1)
        if tree.failures:
            error = RenderAllError(tree.failures, tree.renders, "the tree does not render")
            pytest.fail(f"eventbus-render: {root}:\n{error.render()}", pytrace=False)
        return {entry.file: entry.text for entry in tree.entries}


@pytest.fixture
def eventbus_render(request) -> EventBusRenderer:
    """Render app directories of this repository: ``eventbus_render(app_dir, environment)`` -> manifest text."""
    text = request.config.getini(TODAY_INI)
    return EventBusRenderer(request.config.rootpath, _date(text) if text else None)
