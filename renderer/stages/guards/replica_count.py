"""NATS native and JetStream run enough replicas, and an odd number of them.

The servers of a native NATS (streaming, Raft) or JetStream bus keep their
data by quorum: `n` servers survive `(n - 1) // 2` failures. An even count
adds a server without adding fault tolerance (4 survive one failure, like 3),
and raises the number of servers a write must reach. An omitted count is the
controller's default, 3.

Parameters: `min` (default 3), `max` (default none), `odd` (default true).

Passing (`min: 3`):

    jetstream:
      replicas: 5

Failing:

    jetstream:
      replicas: 4   # even: no more fault tolerance than 3
    nats:
      native:
        replicas: 1 # below the minimum
"""

from __future__ import annotations

from collections.abc import Iterator

from renderer.stages.guards.model import Finding, Param, plural, sections, value_path

ID = "replica-count"
DESCRIPTION = "NATS native and JetStream run at least the profile's minimum of replicas, and an odd count."
RATIONALE = ("A quorum of n servers survives (n - 1) // 2 failures: fewer than 3 survive none, and an even count "
             "costs a server without surviving one more failure.")
PARAMS = {
    "min": Param("int", "fewest replicas allowed", stricter="higher"),
    "max": Param("int", "most replicas allowed (null: no maximum)", stricter="lower", nullable=True),
    "odd": Param("bool", "require an odd count", stricter="true"),
}
DEFAULTS = {"min": 3, "max": None, "odd": True}

CONTROLLER_DEFAULT = 3


def check(rendered, params: dict) -> Iterator[Finding]:
    """Yield a finding for each replica count outside the profile's bounds or even."""
    low, high, odd = params["min"], params["max"], params["odd"]
    for _backend, path, section in sections(rendered, "nats-native", "jetstream"):
        written = section.get("replicas")
        count = written if isinstance(written, int) and not isinstance(written, bool) else CONTROLLER_DEFAULT
        if low <= count and (high is None or count <= high) and not (odd and count % 2 == 0):
            continue
        rpath = path + ("replicas",)
        shown = plural(count, "replica") if written is not None else f"replicas unset (the controller runs {count})"
        choices = suggestions(count, low, high, odd)
        fix = (f"set {value_path(rpath)} to {' or '.join(str(c) for c in choices)}" if choices else
               f"the profile's bounds (min {low}, max {high}) leave no valid count: fix the profile")
        yield Finding(ID, path=rpath, actual=shown, expected=expectation(low, high, odd), fix=fix)


def expectation(low: int, high: int | None, odd: bool) -> str:
    """``an odd count of at least 3``, ``a count between 3 and 7`` ..."""
    kind = "an odd count" if odd else "a count"
    if high is None:
        return f"{kind} of at least {low}"
    return f"{kind} between {low} and {high}"


def suggestions(count: int, low: int, high: int | None, odd: bool) -> list[int]:
    """The valid counts nearest to ``count`` (at most two, ascending)."""
    top = high if high is not None else max(count, low) + 4
    valid = [c for c in range(max(low, 1), top + 1) if not (odd and c % 2 == 0)]
    valid.sort(key=lambda c: abs(c - count))
    return sorted(valid[:2])
