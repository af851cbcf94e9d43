"""Answering questions with the policy and, optionally, the PRM: the modes of `modes.MODES`, run by
`solve.run_modes` on the one driver (`evolve.reasoner.driver`). Front ends use `evolve.api.Reasoner`."""
