"""The one exception hierarchy of the renderer.

Every mistake a user can make ends in a :class:`RendererError`. The command
line turns it into a message on stderr and an exit code in one place
(``cli.main``), so no user error ever shows a Python traceback.

Exit codes: 0 success; 1 a guard failed (or ``diff --exit-code`` found a
change); 2 bad input, a usage mistake, or output that could not be written
(:class:`OutputError`); 3 an internal failure, a bug (:data:`EXIT_INTERNAL`,
:class:`InternalError`); 128+N stopped by signal N (SIGINT, SIGTERM, SIGHUP).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a user's file: display path, 1-based line and column, and key path."""

    file: str
    line: int | None = None
    column: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class RendererError(Exception):
    """Base of every error the renderer reports to a user."""

    exit_code = 2

    def __init__(self, message: str, *, location: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def render(self) -> str:
        """The message as printed: ``file:line:col: key: message`` then the hint."""
        parts = []
        if self.location is not None:
            head = str(self.location)
            if self.location.key:
                head += f": {self.location.key}"
            parts.append(f"{head}: {self.message}")
        else:
            parts.append(self.message)
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        return "\n".join(parts)


class InputError(RendererError):
    """Bad input: malformed or invalid files, unknown names, bad flags (exit 2)."""


class UsageError(InputError):
    """A command-line mistake (exit 2)."""


class MultipleErrors(InputError):
    """Several input problems found in one pass, reported together (exit 2)."""

    def __init__(self, errors: list[RendererError]):
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} problems found")

    def render(self) -> str:
        lines = [f"error: {len(self.errors)} problems found:"]
        for err in self.errors:
            lines.append("- " + err.render().replace("\n", "\n  "))
        return "\n".join(lines)


class OutputError(RendererError):
    """The result could not be written: a full or read-only file system, a closed pipe, a folder in the way (exit 2).

    Whatever was being written is removed again: nothing half-written is left.
    """


EXIT_INTERNAL = 3
"""Exit code of an internal failure (a bug, or a worker process that died): never 1 (a guard) or 2 (input)."""


class InternalError(RendererError):
    """Something failed that no input should be able to cause (exit :data:`EXIT_INTERNAL`).

    ``detail`` (a traceback, say) is printed only with ``--debug``.
    """

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, detail: str = "", hint: str | None = None):
        super().__init__(message, hint=hint)
        self.detail = detail


class GuardError(RendererError):
    """The rendered manifest breaks an error-severity guard (exit 1).

    ``report`` is the already formatted list of findings.
    """

    exit_code = 1

    def __init__(self, message: str, report: str, findings=()):
        super().__init__(message)
        self.report = report
        self.findings = list(findings)

    def render(self) -> str:
        return self.report.rstrip("\n") + "\n" + self.message
