"""Reflection: an initial review, a full review with the PRM's step scores, and deep verification."""

from __future__ import annotations

from agents import prompts
from agents.nodes.generation import failure
from agents.parsing import parse_list, parse_review, parse_yes_no, template_echo
from agents.runtime import Runtime, goal_text, question_of

REVIEW_PREFIX = '{"score": '  # keeps small models in the JSON format
WEAKEST = 2  # steps named in a full review


def read_review(text: str) -> dict | None:
    """A review, or None when unreadable or a copy of the prompt's template or worked example."""
    return parse_review(text, prompts.EXAMPLE_REVIEW)


def weakest_steps(scores: list[float], count: int = WEAKEST) -> list[int]:
    """1-based numbers of the lowest-scored steps, lowest first (ties: earlier step first)."""
    order = sorted(range(len(scores)), key=lambda i: (scores[i], i))
    return [i + 1 for i in order[:count]]


def make_reflect(rt: Runtime):
    def reflect(payload: dict) -> dict:
        task = payload["task"]
        hyp = task["hypothesis"]
        hid, rid = hyp["id"], task["id"]
        goal = goal_text(rt, payload)
        reply = rt.model.ask(prompts.review(goal, hyp["text"], payload.get("critique")), read_review, key=rid,
                             max_tokens=rt.config.review_tokens, repair=prompts.JSON_REPAIR,
                             prefix=REVIEW_PREFIX)
        tokens = reply.tokens
        record = {"id": rid, "hypothesis": hid, "step": task["step"], "kind": "initial",
                  "score": None, "comments": reply.text[:600], "failed": reply.value is None}
        failures = []
        if reply.value is not None:
            record.update(score=reply.value["score"], verdict=reply.value["verdict"], comments=reply.value["comments"])
        else:
            # A copied template is not a score; the run goes on, and the failure says why there is none.
            why = template_echo(reply.text, prompts.EXAMPLE_REVIEW) or "no score in the reply"
            record["reason"] = why
            failures.append(failure(rid, "reflect", f"unreadable review after one repair: {why}"))
        patch = {"reviewed": True, "review_score": record["score"]}
        q = question_of(payload)
        if rt.scorer is not None and hyp.get("steps") and q is not None:
            scores = hyp.get("prm_scores") or rt.scorer.score(rt.domain.format_question(q), [hyp["steps"]])[0]
            weak = weakest_steps([float(s) for s in scores])
            record.update(kind="full", prm_scores=[float(s) for s in scores], weakest_steps=weak)
            patch.update(prm_scores=record["prm_scores"], weakest_steps=weak)
        if rt.config.deep_verify:
            checks, used = verify(rt, goal, hyp["text"], rid)
            tokens += used
            record["assumptions"] = checks
            patch["assumptions_failed"] = sum(1 for c in checks if c["holds"] is False)
        out = {"reviews": [record], "hypotheses": {hid: patch}, "tokens": tokens}
        if failures:
            out["failures"] = failures
        return out

    return reflect


def verify(rt: Runtime, goal: str, text: str, key: str) -> tuple[list[dict], int]:
    """Deep verification: the hypothesis's assumptions, each checked on its own (one batched call)."""
    listed = rt.model.ask(prompts.assumptions(goal, text), lambda t: parse_list(t, example=prompts.EXAMPLE_ASSUMPTIONS),
                          key=f"{key}/assumptions",
                          max_tokens=rt.config.review_tokens, repair="Reply again with only a JSON list of strings.")
    if not listed.value:
        return [], listed.tokens
    items = [(prompts.check_assumption(goal, a), f"{key}/check{i}") for i, a in enumerate(listed.value)]
    replies = rt.model.ask_many(items, parse_yes_no, max_tokens=rt.config.judge_tokens,
                                repair="Answer with Yes or No first.")
    checks = [{"assumption": a, "holds": r.value, "note": r.text[:200]} for a, r in zip(listed.value, replies)]
    return checks, listed.tokens + sum(r.tokens for r in replies)
