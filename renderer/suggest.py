"""The one way a mistyped name is answered with the known names closest to it ("did you mean ...").

:mod:`difflib` is imported only when there is a mistake to explain: a
render that succeeds never pays for it.
"""

from __future__ import annotations


def closest(word: str, choices, *, n: int = 1, cutoff: float = 0.6, ignore_case: bool = False) -> list[str]:
    """The at most ``n`` of ``choices`` closest to ``word``, best first, each at least ``cutoff`` alike
    (:func:`difflib.get_close_matches`); ``[]`` when none is. With ``ignore_case`` a choice that differs from
    ``word`` in case only is the answer, alone."""
    if ignore_case:
        lowered = word.lower()
        for choice in choices:
            if choice.lower() == lowered:
                return [choice]
    import difflib  # only paid for when there is a mistake to explain

    return difflib.get_close_matches(word, list(choices), n=n, cutoff=cutoff)


def did_you_mean(word: str, choices) -> str:
    """``"did you mean 'x'? "`` for the choice closest to ``word``, or ``""``: the start of a hint."""
    found = closest(word, choices)
    return f"did you mean {found[0]!r}? " if found else ""
