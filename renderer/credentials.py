"""What counts as a credential written inline, and the one function that masks credentials in printed text.

A credential is the user information of a URL (``user:password@`` or
``token@`` before the host) or the value of a query parameter named like one
(``password=``, ``token=``, ``secret=``, ``key=``...). The
``external-credentials`` guard refuses them in a URL value
(:func:`url_problem`) and shows the URL masked (:func:`mask_url`).

Every command masks them wherever it prints text a user did not ask to have
verbatim (:func:`redact`): errors, guard reports in every format (text, JSON,
SARIF), ``explain``, ``diff``, ``list``, ``argocd parameters``, the index of a
rendered tree. The one exception is a manifest itself (``render``, ``render
--all``, ``argocd generate``): it is the object Argo CD applies, written as the
values say, and a profile that lets a credential into it has switched off
the guard that exists to refuse it.

In free text a URL is recognised by its scheme (``nats://...@``), or, without
one, as ``user:password@host`` or ``token@host:port`` standing alone (after a
space, a quote, ``=``, a comma or a bracket); an image digest
(``name:tag@sha256:...``) is not a credential.
"""

from __future__ import annotations

import re

MASK = "***"
SECRET_NAMES = r"(?:password|passwd|pass|pwd|token|secret|key|apikey|api_key|auth|credentials?)"
"""Query parameter names whose value is a credential (any case)."""

_SECRET_NAME = re.compile(SECRET_NAMES, re.IGNORECASE)
_QUERY = re.compile(r"([?&;])([^=&#\s]+)=([^&#]*)")
_START = r"(?<![^\s\"'=,(\[{<])"  # at the start, or after a space, a quote, '=', ',' or a bracket
_TEXT = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]+@"  # scheme://userinfo@
    + r"|" + _START + r"[^\s\"'=,(\[{<>/?#@:]+:[^\s/?#@]*@(?=[A-Za-z0-9\[])(?!sha\d+:)"  # user:password@host
    + r"|" + _START + r"[^\s\"'=,(\[{<>/?#@:]+@(?=[A-Za-z0-9.-]+:\d)"  # token@host:port
    + r"|(?P<name>[?&;]" + SECRET_NAMES + r"=)[^&#\s\"'\\]+",  # ?password=value
    re.IGNORECASE)


def _replace(match: re.Match) -> str:
    if match.group("scheme"):
        return match.group("scheme") + MASK + "@"
    if match.group("name"):
        return match.group("name") + MASK
    return MASK + "@"


def redact(text: str) -> str:
    """``text`` with every credential (see the module) replaced by ``***``; the rest unchanged."""
    if "@" not in text and "=" not in text:
        return text
    return _TEXT.sub(_replace, text)


def _split_authority(rest: str) -> tuple[str, str]:
    for index, char in enumerate(rest):
        if char in "/?#":
            return rest[:index], rest[index:]
    return rest, ""


def mask_url(url: str) -> str:
    """A URL value (or several, comma-separated) with its credentials masked: ``nats://***@host``,
    ``?token=***``."""
    def one(part: str) -> str:
        scheme, sep, rest = part.partition("://")
        if not sep:
            scheme, rest = "", part
        authority, tail = _split_authority(rest)
        if "@" in authority:
            authority = MASK + "@" + authority.rsplit("@", 1)[1]
        tail = _QUERY.sub(lambda m: f"{m.group(1)}{m.group(2)}={MASK}" if _SECRET_NAME.fullmatch(m.group(2))
                          else m.group(0), tail)
        return (scheme + sep if sep else "") + authority + tail

    return ",".join(one(part) for part in url.split(","))


def url_problem(url: str) -> str | None:
    """Why ``url`` (one or several, comma-separated) carries credentials, or ``None``."""
    for part in url.split(","):
        rest = part.partition("://")[2] or part
        authority, tail = _split_authority(rest.strip())
        if "@" in authority:
            return "credentials before the host"
        for match in _QUERY.finditer(tail):
            if _SECRET_NAME.fullmatch(match.group(2)):
                return f"a {match.group(2)} in the query"
    return None


def clip(text: str, width: int) -> str:
    """``text`` with its credentials masked, then cut to ``width`` characters (the last three ``...``): masked
    first, so that a cut never leaves part of a credential where it is no longer recognised."""
    text = redact(text)
    return text if len(text) <= width else text[: width - 3] + "..."
