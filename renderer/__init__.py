"""eventbus-renderer: layered, guarded rendering of Argo Events EventBus manifests."""

__version__ = "0.1.0"
