"""`run_modes`: answer many questions with the modes of `modes.MODES`, batching every request across
questions on the one driver. The modes that pick from a shared draw (sc, pvs, bon-*) get one set of
samples and one PRM pass between them, and each mode reports the wall time it depended on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from domains import Domain, Question
from evolve.backends.base import Generator, StepScorer
from evolve.config import EvalConfig
from evolve.errors import ConfigError
from evolve.infer.base import Solution
from evolve.infer.modes import MODES, PRM_MODES, samples_per_request
from evolve.infer.sampling import sample_search
from evolve.reasoner.driver import Driver
from evolve.reasoner.steps import Sampling, StepPrompt

Progress = Callable[[str, int, int, dict], None]  # (label, finished questions, total questions, info)


@dataclass
class ModeRun:
    mode: str
    solutions: list[Solution]
    seconds: float  # wall time this mode's answers took; shared samples counted for every mode using them
    shared: bool = False  # the samples came from one draw shared with the other N-sample modes
    calls: int = 0  # generate calls


def check_modes(modes: Sequence[str], config: EvalConfig, generator: Generator | None = None,
                scorer: StepScorer | None = None, *, has_scorer: bool | None = None, where: str = "--modes") -> None:
    """Refuse, before any work, a mode that is unknown, needs a missing PRM, or asks for too many samples.

    `has_scorer` lets the CLI check for `--prm` before it loads any model.
    """
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(f"unknown inference mode '{mode}'", where=where, fix=f"use some of: {', '.join(MODES)}")
    needs_prm = [m for m in modes if m in PRM_MODES]
    if needs_prm and not (scorer is not None if has_scorer is None else has_scorer):
        raise ConfigError(f"mode {', '.join(needs_prm)} needs a process reward model", where="--prm",
                          fix="pass --prm DIR (a trained PRM folder) or use only cot and sc")
    limit = generator.max_n if generator is not None else None
    if limit is None:
        return
    for mode in modes:
        wanted = samples_per_request(mode, config)
        if wanted > limit:
            key = f"eval.{MODES[mode].samples or 'n'}"
            raise ConfigError(f"mode {mode} asks for n={wanted} samples per request but backend "
                              f"'{generator.name}' allows {limit} (generator.max_n)", where=key,
                              fix=f"set {key} <= {limit}")


def run_modes(questions: Sequence[Question], domain: Domain, generator: Generator, modes: Sequence[str],
              config: EvalConfig, scorer: StepScorer | None = None, progress: Progress | None = None,
              make_prompt: Callable[[Question], StepPrompt] | None = None,
              on_answers: Callable | None = None) -> dict[str, ModeRun]:
    """Every mode's solutions, in question order; modes run in the order given. `make_prompt` builds a
    question's prompts (default: the domain's step format); `on_answers` sees every answer a search is
    sent (see `Driver`), which is how answers are streamed."""
    check_modes(modes, config, generator, scorer)
    make_prompt = make_prompt or (lambda q: StepPrompt(domain, q, generator.render_chat))
    sampling = Sampling.of_eval(config)
    runs: dict[str, ModeRun] = {}
    shared = [m for m in modes if MODES[m].pick is not None]
    for mode in modes:
        if mode in runs:
            continue
        label = "+".join(shared) if mode in shared else mode
        on_done, on_tick, on_rows = _counter(progress, label, len(questions))
        driver = Driver(generator, sampling, scorer=scorer, on_done=on_done, on_tick=on_tick, on_answers=on_answers,
                        on_rows=on_rows)
        started = time.perf_counter()
        if mode in shared:
            score = any(m in PRM_MODES for m in shared)
            draws = driver.run(questions, lambda q, score=score: sample_search(q.id, config.n, config.seed, score=score),
                               make_prompt)
            wall = time.perf_counter() - started
            for m in shared:
                # sc never waits for the PRM; the PRM modes pay for sampling and scoring
                seconds = wall - driver.totals.score_seconds if m not in PRM_MODES else wall
                runs[m] = ModeRun(m, [MODES[m].pick(c) for c in draws], seconds, len(shared) > 1, driver.totals.calls)
            continue
        search = MODES[mode].search
        results = driver.run(questions, lambda q, search=search: search(q.id, config), make_prompt)
        runs[mode] = ModeRun(mode, results, time.perf_counter() - started, False, driver.totals.calls)
    return {m: runs[m] for m in modes}


def _counter(progress: Progress | None, label: str, total: int):
    """Progress as questions finish, after every backend call with the tokens so far, and during a long
    call with its finished samples: batched questions tend to finish together at the end of one call
    (200 questions x 8 samples are one call of several minutes), and a log should not fall silent until then."""
    if progress is None:
        return None, None, None
    progress(label, 0, total, {})
    done = finished_tokens = 0
    in_flight: list = []  # the jobs the last call left running; their token counts are live

    def tokens() -> int:
        # a question finishes inside a call, before the call's tick: count it with its own tokens, so
        # the line for the last question already holds them all
        return finished_tokens + sum(job.generated_tokens for job in in_flight if not job.done)

    def on_done(job) -> None:
        nonlocal done, finished_tokens
        done += 1
        finished_tokens += job.generated_tokens
        progress(label, done, total, {"tokens": tokens()})

    def on_tick(tick) -> None:
        in_flight[:] = tick.active
        if done < total:  # the last question's line has been shown already, with every token
            progress(label, done, total, {"tokens": tokens()})

    def on_rows(rows_done: int, rows: int, call_tokens: int) -> None:
        progress(label, done, total, {"samples": f"{rows_done}/{rows}", "tokens": tokens() + call_tokens})

    return on_done, on_tick, on_rows


def solve_many(questions: Sequence[Question], domain: Domain, generator: Generator, mode: str, config: EvalConfig,
               scorer: StepScorer | None = None, progress: Progress | None = None,
               make_prompt: Callable[[Question], StepPrompt] | None = None) -> list[Solution]:
    """One `Solution` per question, in order."""
    return run_modes(questions, domain, generator, [mode], config, scorer, progress, make_prompt)[mode].solutions
