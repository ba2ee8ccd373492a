"""Guards: rules evaluated on the merged values and the rendered manifest.

The code of a rule and its configuration are kept apart, as yamllint and
kube-linter do. Each rule is one module of this package with the constants
``ID``, ``DESCRIPTION`` (what it checks), ``RATIONALE`` (why), ``PARAMS``
(typed :class:`Param` s), ``DEFAULTS`` and a generator ``check(rendered,
params)`` yielding :class:`Finding` s; its docstring is the user
documentation. Its configuration is data in a profile::

    guards:
      replica-count: {level: error, min: 3}
      external-credentials: {level: error, waivable: false}

Only profiles configure guards; a child profile (``extends``) overrides its
parents key by key within each rule. A rule a profile chain never mentions
is off, except the rules marked ``MANDATORY`` (the controller rules), which
are errors in every profile and can be neither weakened nor waived. An
app-local profile that shadows a built-in name keeps the built-in's guard
configuration as a floor.

The app file's ``waivers`` excuse single violations until a date. Nothing
else can: overlays, environments, ``--set`` and plugin parameters reach the
values only.

:func:`evaluate` runs every rule in force and returns an :class:`Evaluation`;
:func:`format_report` turns it into text for stderr. Nothing here prints.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from renderer.errors import InputError, Location, MultipleErrors
from renderer.records import FrozenRecord, Record
from renderer.stages import sources
from renderer.stages.layers import Origin
from renderer.stages.validate import format_path

if TYPE_CHECKING:  # datetime costs ~2 ms to import; only waivers need it
    from datetime import date

LEVELS = ("off", "warning", "error")
"""Severities, weakest first: ``error`` fails the render, ``warning`` is reported on stderr."""
RESERVED_KEYS = ("level", "waivable")
"""Keys of every rule's configuration besides its parameters."""
WAIVER_KEYS = ("rule", "path", "reason", "owner", "expires")
WAIVER_RULE = "waiver"
"""Rule id of the findings about waivers themselves (expired, without reason, not allowed)."""
WAIVER_DESCRIPTION = "A waiver in the app file has a reason, an unexpired date, and waives a waivable rule."

_DATE = r"\d{4}-\d{2}-\d{2}"


# -- parameters -----------------------------------------------------------------------------------


class Param(FrozenRecord):
    """Type, meaning and direction of strictness of one rule parameter.

    ``kind`` is ``int``, ``bool``, ``quantity``, ``choice`` (one of ``choices``,
    listed weakest first) or ``strings`` (a list of strings). ``stricter`` says
    which way a value tightens the rule, so a profile shadowing a built-in can
    be held to the built-in's floor: ``higher``, ``lower`` (``None`` meaning no
    bound, the weakest), ``true``, ``later`` (later in ``choices``) or
    ``subset`` (fewer allowed values).
    """

    _fields = ("kind", "doc", "stricter", "choices", "nullable")

    def __init__(self, kind: str, doc: str, stricter: str, choices: tuple = (), nullable: bool = False):
        self._set_fields(kind, doc, stricter, choices, nullable)

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
        if self.stricter == "subset":
            return set(value or ()) <= set(floor or ())
        raise AssertionError(self.stricter)


# -- findings -------------------------------------------------------------------------------------


class Waiver(FrozenRecord):
    """One entry of the app file's ``waivers``: excuses violations of ``rule`` (under ``path``) until ``expires``."""

    _fields = ("index", "rule", "path", "reason", "owner", "expires", "location")

    def __init__(self, index: int, rule: str, path: str | None, reason: str, owner: str, expires: date,
                 location: Location):
        self._set_fields(index, rule, path, reason, owner, expires, location)

    def matches(self, finding: Finding) -> bool:
        """True if this waiver is about ``finding``: same rule, and its path at or below ``path``."""
        if finding.rule != self.rule:
            return False
        if self.path is None:
            return True
        text = format_path(finding.path)
        return text == self.path or text.startswith((self.path + ".", self.path + "["))

    @property
    def annotation(self) -> str:
        """This waiver in the ``eventbus-render/waivers`` annotation (no commas: entries are comma-separated)."""
        where = f"@{self.path}" if self.path else ""
        return f"{self.rule}{where} until {self.expires.isoformat()} (owner: {self.owner})".replace(",", ";")

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"rule": self.rule, "path": self.path, "reason": self.reason, "owner": self.owner,
                "expires": self.expires.isoformat(), "file": self.location.file, "line": self.location.line}


