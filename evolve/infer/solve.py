"""`solve_many`: answer many questions with one mode, batching every request across questions.

`run_modes` runs several modes over the same questions and lets the N-sample modes share one set
of samples (and one PRM pass), reporting for each mode the wall time it depended on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

from domains import Domain, Question
from evolve.backends.base import Generator
from evolve.config import EvalConfig
from evolve.errors import ConfigError
from evolve.infer.base import MODES, PRM_MODES, Solution
from evolve.infer.beam import beam_search
from evolve.infer.mcts import mcts_search
from evolve.infer.sampling import SAMPLE_MODES, decide, sample_search
from evolve.infer.work import Progress, drive
from evolve.prm.base import StepScorer


@dataclass
class ModeRun:
    mode: str
    solutions: list[Solution]
    seconds: float  # wall time this mode's answers took; shared samples counted for every mode using them
    shared: bool = False  # the samples came from one draw shared with the other N-sample modes
    calls: int = 0  # generate calls


def samples_per_request(mode: str, config: EvalConfig) -> int:
    return {"cot": 1, "beam": config.beam_expansions, "mcts": config.mcts_children}.get(mode, config.n)


def check_modes(modes: Sequence[str], config: EvalConfig, generator: Generator | None = None,
                scorer: StepScorer | None = None, *, has_scorer: bool | None = None) -> None:
    """Refuse, before any work, a mode that is unknown, needs a missing PRM, or asks for too many samples.

    `has_scorer` lets the CLI check for `--prm` before it loads any model.
    """
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(f"unknown inference mode '{mode}'", where="--modes", fix=f"use some of: {', '.join(MODES)}")
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
            key = {"beam": "eval.beam_expansions", "mcts": "eval.mcts_children"}.get(mode, "eval.n")
            raise ConfigError(f"mode {mode} asks for n={wanted} samples per request but backend "
                              f"'{generator.name}' allows {limit} (generator.max_n)", where=key,
                              fix=f"set {key} <= {limit}")


def run_modes(questions: Sequence[Question], domain: Domain, generator: Generator, modes: Sequence[str],
              config: EvalConfig, scorer: StepScorer | None = None, progress: Progress | None = None) -> dict[str, ModeRun]:
    """Every mode's solutions, in question order; modes run in the order given."""
    check_modes(modes, config, generator, scorer)
    runs: dict[str, ModeRun] = {}
    shared = [m for m in modes if m in SAMPLE_MODES]
    for mode in modes:
        if mode in runs:
            continue
        if mode in SAMPLE_MODES:
            score = any(m in PRM_MODES for m in shared)
            started = time.perf_counter()
            done = drive(questions, domain, generator, config,
                         lambda q: sample_search(q.id, config.n, config.seed, score=score), scorer, progress,
                         "+".join(shared))
            wall = time.perf_counter() - started
            for m in shared:
                # sc never waits for the PRM; the PRM modes pay for sampling and scoring
                seconds = wall - done.score_seconds if m not in PRM_MODES else wall
                runs[m] = ModeRun(m, [decide(m, c) for c in done.results], seconds, len(shared) > 1, done.calls)
            continue
        if mode == "cot":
            make = lambda q: sample_search(q.id, 1, config.seed, greedy=True)  # noqa: E731
        elif mode == "beam":
            make = lambda q: beam_search(q.id, config)  # noqa: E731
        else:
            make = lambda q: mcts_search(q.id, config)  # noqa: E731
        started = time.perf_counter()
        done = drive(questions, domain, generator, config, make, scorer, progress, mode)
        results = [decide("cot", c) for c in done.results] if mode == "cot" else done.results
        runs[mode] = ModeRun(mode, results, time.perf_counter() - started, False, done.calls)
    return {m: runs[m] for m in modes}


def solve_many(questions: Sequence[Question], domain: Domain, generator: Generator, mode: str, config: EvalConfig,
               scorer: StepScorer | None = None, progress: Progress | None = None) -> list[Solution]:
    """One `Solution` per question, in order."""
    return run_modes(questions, domain, generator, [mode], config, scorer, progress)[mode].solutions
