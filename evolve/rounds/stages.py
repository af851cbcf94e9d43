"""The stages of one self-evolution round. Each takes the round's context and returns the entries it
adds to the manifest (`models`, `data`, `metrics`); paths in them are relative to the run folder, so
a finished run can be moved or shared."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from domains import Domain
from evolve.api import Reasoner, base_folder, build_scorer
from evolve.backends.base import Generator
from evolve.config import Config
from evolve.errors import ConfigError, TrainingError
from evolve.events import Note, Sink, emit
from evolve.infer.modes import PRM_MODES
from evolve.scale import reasoner_for

# (LoRA adapter folder or None for the bare model) -> a ready generator
GeneratorFactory = Callable[[str | None], Generator]
PRM_SEARCH = "prm-search"  # prm.on_policy: the round folder's search by the round's own new policy


@dataclass
class RoundContext:
    config: Config
    run_dir: Path
    domain: Domain
    factory: GeneratorFactory
    events: Sink | None = None
    force: bool = False
    redo_eval: bool = False  # evaluate again every round whose eval ran under another config
    previous: dict = field(default_factory=dict)  # the models of the round before (empty for round 1)
    start_policy: str | None = None  # the cold-start adapter every round starts from (None: the base model)

    def round_dir(self, index: int) -> Path:
        return self.run_dir / f"round-{index}"

    def path(self, relative: str | None) -> str | None:
        return None if relative is None else str(self.run_dir / relative)

    def relative(self, path: str | Path) -> str:
        return str(Path(path).resolve().relative_to(self.run_dir.resolve()))


def search_stage(ctx: RoundContext, index: int) -> dict:
    adapter = ctx.previous.get("policy") or ctx.start_policy
    trees = ctx.round_dir(index) / "trees.jsonl"
    reused = ctx.round_dir(index - 1) / PRM_SEARCH / "trees.jsonl"
    data = {}
    if ctx.config.prm.on_policy and reused.is_file() and not trees.exists():
        # the previous round's PRM searched these questions with this very policy: the search resumes from them
        for suffix in ("", ".config.json"):  # the trees and the search settings they were made under
            if (source := reused.with_name(reused.name + suffix)).exists():
                shutil.copyfile(source, trees.with_name(trees.name + suffix))
        data["search_reused"] = ctx.relative(reused)  # its tokens were counted in that round's prm_search
    data.update(search_trees(ctx, adapter, trees))
    return {"models": {"search_policy": adapter or ctx.config.model.spec}, "data": data}


def search_trees(ctx: RoundContext, adapter: str | None, trees: Path) -> dict:
    """Search the configured questions with `adapter` (None: the base model) into `trees`, resuming
    what it holds; the counts come from the file, as after a resume the search only knows its own part."""
    from evolve.search.records import read_records
    from evolve.search.runner import run_search

    config = ctx.config.model_copy(deep=True)
    config.model.lora = ctx.path(adapter)
    if config.run.on_workers:
        reasoner = reasoner_for(config, domain=ctx.domain)
    else:
        reasoner = Reasoner(config, ctx.domain, lambda: ctx.factory(config.model.lora))
    summary = run_search(reasoner, trees, force=ctx.force, events=ctx.events)
    if summary.failed:  # lost on every worker they were dealt to; the round goes on without them
        emit(ctx.events, Note(f"search: {len(summary.failed)} questions failed on every attempt and were left out: "
                              + ", ".join(qid for qid, _ in summary.failed)))
    records = list(read_records(trees))
    stats = [r["stats"] for r in records]
    return {
        "search_questions": len(records),
        "solved": sum(1 for r in records if r["pos"]),
        "nodes": sum(s["nodes"] for s in stats),
        "finish_leaves": sum(s["finish_leaves"] for s in stats),
        "correct_leaves": sum(s["correct_leaves"] for s in stats),
        "search_tokens": sum(s["generated_tokens"] for s in stats),
    }


def harvest_stage(ctx: RoundContext, index: int) -> dict:
    return {"data": harvest_trees(ctx, ctx.round_dir(index))}


def harvest_trees(ctx: RoundContext, folder: Path) -> dict:
    """folder/trees.jsonl -> folder/data/{policy,prm}.parquet; the harvest's counts."""
    from evolve.search.records import read_records
    from evolve.train.harvest import harvest

    cfg = ctx.config
    _, _, summary = harvest(read_records(folder / "trees.jsonl"), ctx.domain, top_k=cfg.policy.top_k,
                            labeling=cfg.prm.labeling, out_dir=folder / "data")
    return summary.to_dict()


