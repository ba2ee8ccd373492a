"""NATS native and JetStream buses have a PodDisruptionBudget that selects their pods and keeps their quorum.

The Argo Events controller creates no PodDisruptionBudget, so a node drain
(a cluster upgrade, a scale-down) may evict several servers of a bus at
once: with two of three gone the quorum goes, and every EventSource and
Sensor on the bus stops. The renderer writes a budget beside the bus when
`disruptionBudget.enabled` is true (the built-in prod and staging profiles
turn it on). This guard checks that:

- the budget exists (parameter `require`);
- it selects this bus's pods: `controller: eventbus-controller` and
  `eventbus-name: <the bus>`, the labels the controller puts on them;
- it keeps the quorum: at most `(replicas - 1) // 2` pods go at once (1 for
  3 or 4 replicas, 2 for 5); `minAvailable` counts as `replicas - minAvailable`;
- it lets a drain through: `maxUnavailable: 0`, or a `minAvailable` of the
  replica count or more, blocks every eviction, and a node drain then waits
  until someone deletes the budget by hand;
- the bus runs enough replicas for both: 1 or 2 servers have no quorum that
  survives an eviction.

Findings point into the budget (`PodDisruptionBudget.spec.maxUnavailable`);
a waiver names that path, or `PodDisruptionBudget` for a bus without one.

Parameters: `require` (default true).

Passing (3 replicas):

    disruptionBudget:
      enabled: true
      maxUnavailable: 1

Failing (3 replicas):

    disruptionBudget:
      enabled: true
      maxUnavailable: 2   # two of three at once: the quorum goes with them
    # or
    disruptionBudget:
      maxUnavailable: null
      minAvailable: 3     # every drain blocks
"""

from __future__ import annotations

from collections.abc import Iterator

from renderer.stages import companions, disruption
from renderer.stages.guards.model import Finding, Param, plural, sections, value_path

ID = "disruption-budget"
DESCRIPTION = ("NATS native and JetStream buses have a PodDisruptionBudget that selects their pods, keeps their "
               "quorum and lets a node drain through.")
RATIONALE = ("The controller creates no budget: a node drain may evict two of three servers at once and take the "
             "quorum, and every EventSource and Sensor with it; a budget of no disruption blocks every drain "
             "instead.")
PARAMS = {"require": Param("bool", "require a budget beside every nats-native and jetstream bus", stricter="true")}
DEFAULTS = {"require": True}

KIND = disruption.KIND
_SETTING = disruption.VALUES_KEY


def check(rendered, params: dict) -> Iterator[Finding]:
    """Yield a finding for a missing budget, a budget of other pods, and one that loses the quorum or blocks drains."""
    budget = companions.of_kind(rendered.companions, KIND)
    for _backend, path, section in sections(rendered, *disruption.POD_BACKENDS):
        replicas = disruption.replica_count(section)
        if budget is None:
            if params["require"]:
                yield Finding(ID, path=(KIND,), actual="no PodDisruptionBudget: a node drain may evict several "
                              "servers at once and take the quorum",
                              expected=f"a budget of at most {max(1, disruption.tolerance(replicas))} unavailable",
                              fix=f"set {_SETTING}.enabled to true", origin=rendered.origin((_SETTING, "enabled")),
                              located=True)
            continue
        spec = budget.get("spec") or {}
        wanted = {"matchLabels": disruption.pod_selector(rendered.name)}
        if spec.get("selector") != wanted:
            yield Finding(ID, path=(KIND, "spec", "selector"), actual="the budget does not select this bus's pods",
                          expected=f"selector {wanted}", fix="let the renderer write the selector", located=True)
        key, value, down = disruption.unavailable(spec, replicas)
        yield from _quorum(path, replicas, (KIND, "spec", key), key, value, down)


def _quorum(path: tuple, replicas: int, bpath: tuple, key: str, value, down: int) -> Iterator[Finding]:
    keep = disruption.tolerance(replicas)
    shown = f"{key} {value} with {plural(replicas, 'replica')}"
    other = ", and minAvailable to null" if key == "minAvailable" else ""
    if keep == 0:
        yield Finding(ID, path=bpath, actual=f"{shown}: no budget keeps the quorum of {plural(replicas, 'server')} "
                      "and lets a drain through", expected="at least 3 replicas",
                      fix=f"set {value_path(path + ('replicas',))} to 3, or {_SETTING}.enabled to false")
    elif down <= 0:
        yield Finding(ID, path=bpath, actual=f"{shown} blocks every eviction: a node drain waits until the budget "
                      "is deleted by hand", expected=_expected(replicas, keep),
                      fix=f"set {_SETTING}.maxUnavailable to 1{other}")
    elif down > keep:
        yield Finding(ID, path=bpath, actual=f"{shown} lets {down} servers go at once, and the quorum with them",
                      expected=_expected(replicas, keep), fix=f"set {_SETTING}.maxUnavailable to {keep}{other}")


def _expected(replicas: int, keep: int) -> str:
    if keep == 1:
        return f"1 unavailable (maxUnavailable 1, or minAvailable {replicas - 1})"
    return f"1 to {keep} unavailable (maxUnavailable 1 to {keep}, or minAvailable {replicas - keep} to {replicas - 1})"
