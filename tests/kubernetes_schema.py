"""Kubernetes' own schemas, offline: the ``kubernetes-validate`` package (a test dependency) checks objects the
renderer writes besides the EventBus against the strict JSON Schema of their API version.

The renderer does not use it at run time: importing it (jsonschema, referencing) and loading its definitions
costs more than a whole render, so the renderer checks with its own strict subset
(:data:`renderer.stages.disruption.POD_DISRUPTION_BUDGET`) and these tests hold that subset to the real schema.
"""

from __future__ import annotations

KUBERNETES = "1.37"
"""The Kubernetes version whose schemas the tests use (the newest the package ships)."""


def kubernetes_errors(obj: dict, version: str = KUBERNETES) -> list:
    """What Kubernetes' strict schema of ``obj``'s kind says against it (``[]``: valid)."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'.'.join(str(p) for p in error.path)}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:  # no such kind in that API version
        return [error.message]
    return []
