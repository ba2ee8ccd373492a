"""The filters the templates use beyond Jinja2's own: ``yaml``, ``combine`` and ``spread_pods``.

Plain functions of plain data, importable without Jinja2 (``diff`` prints
values with :func:`to_yaml_flow` too).
"""

from __future__ import annotations

import json

__all__ = ["HOST_KEY", "ZONE_KEY", "combine", "spread_pods", "to_yaml_flow"]

# Values reach a template from YAML files whose nesting is bounded, so there is no cycle to watch for.
_FLOW = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(", ", ": "))


def to_yaml_flow(value) -> str:
    """The ``yaml`` filter: a value as a one-line, type-exact JSON flow scalar or collection.

    JSON is a subset of YAML's flow style, so a string can never turn into a
    number, a boolean, a second document or a new key.
    """
    return _FLOW.encode(value)


def combine(*mappings) -> dict:
    """The ``combine`` filter: a new mapping with the keys of every argument, later ones winning."""
    out: dict = {}
    for mapping in mappings:
        if mapping:
            if not isinstance(mapping, dict):
                raise TypeError(f"combine expects mappings, got {type(mapping).__name__}")
            out.update(mapping)
    return out


ZONE_KEY = "topology.kubernetes.io/zone"
HOST_KEY = "kubernetes.io/hostname"
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def spread_pods(section: dict, spread: dict, selector: dict) -> dict:
    """The ``spread_pods`` filter: a backend section with ``spread`` expanded into pod anti-affinity.

    Zone and host spread become ``podAntiAffinity`` terms on
    ``topology.kubernetes.io/zone`` and ``kubernetes.io/hostname`` whose label
    selector is ``selector`` (the labels the Argo Events controller puts on
    this EventBus's pods): ``required`` adds a required term, ``preferred`` a
    preferred term weighted ``zoneWeight`` or ``hostWeight``. The section's
    own affinity is kept, and a term already written is not added twice.
    Returns a new mapping; ``section`` is not changed.
    """
    own = section.get("affinity") or {}
    anti = own.get("podAntiAffinity") or {}
    own_required = anti.get(_REQUIRED) or []
    own_preferred = anti.get(_PREFERRED) or []
    required, preferred = list(own_required), list(own_preferred)
    for mode, weight, key in (("zones", "zoneWeight", ZONE_KEY), ("hosts", "hostWeight", HOST_KEY)):
        term = {"labelSelector": {"matchLabels": selector}, "topologyKey": key}
        if spread.get(mode) == "required" and term not in own_required:
            required.append(term)
        elif spread.get(mode) == "preferred":
            weighted = {"weight": spread.get(weight), "podAffinityTerm": term}
            if weighted not in own_preferred:
                preferred.append(weighted)
    anti = combine(anti, {_REQUIRED: required} if required else {}, {_PREFERRED: preferred} if preferred else {})
    affinity = combine(own, {"podAntiAffinity": anti} if anti else {})
    return combine(section, {"affinity": affinity} if affinity else {})