def _rows(path: Path) -> list[dict]:
    from evolve.train.harvest import read_parquet

    return read_parquet(path)


def _loss_summary(losses: list[float]) -> dict:
    return {"first_loss": round(losses[0], 4) if losses else None, "last_loss": round(losses[-1], 4) if losses else None}


def data_parallel(ctx: RoundContext, kind: str, rows: list[dict], out_dir: Path, section, **job) -> list[dict]:
    """With `run.train_processes > 1`, train `kind` on that many processes first (torchrun); the in-process
    call that follows then finds the finished result. Returns `rows` for that call."""
    processes = ctx.config.run.train_processes
    if processes > 1 and not (out_dir / "done.json").exists():
        import os

        from evolve.scale.cluster import split_threads
        from evolve.train.parallel import launch

        threads = split_threads(ctx.config.model.threads or os.cpu_count() or 1, processes)
        launch(kind, rows, {"base_dir": base_folder(ctx.config.model.spec if kind == "policy" else
                                                    ctx.config.prm.base or ctx.config.model.spec),
                            "config": section.model_dump(mode="json"), "threads": threads, **job}, out_dir, processes)
    return rows


def cold_start_rows(ctx: RoundContext) -> list[dict]:
    """Policy rows from gold solutions: the domain's `cold` questions with their true chains rendered as
    steps (varied phrasings), or a JSONL file of questions with a `steps` list each."""
    import json
    import random

    from domains.generators import gold_steps
    from evolve.reasoner.steps import STEP_ZERO, continuation, serialise_steps, task_messages

    spec = ctx.config.policy.cold_start
    if spec.source == "generated":
        if "cold" not in ctx.domain.split_names:
            raise TrainingError(f"domain '{ctx.domain.name}' has no cold-start questions", where="policy.cold_start",
                                fix="use a generated domain (it has a `cold` split), or set policy.cold_start.source "
                                    "to a JSONL file of questions with steps")
        questions = ctx.domain.load_split("cold", limit=spec.size)
        chainless = [q for q in questions if not q.meta.get("truth")]
        if chainless:
            raise TrainingError(f"{len(chainless)} cold-start question(s) of domain '{ctx.domain.name}' have no "
                                f"true chain to render as a solution (e.g. {chainless[0].id})", where="policy.cold_start",
                                fix="set policy.cold_start.source to a JSONL file of questions with steps")
        solved = [(q, gold_steps(q.meta["truth"], random.Random(q.id))) for q in questions]
    else:
        path = Path(spec.source)
        if not path.is_file():
            raise TrainingError("cold-start file not found", where=str(path), fix="give a JSONL file of questions with steps")
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:spec.size]
        questions = ctx.domain.load_split(str(path))[:spec.size]
        _check_held_out(ctx, path, questions)
        solved = [(q, list(row["steps"])) for q, row in zip(questions, rows)]
    return [{"question_id": q.id, "messages": task_messages(ctx.domain, q), "prefix": serialise_steps([STEP_ZERO]),
             "completion": continuation([STEP_ZERO, *steps]), "min_value": 1.0, "answer": q.answer} for q, steps in solved]


