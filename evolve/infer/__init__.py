"""Answering questions with the policy and, optionally, the PRM: `solve_many` over the modes in `MODES`."""

from evolve.infer.base import MODES, PRM_MODES, Candidate, Solution
from evolve.infer.solve import ModeRun, check_modes, run_modes, solve_many

__all__ = ["MODES", "PRM_MODES", "Candidate", "ModeRun", "Solution", "check_modes", "run_modes", "solve_many"]
