"""What a template may build: every string, list and number a sandboxed template makes is sized before it is made.

A time limit cannot stop one C-level allocation (``'%2000000000d' | format(1)``
asks for 2 GB at once), so every operation that can build a large value from
small arguments is sized from its arguments first, and refused past
:data:`MAX_VALUE` with :class:`TooLarge`:

- operators: ``*``, ``**`` and ``+`` on strings, bytes, lists and integers, ``%``
  formatting, and ``~`` (concatenation, through :class:`BoundedCodeGenerator`);
- filters, the package's and Jinja2's alike
  (:func:`renderer.stages.template_filter_bounds.bounded_filters`): widths, counts
  and indents, ``format``, ``replace``, ``join``, ``tojson``, ``indent``,
  ``wordwrap``, ``batch``, ``slice``; ``sum`` adds numbers only; ``urlize`` is gone;
- methods of strings, bytes and integers (``center``, ``ljust``, ``zfill``,
  ``expandtabs``, ``replace``, ``join``, ``translate``, ``to_bytes``) and
  ``str.format`` (:class:`BoundedFormatter`: each field's width and precision);
- the text of a block, a macro or the whole output (:func:`bounded_concat`).

A value's size counts what serialising it would write: a list holding one
string a million times is a million strings long (:func:`size_of`). And
everything one render builds is added up: past :data:`MAX_WORK` the render
is stopped, so a loop cannot build many values each under the limit. The
time limit of an app's own templates (:mod:`renderer.stages.template`) stops
the rest.
"""

from __future__ import annotations

import contextvars
import re

from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEscapeFormatter, SandboxedFormatter

MAX_VALUE = 1024 * 1024
"""Longest string (in characters) or list (in items) one operation may build, and longest output of a template."""
MAX_WORK = 16 * MAX_VALUE
"""Most characters and items all the operations of one render of a template may build together."""
MAX_INT_BITS = 4096
"""Largest integer (in bits) ``*`` and ``**`` may make: far past any number a manifest holds."""
MAX_INDENT = 64
"""Widest indent ``tojson`` may use."""
CODE_VERSION = 1
"""Version of the code :class:`BoundedCodeGenerator` writes: part of the key of the compiled templates kept on disk,
so bump it with any change there."""
_NUMBER_WIDTH = 330
"""Characters a number may take when formatted without a width (a float's digits and exponent)."""


class TooLarge(SecurityError):
    """An operation of a template would build a value past the limits."""


class _Budget:
    __slots__ = ("used",)

    def __init__(self):
        self.used = 0


_BUDGET: contextvars.ContextVar = contextvars.ContextVar("eventbus_render_template_budget", default=None)


class budget:
    """Count what one render of a template builds (:data:`MAX_WORK`): ``with budget(): template.render(...)``."""

    __slots__ = ("token",)

    def __enter__(self):
        self.token = _BUDGET.set(_Budget())
        return self

    def __exit__(self, *exc):
        _BUDGET.reset(self.token)
        return False


def build(size: int, what: str) -> None:
    """Refuse to build a value of ``size`` characters or items past :data:`MAX_VALUE`, or past what is left of
    :data:`MAX_WORK` for this render; else count it."""
    if size > MAX_VALUE:
        raise TooLarge(f"{what} would build a value of {size:,} characters or items; a template may build at most "
                       f"{MAX_VALUE:,} at once")
    spent = _BUDGET.get()
    if spent is not None:
        spent.used += size
        if spent.used > MAX_WORK:
            raise TooLarge(f"{what}: the template has built more than {MAX_WORK:,} characters and list items in "
                           "all, the limit of one render")


def size_of(value, limit: int = MAX_VALUE) -> int:
    """What writing ``value`` out takes, at least: characters of its strings and one per other item, counting a
    value held twice twice; the walk stops once past ``limit``. (Every built-in template writes its values with
    the ``yaml`` filter, which asks this first: the common cases come first.)"""
    cls = value.__class__
    if cls is str:
        return len(value) + 2
    total = 0
    pending = [value]
    pop, push = pending.pop, pending.append
    while pending:
        item = pop()
        cls = item.__class__
        if cls is dict:
            total += 2
            for key, sub in item.items():
                total += (len(key) if key.__class__ is str else _other(key)) + 4
                sub_cls = sub.__class__
                if sub_cls is str:
                    total += len(sub)
                elif sub_cls is dict or sub_cls is list:
                    push(sub)
                else:
                    total += _other(sub)
        elif cls is list or cls is tuple:
            total += 2 + len(item)
            pending.extend(item)
        elif cls is str:
            total += len(item) + 2
        else:
            total += _other(item)
        if total > limit:
            return total
    return total


def _other(item) -> int:
    """The size of anything but a plain string, mapping or list (see :func:`size_of`)."""
    if isinstance(item, (str, bytes)):
        return len(item) + 2
    if isinstance(item, (dict, list, tuple)):
        return size_of(item)
    if item is None or isinstance(item, (int, float)):
        return 24
    try:  # an object of the template's (a namespace, a macro): as long as its text
        return len(str(item))
    except Exception:
        return 24


def bounded_concat(pieces) -> str:
    """``"".join(pieces)``, refused as soon as the text passes :data:`MAX_VALUE` (the environment's ``concat``:
    the output, blocks, macros)."""
    parts, total = [], 0
    append = parts.append
    for piece in pieces:
        total += len(piece)
        if total > MAX_VALUE:
            raise TooLarge(f"the template's output (or a block or macro of it) would pass {MAX_VALUE:,} characters")
        append(piece)
    build(total, "the output")
    return "".join(parts)