def _check_held_out(ctx: RoundContext, path: Path, questions: list) -> None:
    """A cold-start file must not teach the questions the rounds are evaluated on (generated cold splits
    are disjoint by construction; a file is checked here)."""
    from domains.convert import content_key

    for split in ("dev", "test"):
        if split not in ctx.domain.split_names:
            continue
        held_out = {content_key(q) for q in ctx.domain.load_split(split)}
        shared = [q for q in questions if content_key(q) in held_out]
        if shared:
            raise TrainingError(f"{len(shared)} cold-start question(s) are also in the {split} split of domain "
                                f"'{ctx.domain.name}' (e.g. {shared[0].id})", where=str(path),
                                fix="remove them from the file: the cold start must not see held-out questions")


def cold_start_stage(ctx: RoundContext) -> dict:
    from evolve.train.policy import train_policy

    cfg = ctx.config
    rows = data_parallel(ctx, "policy", cold_start_rows(ctx), ctx.round_dir(0) / "cold-start", cfg.policy)
    result = train_policy(rows, base_dir=base_folder(cfg.model.spec), out_dir=ctx.round_dir(0) / "cold-start",
                          config=cfg.policy, threads=cfg.model.threads, events=ctx.events)
    return {"models": {"cold_start": ctx.relative(result.adapter_dir)},
            "data": {"cold_start_rows": len(rows)},
            "metrics": {"cold_start": {"steps": result.steps, "examples": result.examples, **_loss_summary(result.losses)}}}


def policy_stage(ctx: RoundContext, index: int) -> dict:
    from evolve.train.policy import train_policy

    cfg = ctx.config
    start = ctx.start_policy  # the cold-start adapter, or None for the bare base model
    init = ctx.path(start) if cfg.policy.from_base else ctx.path(ctx.previous.get("policy") or start)
    rows = data_parallel(ctx, "policy", _rows(ctx.round_dir(index) / "data" / "policy.parquet"),
                         ctx.round_dir(index) / "policy", cfg.policy, init_adapter=init)
    result = train_policy(rows, base_dir=base_folder(cfg.model.spec),
                          out_dir=ctx.round_dir(index) / "policy", config=cfg.policy, init_adapter=init,
                          threads=cfg.model.threads, events=ctx.events)
    return {
        "models": {"policy": ctx.relative(result.adapter_dir), "policy_init": ctx.previous.get("policy") if init else None},
        "metrics": {"policy": {"steps": result.steps, "examples": result.examples, **_loss_summary(result.losses)}},
    }


def grpo_stage(ctx: RoundContext, index: int) -> dict:
    """DeepSeek-R1's policy step: GRPO on the domain's search questions with rule-based rewards (and the
    named PRM as a shaped reward when its weight is not 0). No search, no harvest, no PRM training."""
    from evolve.train.grpo import train_grpo

    cfg = ctx.config
    # Always from the last round's policy (policy.from_base is for sft): a grpo round has no new data, so
    # from the same start, on the same questions and seed, round 2 would replay round 1 step for step.
    init = ctx.path(ctx.previous.get("policy") or ctx.start_policy)
    questions = ctx.domain.load_split(cfg.data.split, limit=cfg.search.limit)
    scorer = build_scorer(cfg.policy.reward_prm, cfg) if cfg.policy.rewards.get("prm") else None
    result = train_grpo(questions, ctx.domain, base_dir=base_folder(cfg.model.spec),
                        out_dir=ctx.round_dir(index) / "policy", config=cfg.policy, init_adapter=init, scorer=scorer,
                        threads=cfg.model.threads, events=ctx.events)
    last = result.log[-1] if result.log else {}
    return {
        "models": {"policy": ctx.relative(result.adapter_dir), "policy_init": ctx.previous.get("policy") if init else None,
                   # a PRM from elsewhere, by absolute path (eval's PRM modes use it)
                   "prm": str(Path(cfg.policy.reward_prm).resolve()) if cfg.policy.reward_prm else None},
        "data": {"grpo_questions": len(questions), "generated_tokens": result.generated_tokens},
        "metrics": {"policy": {"method": "grpo", "steps": result.steps,
                               "reward_weights": {k: v for k, v in cfg.policy.rewards.items() if v},
                               "generated_tokens": result.generated_tokens,
                               "last_reward": last.get("reward"),
                               "last_completion_length": last.get("completions/mean_length")}},
    }


