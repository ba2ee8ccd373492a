"""A JetStream ``streamConfig`` read the way Argo Events reads it, so what it says is what runs.

Two readers meet in a stream config (argo-events v1.9.11):

- the controller merges the EventBus's ``streamConfig`` over its own default (the ``streamConfig`` of
  ``argo-events-controller-config``) with viper: ``ReadConfig`` of the default, ``MergeConfig`` of the
  bus's text, ``AllSettings`` written back as YAML (pkg/reconciler/eventbus/installer/jetstream.go:81-95).
  A ``jetstreamExotic`` bus is passed on as written, with no default under it
  (installer/exotic_jetstream.go:27-37);
- each EventSource and Sensor pod reads the result with viper again and creates the stream
  (pkg/eventbus/jetstream/base/jetstream.go:133-165) through nats.go; the NATS server then checks it
  (nats-server v2.10.29 server/stream.go:1176-1258, ``checkStreamCfg``).

What follows from them, and what :func:`read` checks:

- YAML is go-yaml v3's (viper v1.21.0 internal/encoding/yaml/codec.go): an empty text, comments only or
  ``null`` decode to nothing, which overrides nothing; a list or a scalar is an error
  (``MergeConfig`` fails, jetstream.go:88-90);
- keys are case-insensitive: viper lower-cases every key (util.go:89-100) and looks keys up
  lower-cased, so ``Replicas`` is ``replicas``; two keys equal but for case leave one of them, which
  one depends on Go's map order;
- only seven keys are read (jetstream.go:140-165); anything else is ignored without a word, so it is
  refused here with the closest known key;
- values go through spf13/cast v1.10.0: a number may be quoted (``"1"``), but whatever cast cannot
  read becomes 0 without an error (``1GB`` for a byte count, ``7d`` for a duration: Go has no day unit,
  cast time.go:64-101), and a number without a unit is a duration in nanoseconds. So counts must be
  whole decimal numbers and durations Go durations with a unit (or ``0``);
- ``null`` deletes the controller's default for that key (``AllSettings`` leaves out keys without a
  value, viper.go:1974-1988), so the stream gets 0: refused;
- ``retention`` must be 0-2 and ``discard`` 0-1 (jetstream.go:184-197: anything else fails the pods);
  the NATS server refuses more than 5 replicas, a negative duplicates window, windows and ages below
  100ms, and a duplicates window longer than ``maxAge`` (stream.go:1206-1257); a negative ``maxAge``
  passes, and expires every message at once (filestore.go:2015).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from renderer.errors import InputError
from renderer.stages import yamlio
from renderer.stages.durations import duration_fix, duration_ns
from renderer.suggest import closest

__all__ = ["KEYS", "Entry", "StreamConfig", "cross_problems", "effective", "read"]

KEYS = {
    "maxMsgs": "count", "maxAge": "duration", "maxBytes": "count", "replicas": "replicas",
    "duplicates": "duration", "retention": "retention", "discard": "discard",
}
"""Every key the runtime reads (jetstream.go:140-165), with its kind."""
LIMITS = {"retention": (0, 2, "0 (Limits), 1 (Interest) or 2 (WorkQueue)"),
          "discard": (0, 1, "0 (DiscardOld) or 1 (DiscardNew)"),
          "replicas": (1, 5, "1 to 5 (the NATS server's maximum)")}
_NAMES = {"retention": {"limits": 0, "interest": 1, "workqueue": 2},
          "discard": {"old": 0, "discardold": 0, "new": 1, "discardnew": 1}}
_DECIMAL = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTPE])(i?)B?\s*", re.IGNORECASE)
_INT64 = 2**63
_MIN_WINDOW = 100_000_000
"""100ms in nanoseconds: the shortest ``maxAge`` and ``duplicates`` the NATS server accepts."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One key as written: the name the runtime reads, the key as spelled, its value (nanoseconds for a
    duration) and its line within the stream config."""

    key: str
    written: str
    value: int
    line: int | None


@dataclass(slots=True)
class StreamConfig:
    """A stream config as read: ``state`` is ``empty`` (nothing to merge), ``mapping`` or ``invalid``;
    ``entries`` the keys that are read, by name; ``problems`` ``(line, key, message, fix)`` tuples."""

    state: str
    entries: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    def value(self, key: str, default=None):
        """The value of ``key`` (a name of :data:`KEYS`), or ``default``."""
        entry = self.entries.get(key)
        return default if entry is None else entry.value


def read(text: str, keys=tuple(KEYS)) -> StreamConfig:
    """Read a stream config as the controller and the runtime do; ``keys`` are those the release reads."""
    try:
        data, marks = yamlio.load(text, "streamConfig", raw=True)
    except InputError as exc:
        where = exc.location.line if exc.location else None
        return StreamConfig("invalid", problems=[(where, None, f"is not valid YAML ({exc.message})",
                                                  "write it as 'key: value' lines, e.g. maxAge: 72h")])
    if data is None or isinstance(data, yamlio.Scalar) and data.plain and data.value is None:
        return StreamConfig("empty")
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        return StreamConfig("invalid", problems=[(1, None, f"is {kind}, not a mapping of settings",
                                                  "write it as 'key: value' lines, e.g. maxAge: 72h")])
    out = StreamConfig("mapping")
    lowered = {name.lower(): name for name in KEYS}
    seen: dict = {}
    for written, raw in data.items():
        line = marks.get((written,), (None,))[0]
        name = lowered.get(written.lower())
        if name is None or name not in keys:
            out.problems.append((line, written, *_unknown(written, name, keys)))
            continue
        if name in seen:
            out.problems.append((line, written, f"repeats '{seen[name]}' (keys are read without case, and which "
                                                "one wins is left to chance)", f"keep one '{name}'"))
            continue
        seen[name] = written
        problem = None
        if raw is None or isinstance(raw, yamlio.Scalar) and raw.plain and raw.value is None:
            problem = ("has no value: the controller then drops its own default for it and the stream gets 0",
                       "give it a value or remove the line")
        elif not isinstance(raw, yamlio.Scalar):
            problem = (f"is {'a list' if isinstance(raw, list) else 'a mapping'}, not a single value",
                       _fix(name))
        else:
            value, problem = _value(name, raw)
            if problem is None:
                out.entries[name] = Entry(name, written, value, line)
        if problem is not None:
            out.problems.append((line, written, *problem))
    return out


def _unknown(written: str, name: str | None, keys) -> tuple[str, str]:
    if name is not None:
        return ("is not read by this controller release (it reads only " + ", ".join(keys) + ")",
                f"remove '{written}'")
    squashed = {key.lower().replace("_", ""): key for key in keys}
    close = closest(written.lower().replace("_", "").replace("-", ""), squashed)
    if close:
        return (f"is not a key Argo Events reads (did you mean '{squashed[close[0]]}'?)",
                f"rename it to '{squashed[close[0]]}'")
    return ("is not a key Argo Events reads; it would be ignored", "remove it; the keys read are " + ", ".join(keys))


def _fix(name: str) -> str:
    kind = KEYS[name]
    if kind == "duration":
        return f"write {name} as a Go duration such as 72h or 30m"
    if kind == "count":
        return f"write {name} as a whole number (-1 for no limit)"
    return f"write {name} as {LIMITS[name][2]}"


def _value(name: str, raw: yamlio.Scalar) -> tuple[int | None, tuple | None]:
    """The value the runtime reads for a scalar, or the problem with it."""
    text = raw.text.strip()
    if KEYS[name] == "duration":
        return _duration(name, text)
    if not _DECIMAL.fullmatch(text):
        return None, _not_whole(name, raw.text)
    value = int(text)
    if not -_INT64 <= value < _INT64:
        return None, (f"{value} does not fit a 64-bit integer", _fix(name))
    kind = KEYS[name]
    if kind == "count" and value < -1:
        what = "bytes" if name == "maxBytes" else "messages"
        return None, (f"is {value}; a negative count means no limit", f"write -1 for no limit, or a count of {what}")
    if name in LIMITS:
        low, high, shown = LIMITS[name]
        if not low <= value <= high:
            return None, (f"is {value}; expected {shown}", _fix(name))
    return value, None


def _not_whole(name: str, text: str) -> tuple[str, str]:
    shown = repr(text)
    kind = KEYS[name]
    if kind == "count" and name == "maxBytes":
        size = _SIZE.fullmatch(text)
        if size:
            number, unit, binary = float(size.group(1)), size.group(2).upper(), size.group(3)
            scale = (1024 if binary else 1000) ** ("KMGTPE".index(unit) + 1)
            return (f"{shown} is not a whole number of bytes: the runtime reads it as 0, which means no limit",
                    f"write the byte count, e.g. {int(number * scale)} for {text.strip()}")
    words = _NAMES.get(name, {})
    known = words.get(text.strip().lower().replace("policy", ""))
    if known is not None:
        return (f"{shown} is not a number: the runtime reads it as 0", f"write {known} for {text.strip()}")
    if re.fullmatch(r"\s*[+-]?[0-9][0-9_.eExXoObB]*\s*", text):
        return (f"{shown} is not a whole number written in decimal (Go reads '010' as 8 and cuts '1.5' to 1)",
                _fix(name))
    return f"{shown} is not a number: the runtime reads it as 0", _fix(name)


def _duration(name: str, text: str) -> tuple[int | None, tuple | None]:
    if _DECIMAL.fullmatch(text):
        if int(text) == 0:
            return 0, None
        return None, (f"'{text}' has no unit: the runtime reads a bare number as nanoseconds",
                      f"write it with a unit, e.g. '{text}s' for {text} seconds")
    try:
        value = duration_ns(text)
    except ValueError:
        return None, (f"'{text}' is not a Go duration: the runtime reads it as 0"
                      + (", which means no limit" if name == "maxAge" else ""), duration_fix(text))
    if value < 0:
        effect = ("the NATS server takes it and expires every message at once" if name == "maxAge" else
                  "the NATS server refuses a negative window")
        return None, (f"'{text}' is negative: {effect}", f"write {name} as a positive duration" +
                      (" (0 for no limit)" if name == "maxAge" else ""))
    if 0 < value < _MIN_WINDOW:
        return None, (f"'{text}' is below the 100ms the NATS server accepts", f"write {name} as 100ms or more")
    return value, None


def effective(default: StreamConfig | None, override: StreamConfig | None) -> dict:
    """The values the pods create the stream with: ``override`` merged over ``default`` (keys absent from
    both are 0, as viper reads them)."""
    values = {key: 0 for key in KEYS}
    for layer in (default, override):
        if layer is not None:
            values.update((key, entry.value) for key, entry in layer.entries.items())
    return values


def cross_problems(values: dict) -> list[tuple[str, str, str]]:
    """``(key, message, fix)`` for what the NATS server refuses in the merged values taken together."""
    age, window = values["maxAge"], values["duplicates"]
    if age and window > age:
        return [("duplicates", f"the duplicates window ({_show_ns(window)}) is longer than maxAge "
                               f"({_show_ns(age)}): the NATS server refuses to create the stream",
                 f"set duplicates to {_show_ns(age)} or less, or raise maxAge")]
    return []


def _show_ns(value: int) -> str:
    for unit, size in (("h", 3600 * 10**9), ("m", 60 * 10**9), ("s", 10**9), ("ms", 10**6)):
        if value % size == 0:
            return f"{value // size}{unit}"
    return f"{value}ns"
