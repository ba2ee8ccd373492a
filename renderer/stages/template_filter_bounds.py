"""The filters a template gets, each sized like every other operation of :mod:`renderer.stages.template_bounds`.

Every filter, Jinja2's and the package's alike, is wrapped: the result is
counted (and refused past the limits), and a filter whose arguments say how
large its result will be (a width, an indent, a count, a format, a
replacement, a separator) is sized before it runs.
"""

from __future__ import annotations

import functools

from jinja2.filters import make_attrgetter

from renderer.stages.template_bounds import (
    MAX_INDENT,
    TooLarge,
    as_size,
    build,
    is_number,
    printf_size,
    replace_size,
    size_of,
)

# -- filters ------------------------------------------------------------------------------------------------

def _center(value, width=80):
    return max(len(str(value)), as_size(width))


def _indent(s, width=4, first=False, blank=False):
    step = len(width) if isinstance(width, str) else as_size(width)
    text = str(s)
    return len(text) + (text.count("\n") + 1) * step


def _wordwrap(s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True):
    text = str(s)
    return len(text) * (1 + len(wrapstring if isinstance(wrapstring, str) else "\n"))


def _format(value, *args, **kwargs):
    return printf_size(str(value), kwargs or args)


def _filter_replace(s, old, new, count=None):
    return replace_size(str(s), str(old), str(new), -1 if count is None else count)


def _tojson(value, indent=None):
    step = len(indent) if isinstance(indent, str) else as_size(indent)
    if step > MAX_INDENT:
        raise TooLarge(f"tojson indent {step} (at most {MAX_INDENT})")
    return size_of(value) * (1 + step)


def _count(value, count, fill_with=None):
    return as_size(count)


def _written(value, *rest, **options):
    return size_of(value)  # escaping may make it a few times longer: the result is sized again


_FILTERS = {"center": _center, "indent": _indent, "wordwrap": _wordwrap, "format": _format,
            "replace": _filter_replace, "tojson": _tojson, "batch": _count, "slice": _count,
            **dict.fromkeys(("escape", "e", "forceescape", "xmlattr", "urlencode", "pprint", "string", "yaml", "title",
                             "upper", "lower", "capitalize"), _written)}
_DROPPED = ("urlize",)
"""Filters a template does not get: ``urlize`` writes HTML links of unbounded length, of no use in a manifest."""


def bounded_filters(filters: dict, *, package: bool = False) -> dict:
    """``filters`` with every one sized: before (by its arguments, :data:`_FILTERS`) and after (its result).

    For the package's own templates (``package``) the ``yaml`` filter's result is sized after it is written,
    not before: those templates pass it only the render's values, trees read from YAML within the read limits
    (:mod:`renderer.stages.layers`), which hold no value twice; sizing them first would cost every render a
    walk of its values. An app's template can build a list holding one long string a thousand times: there
    it is sized first.
    """
    out = {}
    for name, function in filters.items():
        if name not in _DROPPED:
            out[name] = _wrap(name, function, None if package and name == "yaml" else _FILTERS.get(name))
    return out


_SIZED = (str, bytes, list, tuple, dict)


def _wrap(name: str, function, sizer):
    passes = getattr(function, "jinja_pass_arg", None) is not None  # the first argument is Jinja2's, not the value
    label = f"the {name} filter"
    if name in ("join", "sum"):
        special = _join if name == "join" else _sum

        @functools.wraps(function)  # keeps jinja_pass_arg
        def bounded(*args, **kwargs):
            skip = 1 if passes else 0
            return special(function, args[:skip], args[skip:], kwargs)
    elif sizer is not None:
        @functools.wraps(function)
        def bounded(*args, **kwargs):
            given = args[1:] if passes else args
            if given:
                build(sizer(*given, **kwargs), label)
            result = function(*args, **kwargs)
            if isinstance(result, _SIZED):
                build(len(result), label)
            return result
    else:
        @functools.wraps(function)
        def bounded(*args, **kwargs):
            result = function(*args, **kwargs)
            if isinstance(result, _SIZED):
                build(len(result), label)
            return result
    return bounded


def _join(function, passed: tuple, given: tuple, kwargs: dict):
    """``join(value, d='', attribute=None)``: the items listed once, their total size known before joining."""
    items = list(given[0]) if given else []
    separator = given[1] if len(given) > 1 else kwargs.get("d", "")
    build(sum(size_of(item) for item in items) + len(str(separator)) * len(items), "the join filter")
    result = function(*passed, items, *given[1:], **kwargs)
    build(len(result), "the join filter")
    return result


def _sum(function, passed: tuple, given: tuple, kwargs: dict):
    """``sum(iterable, attribute=None, start=0)`` over numbers only (a sum of lists or strings is quadratic)."""
    items = list(given[0]) if given else []
    attribute = kwargs.get("attribute", given[1] if len(given) > 1 else None)
    start = kwargs.get("start", given[2] if len(given) > 2 else 0)
    values = items if attribute is None else list(map(make_attrgetter(passed[0], attribute), items))
    if not all(is_number(value) for value in values) or not is_number(start):
        raise TooLarge("sum adds numbers only (join strings with join, lists with +)")
    return sum(values, start)