class Finding(Record):
    """One violation of one rule: where, actual versus expected, who set it, and the fix.

    ``located`` is true when the rule chose ``origin`` itself (even None), so the
    evaluator does not look it up.
    """

    _fields = ("rule", "level", "message", "path", "actual", "expected", "origin", "fix", "waived", "waiver",
               "located")

    def __init__(self, rule: str, level: str = "error", message: str = "", path: tuple = (), actual: str = "",
                 expected: str = "", origin: Origin | None = None, fix: str = "", waived: bool = False,
                 waiver: Waiver | None = None, located: bool = False):
        self.rule = rule
        self.level = level
        self.message = message or (f"{actual}, expected {expected}" if expected else actual)
        self.path = path
        self.actual = actual
        self.expected = expected
        self.origin = origin
        self.fix = fix
        self.waived = waived
        self.waiver = waiver
        self.located = located

    @property
    def path_text(self) -> str:
        """The manifest path as printed: ``spec.jetstream.replicas``."""
        return format_path(self.path)

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
                "waiver": self.waiver.as_dict() if self.waiver else None}


def describe_origin(origin: Origin | None) -> str:
    """``set by overlay 'small' (overlays/small.yaml:4)``, as printed under a finding."""
    if origin is None:
        return "not set by any layer"
    if origin.layer == "set":
        return f"set on the command line by {origin.name}"
    if origin.layer == "app":
        return f"set by the app file ({origin.where})"
    return f"set by {origin.layer} '{origin.name}' ({origin.where})"


class RuleConfig(Record):
    """A rule's configuration in force: level, waivability, parameters, and where each key was set."""

    _fields = ("rule", "level", "waivable", "params", "where")

    def __init__(self, rule: str, level: str, waivable: bool, params: dict, where: dict | None = None):
        self.rule = rule
        self.level = level
        self.waivable = waivable
        self.params = params
        self.where = {} if where is None else where


class Evaluation(Record):
    """Outcome of the guards for one render: findings, the waivers that excused a violation (as
    annotation entries), the :class:`RuleConfig` in force per rule id, and the profile."""

    _fields = ("findings", "waivers", "config", "profile")

    def __init__(self, findings: list | None = None, waivers: list | None = None, config: dict | None = None,
                 profile: str = ""):
        self.findings = [] if findings is None else findings
        self.waivers = [] if waivers is None else waivers
        self.config = {} if config is None else config
        self.profile = profile

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


def lookup(data, path: tuple, default=None):
    """The value at ``path`` inside nested mappings and lists, or ``default``."""
    for part in path:
        if isinstance(data, dict) and part in data or isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return default
    return data


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
    from renderer.pipeline import manifest_to_values_path

    return format_path(manifest_to_values_path(manifest_path, ()) or manifest_path)


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


# -- configuration --------------------------------------------------------------------------------


def _closest_hint(word, choices) -> str:
    import difflib

    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(choices)


def _read_profile_guards(profile, errors: list) -> dict:
    """``{rule: {key: (value, Location)}}`` of one profile's ``guards`` block, checked against the rules."""
    out: dict = {}
    doc = profile.doc
    for rule_id, entry in (profile.guards or {}).items():
        module = RULES.get(rule_id)
        if module is None:
            errors.append(doc.error(("guards", rule_id), f"unknown guard {rule_id!r}",
                                    hint=_closest_hint(rule_id, RULES)))
            continue
        entry = {} if entry is None else entry
        if not isinstance(entry, dict):
            errors.append(doc.error(("guards", rule_id), f"guard {rule_id!r}: expected a mapping of settings, got "
                                    f"{sources.type_name(entry)}", hint="e.g. {level: error}"))
            continue
        settings = out.setdefault(rule_id, {})
        for key, value in entry.items():
            where = doc.where(("guards", rule_id, key))
            if key == "level" and value is False:
                value = "off"  # YAML 1.1 reads an unquoted off as false
            if key == "level":
                problem = None if value in LEVELS else f"expected one of {', '.join(LEVELS)}, got {quote(value)}"
            elif key == "waivable":
                problem = None if isinstance(value, bool) else f"expected true or false, got {quote(value)}"
            elif key in module.PARAMS:
                problem = module.PARAMS[key].problem(value)
            else:
                allowed = RESERVED_KEYS + tuple(module.PARAMS)
                errors.append(InputError(f"guard {rule_id!r} has no setting {key!r}", location=where,
                                         hint=_closest_hint(key, allowed)))
                continue
            if problem:
                errors.append(InputError(f"guard {rule_id!r}: {key}: {problem}", location=where))
                continue
            if getattr(module, "MANDATORY", False) and (
                    (key == "level" and value != "error") or (key == "waivable" and value)):
                errors.append(InputError(f"guard {rule_id!r} is always an error and never waivable: the Argo Events"
                                         " controller rejects or rewrites what it checks", location=where,
                                         hint=f"remove {key!r} from guards.{rule_id}"))
                continue
            settings[key] = (value, where)
    return out


