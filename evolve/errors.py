"""Typed errors raised at the project's boundaries.

Every error carries enough to print one line naming where the problem is and how to fix it;
the CLI turns them into that line and a non-zero exit code.
"""

from __future__ import annotations

from domains.errors import DomainError, UserFacingError  # the CLI handles both families alike

__all__ = ["UserFacingError", "EvolveError", "ConfigError", "ModelSpecError", "MissingExtraError", "BackendError",
           "TrainingError", "DomainError", "Interrupted"]


class EvolveError(UserFacingError):
    """Base of every user-facing error in `evolve`; `where` names the file, line or field, `fix`
    says what to do about it."""


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


class TrainingError(EvolveError):
    """Policy or PRM training cannot start or go on (no usable rows, an output folder holding
    another run, ...)."""


class Interrupted(EvolveError):
    """Ctrl-C during a resumable command: `saved` says what is kept; `resume` is the command that goes
    on (None: the same command again, which resumes)."""

    def __init__(self, saved: str, resume: list[str] | None = None):
        super().__init__(f"interrupted; {saved}")
        self.saved = saved
        self.resume = resume
