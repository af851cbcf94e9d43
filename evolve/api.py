"""`Reasoner`: the one face that answers questions. The CLI, the rounds, the agents, the benchmarks and
the server build one and call it; none of them assembles generators, scorers or prompts themselves.

    reasoner = Reasoner.from_config(config, policy="runs/x/round-1/policy/adapter", prm="runs/x/round-1/prm/prm")
    solutions = reasoner.solve(questions, "pvs")
    for event in reasoner.stream(question, "beam"): ...

It owns one generator (built once, on first use, so that a bad domain or split fails before a model
loads), one optional PRM, the domain and the config, with one rule for building each.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domains import Domain, Question, load_domain
from evolve.backends.base import Generator, StepScorer
from evolve.config import Config, ModelConfig
from evolve.errors import ConfigError, EvolveError, ModelSpecError
from evolve.infer.base import Solution
from evolve.infer.solve import ModeRun, Progress, check_modes, run_modes
from evolve.reasoner.driver import Driver, Job, Tick
from evolve.reasoner.steps import Sampling, StepPrompt
from evolve.reasoner.work import Continuation, Generate, Score
from evolve.search.mcts import MCTS
from evolve.search.tree import FinishedTree


def build_generator(model: ModelConfig, lora: str | None = None) -> Generator:
    """The backend a model section names, with a LoRA adapter on top (the one rule for every front end)."""
    from evolve.backends import load_generator

    adapter = lora if lora is not None else model.lora
    if adapter is not None and not Path(adapter).exists():
        raise ModelSpecError(f"policy adapter folder '{adapter}' does not exist", where=str(adapter),
                             fix="pass the adapter folder a policy training wrote (runs/NAME/round-N/policy/adapter)")
    sharded = {"tensor_parallel_size": model.tensor_parallel} if model.tensor_parallel > 1 else {}
    if sharded and not model.spec.startswith("vllm:"):
        raise ConfigError(f"model.tensor_parallel={model.tensor_parallel} shards a vLLM engine, and '{model.spec}' "
                          "is not one", where="model.tensor_parallel", fix="set it to 1, or use a vllm:<model> spec")
    return load_generator(model.spec, threads=model.threads, dtype=model.dtype, max_batch_size=model.max_batch_size,
                          openai_model=model.openai_model, lora=adapter, **sharded)


def base_folder(spec: str) -> str:
    """Local weights a spec stands for: a vLLM spec trains the model it serves; an API model has none."""
    from evolve.backends import resolve_model_folder
    from evolve.backends.spec import parse_model_spec

    parsed = parse_model_spec(spec)
    if parsed.kind == "openai":
        raise ConfigError(f"'{spec}' is served over an API, so it has no local weights", where="model.spec",
                          fix="set model.spec (or prm.base) to a folder, hub id, embedded:<name> or vllm:<model>")
    return resolve_model_folder(spec if parsed.kind == "embedded" else parsed.target)


def build_scorer(prm: str | Path, config: Config) -> StepScorer:
    """A trained PRM folder as a `StepScorer`. Its base model is `prm.base` when set, else the base it
    was trained on (as its prm.json records it), else `model.spec` when that folder has moved."""
    from evolve.prm.scorer import load_prm, read_prm_meta

    if not Path(prm).is_dir():
        raise ConfigError("PRM folder not found", where=str(prm), fix="pass --prm the folder a PRM training run wrote")
    if config.prm.base:
        base = base_folder(config.prm.base)
    else:
        recorded = read_prm_meta(prm)["base"].get("path")
        base = recorded if recorded and Path(recorded).is_dir() else base_folder(config.model.spec)
    return load_prm(str(prm), base_dir=base, threads=config.model.threads)


@dataclass
class StreamEvent:
    """One thing that happened while a question was being answered, for a front end to show.

    kind "steps": a generation came back (`steps`, the newest continuation's steps; `node`, whose);
    kind "scores": the PRM scored `trajectories` (`scores`); kind "solution": the final `solution`.
    """

    kind: str
    steps: list[str] = field(default_factory=list)
    scores: list[list[float]] = field(default_factory=list)
    trajectories: list[list[str]] = field(default_factory=list)
    node: int | None = None
    tokens: int = 0
    solution: Solution | None = None


class Cancelled(EvolveError):
    """The caller stopped listening (a closed stream, a client that went away): the work was dropped."""


class Reasoner:
    """A domain, a policy (generator) and an optional PRM, under one config."""

    def __init__(self, config: Config, domain: Domain, generator: Generator | Callable[[], Generator],
                 scorer: StepScorer | None = None):
        self.config = config
        self.domain = domain
        self._generator = generator
        self.scorer = scorer
        # Set by `evolve.scale.reasoner_for`: an object whose `search` and `run_modes` deal the questions out to
        # workers that load the models themselves; nothing then loads in this process.
        self.workers: Any = None

    @classmethod
    def from_config(cls, config: Config, *, policy: str | None = None, prm: str | Path | None = None,
                    generator: Generator | None = None) -> Reasoner:
        """The domain now (a bad name fails before any model loads), the PRM now, the generator on first use.
        (`evolve.scale.reasoner_for` builds one whose work runs on workers when the config asks for them.)"""
        domain = load_domain(config.data.domain)
        scorer = build_scorer(prm, config) if prm is not None else None
        return cls(config, domain, generator or (lambda: build_generator(config.model, policy)), scorer)

    @property
    def model_name(self) -> str:
        """The policy's name in reports (the backend's, or the spec the workers load)."""
        return self.config.model.spec if self.workers is not None else self.generator.name

    @property
    def generator(self) -> Generator:
        if not isinstance(self._generator, Generator):
            self._generator = self._generator()
        return self._generator

    def with_eval(self, **overrides: Any) -> Reasoner:
        """The same domain, policy and PRM under other `eval` settings (a chat request's n, temperature,
        max_tokens, seed, stop, beam_width, ...): validated like the config, sharing every loaded model."""
        config = self.config.model_copy(deep=True)
        for key, value in overrides.items():
            setattr(config.eval, key, value)  # validate_assignment: a bad value raises pydantic's error
        twin = Reasoner(config, self.domain, self._generator, self.scorer)
        twin._generator = self._generator if isinstance(self._generator, Generator) else self.generator
        return twin

    def prompt_tokens(self, question: Question, **notes: Any) -> int:
        """Tokens of the prompt that opens `question` (whitespace words where the backend has no tokenizer)."""
        text = self.prompt(question, **notes).prompt([])
        backend = getattr(self.generator, "inner", self.generator)
        encode = getattr(backend, "encode", None)
        return len(encode(text)) if callable(encode) else len(text.split())

    def score_steps(self, question: Question, steps: Sequence[str]) -> list[float] | None:
        """The PRM's score of each step of one trajectory (None without a PRM)."""
        if self.scorer is None or not steps:
            return None
        return [float(x) for x in self.scorer.score(self.domain.format_question(question), [list(steps)])[0]]

    def prompt(self, question: Question, *, system_note: str | None = None, user_note: str | None = None) -> StepPrompt:
        return StepPrompt(self.domain, question, self.generator.render_chat, system_note=system_note,
                          user_note=user_note)

    def check(self, modes: Sequence[str]) -> None:
        """Refuse before any work a mode that is unknown, needs a PRM that is missing, or asks the backend
        for more samples than it allows (on workers, each worker checks its own backend)."""
        if self.workers is not None:
            self.workers.check(modes)
            return
        check_modes(modes, self.config.eval, self.generator, self.scorer)

    # -- answering ---------------------------------------------------------------------------------

    def run_modes(self, questions: Sequence[Question], modes: Sequence[str], *, progress: Progress | None = None,
                  system_note: str | None = None, user_note: str | None = None,
                  on_answers: Callable | None = None) -> dict[str, ModeRun]:
        """Every mode's solutions to `questions` (see `evolve.infer.solve.run_modes`)."""
        if self.workers is not None:
            return self.workers.run_modes(questions, modes, progress, system_note=system_note, user_note=user_note,
                                          on_answers=on_answers)
        return run_modes(questions, self.domain, self.generator, modes, self.config.eval, self.scorer, progress,
                         lambda q: self.prompt(q, system_note=system_note, user_note=user_note), on_answers)

    def solve(self, questions: Sequence[Question], mode: str | None = None, **notes: Any) -> list[Solution]:
        """One `Solution` per question with `mode` (default: the first of `eval.modes`)."""
        mode = mode or self.config.eval.modes[0]
        return self.run_modes(questions, [mode], **notes)[mode].solutions

    def stream(self, question: Question, mode: str | None = None, *, cancel: threading.Event | None = None,
               **notes: Any) -> Iterator[StreamEvent]:
        """Events as the answer forms: each generation and PRM pass, then the solution.

        Closing the iterator early (or setting `cancel`) drops the rest of the work: the search stops
        at its next backend answer, so a client that went away costs at most the call in flight."""
        mode = mode or self.config.eval.modes[0]
        self.check([mode])
        events: queue.Queue = queue.Queue()
        failure: list[BaseException] = []
        cancel = cancel or threading.Event()

        def on_answers(job: Job, item: Generate | Score, answer: Any) -> None:
            if cancel.is_set():
                raise Cancelled("the request was cancelled", where="stream", fix="nothing to fix: nobody is listening")
            if isinstance(item, Score):
                events.put(StreamEvent("scores", scores=answer, trajectories=[list(t) for t in item.trajectories]))
                return
            for continuation in answer:
                events.put(StreamEvent("steps", steps=list(item.steps) + list(continuation.steps), node=item.node,
                                       tokens=continuation.tokens))

        def work() -> None:
            try:
                solution = self.run_modes([question], [mode], on_answers=on_answers, **notes)[mode].solutions[0]
                events.put(StreamEvent("solution", solution=solution, tokens=solution.tokens))
            except BaseException as err:  # re-raised in the caller's thread
                failure.append(err)
            finally:
                events.put(None)

        thread = threading.Thread(target=work, name="reasoner-stream", daemon=True)
        thread.start()
        try:
            while (event := events.get()) is not None:
                yield event
        finally:
            cancel.set()  # a consumer that stopped early (GeneratorExit) drops the remaining work
        thread.join()
        if failure and not isinstance(failure[0], Cancelled):
            raise failure[0]

    # -- searching ---------------------------------------------------------------------------------

    def search(self, questions: Iterable[Question], *, on_tree: Callable[[FinishedTree], None],
               on_tick: Callable[[Tick], None] | None = None, merge: bool = True,
               in_flight: int | None = None) -> Any:
        """MedS3's data-synthesis MCTS over `questions`; `on_tree` gets each finished tree, in the order
        trees finish. On workers, returns what they did (restarts, re-queued and failed questions)."""
        cfg = self.config.search
        if self.workers is not None:
            return self.workers.search(questions, on_tree, on_tick)

        def make_search(question: Question):
            mcts = MCTS(question.id, cfg)
            return mcts.run(), mcts

        def on_done(job: Job) -> None:
            on_tree(FinishedTree(job.question, job.context.tree, time.perf_counter() - job.started,
                                 job.generated_tokens))

        Driver(self.generator, Sampling.of_search(cfg), in_flight=in_flight or cfg.trees_in_flight, merge=merge,
               on_done=on_done, on_tick=on_tick).run(questions, make_search, self.prompt)
        return None


__all__ = ["Cancelled", "Continuation", "Reasoner", "StreamEvent", "base_folder", "build_generator", "build_scorer"]
