"""The registry of rules: rule id -> rule module, in report order (as yamllint's ``rules/__init__.py``).

A new guard is a module of this package (see the package's documentation for
its constants and ``check``) added to :data:`RULES` here. All of them
together import in well under a millisecond (no third-party imports).
"""

from __future__ import annotations

from renderer.stages.guards import (
    capacity,
    controller_rules,
    disruption_budget,
    external_credentials,
    persistence,
    pinned_versions,
    pod_priority,
    replica_count,
    zone_anti_affinity,
)

RULES = {module.ID: module for module in (controller_rules, pinned_versions, replica_count, zone_anti_affinity,
                                          capacity, persistence, external_credentials, disruption_budget,
                                          pod_priority)}
"""Every rule: id -> module, in report order."""