def prm_stage(ctx: RoundContext, index: int, *, policy: str | None = None) -> dict:
    cfg = ctx.config
    if not cfg.prm.enabled:
        return {"models": {"prm": None}, "metrics": {"prm": None}}
    from evolve.train.prm import train_prm

    data_dir, extra = ctx.round_dir(index) / "data", {}
    if cfg.prm.on_policy:
        data_dir, extra = on_policy_prm_data(ctx, index, policy)
    init = None
    if cfg.prm.init == "policy":
        if policy is None:
            raise ConfigError(f"prm.init is policy, but round {index} has no policy adapter", where="prm.init",
                              fix="set prm.init=base")
        init = ctx.path(policy)
    rows = data_parallel(ctx, "prm", _rows(data_dir / "prm.parquet"), ctx.round_dir(index) / "prm", cfg.prm,
                         init_adapter=init)
    result = train_prm(rows,
                       base_dir=base_folder(cfg.prm.base or cfg.model.spec), out_dir=ctx.round_dir(index) / "prm",
                       config=cfg.prm, init_adapter=init, threads=cfg.model.threads, events=ctx.events)
    metrics = {"steps": result.steps, **_loss_summary(result.losses), **result.metrics}
    metrics = {k: v for k, v in metrics.items() if "seconds" not in k}  # times live in `timings`
    return {"models": {"prm": ctx.relative(result.prm_dir)}, "metrics": {"prm": metrics}, "data": extra}


def on_policy_prm_data(ctx: RoundContext, index: int, policy: str | None) -> tuple[Path, dict]:
    """prm.on_policy: search the round's questions again with the policy it just trained, the one its
    PRM will score, and harvest the PRM's rows from those trees. The next round's search is the same
    search (same policy, questions and seed) and starts from them, so a run pays one extra search."""
    folder = ctx.round_dir(index) / PRM_SEARCH
    found = search_trees(ctx, policy, folder / "trees.jsonl")
    harvested = harvest_trees(ctx, folder)
    return folder / "data", {"prm_search": {**found, "pos": harvested.get("pos"), "neg": harvested.get("neg")}}


def eval_stage(ctx: RoundContext, index: int, *, policy: str | None, prm: str | None, modes: list[str]) -> dict:
    from evolve.eval.evaluate import evaluate

    cfg = ctx.config
    questions = ctx.domain.load_split(cfg.eval.split, limit=cfg.eval.limit, where=cfg.eval.where)
    wants_prm = prm is not None and bool(PRM_MODES.intersection(modes))
    if cfg.run.on_workers:
        reasoner = reasoner_for(cfg, policy=ctx.path(policy), prm=ctx.path(prm) if wants_prm else None, domain=ctx.domain)
    else:
        scorer = build_scorer(ctx.path(prm), cfg) if wants_prm else None
        reasoner = Reasoner(cfg, ctx.domain, ctx.factory(ctx.path(policy)), scorer)
    report = evaluate(questions, reasoner, modes=modes, out_dir=ctx.round_dir(index) / "eval", label=f"round {index}",
                      events=ctx.events, split=cfg.eval.split)
    return {"data": {"eval_questions": len(questions)},
            "metrics": {"eval": report_metrics(report), **({"pass_at": report.pass_at} if report.pass_at else {})},
            "timings": {f"eval {result.mode}": round(result.seconds, 2) for result in report.modes}}


def report_metrics(report) -> dict:
    """Per mode: accuracy with its Wilson interval and mean generated tokens (wall times go to `timings`,
    so that two runs of one config give the same manifest)."""
    keys = ("accuracy", "correct", "n", "low", "high", "mean_tokens")
    return {result.mode: {key: getattr(result, key) for key in keys} for result in report.modes}


def eval_modes(config: Config, *, with_prm: bool) -> list[str]:
    return [m for m in config.eval.modes if with_prm or m not in PRM_MODES]
