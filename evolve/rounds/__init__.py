"""Self-evolution rounds: search -> harvest -> policy -> PRM -> eval -> report, resumable per stage."""
