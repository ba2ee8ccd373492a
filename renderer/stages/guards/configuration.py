"""The guard configuration in force: a profile chain's ``guards`` blocks, merged key by key, held to the
floor of the profile it shadows.

Only profiles configure guards; a child profile (``extends``) overrides its
parents key by key within each rule. A rule a profile chain never mentions is
off, except the rules marked ``MANDATORY``, which are errors in every profile
and can be neither weakened nor waived. A profile that shadows another of its
name in a place below it (an app's own ``prod.yaml`` over the repository
layer's or the built-in ``prod``; the repository layer's over the built-in)
keeps the shadowed profile's guard configuration as a floor: it may only
tighten it.
"""

from __future__ import annotations

from renderer.errors import InputError, Location
from renderer.stages import sources
from renderer.stages.guards.model import LEVELS, RuleConfig, quote, raise_all
from renderer.stages.guards.registry import RULES
from renderer.stages.guards.structure import setting_level, structural_errors


def _profile_settings(profile, errors: list) -> dict:
    """``{rule: {key: (value, Location)}}`` of one profile's ``guards`` block; its mistakes go to ``errors``."""
    problems = structural_errors(profile.doc, "guards", profile.guards)
    if problems:
        errors.extend(problems)
        return {}
    out: dict = {}
    doc = profile.doc
    for rule_id, entry in (profile.guards or {}).items():
        settings = out.setdefault(rule_id, {})
        for key, value in (entry or {}).items():
            settings[key] = (setting_level(value) if key == "level" else value, doc.where(("guards", rule_id, key)))
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


def shadowed(profile) -> list | None:
    """The chain of the profile that ``profile`` shadows: the one of its name in a place below its own (None)."""
    if sources.find_named("profiles", profile.name, profile.below) is None:
        return None
    return sources.load_profile_chain(profile.name, profile.below)


def _floor(profile) -> tuple[dict, object] | None:
    """``(explicit settings, shadowed profile)`` of the profile ``profile`` shadows; None if it shadows none.

    The floor is the shadowed profile's configuration as resolved (itself
    held to whatever it shadows), every setting of it counting as explicit.
    """
    chain = shadowed(profile)
    if chain is None:
        return None
    floor = resolve_config(chain)
    located = Location(chain[-1].doc.display)
    out = {}
    for rule_id, rc in floor.items():
        if rc.level == "off":
            continue
        out[rule_id] = {"level": (rc.level, rc.where.get("level", located)),
                        "waivable": (rc.waivable, rc.where.get("waivable", located))}
        out[rule_id].update({k: (v, rc.where.get(k, located)) for k, v in rc.params.items()})
    return out, chain[-1]


def resolve_config(profiles: list) -> dict:
    """Rule id -> :class:`RuleConfig` for a profile chain (base first). Raises :class:`InputError`.

    Children override parents key by key. When the chain's last profile
    shadows a profile of its name in a place below it (an app's own file over
    the repository layer's or a built-in, the repository layer's over a
    built-in), the shadowed profile's settings are the starting point and may
    only be tightened: a weaker level, a smaller minimum, a waivable rule the
    shadowed one makes non-waivable are errors. A profile under a name of its
    own owns its guards entirely.
    """
    errors: list = []
    found = _floor(profiles[-1]) if profiles else None
    floor, under = found if found is not None else (None, None)
    explicit: dict = {rule: dict(settings) for rule, settings in (floor or {}).items()}
    for profile in profiles:
        for rule_id, settings in _profile_settings(profile, errors).items():
            explicit.setdefault(rule_id, {}).update(settings)
    raise_all(errors)
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
                    what = "the built-in" if under.builtin else f"the {under.place.label}'s"
                    named = "" if under.builtin else f" ({under.doc.display})"
                    owner = "the built-in" if under.builtin else "that profile"
                    setting = "the built-in setting" if under.builtin else "that profile's setting"
                    errors.append(InputError(
                        f"profile {shadow.name!r} shadows {what} profile {shadow.name!r}{named} and cannot weaken "
                        f"its guards: {rule_id}.{key} is {quote(value)}, {owner} requires {quote(floor_value)} "
                        "or stricter", location=rc.where.get(key) or shadow.doc.where(("guards",)),
                        hint=f"keep {setting}, or rename the profile (e.g. '{shadow.name}-relaxed') to "
                             "own its guards"))
    raise_all(errors)
    return config
