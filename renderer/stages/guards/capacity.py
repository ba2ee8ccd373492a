"""The replicas fit the cluster the profile declares.

A profile may declare the cluster's `zones` and `nodesPerZone`. Required
anti-affinity then bounds the replicas that can ever be scheduled: one per
zone with a required term on `topology.kubernetes.io/zone`, one per node
(`zones` x `nodesPerZone`) with a required term on
`kubernetes.io/hostname`. More replicas than that stay `Pending` forever,
and a quorum that counts them may never form. Terms whose selector does not
select this EventBus's pods constrain nothing and are not counted (the
zone-anti-affinity guard reports them). Without declared zones this guard has
nothing to compare with and reports nothing.

Passing (`zones: 3`):

    spread: {zones: required}
    jetstream: {replicas: 3}

Failing (`zones: 3`):

    spread: {zones: required}
    jetstream: {replicas: 5}   # two replicas can never be scheduled
"""

from __future__ import annotations

from collections.abc import Iterator

from renderer.stages.guards.model import Finding, Param, sections, value_path
from renderer.stages.guards.zone_anti_affinity import HOST_KEY, ZONE_KEY, selector_problem, terms

ID = "capacity"
DESCRIPTION = ("NATS native and JetStream replicas fit the zones and nodes the profile declares, under required "
               "anti-affinity.")
RATIONALE = ("Required anti-affinity with more replicas than zones (or nodes) is unschedulable: the extra pods stay "
             "Pending and the bus runs degraded from its first day.")
PARAMS = {
    "zones": Param("int", "zones of the cluster (null: unknown, nothing to check)", stricter="lower", nullable=True),
    "nodesPerZone": Param("int", "schedulable nodes per zone (null: unknown)", stricter="lower", nullable=True),
}
DEFAULTS = {"zones": None, "nodesPerZone": None}


def check(rendered, params: dict) -> Iterator[Finding]:
    """Yield a finding for each replica count that required anti-affinity cannot place."""
    zones, per_zone = params["zones"], params["nodesPerZone"]
    if not zones:
        return
    for backend, path, section in sections(rendered, "nats-native", "jetstream"):
        written = section.get("replicas")
        replicas = written if isinstance(written, int) and not isinstance(written, bool) else 3
        if backend == "nats-native":
            replicas = max(replicas, 3)  # the controller never runs fewer
        required = {term.get("topologyKey") for kind, _, term in terms(section)
                    if kind == "required" and selector_problem(rendered, section, term) is None}
        rpath = path + ("replicas",)
        if ZONE_KEY in required and replicas > zones:
            yield Finding(ID, path=rpath,
                          actual=f"{replicas} replicas with required zone anti-affinity on {zones} zones "
                                 f"({replicas - zones} can never be scheduled)",
                          expected=f"at most {zones} replicas (one per zone)",
                          fix=f"set {value_path(rpath)} to {_odd_at_most(zones)}, or set spread.zones to preferred")
        elif HOST_KEY in required and per_zone and replicas > zones * per_zone:
            nodes = zones * per_zone
            yield Finding(ID, path=rpath,
                          actual=f"{replicas} replicas with required host anti-affinity on {nodes} nodes "
                                 f"({replicas - nodes} can never be scheduled)",
                          expected=f"at most {nodes} replicas (one per node)",
                          fix=f"set {value_path(rpath)} to {_odd_at_most(nodes)}, or add nodes and declare them")


def _odd_at_most(n: int) -> int:
    return n if n % 2 or n < 2 else n - 1
