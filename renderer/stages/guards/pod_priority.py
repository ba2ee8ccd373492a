"""NATS native and JetStream pods name a priority class, one of the profile's when it lists some.

Upstream's HA guide recommends pod priority for the bus: it reduces the
chance that its pods are evicted (argo-events v1.9.11
`docs/dr_ha_recommendations.md:92-99`). Bus pods without a class get the
cluster's default priority, the same as any ordinary pod. Priority classes
are objects of each cluster, so the built-in `prod` profile cannot name one:
it warns. A profile that knows its cluster makes the guard an error, or lists
the classes it accepts (`classes`).

`priority` without `priorityClassName` is no way around it: where the
Priority admission controller is enabled, it fills `priority` from the class
and prevents users from setting it (upstream's own field documentation,
`pkg/apis/events/v1alpha1/jetstream_eventbus.go:56-59`).

Parameters: `classes` (default null: any class).

Passing (`classes: [eventbus-critical]`):

    jetstream:
      priorityClassName: eventbus-critical

Failing:

    jetstream:
      priority: 1000000   # no class: not allowed where Priority admission is enabled
"""

from __future__ import annotations

from collections.abc import Iterator

from renderer.stages import disruption
from renderer.stages.guards.model import Finding, Param, quote, sections, value_path

ID = "pod-priority"
DESCRIPTION = "NATS native and JetStream pods name a priority class (one the profile lists, when it lists some)."
RATIONALE = ("Priority makes the bus pods less likely to be evicted (upstream's HA guide); without a class they rank "
             "with any pod, and an evicted server can take the quorum. Classes are cluster-specific: prod warns, a "
             "profile that knows its cluster's class requires it.")
PARAMS = {"classes": Param("strings", "priority classes allowed (null: any)", stricter="subset", nullable=True)}
DEFAULTS = {"classes": None}


def check(rendered, params: dict) -> Iterator[Finding]:
    """Yield a finding for a bus section without a priority class, or with one the profile does not list."""
    classes = params["classes"]
    expected = "a priority class" if not classes else "one of " + ", ".join(classes)
    for _backend, path, section in sections(rendered, *disruption.POD_BACKENDS):
        cpath = path + ("priorityClassName",)
        name = section.get("priorityClassName")
        fix = f"set {value_path(cpath)} to " + (classes[0] if classes else
                                                "the class your cluster gives critical workloads")
        if not name:
            priority = section.get("priority")
            actual = ("no priorityClassName (the pods get the cluster's default priority)" if priority is None else
                      f"priority {priority} without priorityClassName (Priority admission fills priority from the "
                      "class and prevents setting it)")
            yield Finding(ID, path=cpath, actual=actual, expected=expected, fix=fix)
        elif classes and name not in classes:
            yield Finding(ID, path=cpath, actual=f"priorityClassName {quote(name)}", expected=expected, fix=fix)
