"""The prompt side of the search: MedS3's step format for one question of one domain.

This is the only search module that knows about text. It turns a tree's abstract work into
`GenerationRequest`s and parses completions back into `Proposal`s and rollout verdicts.

Format: steps are serialised as `Step k: <text>` joined by blank lines, step 0 is fixed, and a
Reason step is generated after `\n\nStep k:` until the next `Step`.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

from domains import Domain, Question
from evolve.search.tree import STEP_ZERO
from domains.answers import ANSWER_PHRASE, answer_end, cut_after_answer
from evolve.backends.base import Completion, GenerationRequest
from evolve.config import SearchConfig
from evolve.search.work import Proposal, Propose, Rollout, Work

# Nothing a small model could copy as if it were content: no "k", "N" or "X" stands in for a value.
STEP_INSTRUCTIONS = (
    "Solve the problem step by step. Write each step as its own paragraph, starting with the word Step and "
    f"its number. In the last step, give the final answer in a sentence that begins with '{ANSWER_PHRASE}'."
)
STEP_STOP = ("\nStep",)
_STEP_BOUNDARY = re.compile(r"\n\s*(?:\*\*)?Step\s*\d+\s*:(?:\*\*)?\s*", re.IGNORECASE)
_ANSWER = re.compile(re.escape(ANSWER_PHRASE), re.IGNORECASE)


def serialise_steps(steps: Sequence[str]) -> str:
    """`Step 0: ...\n\nStep 1: ...`, then the header of the next step for the model to continue."""
    return f"{solution_text(steps)}\n\nStep {len(steps)}:"


def split_steps(text: str) -> list[str]:
    """A Finish generation that wrote several steps, split at its `Step k:` headers."""
    return [part.strip() for part in _STEP_BOUNDARY.split(text) if part.strip()]


def continuation(steps: Sequence[str]) -> str:
    """What the model writes after `prompt(steps[:1])` to produce `steps` (step 0 first): the SFT target."""
    return solution_text(steps)[len(serialise_steps(steps[:1])):]


def parse_solution(text: str) -> list[str]:
    """Steps 1.. of a full solution generated after `prompt([STEP_ZERO])`, cut after the answer."""
    return split_steps(cut_after_answer(text))


def solution_text(steps: Sequence[str]) -> str:
    """A whole solution (step 0 first) as the model writes it: `Step 0: ...\n\nStep 1: ...`."""
    return "\n\n".join(f"Step {i}: {text}" for i, text in enumerate(steps))


def task_messages(domain: Domain, question: Question) -> list[dict[str, str]]:
    """The chat that opens every search, training example and inference prompt for `question`: the
    system prompt, the domain's worked example (a question and its solution) when it has one, then
    the question."""
    system = f"{domain.system_prompt.strip()}\n\n{STEP_INSTRUCTIONS}".strip()
    messages = [{"role": "system", "content": system}]
    example = domain.worked_example()
    if example is not None:
        user, steps = example
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": solution_text([STEP_ZERO, *steps])}]
    return messages + [{"role": "user", "content": domain.format_question(question)}]


class StepTask:
    """Prompts and parsing for one question. `render_chat` comes from the backend."""

    def __init__(self, domain: Domain, question: Question, render_chat: Callable[[list[dict]], str],
                 config: SearchConfig):
        self.domain = domain
        self.question = question
        self.config = config
        self.prefix = render_chat(task_messages(domain, question))

    def prompt(self, steps: Sequence[str]) -> str:
        return self.prefix + serialise_steps(steps)

    def request(self, work: Work) -> GenerationRequest:
        cfg = self.config
        if isinstance(work, Rollout):
            n, budget, stop = work.k, cfg.rollout_tokens, ()
        elif work.finish:
            n, budget, stop = work.n, cfg.finish_tokens, ()
        else:
            n, budget, stop = work.n, cfg.step_tokens, STEP_STOP
        return GenerationRequest(
            prompt=self.prompt(work.steps), n=n, max_new_tokens=budget, temperature=cfg.temperature,
            top_p=cfg.top_p, stop=stop, seed=work.seed, stop_rule=answer_end if cfg.stop_at_answer else None,
        )

    def parse(self, work: Work, completions: Sequence[Completion]) -> list[Proposal] | list[bool]:
        if isinstance(work, Rollout):
            return [self.verify(c.text)[1] for c in completions]
        return [self.proposal(c, work) for c in completions]

    def verify(self, text: str) -> tuple[str | None, bool]:
        answer = self.domain.extract_answer(cut_after_answer(text), self.question)
        return answer, self.domain.is_correct(answer, self.question)

    def proposal(self, completion: Completion, work: Propose) -> Proposal:
        text = cut_after_answer(completion.text)
        states_answer = _ANSWER.search(text) is not None
        final = work.finish or states_answer or completion.finish_reason == "eos"
        steps = tuple(split_steps(text)) if work.finish else (text.strip(),)
        if not final:
            return Proposal(steps=steps, final=False, tokens=completion.num_tokens)
        answer, correct = self.verify(text)
        return Proposal(steps=steps or ("",), final=True, answer=answer, correct=correct,
                        tokens=completion.num_tokens)
