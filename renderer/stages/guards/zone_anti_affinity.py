"""The EventBus pods are spread across zones and hosts by anti-affinity that really selects them.

For NATS native and JetStream, `affinity.podAntiAffinity` holds a term on
`topology.kubernetes.io/zone` (parameter `zones`) and one on
`kubernetes.io/hostname` (parameter `hosts`): `required` asks for a
`requiredDuringScheduling...` term, `preferred` accepts either kind,
`none` asks for nothing. `spread.zones` / `spread.hosts` write these terms.

Every anti-affinity term's `labelSelector` must select this EventBus's pods,
which the controller labels `controller: eventbus-controller`,
`eventbus-name: <name>` and `owner-name: <name>` (plus the section's
`metadata.labels`), and must not select another EventBus's pods. A selector
left over from another name selects nothing, so the term spreads nothing.
A missing `labelSelector` selects nothing either; `namespaces` must include
the EventBus's namespace.

Passing (EventBus `default`):

    affinity:
      podAntiAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: topology.kubernetes.io/zone
            labelSelector:
              matchLabels: {controller: eventbus-controller, eventbus-name: default}

Failing:

    spread: {zones: preferred}            # with zones: required
    ...
              matchLabels: {controller: eventbus-controller, eventbus-name: old-bus}
"""

from __future__ import annotations

from collections.abc import Iterator

from renderer.stages.guards.model import Finding, Param, quote, sections, value_path

ID = "zone-anti-affinity"
DESCRIPTION = ("NATS native and JetStream pods are spread across zones and hosts by podAntiAffinity whose selector "
               "matches this EventBus's pods.")
RATIONALE = ("Replicas that share a zone or a node fail together, and the quorum with them; a selector that does not "
             "match the bus's own pods (say, copied from another EventBus) looks right and spreads nothing.")
MODES = ("none", "preferred", "required")
PARAMS = {
    "zones": Param("choice", "spread across topology.kubernetes.io/zone", stricter="later", choices=MODES),
    "hosts": Param("choice", "spread across kubernetes.io/hostname", stricter="later", choices=MODES),
}
DEFAULTS = {"zones": "required", "hosts": "required"}

ZONE_KEY = "topology.kubernetes.io/zone"
HOST_KEY = "kubernetes.io/hostname"
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def pod_labels(name: str, section: dict) -> dict:
    """Labels of the EventBus's pods: the section's ``metadata.labels``, then the controller's."""
    labels = dict((section.get("metadata") or {}).get("labels") or {})
    labels.update({"controller": "eventbus-controller", "eventbus-name": name, "owner-name": name})
    return labels


def selector_matches(selector, labels: dict) -> bool:
    """Kubernetes label-selector semantics: a missing selector matches nothing, ``{}`` matches everything."""
    if not isinstance(selector, dict):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def terms(section: dict) -> Iterator[tuple[str, tuple, dict]]:
    """``(kind, path inside the section, pod affinity term)`` of every anti-affinity term."""
    anti = (section.get("affinity") or {}).get("podAntiAffinity") or {}
    for index, term in enumerate(anti.get(REQUIRED) or []):
        if isinstance(term, dict):
            yield "required", ("affinity", "podAntiAffinity", REQUIRED, index), term
    for index, weighted in enumerate(anti.get(PREFERRED) or []):
        term = weighted.get("podAffinityTerm") if isinstance(weighted, dict) else None
        if isinstance(term, dict):
            yield "preferred", ("affinity", "podAntiAffinity", PREFERRED, index, "podAffinityTerm"), term


def selector_problem(rendered, section: dict, term: dict) -> tuple[str, tuple] | None:
    """Why ``term`` does not select exactly this EventBus's pods, and the key at fault; None if it does."""
    namespaces = term.get("namespaces")
    if namespaces and rendered.namespace not in namespaces:
        return f"its namespaces {', '.join(namespaces)} leave out {rendered.namespace}", ("namespaces",)
    selector = term.get("labelSelector")
    if selector is None:
        return "it has no labelSelector, which selects no pods", ("labelSelector",)
    if not selector_matches(selector, pod_labels(rendered.name, section)):
        written = (selector.get("matchLabels") or {}).get("eventbus-name")
        if written is not None and written != rendered.name:
            return (f"it selects eventbus-name {quote(written)}, not this EventBus {quote(rendered.name)}",
                    ("labelSelector", "matchLabels", "eventbus-name"))
        return "it does not select this EventBus's pods", ("labelSelector",)
    other = rendered.name + "-other"
    if selector_matches(selector, {"controller": "eventbus-controller", "eventbus-name": other, "owner-name": other}):
        return "it also selects the pods of every other EventBus", ("labelSelector",)
    return None


def check(rendered, params: dict) -> Iterator[Finding]:
    """Yield a finding for each term with a wrong selector and each missing spread."""
    for _backend, path, section in sections(rendered, "nats-native", "jetstream"):
        good = {"required": set(), "preferred": set()}
        for kind, sub, term in terms(section):
            problem = selector_problem(rendered, section, term)
            if problem is None:
                good[kind].add(term.get("topologyKey"))
                continue
            problem, at = problem
            where = path + sub + at
            if at == ("namespaces",):
                fix = f"add {rendered.namespace} to {value_path(where)}, or remove it (the term's own namespace)"
            else:
                fix = (f"set the term's labelSelector.matchLabels to controller: eventbus-controller and "
                       f"eventbus-name: {rendered.name} (or drop the term and let spread.zones/spread.hosts write it)")
            yield Finding(ID, path=where, actual=f"anti-affinity term on {term.get('topologyKey')}: {problem}",
                          expected=f"a selector of controller: eventbus-controller, eventbus-name: {rendered.name}",
                          fix=fix)
        for param, key, spread in (("zones", ZONE_KEY, "spread.zones"), ("hosts", HOST_KEY, "spread.hosts")):
            mode = params[param]
            if mode == "none" or key in good["required"] or (mode == "preferred" and key in good["preferred"]):
                continue
            where = path + ("affinity", "podAntiAffinity")
            if key in good["preferred"]:
                actual = f"the spread across {key} is only preferred (the scheduler may still co-locate replicas)"
            else:
                actual = f"no anti-affinity term on {key} selecting this EventBus's pods"
            kind = "a required" if mode == "required" else "a"
            yield Finding(ID, path=where, actual=actual,
                          expected=f"{kind} podAntiAffinity term on {key}",
                          origin=rendered.origin((spread.split(".")[0], param)), located=True,
                          fix=f"set {spread} to {mode} (or add the term to {value_path(where)})")
