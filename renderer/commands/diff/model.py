"""What a change is: the records a comparison is made of, from one changed object up to the whole report.

A :class:`Version` is one object as one side has it (its entry in the
rendered tree, its manifest, and, where the comparison may need them far
from the render, the origins of its values). A :class:`Delta` is what
differs between two versions, worked out while their renders were at hand.
:func:`renderer.commands.diff.comparison.compare` turns the versions of two
trees into a :class:`Comparison` of :class:`EnvironmentChange` and
:class:`ObjectChange` records, which the formats print.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REFUSED, STUCK, RECREATE, SELECTOR = "refused", "stuck", "recreate", "selector"
"""The kinds of :class:`Notice`, loudest first (``selector``: a disruption budget protects other pods than before)."""
NOTICE_KINDS = {REFUSED: ("REFUSED", "red_bold"), STUCK: ("STUCK", "red_bold"), RECREATE: ("RECREATE", "yellow_bold"),
                SELECTOR: ("SELECTOR", "yellow_bold")}
"""How each kind is flagged in text: the tag and its colour."""
STATUSES = ("added", "removed", "changed", "renamed", "guards")
"""How an object can differ: ``guards`` means the manifest is the same but its guard findings are not."""
STATUS_TEXT = {"added": "added", "removed": "removed", "changed": "changed", "renamed": "renamed",
               "guards": "with other guard findings"}


def plural(count: int, word: str) -> str:
    """``1 object``, ``2 objects``."""
    return f"{count} {word}{'s' if count != 1 else ''}"


@dataclass(frozen=True, slots=True)
class Notice:
    """A change the cluster refuses (``refused``), that leaves the bus undeployed (``stuck``: Kubernetes refuses
    the controller's StatefulSet update), that needs the EventBus recreated (``recreate``), or that points a
    disruption budget at other pods (``selector``).

    ``message`` says what changes, ``detail`` what follows from it and what to do.
    """

    kind: str
    message: str
    detail: str = ""

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {"kind": self.kind, "message": self.message, "detail": self.detail}

    @property
    def full(self) -> str:
        """Message and detail in one sentence."""
        return f"{self.message}: {self.detail}" if self.detail else self.message


@dataclass(slots=True)
class Version:
    """One object as one side of the comparison has it.

    ``entry`` is its :class:`renderer.commands.bulk.Entry` (identity, file,
    text, guard findings). ``manifest`` is the object the render produced;
    ``None`` when the comparison will not need it, or for an object of a
    committed tree (then it is read from ``entry.text`` if needed).
    ``origins`` maps each leaf path of the manifest to the origin of its
    value (an ``Origin.as_dict()``, ``None`` for a computed value), for a head
    object that may be compared with an object rendered elsewhere.
    """

    entry: object
    manifest: dict | None = None
    origins: dict | None = None


@dataclass(frozen=True, slots=True)
class Delta:
    """What differs between a base and a head object, worked out while the head's render was at hand.

    ``base_key``/``head_key`` and the files say exactly which two objects it
    compares; ``changes`` are the changed leaves with their origins,
    ``notices`` what the webhook makes of the update (objects of one key only).
    """

    base_key: tuple
    head_key: tuple
    base_file: str
    head_file: str
    changes: tuple
    notices: tuple
    diff: str

    def matches(self, base, head) -> bool:
        """Whether this delta compares exactly the entries ``base`` and ``head``."""
        return (base is not None and head is not None and base.key == self.base_key and head.key == self.head_key
                and base.file == self.base_file and head.file == self.head_file)


@dataclass(slots=True)
class ObjectChange:
    """One object that differs between the sides: entries of both (``None`` where it is missing) and how."""

    environment: str
    status: str  # one of STATUSES
    base: object = None  # renderer.commands.bulk.Entry
    head: object = None
    diff: str = ""
    changes: list = field(default_factory=list)
    notices: list = field(default_factory=list)
    appeared: list = field(default_factory=list)
    disappeared: list = field(default_factory=list)

    @property
    def entry(self):
        """The head entry, or the base entry of a removed object."""
        return self.head or self.base

    @property
    def title(self) -> str:
        """``namespace/name``, after its kind for an object beside the bus (``old -> new`` for a rename)."""
        if self.status == "renamed":
            return f"{self.base.title} -> {self.head.ident}"
        return self.entry.title

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "status": self.status,
            "kind": self.entry.kind,
            "namespace": self.entry.namespace,
            "name": self.entry.name,
            "app": self.entry.app,
            "backend": self.entry.backend,
            "base": side_dict(self.base),
            "head": side_dict(self.head),
            "notices": [n.as_dict() for n in self.notices],
            "guards": {"appeared": self.appeared, "disappeared": self.disappeared},
            "changes": self.changes,
            "diff": self.diff,
        }


def side_dict(entry) -> dict | None:
    """One side of an object change, JSON-ready (``None`` for a missing side)."""
    if entry is None:
        return None
    return {"kind": entry.kind, "namespace": entry.namespace, "name": entry.name, "app": entry.app, "file": entry.file,
            "backend": entry.backend}


@dataclass(slots=True)
class EnvironmentChange:
    """What differs in one environment."""

    name: str
    status: str  # added, removed, changed, unchanged
    objects: list = field(default_factory=list)
    unchanged: int = 0

    def counts(self) -> dict:
        """Changed objects by status."""
        out: dict = {}
        for change in self.objects:
            out[change.status] = out.get(change.status, 0) + 1
        return out


@dataclass(slots=True)
class Comparison:
    """Everything that differs between a base and a head tree."""

    base_label: str
    head_label: str
    environments: list = field(default_factory=list)

    @property
    def changed(self) -> list:
        """Environments with any change."""
        return [e for e in self.environments if e.status != "unchanged"]

    @property
    def objects(self) -> list:
        """Every changed object."""
        return [o for e in self.environments for o in e.objects]

    @property
    def notices(self) -> list:
        """``(environment, object change, notice)`` for every notice, refused first."""
        found = [(o.environment, o, n) for o in self.objects for n in o.notices]
        return sorted(found, key=lambda t: (list(NOTICE_KINDS).index(t[2].kind), t[0], t[1].title))

    def summary(self) -> dict:
        """Counts of everything, for the summary line and JSON."""
        objects = dict.fromkeys(STATUSES, 0)
        for change in self.objects:
            objects[change.status] += 1
        objects["unchanged"] = sum(e.unchanged for e in self.environments)
        notices = [n for _, _, n in self.notices]
        return {
            "environments": {"total": len(self.environments), "changed": len(self.changed),
                             "added": sum(e.status == "added" for e in self.environments),
                             "removed": sum(e.status == "removed" for e in self.environments)},
            "objects": objects,
            "refused": sum(n.kind == REFUSED for n in notices),
            "stuck": sum(n.kind == STUCK for n in notices),
            "recreate": sum(n.kind == RECREATE for n in notices),
            "selector": sum(n.kind == SELECTOR for n in notices),
            "guards": {"appeared": sum(len(o.appeared) for o in self.objects),
                       "disappeared": sum(len(o.disappeared) for o in self.objects)},
        }

    def summary_line(self) -> str:
        """One sentence: what changed, how many, and how much of it the cluster will refuse."""
        counts = self.summary()
        envs = counts["environments"]
        objects = counts["objects"]
        if not self.changed:
            return (f"No changes in {plural(envs['total'], 'environment')} "
                    f"({plural(objects['unchanged'], 'object')}).")
        changed = sum(objects[k] for k in STATUSES)
        parts = [f"{objects[k]} {STATUS_TEXT[k]}" for k in STATUSES if objects[k]]
        line = (f"{plural(changed, 'object')} differ{'s' if changed == 1 else ''} in {envs['changed']} of "
                f"{plural(envs['total'], 'environment')} ({', '.join(parts)})")
        if counts["refused"]:
            line += f"; {counts['refused']} refused by the Argo Events webhook (when installed)"
        if counts["stuck"]:
            line += f"; {counts['stuck']} refused by Kubernetes to the controller (the bus stays undeployed)"
        if counts["recreate"]:
            line += f"; {counts['recreate']} need{'s' if counts['recreate'] == 1 else ''} the EventBus recreated"
        if counts["selector"]:
            budgets = counts["selector"]
            line += f"; {plural(budgets, 'disruption budget')} select{'s' if budgets == 1 else ''} other pods"
        guards = counts["guards"]["appeared"] + counts["guards"]["disappeared"]
        if guards:
            line += (f"; guard findings: {counts['guards']['appeared']} new, "
                     f"{counts['guards']['disappeared']} gone")
        return line + "."
