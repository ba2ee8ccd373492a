"""The render pipeline's stages, in the order data flows through them.

1. load: :mod:`.yamlio` (the one YAML reader, with file:line of every key) and
   :mod:`.sources` (app file, profiles, overlays; no path leaves its root);
2. merge: :mod:`.layers` (value layers with the provenance of every value);
3. template: :mod:`.template` (sandboxed Jinja2, one template per backend);
4. validate: :mod:`.validate` against :mod:`.spec` (the EventBus schema);
5. guard: :mod:`.guards` (one module per rule, waivers, reports);
6. emit: :mod:`.emit` (deterministic YAML and JSON, the one writer).

:mod:`renderer.pipeline` wires them; nothing here imports a command or the
command line.
"""
