"""Meta-review: recurring points of reviews and debates become a critique for the next prompts; at the
end, the research overview of the top hypotheses."""

from __future__ import annotations

from collections import Counter

from agents import prompts
from agents.elo import top_k
from agents.runtime import Runtime, goal_text, question_of
from agents.state import active, ratings

NOTES = 12  # most recent review comments and verdict reasons shown to the meta-reviewer


def recurring_notes(state: dict, limit: int = NOTES) -> list[str]:
    """The latest review comments (lowest scores first: weaknesses recur there) and match reasons."""
    reviews = [r for r in state.get("reviews") or [] if r.get("comments")]
    reviews.sort(key=lambda r: (r.get("score") if r.get("score") is not None else 0, r["id"]))
    notes = [r["comments"][:200] for r in reviews[: limit // 2]]
    for m in reversed(state.get("matches") or []):
        if len(notes) >= limit:
            break
        reason = (m.get("rationale") or ("",))[0]
        if reason:
            notes.append(reason[:200])
    weak = Counter(w for r in state.get("reviews") or [] for w in r.get("weakest_steps") or [])
    if weak:
        notes.append("The PRM most often flags step(s) " + ", ".join(str(s) for s, _ in weak.most_common(2)))
    return notes


def make_meta_review(rt: Runtime):
    def meta_review(state: dict) -> dict:
        notes = recurring_notes(state)
        feedback = [f["text"] for f in state.get("feedback") or [] if f.get("kind") == "note"]
        step = state.get("step", 0)
        if not notes:
            return {"critique": _with_feedback("", feedback), "critique_step": step}
        reply = rt.model.ask(prompts.meta_review(goal_text(rt, state), notes), lambda t: t or None,
                             key=f"meta-{step:04d}", max_tokens=rt.config.review_tokens,
                             repair="Write the three bullet points now.")
        # Without a usable summary the raw recurring notes are still better advice than nothing.
        critique = reply.value or "\n".join(f"- {n}" for n in notes[:3])
        return {"critique": _with_feedback(critique, feedback), "critique_step": step, "tokens": reply.tokens}

    return meta_review


def _with_feedback(critique: str, feedback: list[str]) -> str:
    if not feedback:
        return critique
    return (critique + "\n" if critique else "") + "Scientist feedback:\n" + "\n".join(f"- {f}" for f in feedback)


def leaderboard(state: dict, k: int) -> list[dict]:
    """Pinned hypotheses first, then the best Elo. On a verifiable goal a hypothesis without a readable
    answer ranks below every answered one, whatever its Elo: it cannot be the run's answer (draws
    between unreadable judgements leave such a one at 1200, level with the rest)."""
    hyps = {h["id"]: h for h in active(state)}
    pinned = sorted(h for h, rec in hyps.items() if rec.get("pinned"))
    order = top_k(ratings(state), len(hyps))
    if state.get("question"):
        order.sort(key=lambda h: hyps[h].get("answer") is None)  # stable: Elo order within each group
    rest = [h for h in order if h not in pinned]
    return [hyps[h] for h in (pinned + rest)[:k]]


def answer_line(leaders: list[dict]) -> str:
    """The run's answer on a verifiable goal, read off the top hypothesis and nothing else."""
    if not leaders or leaders[0].get("answer") is None:
        return "Answer: none (no hypothesis states a readable answer)"
    return f"Answer: {leaders[0]['answer']} (top hypothesis {leaders[0]['id']})"


def checked_summary(summary: str, named: str | None, answer: str | None) -> str:
    """The model's summary, unless it names another answer than the top hypothesis's (`named`: the
    answer read from the summary): the overview then says so instead of contradicting its own list."""
    if named is None or named == answer:
        return summary
    return (f"(the model's summary named answer {named}, not the top hypothesis's answer {answer or 'none'}; "
            "left out)")


def make_final_report(rt: Runtime):
    def final_report(state: dict) -> dict:
        leaders = leaderboard(state, rt.config.top_k)
        q = question_of(state)
        shown = [f"{h['id']} (Elo {h['elo']:.0f}): {h['text'][:600]}" for h in leaders]
        lines = [f"Goal: {state.get('goal', '')}", ""]
        if q is not None:
            lines += [answer_line(leaders), ""]
        lines += ["Top hypotheses:"] + [f"- {s}" for s in shown]
        if not leaders or rt.config.overview_tokens == 0:
            return {"overview": "\n".join(lines + ([] if leaders else ["(none survived)"]))}
        answer = leaders[0].get("answer") if q is not None else None
        reply = rt.model.ask(prompts.overview(goal_text(rt, state), shown, answer), lambda t: t or None,
                             key="overview", max_tokens=rt.config.overview_tokens, repair="Write the overview now.")
        summary = reply.value or "(the model wrote no summary)"
        if q is not None and reply.value:
            summary = checked_summary(summary, rt.domain.extract_answer(summary, q), answer)
        return {"overview": "\n".join(lines + ["", "Summary:", summary]), "tokens": reply.tokens}

    return final_report
