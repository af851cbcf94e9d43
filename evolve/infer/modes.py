"""The one table of inference modes: what config validation, the CLI's help and `run_modes` read.

A mode either runs a search of its own per question (`search`: a coroutine returning a `Solution`),
or picks its answer from one draw of `eval.n` samples that all such modes share (`pick`), so that sc,
pvs and best-of-N cost one set of samples and one PRM pass between them. Adding a mode is one
coroutine file and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from evolve.infer.base import Solution
from evolve.infer.beam import beam_search
from evolve.infer.mcts import mcts_search
from evolve.infer.sampling import decide, sample_search
from evolve.reasoner.work import Continuation, Search

if TYPE_CHECKING:
    from evolve.config import EvalConfig


def cot_search(question_id: str, config: EvalConfig) -> Search:
    """`cot`: one greedy solution."""
    candidates = yield from sample_search(question_id, 1, config.seed, greedy=True)
    return decide("cot", candidates)


@dataclass(frozen=True)
class Mode:
    help: str
    needs_prm: bool = False
    search: Callable[[str, Any], Search] | None = None  # (question id, EvalConfig) -> coroutine -> Solution
    pick: Callable[[Sequence[Continuation]], Solution] | None = None  # chooses from the shared draw
    samples: str = "n"  # the EvalConfig key that sets n of one request (the backend budget check)
    keys: tuple[str, ...] = ()  # the other EvalConfig keys it reads


MODES: dict[str, Mode] = {
    "cot": Mode("one greedy solution", search=cot_search, samples="", keys=("max_tokens",)),
    "sc": Mode("N samples, majority vote", pick=partial(decide, "sc"), keys=("n", "temperature")),
    "pvs": Mode("N samples; the answer with the largest sum of last-step PRM scores", needs_prm=True,
                pick=partial(decide, "pvs"), keys=("n", "temperature")),
    "bon-last": Mode("best of N by the last step's PRM score", needs_prm=True, pick=partial(decide, "bon-last"),
                     keys=("n", "temperature")),
    "bon-min": Mode("best of N by the weakest step's PRM score", needs_prm=True, pick=partial(decide, "bon-min"),
                    keys=("n", "temperature")),
    "beam": Mode("step-level PRM beam search", needs_prm=True, search=beam_search, samples="beam_expansions",
                 keys=("beam_width", "beam_expansions", "max_steps", "step_tokens")),
    "mcts": Mode("MCTS over steps with the PRM as the value and no rollouts", needs_prm=True, search=mcts_search,
                 samples="mcts_children", keys=("mcts_iterations", "mcts_children", "max_steps", "step_tokens")),
}
PRM_MODES = frozenset(name for name, mode in MODES.items() if mode.needs_prm)


def samples_per_request(mode: str, config: EvalConfig) -> int:
    key = MODES[mode].samples
    return getattr(config, key) if key else 1


def modes_help() -> str:
    """One line per mode, for `--help` texts."""
    return "; ".join(f"{name}: {mode.help}" for name, mode in MODES.items())