def _resolve(explicit: dict) -> dict:
    """:class:`RuleConfig` of every rule from ``{rule: {key: (value, Location)}}``."""
    config = {}
    for rule_id, module in RULES.items():
        settings = explicit.get(rule_id)
        mandatory = getattr(module, "MANDATORY", False)
        if settings is None and not mandatory:
            config[rule_id] = RuleConfig(rule_id, "off", True, dict(module.DEFAULTS))
            continue
        settings = settings or {}
        params = dict(module.DEFAULTS)
        params.update({k: v for k, (v, _) in settings.items() if k in module.PARAMS})
        level = "error" if mandatory else settings.get("level", ("error", None))[0]
        waivable = False if mandatory else settings.get("waivable", (True, None))[0]
        config[rule_id] = RuleConfig(rule_id, level, waivable, params, {k: w for k, (_, w) in settings.items()})
    return config


def _builtin_floor(profile) -> dict | None:
    """Explicit guard settings of the built-in profile that ``profile`` shadows (None if it shadows none)."""
    if profile.builtin or sources.find_named("profiles", profile.name, None) is None:
        return None
    errors: list = []
    explicit: dict = {}
    for builtin in sources.load_profile_chain(profile.name, None):
        for rule_id, settings in _read_profile_guards(builtin, errors).items():
            explicit.setdefault(rule_id, {}).update(settings)
    _raise(errors)
    floor = _resolve(explicit)
    # every setting of the floor counts as explicit, so the shadowing chain starts from it
    out = {}
    for rule_id, rc in floor.items():
        if rc.level == "off":
            continue
        located = Location(f"builtin:profiles/{profile.name}.yaml")
        out[rule_id] = {"level": (rc.level, rc.where.get("level", located)),
                        "waivable": (rc.waivable, rc.where.get("waivable", located))}
        out[rule_id].update({k: (v, rc.where.get(k, located)) for k, v in rc.params.items()})
    return out


def _raise(errors: list) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultipleErrors(errors)


def resolve_config(profiles: list) -> dict:
    """Rule id -> :class:`RuleConfig` for a profile chain (base first). Raises :class:`InputError`.

    Children override parents key by key. When the chain's last profile is an
    app-local file shadowing a built-in profile name, the built-in's settings
    are the starting point and may only be tightened: a weaker level, a
    smaller minimum, a waivable rule the built-in makes non-waivable are
    errors. A profile under a name of its own owns its guards entirely.
    """
    errors: list = []
    floor = _builtin_floor(profiles[-1]) if profiles else None
    explicit: dict = {rule: dict(settings) for rule, settings in (floor or {}).items()}
    for profile in profiles:
        for rule_id, settings in _read_profile_guards(profile, errors).items():
            explicit.setdefault(rule_id, {}).update(settings)
    _raise(errors)
    config = _resolve(explicit)
    if floor:
        shadow = profiles[-1]
        for rule_id, settings in floor.items():
            module, rc = RULES[rule_id], config[rule_id]
            for key, (floor_value, _) in settings.items():
                if key == "level":
                    value, weaker = rc.level, LEVELS.index(rc.level) < LEVELS.index(floor_value)
                elif key == "waivable":
                    value, weaker = rc.waivable, rc.waivable and not floor_value
                else:
                    value = rc.params[key]
                    weaker = not module.PARAMS[key].at_least(value, floor_value)
                if weaker:
                    errors.append(InputError(
                        f"profile {shadow.name!r} shadows the built-in profile {shadow.name!r} and cannot weaken its "
                        f"guards: {rule_id}.{key} is {quote(value)}, the built-in requires {quote(floor_value)} "
                        "or stricter", location=rc.where.get(key) or shadow.doc.where(("guards",)),
                        hint=f"keep the built-in setting, or rename the profile (e.g. '{shadow.name}-relaxed') to "
                             "own its guards"))
    _raise(errors)
    return config


