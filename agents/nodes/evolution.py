"""Evolution: a new hypothesis from one or two parents by a named strategy. Parents are never edited."""

from __future__ import annotations

from agents import prompts
from agents.nodes.generation import failure
from agents.nodes.solve import hypothesis_text, solve
from agents.runtime import Runtime, question_of
from agents.state import new_hypothesis


def make_evolve(rt: Runtime):
    def evolve(payload: dict) -> dict:
        task = payload["task"]
        hid, strategy, parents = task["id"], task["strategy"], task["parents"]
        texts = [p["text"] for p in parents]
        parent_ids = [p["id"] for p in parents]
        q = question_of(payload)
        origin = f"evolution:{strategy}"
        if q is not None:
            solved = solve(rt, q, hid, payload.get("critique"), prompts.evolve_hint(strategy, texts))
            if solved is None:
                return {"failures": [failure(hid, "evolve", "no step-format solution after one repair")]}
            record = new_hypothesis(hid, hypothesis_text(solved), steps=solved.steps,
                                    answer=solved.answer, origin=origin, parents=parent_ids, step=task["step"],
                                    strategy=strategy, tokens=solved.tokens)
            record["prm_scores"] = solved.scores
            return {"hypotheses": {hid: record}, "tokens": solved.tokens}
        reply = rt.model.ask(prompts.evolve_open(payload["goal"], strategy, texts, payload.get("critique")),
                             lambda t: t or None, key=hid, max_tokens=rt.config.hypothesis_tokens,
                             temperature=rt.config.temperature, repair="Write the new hypothesis now, in one paragraph.")
        if not reply.value:
            return {"failures": [failure(hid, "evolve", "empty hypothesis after one repair")], "tokens": reply.tokens}
        record = new_hypothesis(hid, reply.value, origin=origin, parents=parent_ids, step=task["step"],
                                strategy=strategy, tokens=reply.tokens)
        return {"hypotheses": {hid: record}, "tokens": reply.tokens}

    return evolve
