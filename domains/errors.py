"""Errors raised while declaring, loading or validating a domain or its data files."""

from __future__ import annotations


class UserFacingError(Exception):
    """Base of every error a user should see as one line: `where` names the file (and line or
    field), `fix` says what to do about it. `evolve`'s errors derive from it too, since `domains`
    sits at the bottom of the dependency chain."""

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


class DomainError(UserFacingError):
    """Base of every user-facing domain error."""


class UnknownDomainError(DomainError):
    """No built-in or user domain has this name."""


class DomainSpecError(DomainError):
    """A domain.yaml is invalid (unknown key, bad answer type, missing seed file, ...)."""


class DataFileError(DomainError):
    """A data file cannot be read or one of its rows is invalid."""
