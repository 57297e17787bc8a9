"""Typed errors. Each one explains itself: what failed, the likely cause, and what to do.

The core raises these (``raise ... from e``); the CLI catches ``SeccompgenError`` in one place,
prints :meth:`SeccompgenError.explain` and exits 1 (with a traceback only under ``-v``).
"""

from __future__ import annotations


class SeccompgenError(Exception):
    """Base class for every error the core reports to users.

    ``message`` says what failed, naming the file, line or value; ``hint`` says what to do.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def explain(self) -> str:
        """The text shown to users: the message, then the hint on its own line."""
        if self.hint:
            return f"{self.message}\nhint: {self.hint}"
        return self.message


class ParseError(SeccompgenError):
    """Input text could not be parsed; names the file and line."""

    def __init__(
        self, message: str, *, source: str, line: int | None = None, hint: str | None = None
    ) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}", hint=hint)
        self.source = source
        self.line = line


class TraceFileError(SeccompgenError):
    """A stored trace or graph file is unreadable or not in the documented format."""


class StoreError(SeccompgenError):
    """The trace store is missing, empty or does not hold the requested workload."""


class TracerError(SeccompgenError):
    """A tracer backend could not run (missing binary, target not executable, ...)."""


class ProfileError(SeccompgenError):
    """A profile could not be built, read or written."""


class ValidationError(SeccompgenError):
    """A profile failed validation; ``problems`` holds one line per problem."""

    def __init__(self, message: str, problems: list[str], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = problems

    def explain(self) -> str:
        lines = [self.message, *(f"  - {p}" for p in self.problems)]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class SyscallTableError(SeccompgenError):
    """libseccomp (the source of syscall names and numbers) is unavailable."""


class ManifestError(SeccompgenError):
    """A Kubernetes manifest or SPO resource (YAML) could not be read, patched or written; names
    the file and the document (0-based index in the ``---`` stream)."""
