"""Small record classes: what ``@dataclass`` gives, without its cost at import.

``dataclasses`` writes each class's methods as source text and compiles them
when the module is imported: about two million instructions a class, which
for the two dozen records on the rendering path is a sixth of a fresh
process's start (Argo CD starts one per render). Records here write their
``__init__`` by hand and inherit equality, ``repr``, ``replace`` and, for
frozen ones, immutability and hashing from these bases, driven by the
class's ``_fields``.
"""

from __future__ import annotations


class Record:
    """A record whose fields are named by ``_fields``: compared, shown and copied field by field."""

    _fields: tuple = ()
    __hash__ = None  # mutable records are not hashable (as a dataclass with eq and without frozen)

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({shown})"

    def replace(self, **changes):
        """A copy with ``changes`` (field name -> value) applied."""
        unknown = set(changes) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return type(self)(**values)


class FrozenRecord(Record):
    """A record that cannot change once made, and so can be hashed (``__init__`` sets every field, in the
    order of ``_fields``, through :meth:`_set_fields`)."""

    def _set_fields(self, *values) -> None:
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r} of a {type(self).__name__}")

    def __delattr__(self, name):
        raise AttributeError(f"cannot delete field {name!r} of a {type(self).__name__}")

    def __hash__(self) -> int:
        return hash(self._values())
