"""Proximity: after new hypotheses arrive, drop near duplicates and refresh the similarity graph."""

from __future__ import annotations

from agents import proximity
from agents.runtime import Runtime
from agents.state import active


def make_proximity(rt: Runtime):
    def proximity_node(state: dict) -> dict:
        hyps = active(state)
        ids = [h["id"] for h in hyps]
        sims = proximity.similarity_matrix([h["text"] for h in hyps])
        dropped = proximity.duplicates(ids, sims, [h.get("step_created", 0) for h in hyps],
                                       [h.get("answer") for h in hyps], rt.config.duplicate_threshold,
                                       frozenset(h["id"] for h in hyps if h.get("pinned")))
        keep = [i for i, hid in enumerate(ids) if hid not in dropped]
        summary = proximity.summarise([ids[i] for i in keep], [[sims[i][j] for j in keep] for i in keep],
                                      rt.config.edge_threshold)
        patch = {hid: {"status": "duplicate", "duplicate_of": of} for hid, of in dropped.items()}
        return {"hypotheses": patch, "proximity": summary}

    return proximity_node
