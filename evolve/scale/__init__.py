"""Scaling out: search and eval workers on Ray, each owning one backend (see README "Scaling out").

`reasoner_for(config)` is the entry: a Reasoner that deals its questions out to workers when
`run.workers > 1` or `run.ray_address` is set, and the ordinary one otherwise.
"""

from evolve.scale.remote import reasoner_for

__all__ = ["reasoner_for"]