# -- waivers --------------------------------------------------------------------------------------


def parse_waivers(app) -> list[Waiver]:
    """Check the app file's ``waivers`` list; malformed entries are :class:`InputError` s located at file:line."""
    if not app.waivers:
        return []
    from datetime import date

    doc = app.doc
    errors: list = []
    out = []
    for index, entry in enumerate(app.waivers):
        base = ("waivers", index)
        if not isinstance(entry, dict):
            errors.append(doc.error(base, f"expected a waiver mapping, got {sources.type_name(entry)}",
                                    hint="rule, reason, owner, expires (YYYY-MM-DD) and optionally path"))
            continue
        bad = False
        for key in entry:
            if key not in WAIVER_KEYS:
                errors.append(doc.error(base + (key,), f"unknown waiver key {key!r}",
                                        hint=_closest_hint(key, WAIVER_KEYS)))
                bad = True
        for key in ("rule", "owner", "expires"):
            if key not in entry:
                errors.append(doc.error(base, f"waiver is missing {key!r}",
                                        hint="a waiver needs rule, reason, owner and expires (YYYY-MM-DD)"))
                bad = True
        rule = entry.get("rule")
        if "rule" in entry and rule not in RULES:
            errors.append(doc.error(base + ("rule",), f"waiver names unknown guard {rule!r}",
                                    hint=_closest_hint(rule, RULES)))
            bad = True
        for key in ("owner", "reason", "path"):
            value = entry.get(key)
            if key in entry and value is not None and not isinstance(value, str):
                errors.append(doc.error(base + (key,),
                                        f"waiver {key}: expected a string, got {sources.type_name(value)}"))
                bad = True
        if isinstance(entry.get("owner"), str) and not entry["owner"].strip():
            errors.append(doc.error(base + ("owner",), "waiver owner is empty", hint="name a person or team"))
            bad = True
        path = entry.get("path")
        if isinstance(path, str) and not re.match(r"(spec|metadata)([.\[]|$)", path):
            errors.append(doc.error(base + ("path",), f"waiver path {path!r} is not a manifest path",
                                    hint="copy the path from the report, e.g. spec.jetstream.replicas"))
            bad = True
        expires = entry.get("expires")
        day = None
        if "expires" in entry:
            if isinstance(expires, str) and re.fullmatch(_DATE, expires):
                try:
                    day = date.fromisoformat(expires)
                except ValueError:
                    pass
            if day is None:
                errors.append(doc.error(base + ("expires",), f"waiver expires {quote(expires)} is not a date",
                                        hint="write the last day the waiver holds as YYYY-MM-DD (UTC, inclusive)"))
                bad = True
        if bad:
            continue
        line, column = doc.marks.get(base, (None, None))
        out.append(Waiver(index, rule, path, (entry.get("reason") or "").strip(), entry["owner"].strip(), day,
                          Location(doc.display, line, column, format_path(base))))
    _raise(errors)
    return out


def _today(today) -> date:
    from datetime import date, datetime, timezone

    if today is None:
        return datetime.now(timezone.utc).date()
    if isinstance(today, datetime):
        return today.astimezone(timezone.utc).date() if today.tzinfo else today.date()
    if isinstance(today, date):
        return today
    return date.fromisoformat(str(today))


def _waiver_finding(waiver: Waiver, level: str, actual: str, fix: str) -> Finding:
    origin = Origin("app", sources.APP_FILE, waiver.location.file, waiver.location.line, waiver.location.column)
    return Finding(WAIVER_RULE, level, path=("waivers", waiver.index), actual=actual, fix=fix, origin=origin,
                   located=True)


