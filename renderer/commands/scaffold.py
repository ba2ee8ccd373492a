"""``eventbus-render init DIR``: start an app directory with an app file that renders as written.

The app file carries the editor schema line (``# yaml-language-server:
$schema=...``), the chosen backend and profile, the connection values a bus
that Argo Events does not run needs (placeholders naming Secrets, never
credentials), and a commented ``environments`` example. Before the command
returns, the new file is rendered with the profile it names (every guard
included); a file that would not render is removed again and the render's
error reported, so ``init`` never leaves an app directory behind that fails.
An existing app file is never overwritten.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from renderer.commands.names import complete_profile
from renderer.stages.sources import APP_FILE, BACKENDS

SCHEMA_URL = "https://raw.githubusercontent.com/OWNER/eventbus-renderer/v{version}/renderer/schemas/app.schema.json"
"""Where the editor finds the app file's JSON Schema (``eventbus-render schema app`` prints the same)."""

CONNECTION = {
    "nats-exotic": """\
values:
  nats:
    exotic:
      url: nats://nats.messaging.svc:4222        # your NATS streaming server
      clusterID: stan
      auth: token
      accessSecret: {name: nats-client, key: token}   # a Secret you create
""",
    "jetstream-exotic": """\
values:
  jetstreamExotic:
    url: nats://jetstream.messaging.svc:4222     # your JetStream server
    accessSecret: {name: jetstream-client, key: credentials}   # a Secret you create
    tls:
      caCertSecret: {name: jetstream-ca, key: ca.crt}
""",
    "kafka": """\
values:
  kafka:
    url: kafka-0.kafka.messaging.svc:9093        # your brokers, comma-separated
    topic: argo-events
    tls:
      caCertSecret: {name: kafka-ca, key: ca.crt}
    sasl:
      mechanism: SCRAM-SHA-512
      userSecret: {name: kafka-client, key: username}       # Secrets you create
      passwordSecret: {name: kafka-client, key: password}
""",
}
"""The values a bus run elsewhere needs to render: where it is and which Secrets hold its credentials."""


def app_text(backend: str, profile: str, schema: str) -> str:
    """The app file ``init`` writes."""
    from renderer import __version__

    url = schema or SCHEMA_URL.format(version=__version__)
    return (f"# yaml-language-server: $schema={url}\n"
            f"name: default              # EventBus metadata.name\n"
            f"backend: {backend}\n"
            f"profile: {profile}\n"
            f"{CONNECTION.get(backend, '')}"
            "# One entry per cluster this app is deployed to; render one with --env NAME, all with render --all.\n"
            "# environments:\n"
            "#   dev:\n"
            "#     profile: dev\n"
            "#   prod-eu:\n"
            "#     profile: prod\n"
            "#     overlays: [monitoring]\n"
            "#     values:\n"
            "#       labels: {tier: critical}\n"
            "# defaultEnvironment: dev      # what render, check and Argo CD use when no environment is chosen\n")


@click.command("init")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=str))
@click.option("--backend", type=click.Choice(BACKENDS), default="jetstream", show_default=True,
              help="The EventBus backend.")
@click.option("--profile", default="dev", show_default=True, metavar="NAME", shell_complete=complete_profile,
              help="The profile: the app directory's, its repository layer's or a built-in one.")
@click.option("--schema", metavar="URL", default="",
              help="Where the editor finds the app file's JSON Schema (default: the release's).")
def init_command(directory, backend, profile, schema):
    """Write DIR/eventbus-render.yaml: a starting app file that renders as written. Never overwrites one."""
    from renderer.commands.common import warn

    path = write_app(Path(directory), backend, profile, schema)
    warn(f"wrote {path}; render it with: eventbus-render render --app {directory}")


def write_app(directory: Path, backend: str, profile: str, schema: str = "") -> Path:
    """Create ``directory/eventbus-render.yaml`` (never over an existing one) and check that it renders."""
    from renderer.errors import InputError, RendererError
    from renderer.pipeline import RenderRequest, render
    from renderer.stages import sources

    path = directory / APP_FILE
    if os.path.lexists(directory) and not os.path.isdir(directory):
        raise InputError(f"{directory} is not a folder", hint="name a folder (it is made when missing)")
    if os.path.lexists(path):
        raise InputError(f"{path} already exists; init never overwrites an app file",
                         hint="edit it, or choose another directory")
    sources.check_name(profile, None, (), "profile")
    places = sources.places(directory)
    if sources.find_named("profiles", profile, places) is None:
        raise sources.unknown_name("profiles", profile, places)
    made = [folder for folder in (directory, *directory.parents) if not os.path.lexists(folder)]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # O_EXCL: an app file that appeared meanwhile is not overwritten either
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    except FileExistsError:
        raise InputError(f"{path} already exists; init never overwrites an app file") from None
    except OSError as exc:
        _remove(made)
        raise InputError(f"cannot create {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(app_text(backend, profile, schema))
        render(RenderRequest(app_dir=directory))
    except BaseException as exc:  # nothing of init is left behind, whatever stopped it
        os.unlink(path)
        _remove(made)
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {path}: {exc.strerror}") from None
        if not isinstance(exc, RendererError):
            raise
        raise InputError(f"the app file init would write does not render with profile {profile!r}, so it was not "
                         f"kept:\n{exc.render()}",
                         hint="choose another profile or backend, or write the app file by hand") from None
    return path


def _remove(folders: list) -> None:
    """Remove the folders ``init`` made (deepest first), leaving nothing behind after a failure."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return
