"""Verifiable hypotheses through the evolve reasoner: step-format solutions, P-VS when a PRM exists."""

from __future__ import annotations

from dataclasses import dataclass

from domains import Question
from domains.answers import answer_end, cut_after_answer
from evolve.reasoner.steps import STEP_ZERO, parse_solution, serialise_steps, task_messages

from agents.parsing import strip_think
from agents.runtime import Runtime


@dataclass
class Solved:
    steps: list[str]
    answer: str | None
    scores: list[float] | None
    tokens: int
    votes: dict


def render_steps(steps: list[str]) -> str:
    return "\n".join(f"Step {i}: {s}" for i, s in enumerate(steps, start=1))


def lessons(critique: str | None) -> str:
    return f"\n\nLessons from earlier reviews (take them into account):\n{critique}" if critique else ""


def solve(rt: Runtime, q: Question, key: str, critique: str | None, hint: str | None = None) -> Solved | None:
    """One hypothesis for `q`: the policy's solution or, with a PRM, the P-VS choice among `samples`."""
    cfg = rt.config
    messages = task_messages(rt.domain, q)
    messages[0]["content"] += lessons(critique)
    if hint:
        messages[1]["content"] += "\n\n" + hint
    n = cfg.samples if rt.scorer is not None else 1
    prefix = serialise_steps([STEP_ZERO])
    completions = rt.model.sample(messages, key=key, max_tokens=cfg.hypothesis_tokens, temperature=cfg.temperature,
                                  n=n, prefix=prefix, stop_rule=answer_end)
    tokens = sum(c.num_tokens for c in completions)
    candidates = _parse(rt, q, [c.text for c in completions])
    if not candidates:  # one repair: greedy, which a small model is likelier to finish in format
        retry = rt.model.sample(messages, key=key + "/repair", max_tokens=cfg.hypothesis_tokens, prefix=prefix,
                                stop_rule=answer_end)
        tokens += sum(c.num_tokens for c in retry)
        candidates = _parse(rt, q, [c.text for c in retry])
    if not candidates:
        return None
    if rt.scorer is None or len(candidates) == 1:
        steps, answer = next(((s, a) for s, a in candidates if a is not None), candidates[0])
        return Solved(steps, answer, None, tokens, {})
    return _pvs(rt, q, candidates, tokens)


def _parse(rt: Runtime, q: Question, texts: list[str]) -> list[tuple[list[str], str | None]]:
    out = []
    for text in texts:
        clean = cut_after_answer(strip_think(text))
        steps = parse_solution(clean)
        if steps:
            out.append((steps, rt.domain.extract_answer(clean, q)))
    return out


def _pvs(rt: Runtime, q: Question, candidates, tokens: int) -> Solved:
    """PRM-weighted vote: the answer with the largest summed last-step score, shown by its best sample."""
    from evolve.infer.voting import weighted_vote

    scores = rt.scorer.score(rt.domain.format_question(q), [steps for steps, _ in candidates])
    answers = [a for _, a in candidates]
    winner, votes = weighted_vote(answers, [s[-1] if s else 0.0 for s in scores])
    pool = [i for i, a in enumerate(answers) if a == winner] or list(range(len(answers)))
    best = max(pool, key=lambda i: scores[i][-1] if scores[i] else 0.0)
    return Solved(candidates[best][0], answers[best], [float(x) for x in scores[best]], tokens, votes)
