"""The guards' records (:class:`Param`, :class:`Waiver`, :class:`Finding`, :class:`RuleConfig`,
:class:`Evaluation`) and the helpers rule modules use to walk a manifest and word a finding."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from renderer import paths
from renderer.errors import MultipleErrors
from renderer.paths import lookup
from renderer.stages import sources

if TYPE_CHECKING:  # datetime costs ~2 ms to import; only waivers need it
    from datetime import date

    from renderer.errors import Location
    from renderer.stages.layers import Origin

LEVELS = ("off", "warning", "error")
"""Severities, weakest first: ``error`` fails the render, ``warning`` is reported on stderr."""
RESERVED_KEYS = ("level", "waivable")
"""Keys of every rule's configuration besides its parameters."""
WAIVER_KEYS = ("rule", "path", "value", "environments", "reason", "owner", "expires")
WAIVER_RULE = "waiver"
"""Rule id of the findings about waivers themselves (expired, without reason, not allowed)."""
WAIVER_DESCRIPTION = "A waiver in the app file has a reason, an unexpired date, and waives a waivable rule."


@dataclass(frozen=True, slots=True)
class Param:
    """Type, meaning and direction of strictness of one rule parameter.

    ``kind`` is ``int``, ``bool``, ``quantity``, ``choice`` (one of ``choices``,
    listed weakest first) or ``strings`` (a list of strings). ``stricter`` says
    which way a value tightens the rule, so a profile shadowing a built-in can
    be held to the built-in's floor: ``higher``, ``lower`` (``None`` meaning no
    bound, the weakest), ``true``, ``later`` (later in ``choices``) or
    ``subset`` (fewer allowed values; ``None`` allows any, the weakest).
    """

    kind: str
    doc: str
    stricter: str
    choices: tuple = ()
    nullable: bool = False

    def type_text(self) -> str:
        """The type as documented: ``integer``, ``one of a, b`` ..."""
        text = {"int": "integer", "bool": "boolean", "quantity": "quantity", "strings": "list of strings",
                "choice": "one of " + ", ".join(self.choices)}[self.kind]
        return text + (" or null" if self.nullable else "")

    def problem(self, value) -> str | None:
        """Why ``value`` is not of this type, or None."""
        if value is None:
            return None if self.nullable else f"expected {self.type_text()}, got null"
        if self.kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            return None if ok else f"expected a non-negative integer, got {sources.type_name(value)}"
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"expected true or false, got {sources.type_name(value)}"
        if self.kind == "quantity":
            from renderer.stages.validate import is_quantity

            return None if is_quantity(value) else f"expected a Kubernetes quantity such as 20Gi, got {value!r}"
        if self.kind == "choice":
            return None if value in self.choices else f"expected one of {', '.join(self.choices)}, got {value!r}"
        if self.kind == "strings":
            ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
            return None if ok else "expected a list of non-empty strings"
        raise AssertionError(self.kind)

    def at_least(self, value, floor) -> bool:
        """True if ``value`` is as strict as ``floor`` or stricter."""
        if self.stricter == "higher":
            if floor is None:
                return True
            if value is None:
                return False
            if self.kind == "quantity":
                from renderer.stages.validate import parse_quantity

                return parse_quantity(value) >= parse_quantity(floor)
            return value >= floor
        if self.stricter == "lower":
            return floor is None or (value is not None and value <= floor)
        if self.stricter == "true":
            return bool(value) or not floor
        if self.stricter == "later":
            return self.choices.index(value) >= self.choices.index(floor)
        if self.stricter == "subset":  # None (when nullable) allows anything: the weakest
            if floor is None:
                return True
            return value is not None and set(value) <= set(floor)
        raise AssertionError(self.stricter)


