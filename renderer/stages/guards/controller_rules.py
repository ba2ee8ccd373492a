"""What the Argo Events controller, or the EventSource and Sensor pods it configures, rejects or runs
differently from what the manifest says.

An error in every profile, `dev` included, and never waivable: an EventBus
that breaks one of these is refused by the controller, fails in the pods, or
does not run as written, so rendering it would only move the failure to the
cluster. Each rule follows argo-events v1.9.11 and the clients it ships
(sarama v1.43.0, nats.go v1.52.0, viper v1.21.0 with cast v1.10.0); docs/controller.md
lists them all with the upstream file and line.

- exactly one backend under `spec` (the controller takes `nats`, then
  `jetstream`, then `kafka`, then `jetstreamExotic`, and ignores the rest),
  and under `nats` exactly one of `native` / `exotic`;
- `nats.exotic` has `url` and `clusterID`, `kafka` and `jetstreamExotic`
  have `url`;
- NATS `auth` is `none` or `token` (`basic` is declared upstream but neither
  the native controller nor the streaming client supports it); an exotic
  `auth: token` names its `accessSecret`; `nats.native.replicas`, when
  written, is at least 3 (the controller raises anything lower to 3);
- `jetstream.version` is one the cluster's controller lists (the profile's
  `controller`, below); `jetstream.replicas` is omitted, 1, or at least 3;
- `streamConfig` is read as the pods read it: a YAML mapping (or empty),
  keys without case, only the seven keys the runtime reads (`maxMsgs`,
  `maxAge`, `maxBytes`, `replicas`, `duplicates`, `retention`, `discard`,
  with a did-you-mean for the others), whole numbers (quoted or not), Go
  durations with a unit, `retention` 0-2, `discard` 0-1, at most 5 stream
  replicas and no more than the servers that hold them (merged over the
  controller's default stream config for `jetstream`), and a duplicates
  window no longer than `maxAge`;
- a section's pod `metadata.labels` leave `controller`, `eventbus-name` and
  `owner-name` to the controller, which overwrites them on the pods;
- Kafka: `version` is one sarama parses (`3.6.0`; `0.11.0.2` before 1.0)
  and 0.11 or later, `sasl` names both its `userSecret` and
  `passwordSecret`, and its `mechanism` is one the client can set up
  (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`); `partitioner`,
  `consumerGroup.rebalanceStrategy` and `sasl.mechanism` take only the
  values upstream names (the schema's enums). A `consumerGroup` without
  `groupName` is fine: each Sensor then uses `<namespace>-<sensor>`;
- a setting the profile's controller release does not read yet (Kafka
  `partitioner` before v1.9.8, JetStream exotic `tls` before v1.9.4, the
  stream's `retention` and `discard` before v1.9.3) is not written.

Passing:

    jetstream:
      version: "2.10.29"
      replicas: 1
      streamConfig: |
        Replicas: "1"
        maxAge: 24h

Failing:

    jetstream:
      version: "2.10.x"   # not a version the controller lists
      replicas: 2         # rejected: 1 or at least 3
      streamConfig: |
        maxAge: 7d        # no day unit in Go: runs as 0, no limit

    nats:
      exotic:
        auth: basic       # the streaming client supports none and token

The controller of the cluster is a fact of the profile, not a guard
parameter: its release (v1.9.0-v1.9.11; the built-in profiles assume
v1.9.11), and where the cluster's controller config differs from that
release's, its JetStream versions and default stream config:

    controller:
      release: v1.9.5               # lists 2.10.10, not 2.10.29
      jetstreamVersions: ["2.10.10", "2.11.4"]
      streamConfig: |
        replicas: 3
        maxAge: 72h
"""

from __future__ import annotations

from collections.abc import Iterator

from renderer.stages import controller
from renderer.stages.guards import controller_sections as checks
from renderer.stages.guards.model import Finding, sections
from renderer.stages.layers import Origin

ID = checks.ID
DESCRIPTION = "The EventBus is one the Argo Events controller accepts and its EventSources and Sensors run as written."
RATIONALE = ("The controller rejects some specs and silently rewrites others (a second backend is ignored, fewer "
             "than 3 NATS replicas become 3), and the pods it configures fail on or quietly misread others "
             "(`auth: basic`, `maxAge: 7d`); rendering them only moves the failure to the cluster.")
MANDATORY = True
"""An error in every profile, never waivable, never switched off."""

PARAMS: dict = {}
DEFAULTS: dict = {}
MOVED = {"jetstreamVersions": (
    "'jetstreamVersions' is a fact about the cluster's controller now, not a guard setting",
    "move it to the profile's controller block: controller: {jetstreamVersions: [...]}")}
"""Settings this rule had once, and where they live now."""

BACKEND_ORDER = ("nats", "jetstream", "kafka", "jetstreamExotic")
"""The order in which the controller looks for a backend (installer/installer.go:40-55)."""
_SECTION_CHECKS = {"nats-native": checks.native, "nats-exotic": checks.nats_exotic, "jetstream": checks.jetstream,
                   "jetstream-exotic": checks.jetstream_exotic, "kafka": checks.kafka}


def _template_origin(rendered) -> Origin:
    """The template is what puts sections under ``spec``."""
    from renderer.stages.template import TEMPLATE_SUFFIX

    name = rendered.backend + TEMPLATE_SUFFIX
    local = rendered.app.root / "templates" / name
    return Origin("template", name, f"templates/{name}" if local.is_file() else f"builtin:templates/{name}")


def check(rendered, params: dict) -> Iterator[Finding]:
    """Yield a finding for each thing the controller or the pods would reject or run differently."""
    spec = rendered.manifest.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    present = [key for key in BACKEND_ORDER if spec.get(key) is not None]
    if not present:  # validate.go:11-13
        yield Finding(ID, path=("spec",), actual="no backend section", expected="exactly one of "
                      + ", ".join(BACKEND_ORDER), origin=_template_origin(rendered), located=True,
                      fix="render with a template that writes the section of the app's backend")
    elif len(present) > 1:
        yield Finding(ID, path=("spec",), actual=f"{len(present)} backend sections ({', '.join(present)})",
                      expected=f"exactly one (the controller would use {present[0]} and ignore the rest)",
                      origin=_template_origin(rendered), located=True,
                      fix=f"make the template write only spec.{_key(rendered)}")
    nats = spec.get("nats")
    if isinstance(nats, dict):  # validate.go:14-20
        kinds = [k for k in ("native", "exotic") if nats.get(k) is not None]
        if len(kinds) != 1:
            yield Finding(ID, path=("spec", "nats"),
                          actual="both native and exotic" if kinds else "neither native nor exotic",
                          expected="exactly one of native, exotic", origin=_template_origin(rendered), located=True,
                          fix="use backend nats-native or nats-exotic with its own template")
    facts = controller.of_profiles(rendered.profiles)
    # one pass over the sections present, in the order sections() gives (that of SECTIONS)
    for backend, path, section in sections(rendered):
        yield from _SECTION_CHECKS[backend](path, section, facts)


def _key(rendered) -> str:
    from renderer.stages.spec import BACKEND_PATHS

    return ".".join(BACKEND_PATHS[rendered.backend])
