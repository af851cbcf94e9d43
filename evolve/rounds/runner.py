"""`evolve run` as a function: rounds of search -> harvest -> policy -> PRM -> eval -> report.

Re-running the same command resumes at the first unfinished stage of the first unfinished round;
the search resumes per question and training from its last checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path

from domains import load_domain
from evolve.api import build_generator
from evolve.config import Config, ConfigError
from evolve.events import Sink, Stage, emit
from evolve.infer.modes import PRM_MODES
from evolve.rounds.manifest import Manifest, claim_run, read_json, run_digest
from evolve.rounds.report import write_run_report
from evolve.rounds.stages import (
    GeneratorFactory,
    RoundContext,
    cold_start_stage,
    eval_modes,
    eval_stage,
    grpo_stage,
    harvest_stage,
    policy_stage,
    prm_stage,
    search_stage,
)

ROUND_STAGES = ("search", "harvest", "policy", "prm", "eval", "report")
GRPO_STAGES = ("policy", "eval", "report")  # policy.method=grpo: no search, harvest or PRM training
# What `redo_eval` runs again: evaluation never changes what later rounds train on, so it alone can be
# redone in place (more questions, other modes) without invalidating the rounds after it.
REDO_EVAL = ("eval", "report")


def default_factory(config: Config) -> GeneratorFactory:
    return lambda lora: build_generator(config.model, lora)


class KeepLast:
    """Keeps the last generator it built: round 0's evaluation and round 1's search share the base
    model, and a vLLM engine is too costly to start twice (or to hold two of)."""

    def __init__(self, make: GeneratorFactory):
        self.make = make
        self.key: object = object()
        self.generator = None

    def __call__(self, lora: str | None):
        if lora != self.key:
            self.generator = None  # let the old model go before the next one loads
            self.generator = self.make(lora)
            self.key = lora
        return self.generator


def check_budget_for_backend(config: Config, generator) -> None:
    from evolve.search.runner import check_budget

    check_budget(config, generator)
    limit = generator.max_n
    if limit is not None and config.eval.n > limit:
        raise ConfigError(f"eval.n={config.eval.n} asks for more samples per request than backend "
                          f"'{generator.name}' allows ({limit})", where="eval.n", fix=f"set eval.n <= {limit}")


def check_plan(config: Config) -> None:
    """Refuse up front what would only fail hours later."""
    wanted = PRM_MODES.intersection(config.eval.modes)
    if config.policy.method == "grpo":
        from importlib.util import find_spec

        from evolve.errors import MissingExtraError

        if find_spec("trl") is None:
            raise MissingExtraError("policy.method=grpo needs TRL", where="policy.method",
                                    fix="install the grpo extra: pip install 'evolve-reasoner[grpo]'")
        from evolve.train.grpo import check_grpo

        check_grpo(config.policy, load_domain(config.data.domain))
        if wanted and not config.policy.reward_prm:
            raise ConfigError(f"eval.modes {sorted(wanted)} need a PRM, and a grpo round trains none",
                              where="eval.modes", fix="set policy.reward_prm to a PRM folder, or keep to cot and sc")
    elif wanted and not config.prm.enabled:
        raise ConfigError(f"eval.modes {sorted(wanted)} need a PRM but prm.enabled is false", where="eval.modes",
                          fix="set prm.enabled=true or keep to cot and sc")
    if config.model.lora:
        raise ConfigError("model.lora is set, but each round chooses its own policy adapter", where="model.lora",
                          fix="remove model.lora; set model.spec to the base model")
    if config.prm.init == "policy" and config.prm.base not in (None, config.model.spec):
        raise ConfigError(f"prm.init is policy, but the PRM's base ({config.prm.base}) is not the model the policy is "
                          f"trained on ({config.model.spec})", where="prm.base",
                          fix="unset prm.base, or set prm.init=base")


def run_rounds(config: Config, run_dir: str | Path, *, force: bool = False, factory: GeneratorFactory | None = None,
               events: Sink | None = None, redo_eval: bool = False) -> list[Manifest]:
    """Run or resume every round. `redo_eval` (with `force` after an eval.* change) evaluates again each
    round whose evaluation ran under another config; search and training stay as they are."""
    check_plan(config)
    run_dir = Path(run_dir)
    claim_run(run_dir, config, force=force)
    digest = run_digest(config)
    ctx = RoundContext(config=config, run_dir=run_dir, domain=load_domain(config.data.domain),
                       factory=KeepLast(factory or default_factory(config)), events=events, force=force,
                       redo_eval=redo_eval)
    if not config.run.on_workers and not _all_done(run_dir, config, digest if redo_eval else None):
        check_budget_for_backend(config, ctx.factory(None))
    manifests = []
    if config.run.baseline:
        manifests.append(_baseline(ctx, digest))
    else:
        _cold_start(ctx, Manifest.open(ctx.round_dir(0), 0, digest), digest)
    for index in range(1, config.run.rounds + 1):
        manifest = _round(ctx, index, digest)
        manifests.append(manifest)
        ctx.previous = manifest.data["models"]
    return manifests


def _all_done(run_dir: Path, config: Config, redo_digest: str | None = None) -> bool:
    """Every round complete (and, with `redo_digest`, evaluated under that config)."""
    indices = ([0] if config.run.baseline else []) + list(range(1, config.run.rounds + 1))
    paths = [run_dir / f"round-{i}" / "manifest.json" for i in indices]
    manifests = [Manifest(p, read_json(p)) for p in paths if p.exists()]
    return len(manifests) == len(paths) and all(
        m.complete and not any(_redo(redo_digest is not None, m, s, redo_digest) for s in REDO_EVAL) for m in manifests)


def _redo(redo_eval: bool, manifest: Manifest, stage: str, digest: str | None) -> bool:
    """A finished stage that `redo_eval` runs again: it ran under another config."""
    return redo_eval and stage in REDO_EVAL and manifest.ran_under(stage) != digest


def _stage(ctx: RoundContext, manifest: Manifest, stage: str, digest: str, work) -> None:
    if manifest.done(stage) and not _redo(ctx.redo_eval, manifest, stage, digest):
        return
    emit(ctx.events, Stage(f"round {manifest.data['round']} {stage}"))
    started = time.perf_counter()
    result = work()
    manifest.finish(stage, result, digest=digest, seconds=time.perf_counter() - started)


def _baseline(ctx: RoundContext, digest: str) -> Manifest:
    """Round 0: the base model with the modes that need no PRM, the reference every round is compared to."""
    manifest = Manifest.open(ctx.round_dir(0), 0, digest)
    manifest.data["models"].setdefault("policy", None)
    modes = list(ctx.config.run.baseline_modes)
    _stage(ctx, manifest, "eval", digest, lambda: eval_stage(ctx, 0, policy=None, prm=None, modes=modes))
    _cold_start(ctx, manifest, digest)
    _stage(ctx, manifest, "report", digest, lambda: _report(ctx))
    return manifest


def _cold_start(ctx: RoundContext, manifest: Manifest, digest: str) -> None:
    """The cold-start policy, once, recorded in round 0; every round then starts from it."""
    if ctx.config.policy.cold_start is None:
        return
    _stage(ctx, manifest, "cold_start", digest, lambda: cold_start_stage(ctx))
    ctx.start_policy = manifest.data["models"]["cold_start"]


def _round(ctx: RoundContext, index: int, digest: str) -> Manifest:
    """MedS3's six stages, or a DeepSeek-R1 round (policy.method=grpo): GRPO, then the same evaluation
    and report."""
    manifest = Manifest.open(ctx.round_dir(index), index, digest)
    models = manifest.data["models"]
    grpo = ctx.config.policy.method == "grpo"
    stages = {
        "search": lambda: search_stage(ctx, index),
        "harvest": lambda: harvest_stage(ctx, index),
        "policy": lambda: grpo_stage(ctx, index) if grpo else policy_stage(ctx, index),
        "prm": lambda: prm_stage(ctx, index, policy=models.get("policy")),
        "eval": lambda: eval_stage(ctx, index, policy=models.get("policy"), prm=models.get("prm"),
                                   modes=eval_modes(ctx.config, with_prm=models.get("prm") is not None)),
        "report": lambda: _report(ctx),
    }
    for stage in GRPO_STAGES if grpo else ROUND_STAGES:
        _stage(ctx, manifest, stage, digest, stages[stage])
    return manifest


def _report(ctx: RoundContext) -> dict:
    write_run_report(ctx.run_dir)
    return {}
