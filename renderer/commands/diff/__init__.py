"""``eventbus-render diff``: which manifests change in which environment, and what the cluster will make of it.

Both sides are rendered (every environment of every app, as ``render --all``
does; one whose inputs did not change only once, at the base), and each
object is compared as the render produced it, with the provenance of its
values. Objects are matched by environment,
namespace and name, so moving an app directory changes nothing, while
renaming an EventBus shows as a rename. Besides the text diff, every change
is checked against what upstream's admission webhook (when installed)
refuses on update, what Kubernetes refuses the controller (a StatefulSet's
volumes), and what silently needs the bus recreated. Guard findings that appear or
disappear are listed too.

The modules, in the order data flows through them:

- :mod:`~renderer.commands.diff.model`: what a change is (versions, deltas, object and environment changes);
- :mod:`~renderer.commands.diff.sides`: both sides rendered once, compared while the renders are at hand;
- :mod:`~renderer.commands.diff.reuse`: the head's render of an environment taken from the base when everything
  it reads is byte-identical;
- :mod:`~renderer.commands.diff.comparison`: matching the objects of two trees, and comparing two versions;
- :mod:`~renderer.commands.diff.webhook`: what the Argo Events webhook and the cluster make of an update;
- :mod:`~renderer.commands.diff.formats`: the text, markdown and JSON reports;
- :mod:`~renderer.commands.diff.command`: the click command, exporting revisions and cleaning up.
"""

from renderer.commands.diff.command import diff_command, run_diff
from renderer.commands.diff.comparison import compare, leaf_changes
from renderer.commands.diff.formats import MARKDOWN_MARKER, format_json, format_markdown, format_text
from renderer.commands.diff.model import Comparison, Notice, Version
from renderer.commands.diff.webhook import immutable_changes

__all__ = ["Comparison", "MARKDOWN_MARKER", "Notice", "Version", "compare", "diff_command", "format_json",
           "format_markdown", "format_text", "immutable_changes", "leaf_changes", "run_diff"]
