"""Rule-based rewards for GRPO (DeepSeek-R1's recipe), and the PRM as an optional shaped reward
(PRIME-style). The scores are pure functions of one completion; `reward_functions` wraps the ones a
config weighs into the callables TRL's `GRPOTrainer` calls with a batch of completions.

A completion is what the policy writes after the step-format prompt, which ends in "Step 1:".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from domains import Domain, Question
from domains.answers import answer_end, cut_after_answer
from evolve.reasoner.steps import parse_solution

_HEADER = re.compile(r"\n\s*Step\s*(\d+)\s*:", re.IGNORECASE)


def verifier_score(text: str, question: Question, domain: Domain) -> float:
    """1 when the first answer sentence gives the right answer, else 0."""
    answer = domain.extract_answer(cut_after_answer(text + "\n"), question)
    return 1.0 if domain.is_correct(answer, question) else 0.0


def format_score(text: str, question: Question, domain: Domain) -> float:
    """The step format, in three parts that add up to 1:
    0.5 for an answer sentence whose answer reads in the domain's answer type;
    0.25 for step headers that count on from the prompt's "Step 1:" (2, 3, ...) before that sentence;
    0.25 for stopping there (nothing but white space after the answer sentence).
    A completion with no answer sentence scores 0."""
    end = answer_end(text + "\n")  # the completion is finished: "is 500." at its very end is a whole sentence
    if end is None:
        return 0.0
    body = text[:end]
    score = 0.5 if domain.extract_answer(body, question) is not None else 0.0
    numbers = [int(n) for n in _HEADER.findall(body)]
    if numbers == list(range(2, 2 + len(numbers))):
        score += 0.25
    if not text[end:].strip():
        score += 0.25
    return score


def prm_score(text: str, question: Question, domain: Domain, scorer, how: str = "mean") -> float:
    """The PRM's mean (or min) step score of the completion's steps; 0 for a completion with no step."""
    steps = parse_solution(text)
    if not steps:
        return 0.0
    scores = scorer.score(domain.format_question(question), [steps])[0]
    return float(min(scores) if how == "min" else sum(scores) / len(scores))


# The one table of rewards: config keys (`policy.rewards`), TRL's log names and what they score.
REWARDS: dict[str, str] = {
    "verifier": "1 for a correct final answer (the domain's verifier), else 0",
    "format": "the step format: a readable answer sentence (0.5), step headers in order (0.25), stopping there (0.25)",
    "prm": "the PRM's mean or min step score (policy.prm_reward), off by default",
}


def reward_functions(domain: Domain, questions: Sequence[Question], weights: dict[str, float], *, scorer=None,
                     how: str = "mean", on_tokens: Callable[[int], None] | None = None) -> tuple[list, list[float]]:
    """TRL reward callables for the rewards with a non-zero weight, and their weights. `on_tokens` is
    told how many completion tokens each batch had (the budget the benchmark matches)."""
    by_id = {q.id: q for q in questions}
    funcs, kept = [], []

    def make(name: str):
        def reward(prompts, completions, question_id, completion_ids=None, **_):
            if name == "verifier" and on_tokens is not None and completion_ids is not None:
                on_tokens(sum(len(ids) for ids in completion_ids))
            out = []
            for text, qid in zip(completions, question_id):
                q = by_id[qid]
                if name == "verifier":
                    out.append(verifier_score(text, q, domain))
                elif name == "format":
                    out.append(format_score(text, q, domain))
                else:
                    out.append(prm_score(text, q, domain, scorer, how))
            return out

        reward.__name__ = name  # TRL logs rewards/<name>/mean and /std
        return reward

    for name in REWARDS:
        weight = float(weights.get(name, 0.0))
        if weight != 0.0:
            funcs.append(make(name))
            kept.append(weight)
    return funcs, kept
