"""The interfaces of the models: `Generator` (the policy, every backend) and `StepScorer` (a PRM).

A backend takes a batch of `GenerationRequest`s and returns, for each request, `n` `Completion`s.
Stop strings are excluded from the returned text (as OpenAI and vLLM do). A request may also carry a
stop rule: a function of the text so far that says where it should end (the step format's rule ends
a completion once its answer sentence is complete). Backends never know about trees, prompts or
domains: the rule is opaque to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, runtime_checkable

FinishReason = Literal["stop", "length", "eos"]

# Where the text should end (an index into it), or None to go on. It must be monotone: once it has
# returned a position for some text, it returns the same position for every longer text, so a
# backend may apply it to the text as it grows, or once to the whole text.
StopRule = Callable[[str], "int | None"]


# (samples finished, samples in the call, tokens generated so far) during one `generate` call.
RowProgress = Callable[[int, int, int], None]
# A backend that decodes many samples in one call (the hf decode loop: 200 questions x 8 samples take
# minutes) reports them to this listener as they finish, so a progress line does not fall silent until the
# call returns. A context variable, so that it reaches the backend through wrappers that know nothing of
# it; backends that cannot tell ignore it. Through BatchingGenerator, only the caller whose thread runs a
# merged call hears of it, and it hears of every merged caller's samples.
_row_progress: ContextVar[RowProgress | None] = ContextVar("row_progress", default=None)


@contextmanager
def reporting_rows(listener: RowProgress | None) -> Iterator[None]:
    """Within the block, `generate` calls in this thread report finished rows to `listener`."""
    token = _row_progress.set(listener)
    try:
        yield
    finally:
        _row_progress.reset(token)


def row_listener() -> RowProgress | None:
    """The listener a backend should report finished rows to, if any."""
    return _row_progress.get()


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    n: int = 1
    max_new_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    stop_rule: StopRule | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    num_tokens: int
    finish_reason: FinishReason  # "stop": a stop string matched; "eos": end of sequence; "length": budget hit


def apply_stop_rule(completion: Completion, rule: StopRule | None) -> Completion:
    """The completion cut where `rule` ends it, for backends that can only apply it afterwards (vLLM,
    remote servers): the text and finish reason are what a backend stopping in time returns, but the
    tokens after the cut were generated and stay counted."""
    if rule is None:
        return completion
    end = rule(completion.text)
    if end is None or end >= len(completion.text):
        return completion
    return replace(completion, text=completion.text[:end], finish_reason="stop")


@dataclass
class GeneratorStats:
    """Running totals a backend keeps, so callers can report throughput without timing each call."""

    calls: int = 0
    requests: int = 0
    completions: int = 0
    generated_tokens: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


@runtime_checkable
class Generator(Protocol):
    """What the search, the trainer and the agents need from a language model."""

    name: str
    stats: GeneratorStats

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        """One list of `request.n` completions per request, in request order."""
        ...

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        """The prompt text for `messages`, ending where the assistant's reply begins."""
        ...

    @property
    def max_n(self) -> int | None:
        """The largest `n` one request may ask for; None when unbounded."""
        ...


@runtime_checkable
class StepScorer(Protocol):
    """Scores every step of many trajectories of one question.

    `question` is the question as the domain formats it (`Domain.format_question`); each trajectory
    is its steps 1.. (step 0 is fixed and never scored). The result holds, per trajectory, one
    probability in [0, 1] per step that the step is on a path to a correct answer.
    """

    def score(self, question: str, trajectories: Sequence[Sequence[str]]) -> list[list[float]]:
        ...
