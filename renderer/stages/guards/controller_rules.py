"""What the Argo Events v1.9 controller rejects, or silently runs differently from what the manifest says.

An error in every profile, `dev` included, and never waivable: an EventBus
that breaks one of these is refused by the controller or does not run as
written, so rendering it would only move the failure to the cluster.

- exactly one backend under `spec` (the controller takes `nats`, then
  `jetstream`, then `kafka`, then `jetstreamExotic`, and ignores the rest),
  and under `nats` exactly one of `native` / `exotic`;
- `nats.exotic` has `url` and `clusterID`; `kafka` and
  `jetstreamExotic` have `url`; a Kafka `consumerGroup` has `groupName`;
- `nats.native.replicas`, when written, is at least 3 (the controller raises
  anything lower to 3); its `auth` is `none` or `token` (`basic` is
  declared upstream but not supported); `maxAge` and the `raft*Timeout`
  fields are Go durations;
- `jetstream.version` is set and is one the cluster's controller lists
  (parameter `jetstreamVersions`, upstream v1.9's list by default);
  `jetstream.replicas` is omitted, 1, or at least 3;
- `streamConfig` is a YAML mapping, and its stream `replicas` is no more
  than the servers that can hold a copy: with 1 server, 1 (the controller's
  default stream config asks for 3).

Passing:

    jetstream:
      version: "2.10.29"
      replicas: 1
      streamConfig: |
        replicas: 1

Failing:

    jetstream:
      version: "2.10.x"   # not a version the controller lists
      replicas: 2         # rejected: 1 or at least 3

    nats:
      native:
        replicas: 1       # the controller silently runs 3
        auth: basic       # declared upstream, not supported

A profile of a cluster whose controller config lists other JetStream versions
replaces the list:

    guards:
      controller-rules:
        jetstreamVersions: ["2.10.29", "2.11.4"]
"""

from __future__ import annotations

from collections.abc import Iterator

from renderer import context
from renderer.errors import InputError
from renderer.stages import yamlio
from renderer.stages.guards.model import Finding, Param, plural, quote, sections, value_path
from renderer.stages.layers import Origin
from renderer.stages.validate import is_duration

ID = "controller-rules"
DESCRIPTION = "The EventBus is one the Argo Events v1.9 controller accepts and runs exactly as written."
RATIONALE = ("The controller rejects some specs and silently rewrites others (a second backend is ignored, fewer "
             "than 3 NATS replicas become 3); rendering them only moves the failure to the cluster.")
MANDATORY = True
"""An error in every profile, never waivable, never switched off."""

UPSTREAM_JETSTREAM_VERSIONS = ("latest", "2.8.1", "2.8.1-alpine", "2.8.2", "2.8.2-alpine", "2.9.1", "2.9.12",
                               "2.9.16", "2.10.29")
"""``eventBus.jetstream.versions`` of upstream v1.9's argo-events-controller-config."""

PARAMS = {
    "jetstreamVersions": Param("strings", "JetStream versions the cluster's Argo Events controller config lists",
                               stricter="subset"),
}
DEFAULTS = {"jetstreamVersions": list(UPSTREAM_JETSTREAM_VERSIONS)}

BACKEND_ORDER = ("nats", "jetstream", "kafka", "jetstreamExotic")
"""The order in which the controller looks for a backend (``installer.getInstaller``)."""
_DURATIONS = ("maxAge", "raftHeartbeatTimeout", "raftElectionTimeout", "raftLeaseTimeout", "raftCommitTimeout")


def _template_origin(rendered) -> Origin:
    """The template is what puts sections under ``spec``."""
    from renderer.stages.template import TEMPLATE_SUFFIX

    name = rendered.backend + TEMPLATE_SUFFIX
    local = rendered.app.root / "templates" / name
    return Origin("template", name, f"templates/{name}" if local.is_file() else f"builtin:templates/{name}")


def _missing(path: tuple, what: str, fix: str) -> Finding:
    return Finding(ID, path=path, actual=f"{path[-1]} is missing", expected=what, fix=fix)


def check(rendered, params: dict) -> Iterator[Finding]:
    """Yield a finding for each thing the controller would reject or rewrite."""
    spec = rendered.manifest.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    present = [key for key in BACKEND_ORDER if spec.get(key) is not None]
    if not present:
        yield Finding(ID, path=("spec",), actual="no backend section", expected="exactly one of "
                      + ", ".join(BACKEND_ORDER), origin=_template_origin(rendered), located=True,
                      fix="render with a template that writes the section of the app's backend")
    elif len(present) > 1:
        yield Finding(ID, path=("spec",), actual=f"{len(present)} backend sections ({', '.join(present)})",
                      expected=f"exactly one (the controller would use {present[0]} and ignore the rest)",
                      origin=_template_origin(rendered), located=True,
                      fix=f"make the template write only spec.{_key(rendered)}")
    nats = spec.get("nats")
    if isinstance(nats, dict):
        kinds = [k for k in ("native", "exotic") if nats.get(k) is not None]
        if len(kinds) != 1:
            yield Finding(ID, path=("spec", "nats"),
                          actual="both native and exotic" if kinds else "neither native nor exotic",
                          expected="exactly one of native, exotic", origin=_template_origin(rendered), located=True,
                          fix="use backend nats-native or nats-exotic with its own template")
    # one pass over the sections present, in the order sections() gives (that of SECTIONS)
    for backend, path, section in sections(rendered):
        if backend == "nats-native":
            yield from _native(path, section)
        elif backend == "nats-exotic":
            yield from _nats_exotic(path, section)
        elif backend == "jetstream":
            yield from _jetstream(path, section, params["jetstreamVersions"])
        elif backend == "jetstream-exotic":
            if not section.get("url"):
                yield _missing(path + ("url",), "the JetStream server URL",
                               f"set {value_path(path + ('url',))}, e.g. nats://jetstream.messaging.svc:4222")
            yield from _stream_config(path, section, None)
        elif backend == "kafka":
            yield from _kafka(path, section)


