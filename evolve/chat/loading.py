"""What a chat front end serves: a run's evolved policy and PRM (or the base model), on one or more
domains, loaded once and shared. The generator is wrapped in one `BatchingGenerator`, so every
request and agent run that asks at the same time shares a batched backend call; the PRM is behind a
lock, since one model is not safe to call from many threads at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evolve.config import Config
from evolve.errors import ConfigError


@dataclass(frozen=True)
class RunModels:
    """The models one round of a self-evolution run left: its config, policy adapter and PRM."""

    config: Config
    round: int
    policy: str | None
    prm: str | None


def run_models(run_dir: str | Path, round_index: int | None = None) -> RunModels:
    """The policy and PRM of round `round_index` of a run (default: the last round that trained one)."""
    import json

    from evolve.config import load_config

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"'{run_dir}' is not a self-evolution run folder (no config.yaml)", where="--run",
                          fix="pass the folder `evolve run --out` wrote, e.g. runs/NAME")
    rounds = {}
    for path in run_dir.glob("round-*/manifest.json"):
        data = json.loads(path.read_text())
        rounds[int(data["round"])] = data.get("models") or {}
    trained = sorted(i for i, models in rounds.items() if models.get("policy") or models.get("prm"))
    if round_index is None:
        if not trained:
            raise ConfigError(f"no round of '{run_dir}' has trained a policy or a PRM yet", where="--run",
                              fix="finish a round with `evolve run`, or serve the base model without --run")
        round_index = trained[-1]
    elif round_index not in trained:
        raise ConfigError(f"round {round_index} of '{run_dir}' has no trained models", where="--round",
                          fix=f"pick one of: {', '.join(map(str, trained)) or '(none yet)'}")
    models = rounds[round_index]

    def resolved(key: str) -> str | None:
        return str(run_dir / models[key]) if models.get(key) else None

    return RunModels(load_config(run_dir / "config.yaml"), round_index, resolved("policy"), resolved("prm"))


class LockedScorer:
    """A StepScorer that one thread at a time may call."""

    def __init__(self, inner):
        self.inner = inner
        self._lock = threading.Lock()

    def score(self, question, trajectories):
        with self._lock:
            return self.inner.score(question, trajectories)


def load_context(config: Config, domains: Sequence[str], *, policy: str | None = None, prm: str | None = None,
                 generator=None, scorer=None, home: Path | None = None, sources: dict | None = None):
    """A `ChatContext` with one reasoner per domain over one shared generator and PRM. Domains are
    checked first, so a bad name fails before any model loads."""
    from domains import evolve_home, load_domain
    from evolve.api import Reasoner, build_generator, build_scorer
    from evolve.backends.batching import BatchingGenerator
    from evolve.chat.models import ChatContext

    loaded = {name: load_domain(name) for name in (domains or [config.data.domain])}
    if scorer is None and prm is not None:
        scorer = build_scorer(prm, config)
    if generator is None:
        generator = build_generator(config.model, policy)
    shared = generator if isinstance(generator, BatchingGenerator) else BatchingGenerator(generator,
                                                                                        config.serve.batch_window)
    locked = LockedScorer(scorer) if scorer is not None and not isinstance(scorer, LockedScorer) else scorer
    reasoners = {}
    for name, domain in loaded.items():
        cfg = config.model_copy(deep=True)
        cfg.data.domain = name
        reasoners[name] = Reasoner(cfg, domain, shared, locked)
    return ChatContext(config, reasoners, policy=policy, prm=prm, home=Path(home or evolve_home() / "chat"),
                       sources=sources or {})


def served_models(context) -> dict:
    """Every model id of a context: `domain/mode` for the reasoners, then the plugins' (agents)."""
    from evolve.chat.models import plugin_models, reasoner_models

    details = {k: v for k, v in context.sources.items() if v is not None}
    table = reasoner_models(context.reasoners, list(context.config.serve.modes), details)
    table.update(plugin_models(context))
    return table
