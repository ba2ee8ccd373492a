"""Guards: rules evaluated on the merged values and the rendered manifest.

The code of a rule and its configuration are kept apart, as yamllint and
kube-linter do. Each rule is one module of this package with the constants
``ID``, ``DESCRIPTION`` (what it checks), ``RATIONALE`` (why), ``PARAMS``
(typed :class:`Param` s), ``DEFAULTS`` and a generator ``check(rendered,
params)`` yielding :class:`Finding` s; its docstring is the user
documentation. Its configuration is data in a profile::

    guards:
      replica-count: {level: error, min: 3}
      external-credentials: {level: error, waivable: false}

The package, in the order a render goes through it:

- :mod:`.model`: the records (:class:`Param`, :class:`Waiver`, :class:`Finding`,
  :class:`RuleConfig`, :class:`Evaluation`) and the helpers rule modules use;
- :mod:`.registry`: :data:`RULES`, every rule module by id (a new guard is
  added there);
- :mod:`.structure`: the structural checks of ``guards`` blocks and ``waivers``;
- :mod:`.configuration`: the configuration in force for a profile chain;
- :mod:`.waivers`: the app file's waivers, read and applied;
- :mod:`.evaluation`: :func:`evaluate` runs every rule in force and returns an
  :class:`Evaluation`; :func:`format_report` turns it into text for stderr;
- :mod:`.report` (JSON, SARIF) and :mod:`.catalogue` (the generated docs).

Nothing here prints, and nothing here imports the pipeline: the evaluation
takes what it needs from the ``Rendered`` it is given.
"""

from __future__ import annotations

from renderer.paths import lookup
from renderer.stages.guards.configuration import resolve_config
from renderer.stages.guards.evaluation import evaluate, format_report
from renderer.stages.guards.model import (
    LEVELS,
    RESERVED_KEYS,
    SECTIONS,
    WAIVER_DESCRIPTION,
    WAIVER_KEYS,
    WAIVER_RULE,
    Evaluation,
    Finding,
    Param,
    RuleConfig,
    Waiver,
    describe_origin,
    plural,
    quote,
    sections,
    show_value,
    value_path,
)
from renderer.stages.guards.registry import RULES
from renderer.stages.guards.waivers import parse_waivers

__all__ = [
    "LEVELS", "RESERVED_KEYS", "RULES", "SECTIONS", "WAIVER_DESCRIPTION", "WAIVER_KEYS", "WAIVER_RULE",
    "Evaluation", "Finding", "Param", "RuleConfig", "Waiver",
    "describe_origin", "evaluate", "format_report", "lookup", "parse_waivers", "plural", "quote",
    "resolve_config", "sections", "show_value", "value_path",
]
