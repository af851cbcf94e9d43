"""The step format: how a solution is written, prompted and read back.

Steps are serialised as `Step k: <text>` joined by blank lines. Step 0 is fixed (`STEP_ZERO`); a step
is generated after `\n\nStep k:` and stops at the next `Step` (`STEP_STOP`), and a generation ends once
its answer sentence is complete (`domains.answers.answer_end`). A completion is parsed back with the
domain's verifier. This is the only place in `evolve` that knows the format; the search, the
inference modes, training and the agents all use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from domains import Domain, Question
from domains.answers import ANSWER_PHRASE, answer_end, cut_after_answer, states_answer
from evolve.backends.base import Completion, GenerationRequest
from evolve.reasoner.work import Continuation, Generate, Kind

STEP_ZERO = "Let's break down this problem step by step."
# Nothing a small model could copy as if it were content: no "k", "N" or "X" stands in for a value.
STEP_INSTRUCTIONS = (
    "Solve the problem step by step. Write each step as its own paragraph, starting with the word Step and "
    f"its number. In the last step, give the final answer in a sentence that begins with '{ANSWER_PHRASE}'."
)
STEP_STOP = ("\nStep",)
_STEP_BOUNDARY = re.compile(r"\n\s*(?:\*\*)?Step\s*\d+\s*:(?:\*\*)?\s*", re.IGNORECASE)


def step_line(index: int, text: str) -> str:
    """One step as it is written: `Step 3: text`."""
    return f"Step {index}: {text}"


def solution_text(steps: Sequence[str]) -> str:
    """A whole solution (step 0 first) as the model writes it: `Step 0: ...\n\nStep 1: ...`."""
    return "\n\n".join(step_line(i, text) for i, text in enumerate(steps))


def serialise_steps(steps: Sequence[str]) -> str:
    """`Step 0: ...\n\nStep 1: ...`, then the header of the next step for the model to continue."""
    return f"{solution_text(steps)}\n\nStep {len(steps)}:"


def continuation(steps: Sequence[str]) -> str:
    """What the model writes after `prompt(steps[:1])` to produce `steps` (step 0 first): the SFT target."""
    return solution_text(steps)[len(serialise_steps(steps[:1])):]


def split_steps(text: str) -> list[str]:
    """A generation that wrote several steps, split at its `Step k:` headers."""
    return [part.strip() for part in _STEP_BOUNDARY.split(text) if part.strip()]


def parse_solution(text: str) -> list[str]:
    """Steps 1.. of a full solution generated after `prompt([STEP_ZERO])`, cut after the answer."""
    return split_steps(cut_after_answer(text))


def render_steps(steps: Sequence[str]) -> str:
    """Steps 1.. for people: one `Step i: text` line each."""
    return "\n".join(step_line(i, s) for i, s in enumerate(steps, start=1))


def task_messages(domain: Domain, question: Question, *, system_note: str | None = None,
                  user_note: str | None = None) -> list[dict[str, str]]:
    """The chat that opens every search, training example and inference prompt for `question`: the
    system prompt, the domain's worked example (a question and its solution) when it has one, then
    the question. `system_note` and `user_note` are appended to the system prompt and the question
    (the agents pass lessons from reviews and a scientist's hint that way)."""
    system = f"{domain.system_prompt.strip()}\n\n{STEP_INSTRUCTIONS}".strip()
    if system_note:
        system += system_note
    messages = [{"role": "system", "content": system}]
    example = domain.worked_example()
    if example is not None:
        user, steps = example
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": solution_text([STEP_ZERO, *steps])}]
    user = domain.format_question(question)
    if user_note:
        user += "\n\n" + user_note
    return messages + [{"role": "user", "content": user}]


class StepPrompt:
    """The prompts of one question and the parsing of what comes back. `render_chat` is the backend's."""

    def __init__(self, domain: Domain, question: Question, render_chat: Callable[[list[dict]], str], *,
                 system_note: str | None = None, user_note: str | None = None):
        self.domain = domain
        self.question = question
        self.prefix = render_chat(task_messages(domain, question, system_note=system_note, user_note=user_note))

    def prompt(self, steps: Sequence[str]) -> str:
        """The prompt that continues after steps 1.. `steps` (step 0 is added)."""
        return self.prefix + serialise_steps((STEP_ZERO, *steps))

    def scored_question(self) -> str:
        """The question as a PRM sees it."""
        return self.domain.format_question(self.question)

    def verify(self, text: str) -> tuple[str | None, bool]:
        answer = self.domain.extract_answer(cut_after_answer(text), self.question)
        return answer, self.domain.is_correct(answer, self.question)

    def parse(self, kind: Kind, completion: Completion) -> Continuation:
        """A `step` holds one step and is final only when it states an answer or the text ended; a
        `finish` or `rollout` runs to the end and may hold several steps."""
        text = cut_after_answer(completion.text)
        final = kind != "step" or states_answer(text) or completion.finish_reason == "eos"
        steps = split_steps(text) if kind != "step" else [text.strip()]
        if not final:
            return Continuation(steps, False, tokens=completion.num_tokens, finish_reason=completion.finish_reason)
        answer, correct = self.verify(text)
        return Continuation(steps or [""], True, answer, correct, completion.num_tokens, completion.finish_reason)


@dataclass(frozen=True)
class Sampling:
    """How `Generate` items become requests: token budgets per kind, temperature, nucleus, stop rule."""

    step_tokens: int
    finish_tokens: int
    rollout_tokens: int
    temperature: float
    top_p: float
    stop_at_answer: bool = True
    stop: tuple[str, ...] = ()  # a caller's own stop strings, on top of the step format's

    @classmethod
    def of_search(cls, config: Any) -> Sampling:
        """From a `SearchConfig`."""
        return cls(config.step_tokens, config.finish_tokens, config.rollout_tokens, config.temperature, config.top_p,
                   config.stop_at_answer)

    @classmethod
    def of_eval(cls, config: Any) -> Sampling:
        """From an `EvalConfig`: a whole solution (or a rollout) has `max_tokens`, a step `step_tokens`."""
        return cls(config.step_tokens, config.max_tokens, config.max_tokens, config.temperature, config.top_p,
                   config.stop_at_answer, tuple(config.stop))

    def request(self, prompt: str, item: Generate) -> GenerationRequest:
        budget = {"step": self.step_tokens, "finish": self.finish_tokens, "rollout": self.rollout_tokens}[item.kind]
        return GenerationRequest(
            prompt=prompt, n=item.n, max_new_tokens=budget, temperature=0.0 if item.greedy else self.temperature,
            top_p=self.top_p, stop=(STEP_STOP if item.kind == "step" else ()) + self.stop, seed=item.seed,
            stop_rule=answer_end if self.stop_at_answer else None,
        )