def _apply_waivers(findings: list, waivers: list, config: dict, today: date | None, profile: str) -> tuple[list, list]:
    """Mark waived findings; return the waiver findings and the annotation entries of the waivers applied."""
    problems: list = []
    usable = []
    for w in waivers:
        who = f"owner: {w.owner}"
        if not w.reason:
            problems.append(_waiver_finding(w, "error", f"waiver for {w.rule} has no reason ({who})",
                                            f"{w.owner}: say why the violation is acceptable, or remove the waiver"))
        elif today > w.expires:
            problems.append(_waiver_finding(
                w, "error", f"waiver for {w.rule} expired on {w.expires.isoformat()} ({who})",
                f"{w.owner}: fix the violation and remove the waiver, or renew 'expires' with a current reason"))
        elif not config[w.rule].waivable:
            problems.append(_waiver_finding(
                w, "error", f"waiver for {w.rule}, which profile '{profile}' does not allow to be waived ({who})",
                f"{w.owner}: fix the violation; a waiver cannot excuse {w.rule}"))
        else:
            usable.append(w)
    applied: list = []
    for finding in findings:
        for w in usable:
            if w.matches(finding):
                finding.waived, finding.waiver = True, w
                if w not in applied:
                    applied.append(w)
                break
    for w in usable:
        if w not in applied and config[w.rule].level != "off":
            problems.append(_waiver_finding(w, "warning", f"waiver for {w.rule}"
                                            + (f" at {w.path}" if w.path else "") + " matches no violation",
                                            "remove the waiver"))
    return problems, [w.annotation for w in sorted(applied, key=lambda w: w.index)]


# -- evaluation -----------------------------------------------------------------------------------


def _origin_of(rendered, path: tuple) -> Origin | None:
    """Origin of a manifest value: the layer that set (or deleted) it; None when no layer set it."""
    from renderer.pipeline import manifest_to_values_path

    values_path = manifest_to_values_path(path, rendered.section_path)
    if values_path and rendered.merged.provenance.settings(values_path):
        return rendered.origin_of_manifest_path(path)
    if lookup(rendered.manifest, path, _MISSING) is _MISSING:
        return None
    return rendered.origin_of_manifest_path(path)


_MISSING = object()
_SEVERITY = {"error": 0, "warning": 1}


_CONFIGS: dict = {}
"""Resolved guard configuration per profile chain (profile documents are cached while unchanged)."""


def _cached_config(profiles: list) -> dict:
    key = tuple(id(profile.doc) for profile in profiles)
    entry = _CONFIGS.get(key)
    if entry is None or any(a is not b.doc for a, b in zip(entry[1], profiles)):
        if len(_CONFIGS) > 256:
            _CONFIGS.clear()
        # the documents are kept in the entry so the ids in the key stay theirs
        entry = _CONFIGS[key] = (resolve_config(profiles), [profile.doc for profile in profiles])
    return entry[0]


def evaluate(rendered, today=None) -> Evaluation:
    """Run every guard the profile chain enables against ``rendered``; ``today`` (UTC) decides waiver expiry.

    Raises :class:`InputError` for a bad ``guards`` block or a malformed waiver.
    """
    config = _cached_config(rendered.profiles)
    waivers = parse_waivers(rendered.app)
    findings = []
    for rule_id, module in RULES.items():
        rc = config[rule_id]
        if rc.level == "off":
            continue
        for finding in module.check(rendered, rc.params):
            finding.level = rc.level
            if not finding.located:
                finding.origin = _origin_of(rendered, finding.path)
            findings.append(finding)
    problems, applied = _apply_waivers(findings, waivers, config, _today(today) if waivers else None,
                                       rendered.profile.name)
    findings.extend(problems)
    findings.sort(key=lambda f: (f.waived, _SEVERITY.get(f.level, 2)))
    return Evaluation(findings, applied, config, rendered.profile.name)


def format_report(evaluation: Evaluation) -> str:
    """Text report of the findings (one block per finding, then a summary line), for stderr."""
    if not evaluation.findings:
        return ""
    blocks = [str(f) for f in evaluation.findings]
    blocks.append(f"guards: {evaluation.summary()} (profile '{evaluation.profile}')")
    return "\n".join(blocks)


# Rule modules import the names above, so they are imported last; all of them together cost well
# under a millisecond (no third-party imports).
from renderer.stages.guards import (  # noqa: E402
    capacity,
    controller_rules,
    external_credentials,
    persistence,
    pinned_versions,
    replica_count,
    zone_anti_affinity,
)

RULES = {module.ID: module for module in (controller_rules, pinned_versions, replica_count, zone_anti_affinity,
                                          capacity, persistence, external_credentials)}
"""Every rule: id -> module, in report order."""