def sized_parts(parts: tuple) -> tuple:
    """The operands of ``~`` as strings, once their total length is known to be within the limits."""
    out = tuple(part if isinstance(part, str) else str(part) for part in parts)
    build(sum(map(len, out)), "~ (concatenation)")
    return out


class BoundedCodeGenerator(CodeGenerator):
    """Jinja2's code generator, with ``~`` sized before it joins (:func:`sized_parts`)."""

    def visit_Concat(self, node, frame) -> None:
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"{func_name}(environment.sized_parts((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")


# -- operators ----------------------------------------------------------------------------------------------

_SEQUENCES = (str, bytes, list, tuple)


def check_binop(operator: str, left, right) -> None:
    """Refuse ``left <operator> right`` when its result would pass the limits."""
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, _SEQUENCES) and isinstance(count, int):
                build(len(seq) * max(count, 0), "repetition (*)")
                return
        if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TooLarge(f"a product of more than {MAX_INT_BITS} bits")
    elif operator == "**":
        if isinstance(right, (int, float)) and abs(right) > 64:
            raise TooLarge("exponent too large for a template (at most 64)")
        if _is_int(left) and _is_int(right) and left.bit_length() * max(right, 0) > MAX_INT_BITS:
            raise TooLarge(f"a power of more than {MAX_INT_BITS} bits")
    elif operator == "+":
        if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            build(len(left) + len(right), "concatenation (+)")
    elif operator == "%" and isinstance(left, (str, bytes)):
        build(printf_size(left, right), "% formatting")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """Whether ``value`` is an integer or a float (a boolean counts, as Python counts it)."""
    return isinstance(value, (int, float))


# -- formatting ---------------------------------------------------------------------------------------------

_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)", re.DOTALL)
_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[_,]?(?:\.(\d+))?.?", re.DOTALL)


def printf_size(text, args) -> int:
    """An upper bound of ``text % args``: its length, each conversion's width and precision, and the arguments."""
    text = text.decode("latin-1") if isinstance(text, bytes) else text
    stars = iter(args if isinstance(args, tuple) else (args,))
    total = len(text) + size_of(args)
    for width, precision, _ in _PRINTF.findall(text):
        for number in (width, precision):
            if number == "*":
                number = next(stars, 0)
            total += as_size(number) + _NUMBER_WIDTH
    return total


def as_size(text) -> int:
    """A width, count or length given as an integer or as digits (a format spec's); 0 for anything else."""
    if isinstance(text, int) and not isinstance(text, bool):
        return abs(text)
    if isinstance(text, str) and text.isdigit():
        return int(text) if len(text) < 20 else MAX_VALUE + 1
    return 0


def spec_size(spec: str) -> int:
    """An upper bound of the extra text a ``str.format`` spec asks for: its width and precision."""
    match = _SPEC.fullmatch(spec or "")
    if match is None:
        return 0  # Python refuses the spec itself
    return as_size(match.group(1)) + as_size(match.group(2))


class _Bounded:
    """Sizes each field of ``str.format`` before formatting it."""

    def format_field(self, value, format_spec):
        build(max(spec_size(format_spec) + _NUMBER_WIDTH, size_of(value)), "str.format")
        return super().format_field(value, format_spec)


class BoundedFormatter(_Bounded, SandboxedFormatter):
    """Jinja2's sandboxed formatter, each field sized first."""


class BoundedEscapeFormatter(_Bounded, SandboxedEscapeFormatter):
    """Jinja2's sandboxed escaping formatter (for ``Markup.format``), each field sized first."""


# -- methods ------------------------------------------------------------------------------------------------

def _width(text, width=0, *rest):
    return max(len(text), as_size(width))


def _expandtabs(text, tabsize=8):
    return len(text) + text.count("\t" if isinstance(text, str) else b"\t") * as_size(tabsize)


def replace_size(text, old, new, count=-1):
    """An upper bound of ``text.replace(old, new, count)``."""
    if not isinstance(old, (str, bytes)) or not isinstance(new, (str, bytes)):
        return len(text)
    found = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(0, len(new) - len(old))


def _translate(text, table):
    longest = max((len(v) for v in table.values() if isinstance(v, (str, bytes))), default=1) \
        if isinstance(table, dict) else 1
    return len(text) * max(longest, 1)


def _to_bytes(number, length=1, *rest, **options):
    return as_size(length)


_METHODS = {"center": _width, "ljust": _width, "rjust": _width, "zfill": _width, "expandtabs": _expandtabs,
            "replace": replace_size, "translate": _translate, "to_bytes": _to_bytes}


def check_call(function, args: tuple, kwargs: dict) -> tuple:
    """Size a call of a method of a string, bytes or integer before it runs; returns the arguments to call with
    (``join`` gets its items as a list, counted once)."""
    owner = getattr(function, "__self__", None)
    if not isinstance(owner, (str, bytes, int)) or isinstance(owner, bool):
        return args
    name = getattr(function, "__name__", "")
    if name == "join" and len(args) == 1 and not kwargs:
        items = list(args[0])
        build(sum(size_of(item) for item in items) + len(owner) * len(items), "join")
        return (items,)
    sizer = _METHODS.get(name)
    if sizer is not None:
        try:
            size = sizer(owner, *args, **kwargs)
        except TypeError:
            return args  # the method refuses these arguments itself
        build(size, f"{name}()")
    return args
