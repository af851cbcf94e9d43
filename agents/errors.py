"""Typed errors of the agents loop; the CLI prints them as one line and exits 2."""

from __future__ import annotations

from evolve.errors import EvolveError


class AgentsError(EvolveError):
    """Base of every user-facing error raised by `agents`."""


class RunNotFoundError(AgentsError):
    """A run id or folder that does not hold an agents run."""


class GoalError(AgentsError):
    """A goal the run's domain cannot take: a multiple-choice domain's goal without lettered option lines."""