def _nats_exotic(path: tuple, section: dict) -> Iterator[Finding]:
    if not section.get("url"):
        yield _missing(path + ("url",), "the NATS streaming URL",
                       f"set {value_path(path + ('url',))}, e.g. nats://nats.messaging.svc:4222")
    if not section.get("clusterID"):
        yield _missing(path + ("clusterID",), "the NATS streaming cluster ID",
                       f"set {value_path(path + ('clusterID',))} to the cluster ID of the NATS streaming server")


def _kafka(path: tuple, section: dict) -> Iterator[Finding]:
    if not section.get("url"):
        yield _missing(path + ("url",), "the Kafka brokers",
                       f"set {value_path(path + ('url',))}, e.g. kafka-0.kafka.data.svc:9093")
    group = section.get("consumerGroup")
    if isinstance(group, dict) and not group.get("groupName"):
        gpath = path + ("consumerGroup", "groupName")
        yield _missing(gpath, "a consumer group name", f"set {value_path(gpath)}")


def _key(rendered) -> str:
    from renderer.stages.spec import BACKEND_PATHS

    return ".".join(BACKEND_PATHS[rendered.backend])


def _native(path: tuple, section: dict) -> Iterator[Finding]:
    replicas = section.get("replicas")
    if isinstance(replicas, int) and replicas < 3:
        yield Finding(ID, path=path + ("replicas",),
                      actual=f"{plural(replicas, 'replica')} (the controller silently runs 3)", expected="at least 3",
                      fix=f"set {value_path(path + ('replicas',))} to 3 or more")
    auth = section.get("auth")
    if auth is not None and auth not in ("none", "token"):
        yield Finding(ID, path=path + ("auth",), actual=f"auth {quote(auth)} (declared upstream, not supported)",
                      expected="none or token",
                      fix=f"set {value_path(path + ('auth',))} to token (the controller creates the Secret)")
    for key in _DURATIONS:
        value = section.get(key)
        if value is not None and not is_duration(value):
            yield Finding(ID, path=path + (key,), actual=f"{key} {quote(value)} is not a Go duration",
                          expected="a duration such as 72h or 1m30s",
                          fix=f"write {value_path(path + (key,))} with units ns, us, ms, s, m or h (no days)")


def _jetstream(path: tuple, section: dict, versions: list) -> Iterator[Finding]:
    version = section.get("version")
    shown = ", ".join(versions)
    if not version:
        yield _missing(path + ("version",), "a JetStream version the controller lists",
                       f"set {value_path(path + ('version',))} to one of {shown}")
    elif version not in versions:
        yield Finding(ID, path=path + ("version",), actual=f"version {quote(version)} is not one the controller lists",
                      expected=f"one of {shown}", fix=f"set {value_path(path + ('version',))} to one of {shown}")
    replicas = section.get("replicas")
    if isinstance(replicas, int) and (replicas == 2 or replicas <= 0):
        yield Finding(ID, path=path + ("replicas",),
                      actual=f"{plural(replicas, 'replica')} (the controller rejects it)",
                      expected="1 or at least 3", fix=f"set {value_path(path + ('replicas',))} to 3 (or 1 for a "
                                                       "single server)")
    rejected = isinstance(replicas, int) and (replicas == 2 or replicas <= 0)
    # a rejected count has no servers to compare the streams with
    yield from _stream_config(path, section, None if rejected else (replicas if isinstance(replicas, int) else 3))


_INVALID = object()
"""What a ``streamConfig`` that is not YAML reads as."""


def _stream_config(path: tuple, section: dict, servers: int | None) -> Iterator[Finding]:
    """``streamConfig`` is a YAML mapping; with ``servers`` known, its stream replicas fit on them."""
    text = section.get("streamConfig")
    spath = path + ("streamConfig",)
    stream_replicas = None
    if text is not None:
        # read once per run: the same few texts come from the profiles; the data is only read here
        parsed = context.cache("guards.stream-config")
        data = parsed.get(text) if isinstance(text, str) else None
        if data is None:
            try:
                data, _ = yamlio.load(text, value_path(spath))
            except InputError:
                data = _INVALID
            if isinstance(text, str):
                parsed[text] = data
        if not isinstance(data, dict):
            got = "not valid YAML" if data is _INVALID else f"YAML {_kind(data)}"
            yield Finding(ID, path=spath, actual=f"streamConfig is {got}", expected="a YAML mapping",
                          fix=f"write {value_path(spath)} as a block string of 'key: value' lines, e.g. maxAge: 72h")
            return
        stream_replicas = data.get("replicas")
    if servers is None:
        return
    effective = stream_replicas if isinstance(stream_replicas, int) else 3
    if effective > servers:
        servers_text = plural(servers, "server")
        if isinstance(stream_replicas, int):
            actual = f"streams ask for {effective} replicas but the bus runs {servers_text}"
            fix = f"set replicas in {value_path(spath)} to {servers}"
        else:
            actual = f"streams get the controller's default of 3 replicas but the bus runs {servers_text}"
            fix = f"add 'replicas: {servers}' to {value_path(spath)}"
        yield Finding(ID, path=spath, actual=actual, expected=f"stream replicas of at most {servers}", fix=fix)


def _kind(value) -> str:
    from renderer.stages.sources import type_name

    return type_name(value).replace("a ", "", 1).replace("an ", "", 1)

