"""One chat answer as events: what a front end shows while a reasoner answers a question.

`answer_events` turns `Reasoner.stream` into `Thought` lines (a sample's answer, a PRM pass over the
beams), the chosen solution's `Step`s with their PRM scores (the weakest one marked), the `Votes` of
the N-sample modes, and one `Answer`. The API streams them as OpenAI deltas, the web chat as nested
"thinking" messages and the terminal as rich lines; none of them reads `StreamEvent`s itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from domains import Question
from evolve.api import Reasoner
from evolve.infer.base import Solution
from evolve.infer.modes import MODES


@dataclass(frozen=True)
class Thought:
    """A line about work in progress."""

    text: str


@dataclass(frozen=True)
class Step:
    """Step `index` (1-based) of the chosen solution, with its PRM score when a PRM is loaded."""

    index: int
    text: str
    score: float | None = None
    weakest: bool = False


@dataclass(frozen=True)
class Votes:
    """How the N-sample modes decided: answer -> votes (sc) or summed PRM score (pvs)."""

    votes: dict[str, float]
    chosen: str | None
    samples: int


@dataclass(frozen=True)
class Answer:
    answer: str | None
    content: str  # what the user reads as the reply
    finish_reason: str  # "stop", or "length" when the chosen solution ran out of tokens
    prompt_tokens: int
    completion_tokens: int
    solution: Solution | None = field(default=None, repr=False)  # None for answers that are not one solution


ChatEvent = Thought | Step | Votes | Answer


def weakest_step(scores: list[float] | None) -> int | None:
    """Index (0-based) of the lowest-scored step; None with fewer than two scored steps."""
    if not scores or len(scores) < 2:
        return None
    return min(range(len(scores)), key=lambda i: (scores[i], i))


def answer_content(answer: str | None, question: Question) -> str:
    """The reply a person reads: the answer, with its option's text for a multiple-choice question."""
    if answer is None:
        return "I could not reach an answer."
    if question.options and answer in question.options:
        return f"The answer is {answer}) {question.options[answer]}."
    return f"The answer is {answer}."


def _snippet(text: str, width: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def answer_events(reasoner: Reasoner, question: Question, mode: str, *,
                  cancel: threading.Event | None = None) -> Iterator[ChatEvent]:
    """The events of answering `question` with `mode`; closing the iterator cancels the work."""
    picks = MODES[mode].pick is not None
    streamed_steps = mode == "cot" and reasoner.scorer is None  # nothing to wait for: show steps as they come
    shown = 0
    sample = 0
    for event in reasoner.stream(question, mode, cancel=cancel):
        if event.kind == "steps" and streamed_steps:
            for index, text in enumerate(event.steps[shown:], start=shown + 1):
                yield Step(index, text)
            shown = max(shown, len(event.steps))
        elif event.kind == "steps" and picks:
            sample += 1
            last = event.steps[-1] if event.steps else ""
            yield Thought(f"sample {sample}: {len(event.steps)} steps, ends “{_snippet(last, 70)}”")
        elif event.kind == "scores" and not picks and event.scores:
            best = max(range(len(event.scores)), key=lambda i: event.scores[i][-1] if event.scores[i] else 0.0)
            steps, scores = event.trajectories[best], event.scores[best]
            if steps:
                yield Thought(f"PRM scored {len(event.scores)} partial solutions; best at step {len(steps)} "
                              f"({scores[-1]:.2f}): {_snippet(steps[-1])}")
        elif event.kind == "solution" and event.solution is not None:
            yield from _finish(reasoner, question, mode, event.solution, shown)


def _finish(reasoner: Reasoner, question: Question, mode: str, solution: Solution, shown: int) -> Iterator[ChatEvent]:
    scores = solution.scores if solution.scores is not None else reasoner.score_steps(question, solution.steps)
    weakest = weakest_step(scores)
    for i, text in enumerate(solution.steps):
        if i >= shown or scores is not None:
            yield Step(i + 1, text, scores[i] if scores else None, weakest == i)
    if solution.votes and MODES[mode].pick is not None:
        yield Votes(dict(sorted(solution.votes.items(), key=lambda kv: -kv[1])), solution.answer,
                    len(solution.candidates))
    chosen = next((c for c in solution.candidates if list(c.steps) == list(solution.steps)), None)
    finish = "length" if chosen is not None and chosen.finish_reason == "length" else "stop"
    yield Answer(solution.answer, answer_content(solution.answer, question), finish,
                 reasoner.prompt_tokens(question), solution.tokens, solution)


def step_line(step: Step) -> str:
    """A step as one line of plain text: the reasoning field of the API and the terminal's log."""
    score = f" [PRM {step.score:.2f}{', weakest' if step.weakest else ''}]" if step.score is not None else ""
    return f"Step {step.index}: {step.text}{score}"


def votes_line(votes: Votes) -> str:
    cells = ", ".join(f"{answer}: {value:.3g}" for answer, value in votes.votes.items())
    return f"votes over {votes.samples} samples: {cells}"