@dataclass(frozen=True, slots=True)
class Waiver:
    """One entry of the app file's ``waivers``: excuses violations of ``rule`` at or below the manifest
    path ``path`` (a tuple) while the manifest holds ``value`` there, in ``environments`` (a tuple of names;
    ``None`` for every environment), until ``expires``."""

    index: int
    rule: str
    path: tuple | None
    reason: str
    owner: str
    expires: date
    location: Location
    value: object = None
    environments: tuple | None = None

    def matches(self, finding: Finding) -> bool:
        """True if this waiver is about ``finding``: same rule, and its path at or below ``path``."""
        if finding.rule != self.rule:
            return False
        return self.path is None or paths.is_under(finding.path, self.path)

    def holds_in(self, environment: str | None) -> bool:
        """True if this waiver is meant for ``environment`` (every one when it names none)."""
        return self.environments is None or environment in self.environments

    @property
    def path_text(self) -> str | None:
        """The path as printed (``spec.jetstream.replicas``), or None."""
        return None if self.path is None else paths.format_path(self.path)

    @property
    def annotation(self) -> str:
        """This waiver in the ``eventbus-render/waivers`` annotation (no commas: entries are comma-separated)."""
        where = f"@{self.path_text}" if self.path else ""
        return f"{self.rule}{where} until {self.expires.isoformat()} (owner: {self.owner})".replace(",", ";")

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"rule": self.rule, "path": self.path_text, "reason": self.reason, "owner": self.owner,
                "value": self.value, "environments": list(self.environments) if self.environments else None,
                "expires": self.expires.isoformat(), "file": self.location.file, "line": self.location.line}


@dataclass(slots=True)
class Finding:
    """One violation of one rule: where, actual versus expected, who set it, and the fix.

    ``message`` defaults to ``actual, expected <expected>``. ``located`` is true
    when the rule chose ``origin`` itself (even None), so the evaluator does not
    look it up. ``waiver_block`` is the YAML a user copies into the app file to
    waive this very violation (set by the evaluation for waivable violations).
    """

    rule: str
    level: str = "error"
    message: str = ""
    path: tuple = ()
    actual: str = ""
    expected: str = ""
    origin: Origin | None = None
    fix: str = ""
    waived: bool = False
    waiver: Waiver | None = None
    located: bool = False
    waiver_block: str = ""

    def __post_init__(self):
        if not self.message:
            self.message = f"{self.actual}, expected {self.expected}" if self.expected else self.actual

    @property
    def path_text(self) -> str:
        """The manifest path as printed: ``spec.jetstream.replicas``."""
        return paths.format_path(self.path)

    @property
    def head(self) -> str:
        """``error[replica-count]``, ``warning[...]`` or ``waived[...]``."""
        return f"{'waived' if self.waived else self.level}[{self.rule}]"

    def __str__(self) -> str:
        lines = [f"{self.head} {self.path_text}: {self.message}" if self.path else f"{self.head} {self.message}",
                 f"  {describe_origin(self.origin)}"]
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        if self.waived and self.waiver is not None:
            w = self.waiver
            lines.append(f"  waived until {w.expires.isoformat()} by {w.owner} ({w.location.file}:{w.location.line}):"
                         f" {w.reason}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"rule": self.rule, "level": self.level, "waived": self.waived, "path": self.path_text,
                "message": self.message, "actual": self.actual, "expected": self.expected, "fix": self.fix,
                "origin": self.origin.as_dict() if self.origin else None,
                "waiver": self.waiver.as_dict() if self.waiver else None,
                "waiverBlock": self.waiver_block or None}


def describe_origin(origin: Origin | None) -> str:
    """``set by overlay 'small' (overlays/small.yaml:4)``, as printed under a finding."""
    if origin is None:
        return "not set by any layer"
    if origin.layer == "set":
        return f"set on the command line by {origin.name}"
    if origin.layer == "app":
        return f"set by the app file ({origin.where})"
    return f"set by {origin.layer} '{origin.name}' ({origin.where})"


