"""Generation: new hypotheses from the reasoner (verifiable goals) or a simulated debate (open goals)."""

from __future__ import annotations

from agents import prompts
from agents.nodes.solve import hypothesis_text, solve
from agents.parsing import strip_think
from agents.runtime import Runtime, question_of
from agents.state import new_hypothesis


def failure(task_id: str, node: str, reason: str) -> dict:
    return {"id": f"fail-{task_id}", "node": node, "task": task_id, "reason": reason}


def open_debate(rt: Runtime, payload: dict, key: str, messages_for) -> tuple[str | None, int]:
    """`debate_turns` argument turns, then the final statement; returns (text or None, tokens)."""
    cfg = rt.config
    transcript: list[str] = []
    tokens = 0
    for turn in range(cfg.debate_turns):
        reply = rt.model.sample(messages_for(turn, transcript), key=f"{key}/turn{turn}", max_tokens=cfg.debate_tokens,
                                temperature=cfg.temperature)[0]
        tokens += reply.num_tokens
        said = strip_think(reply.text)
        if said:
            transcript.append(f"{'Expert A' if turn % 2 == 0 else 'Expert B'}: {said}")
    reply = rt.model.ask(messages_for(-1, transcript), lambda t: t or None, key=f"{key}/final",
                         max_tokens=cfg.hypothesis_tokens, temperature=cfg.temperature,
                         repair="Write the hypothesis now, in one paragraph.")
    return reply.value, tokens + reply.tokens


def make_generate(rt: Runtime):
    def generate(payload: dict) -> dict:
        task = payload["task"]
        hid, step, idea = task["id"], task["step"], task.get("seed_idea")
        q = question_of(payload)
        if q is not None:
            hint = f"A scientist suggests considering: {idea}" if idea else None
            solved = solve(rt, q, hid, payload.get("critique"), hint)
            if solved is None:
                return {"failures": [failure(hid, "generate", "no step-format solution after one repair")]}
            record = new_hypothesis(hid, hypothesis_text(solved), steps=solved.steps,
                                    answer=solved.answer, step=step, tokens=solved.tokens,
                                    origin="seed" if idea else "generation")
            record["prm_scores"] = solved.scores
            return {"hypotheses": {hid: record}, "tokens": solved.tokens}

        def messages_for(turn, transcript):
            return prompts.open_hypothesis(payload["goal"], payload.get("plan") or {}, payload.get("critique"), idea,
                                           turn, transcript)

        text, tokens = open_debate(rt, payload, hid, messages_for)
        if not text:
            return {"failures": [failure(hid, "generate", "empty hypothesis after one repair")], "tokens": tokens}
        record = new_hypothesis(hid, text, step=step, tokens=tokens, origin="seed" if idea else "generation")
        return {"hypotheses": {hid: record}, "tokens": tokens}

    return generate
