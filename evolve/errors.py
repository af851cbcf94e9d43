"""Typed errors raised at the project's boundaries.

Every error carries enough to print one line naming where the problem is and how to fix it;
the CLI turns them into that line and a non-zero exit code.
"""

from __future__ import annotations

from domains.errors import DomainError  # re-exported: the CLI handles both families alike

__all__ = ["EvolveError", "ConfigError", "ModelSpecError", "MissingExtraError", "BackendError", "DomainError"]


class EvolveError(Exception):
    """Base of every user-facing error in `evolve`.

    `where` names the file, line or field; `fix` says what to do about it.
    """

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.fix = fix

    def one_line(self) -> str:
        parts = [f"{self.where}: {self.message}" if self.where else self.message]
        if self.fix:
            parts.append(f"fix: {self.fix}")
        return " -- ".join(parts)


class ConfigError(EvolveError):
    """A config file or `--set` override is missing a key, has an unknown key, or a bad value."""


class ModelSpecError(EvolveError):
    """A model spec cannot be resolved (unknown scheme, unreadable path, ...)."""


class MissingExtraError(ModelSpecError):
    """An optional backend is used without its extra installed."""

    def __init__(self, extra: str, module: str):
        super().__init__(
            f"the '{extra}' backend needs the Python package '{module}', which is not installed",
            fix=f"install it with: pip install '.[{extra}]'",
        )
        self.extra = extra


class BackendError(EvolveError):
    """A backend failed at run time (endpoint unreachable, request rejected, ...)."""