@dataclass(slots=True)
class RuleConfig:
    """A rule's configuration in force: level, waivability, parameters, and where each key was set."""

    rule: str
    level: str
    waivable: bool
    params: dict
    where: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.where is None:
            self.where = {}

    def copy(self) -> RuleConfig:
        """A copy the caller owns: its ``params`` (and the lists in them) and ``where`` are new."""
        params = {k: list(v) if isinstance(v, list) else v for k, v in self.params.items()}
        return RuleConfig(self.rule, self.level, self.waivable, params, dict(self.where))


@dataclass(slots=True)
class Evaluation:
    """Outcome of the guards for one render: findings, the waivers that excused a violation (as
    annotation entries), the :class:`RuleConfig` in force per rule id, the profile, and the indexes of the
    waivers meant for this environment that matched nothing in it (``idle``: a waiver of an app with
    environments that names none is only unused if it is idle in every environment)."""

    findings: list = field(default_factory=list)
    waivers: list = field(default_factory=list)
    config: dict = field(default_factory=dict)
    profile: str = ""
    idle: list = field(default_factory=list)

    def __post_init__(self):
        self.findings = [] if self.findings is None else self.findings
        self.waivers = [] if self.waivers is None else self.waivers
        self.config = {} if self.config is None else self.config
        self.idle = [] if self.idle is None else self.idle

    @property
    def errors(self) -> list:
        """Findings that fail the render (error severity, not waived)."""
        return [f for f in self.findings if f.level == "error" and not f.waived]

    @property
    def warnings(self) -> list:
        """Findings reported without failing (warning severity, not waived)."""
        return [f for f in self.findings if f.level == "warning" and not f.waived]

    @property
    def waived(self) -> list:
        """Findings excused by a waiver."""
        return [f for f in self.findings if f.waived]

    def summary(self) -> str:
        """``2 errors, 1 warning, 0 waived``."""
        errors, warnings = plural(len(self.errors), "error"), plural(len(self.warnings), "warning")
        return f"{errors}, {warnings}, {len(self.waived)} waived"


# -- helpers for rules ----------------------------------------------------------------------------

SECTIONS = (
    ("nats-native", ("spec", "nats", "native")),
    ("nats-exotic", ("spec", "nats", "exotic")),
    ("jetstream", ("spec", "jetstream")),
    ("jetstream-exotic", ("spec", "jetstreamExotic")),
    ("kafka", ("spec", "kafka")),
)
"""Backend name and manifest path of each backend section."""


def sections(rendered, *backends: str) -> Iterator[tuple[str, tuple, dict]]:
    """``(backend, manifest path, section)`` of each backend section present in the manifest."""
    manifest = rendered.manifest
    spec = manifest.get("spec") if manifest.__class__ is dict else None
    if spec.__class__ is dict and len(spec) == 1:
        # the usual manifest: one backend section, found without looking up every path
        for backend, path in SECTIONS:
            if (not backends or backend in backends) and path[1] in spec:
                section = lookup(spec, path[1:])
                if isinstance(section, dict):
                    yield backend, path, section
        return
    for backend, path in SECTIONS:
        if backends and backend not in backends:
            continue
        section = lookup(manifest, path)
        if isinstance(section, dict):
            yield backend, path, section


def value_path(manifest_path: tuple) -> str:
    """The values path a user sets to change a manifest path (``spec.x.y`` -> ``x.y``), for fixes."""
    return paths.format_path(paths.manifest_to_values(manifest_path) or manifest_path)


def plural(count: int, word: str) -> str:
    """``1 replica``, ``3 replicas``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def show_value(value) -> str:
    """A setting as written in a profile: ``null``, ``true``, ``[a, b]``, or the plain text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def quote(value) -> str:
    """A value for a message: strings quoted, the rest as YAML would show them."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


def raise_all(errors: list) -> None:
    """Raise the one error of ``errors``, or all of them together; nothing when there are none."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultipleErrors(errors)
