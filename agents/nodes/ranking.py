"""Ranking: one match per `Send`, judged in both orders; the Elo node applies results in sequence."""

from __future__ import annotations

from agents import prompts
from agents.elo import combine_orders, update, verdict_reason
from agents.parsing import parse_choice, strip_think
from agents.runtime import Runtime, goal_text, question_of
from agents.state import active

JUDGE_PREFIX = '{"better": '  # the reply starts here, so even a small model only has to pick a digit
CHOICE_REPAIR = 'Reply again with only {"better": 1} or {"better": 2}.'


def debate(rt: Runtime, goal: str, first: str, second: str, key: str) -> tuple[list[str], int]:
    """A multi-turn debate between an advocate of each hypothesis, before the verdict."""
    transcript: list[str] = []
    tokens = 0
    for turn in range(rt.config.debate_turns):
        side = 1 + turn % 2
        reply = rt.model.sample(prompts.debate_turn(goal, first, second, transcript, side), key=f"{key}/turn{turn}",
                                max_tokens=rt.config.debate_tokens)[0]
        tokens += reply.num_tokens
        transcript.append(f"Expert {side}: {strip_think(reply.text)}")
    return transcript, tokens


def prm_verdict(a: dict, b: dict, margin: float) -> tuple[str | None, str]:
    """The PRM as judge: the hypothesis whose weakest step scores higher wins; a gap under `margin`
    is a draw. No text is shown to anyone, so there is no position to be biased toward. The outcome is
    None when a side has no step scores (no steps: an open goal or a user's hypothesis), and the
    reason says which, so the model judges instead and the record says why."""
    for h in (a, b):
        if not h.get("prm_scores"):
            return None, f"the PRM cannot judge: {h['id']} has {'no PRM step scores' if h.get('steps') else 'no steps'}"
    low_a, low_b = min(a["prm_scores"]), min(b["prm_scores"])
    gap = low_a - low_b
    if abs(gap) < margin:
        return "draw", f"weakest PRM steps {low_a:.3f} vs {low_b:.3f}: gap under the margin {margin:g}"
    return ("a" if gap > 0 else "b"), f"weakest PRM steps {low_a:.3f} vs {low_b:.3f}"


def score_unscored(rt: Runtime, state: dict) -> dict[str, dict]:
    """PRM step scores for the active hypotheses that have steps but no scores yet (a greedy repair
    or a resumed run leaves them unscored), in one scorer call: a hypothesis patch per id. Empty
    without a PRM or on an open goal."""
    q = question_of(state)
    if rt.scorer is None or q is None:
        return {}
    todo = [h for h in active(state) if h.get("steps") and not h.get("prm_scores")]
    if not todo:
        return {}
    scores = rt.scorer.score(rt.domain.format_question(q), [h["steps"] for h in todo])
    return {h["id"]: {"prm_scores": [float(x) for x in s]} for h, s in zip(todo, scores)}


def make_match(rt: Runtime):
    def match(payload: dict) -> dict:
        task = payload["task"]
        a, b, mid = task["a"], task["b"], task["id"]
        fallback = None  # why the PRM did not judge a --judge prm match
        if rt.config.judge == "prm":
            outcome, why = prm_verdict(a, b, rt.config.prm_margin) if rt.scorer is not None \
                else (None, "the PRM cannot judge: no PRM is loaded")
            if outcome is not None:
                record = {"id": mid, "a": a["id"], "b": b["id"], "step": task["step"], "debate": False,
                          "first": None, "second": None, "outcome": outcome, "judge": "prm", "reason": why,
                          "rationale": (f"weakest PRM step {min(a['prm_scores']):.3f}",
                                        f"weakest PRM step {min(b['prm_scores']):.3f}")}
                return {"matches": [record], "tokens": 0}
            fallback = why
        goal = goal_text(rt, payload)
        critique = payload.get("critique")
        tokens = 0
        items = []
        for order, (x, y) in (("ab", (a, b)), ("ba", (b, a))):
            transcript: list[str] = []
            if task.get("debate"):
                transcript, used = debate(rt, goal, x["text"], y["text"], f"{mid}/{order}")
                tokens += used
            items.append((prompts.judge(goal, x["text"], y["text"], critique, transcript), f"{mid}/{order}"))
        first, second = rt.model.ask_many(items, read_choice, max_tokens=rt.config.judge_tokens, repair=CHOICE_REPAIR,
                                          prefix=JUDGE_PREFIX)
        tokens += first.tokens + second.tokens
        reason = verdict_reason(first.value, second.value)
        record = {"id": mid, "a": a["id"], "b": b["id"], "step": task["step"], "debate": bool(task.get("debate")),
                  "first": first.value, "second": second.value, "outcome": combine_orders(first.value, second.value),
                  "judge": "llm", "reason": f"{fallback}; the model judged: {reason}" if fallback else reason,
                  "rationale": (first.text[:300], second.text[:300])}
        return {"matches": [record], "tokens": tokens}

    return match


def read_choice(text: str) -> str | None:
    """The judge's pick, or None when unreadable or a copy of the prompt's worked example."""
    return parse_choice(text, prompts.EXAMPLE_VERDICT)


def make_elo():
    def elo(state: dict) -> dict:
        """Applies the matches not yet counted, in id order, then snapshots the ratings."""
        hyps = {hid: dict(h) for hid, h in (state.get("hypotheses") or {}).items()}
        matches = state.get("matches") or []
        cursor = state.get("elo_cursor", 0)
        fresh = sorted(matches[cursor:], key=lambda m: m["id"])
        touched = set()
        for m in fresh:
            ha, hb = hyps[m["a"]], hyps[m["b"]]
            ha["elo"], hb["elo"] = update(ha["elo"], hb["elo"], m["outcome"], ha["matches"], hb["matches"])
            for h, won in ((ha, "a"), (hb, "b")):
                h["matches"] += 1
                key = "draws" if m["outcome"] == "draw" else ("wins" if m["outcome"] == won else "losses")
                h[key] += 1
            touched.update((m["a"], m["b"]))
        step = state.get("step", 0)
        ratings = {h["id"]: round(hyps[h["id"]]["elo"], 4) for h in active({"hypotheses": hyps})}
        patch = {hid: {k: hyps[hid][k] for k in ("elo", "matches", "wins", "losses", "draws")} for hid in touched}
        return {"hypotheses": patch, "elo_cursor": len(matches),
                "elo_history": [{"id": f"elo-{step:04d}", "step": step, "ratings": ratings}]}

    return elo
