"""Answering questions with the policy and, optionally, the PRM: `solve_many` over the modes in `MODES`."""
