"""eventbus-renderer: layered, guarded rendering of Argo Events EventBus manifests."""

# The package's one version: pyproject.toml reads it from here (setuptools' dynamic `attr`, without
# importing the package), so the installed metadata says the same. It stays a literal because
# the Argo CD sidecar's thin client (renderer.argocd.client) sends it with every request, before it
# imports anything: importlib.metadata would add about 11 ms to each of those starts.
__version__ = "0.1.0"
