"""The one typed config schema.

YAML files give the values, `--set section.key=value` and CLI flags override them, and an unknown
or misspelled key is an error that names the file, the key and the closest valid key. Every search
number defaults to MedS3's value; the CPU presets in `configs/` shrink them.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evolve.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Section):
    spec: str = Field(
        "embedded:smollm2-135m-instruct",
        description="embedded:<name>, a local HF folder, a hub id, vllm:<model> or openai:<base_url>[#model]",
    )
    threads: int | None = Field(None, ge=1, description="torch threads for the hf backend (default: all cores)")
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = Field("float32", description="weights dtype (hf)")
    max_batch_size: int = Field(32, ge=1, description="rows decoded together by the hf backend")
    openai_model: str | None = Field(None, description="model name sent to an openai: endpoint")
    lora: str | None = Field(None, description="a PEFT LoRA adapter folder applied on top of the model")
    tensor_parallel: int = Field(1, ge=1, description="GPUs one vLLM engine shards the model over "
                                 "(a Ray worker then takes that many)")


class SearchConfig(_Section):
    """MedS3's data-synthesis MCTS. Defaults are the paper's values."""

    root_children: int = Field(3, ge=1, description="Reason children of the root")
    children: int = Field(3, ge=1, description="children of every other expanded node")
    finish_threshold: float = Field(
        0.9, ge=0, le=1, description="a node whose rollout value is >= this gets a single Finish child"
    )
    rollout_base: int = Field(20, ge=1, description="k = max(rollout_base // (depth + 1), rollout_min)")
    rollout_min: int = Field(5, ge=1, description="the fewest rollouts a new node gets")
    exploration: float = Field(2.0, ge=0, description="UCT constant c in Q + c*sqrt(ln N_parent / N_child)")
    unvisited_score: float = Field(5.0, description="selection score of an unvisited child")
    completed_score: float = Field(-1.0, description="selection score of a finished (completed) child")
    correct_leaves: int = Field(4, ge=1, description="stop once this many Finish leaves are correct")
    max_nodes: int = Field(60, ge=2, description="stop once the tree has this many nodes (finish chains excluded)")
    max_depth: int = Field(
        16, ge=1, description="a leaf at this depth gets a Finish child (a guard MedS3 does not need on GPU)"
    )
    force_finish: bool = Field(
        True, description="at the stop, if fewer than correct_leaves are correct, run a Finish on every open leaf"
    )
    step_tokens: int = Field(256, ge=1, description="max new tokens of one Reason step")
    finish_tokens: int = Field(1024, ge=1, description="max new tokens of a Finish generation")
    rollout_tokens: int = Field(1024, ge=1, description="max new tokens of one rollout")
    temperature: float = Field(1.0, ge=0, description="sampling temperature for steps, finishes and rollouts")
    top_p: float = Field(0.95, gt=0, le=1, description="nucleus sampling for steps, finishes and rollouts")
    stop_at_answer: bool = Field(
        True, description="end a step, finish or rollout once its answer sentence is complete ('The answer is ...')")
    seed: int = Field(0, description="base seed; each request's seed derives from it, the question and the node")
    trees_in_flight: int = Field(
        16, ge=1, description="trees the scheduler advances together; their requests share backend calls"
    )
    limit: int | None = Field(None, ge=1, description="search only the first N questions of data.split")


class DataConfig(_Section):
    domain: str = Field("medqa", description="a built-in or user domain name (evolve domains list)")
    split: str = Field("search", description="questions to search: search, dev, or a data file in the domain's format")


def _default_lora() -> dict[str, Any]:
    return {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": "all-linear"}


class _TrainingSection(_Section):
    lora: dict[str, Any] = Field(
        default_factory=_default_lora,
        description="passed as-is to peft.LoraConfig (r, lora_alpha, lora_dropout, target_modules, ...)",
    )
    learning_rate: float = Field(2e-4, gt=0, description="AdamW peak learning rate (linear warm-up, then linear decay)")
    epochs: float = Field(2.0, gt=0, description="passes over the training set (fractions allowed)")
    batch_size: int = Field(4, ge=1, description="sequences per optimiser step (before accumulation)")
    grad_accum: int = Field(1, ge=1, description="micro-batches accumulated per optimiser step")
    max_length: int = Field(1024, ge=16, description="tokens per sequence; longer ones are cut from the end")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="share of the steps spent warming up the learning rate")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    checkpoint_every: int = Field(25, ge=1, description="optimiser steps between resumable checkpoints")
    seed: int = Field(0, description="seed for shuffling, dropout and the LoRA init")

    @field_validator("lora", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        # `--set prm.lora.r=8` should change r, not drop the other LoRA settings
        return {**_default_lora(), **value} if isinstance(value, dict) else value


class ColdStartConfig(_Section):
    """DeepSeek-R1's stage 1: SFT on a small set of good solutions before round 1."""

    source: str = Field("generated", description="generated: the domain's `cold` questions with solutions rendered "
                        "from their true chains; or a JSONL file of questions with a `steps` list each")
    size: int = Field(200, ge=1, description="cold-start examples (at most the questions there are)")


# The GRPO rewards (`evolve.train.rewards.REWARDS` says what each scores).
RewardName = Literal["verifier", "format", "prm"]


class PolicyConfig(_TrainingSection):
    """LoRA SFT of the policy on the correct (pos) trajectories."""

    cold_start: ColdStartConfig | None = Field(
        None, description="train a cold-start policy first (its own stage, once); every round then starts from it")
    top_k: int = Field(2, ge=1, description="pos trajectories kept per question, best minimum step value first")
    from_base: bool = Field(
        True, description="sft: each round fine-tunes the starting point, the base model or the cold-start policy "
                          "(MedS3); false continues from the last round's policy. A grpo round always continues.")
    merge: bool = Field(False, description="also write the adapter merged into a full model folder")
    method: Literal["sft", "grpo"] = Field(
        "sft", description="sft: MedS3 (MCTS, SFT on correct trajectories, PRM); grpo: DeepSeek-R1 (TRL's GRPOTrainer "
                           "with rule-based rewards; no search, no PRM training)")
    grpo: dict[str, Any] = Field(
        default_factory=dict, description="passed to trl.GRPOConfig (num_generations, max_completion_length, beta, "
        "temperature, max_steps, ...); unknown keys are errors. learning_rate, epochs, batch_size, grad_accum, "
        "checkpoint_every and seed come from this section")
    rewards: dict[RewardName, float] = Field(
        default_factory=lambda: {"verifier": 1.0, "format": 0.2, "prm": 0.0},
        description="GRPO reward weights by name: verifier, format, prm (the PRM-shaped reward is off at 0)")
    prm_reward: Literal["mean", "min"] = Field("mean", description="the PRM reward: mean or min step score")
    token_budget: int | None = Field(
        None, ge=1, description="grpo: stop once the completions total this many generated tokens (to match a MedS3 "
                                "round's search tokens); the step that crosses it is the last")
    reward_prm: str | None = Field(
        None, description="PRM folder for the PRM reward (a MedS3 round's round-N/prm/prm); grpo rounds also "
                          "evaluate their PRM modes with it")

    @field_validator("rewards", mode="before")
    @classmethod
    def _over_reward_defaults(cls, value: Any) -> Any:
        # `--set policy.rewards.prm=0.5` adds the PRM reward; it does not drop the verifier and format ones
        return {"verifier": 1.0, "format": 0.2, "prm": 0.0, **value} if isinstance(value, dict) else value


class PRMConfig(_TrainingSection):
    """The step-wise process reward model: the base LM with LoRA and a 2-class token head."""

    enabled: bool = Field(True, description="train a PRM each round (needed by pvs, bon-*, beam and mcts)")
    labeling: Literal["soft", "dual"] = Field(
        "soft", description="soft: cross-entropy against [1-Q, Q] (MedS3 v1); dual: BCE on 1[2*Q_i - Q_(i-1) > 0]"
    )
    holdout: float = Field(0.1, ge=0, lt=1, description="share of trajectories held out for step AUC and accuracy")
    on_policy: bool = Field(
        False, description="train the round's PRM on trees searched by the policy the round just trained (the one it "
        "will score), not by the previous one; the next round's search reuses them, so a run pays one extra search")
    init: Literal["base", "policy"] = Field(
        "base", description="the LM the PRM starts from: the base model (MedS3), or the round's policy (the base with "
        "the round's LoRA merged in), which has learned to write and compute the domain's steps; a copy of that "
        "adapter goes into the PRM folder")
    balance: bool = Field(
        False, description="weigh the step loss so wrong and right steps count the same in all (each class by "
        "steps / (2 x its steps)); for lopsided labels, e.g. a strong policy's own trees, nearly all right")
    max_trajectories: int | None = Field(
        None, ge=1, description="train on a seeded sample of at most this many trajectories (PRM training is the "
        "slowest stage on a CPU: about 2 s per trajectory for the 135M model on 2 cores)")
    base: str | None = Field(None, description="model spec of the PRM's base LM (default: model.spec)")
    learning_rate: float = Field(1e-4, gt=0, description="AdamW peak learning rate (linear warm-up, then linear decay)")


InferMode = Literal["cot", "sc", "pvs", "bon-last", "bon-min", "beam", "mcts"]


class EvalConfig(_Section):
    """Answering held-out questions with the policy and, for the PRM modes, the PRM."""

    split: str = Field("dev", description="dev, test, search, or a data file in the domain's format")
    limit: int | None = Field(None, ge=1, description="evaluate only the first N questions (after `where`)")
    where: dict[str, str] = Field(default_factory=dict, description="keep questions whose metadata field has this "
                                  "value, e.g. {subject: anatomy}; a value may list alternatives: anatomy,physiology")
    by: str | None = Field(None, description="also report accuracy per value of this metadata field (e.g. subject)")
    modes: list[InferMode] = Field(["cot", "sc", "pvs"], min_length=1, description="inference modes to evaluate")
    n: int = Field(8, ge=1, description="samples per question for sc, pvs and bon-*")
    temperature: float = Field(0.7, ge=0, description="sampling temperature (cot is always greedy)")
    top_p: float = Field(0.95, gt=0, le=1, description="nucleus sampling")
    stop_at_answer: bool = Field(True, description="end a solution or step once its answer sentence is complete")
    max_tokens: int = Field(512, ge=1, description="max new tokens of one full solution")
    step_tokens: int = Field(128, ge=1, description="max new tokens of one step (beam, mcts)")
    max_steps: int = Field(10, ge=1, description="steps before beam and mcts force a final answer")
    beam_width: int = Field(2, ge=1, description="beams kept after each step (beam)")
    beam_expansions: int = Field(4, ge=1, description="candidate next steps sampled per beam (beam)")
    mcts_iterations: int = Field(12, ge=1, description="select/expand/evaluate iterations per question (mcts)")
    mcts_children: int = Field(3, ge=1, description="children sampled per expansion (mcts)")
    seed: int = Field(0, description="base seed for sampling")
    stop: list[str] = Field(default_factory=list, description="extra stop strings that end a solution or step "
                            "(the OpenAI `stop` field of `evolve serve`)")


class RunConfig(_Section):
    """Self-evolution rounds: search -> harvest -> policy -> PRM -> eval -> report."""

    rounds: int = Field(2, ge=1, description="rounds to run")
    baseline: bool = Field(True, description="also evaluate the base model (round 0), the reference for every round")
    baseline_modes: list[Literal["cot", "sc"]] = Field(
        ["cot", "sc"], min_length=1, description="modes of the round-0 evaluation (the base model has no PRM)")
    workers: int | None = Field(None, ge=1, description="search and eval workers, each owning one backend (more than 1: "
                         "on Ray, a local cluster unless ray_address is set; the `ray` extra). Default: 1, or with "
                         "ray_address the cluster's GPUs (vLLM) or CPUs")
    ray_address: str | None = Field(None, description="an existing Ray cluster to run the workers on (host:port, "
                                    "ray://host:port, or auto for $RAY_ADDRESS); see run.workers")
    worker_restarts: int = Field(3, ge=0, description="times Ray restarts a worker that died before it is given up")
    question_attempts: int = Field(3, ge=1, description="workers a question may be lost with before it is "
                                   "reported as failed and the run goes on without it")
    train_processes: int = Field(1, ge=1, description="data-parallel processes for policy and PRM training "
                                 "(more than 1: `evolve run` launches them with torchrun)")

    @property
    def on_workers(self) -> bool:
        """Whether search and eval run on workers (Ray) rather than in this process."""
        return (self.workers or 1) > 1 or self.ray_address is not None


class ServeConfig(_Section):
    """`evolve serve` and `evolve chat`: where the server listens and what one request may ask for."""

    host: str = Field("127.0.0.1", description="address to bind; any other than loopback needs an API key")
    port: int = Field(8000, ge=0, le=65535, description="port to bind (0: any free port)")
    modes: list[InferMode] = Field(["cot", "sc", "pvs", "bon-min", "beam", "mcts"], min_length=1,
                                   description="modes offered as models (the PRM modes only when a PRM is loaded)")
    max_body_bytes: int = Field(65536, ge=1024, description="largest request body; larger ones get 413")
    max_tokens: int = Field(2048, ge=1, description="largest max_tokens a request may ask for")
    max_n: int = Field(8, ge=1, description="largest n (choices) a request may ask for")
    max_samples: int = Field(32, ge=1, description="largest mode knob (samples, beam_width, ...) a request may set")
    max_active: int = Field(16, ge=1, description="requests answered at once; their backend calls are batched")
    max_queue: int = Field(64, ge=1, description="requests admitted (answering + waiting); beyond it, 429")
    max_per_client: int = Field(16, ge=1, description="requests one client address may have admitted at once")
    request_timeout: float = Field(300.0, gt=0, description="seconds before a request is cancelled (504)")
    batch_window: float = Field(0.05, ge=0, description="seconds concurrent backend calls wait to share a batch")
    conversations: str | None = Field(None, description="SQLite file of the web chat's conversations "
                                      "(default $EVOLVE_HOME/chat/conversations.sqlite)")


class AgentsConfig(_Section):
    """The co-scientist loop (`evolve agents`). Small defaults: usable with a 135M model on a CPU."""

    budget: int = Field(12, ge=1, description="supervisor steps before the final report")
    initial_hypotheses: int = Field(4, ge=1, description="hypotheses made before the first tournament")
    generate_per_step: int = Field(2, ge=1, description="hypotheses one generate action adds")
    evolve_per_step: int = Field(2, ge=1, description="evolutions one evolve action makes (one strategy each)")
    matches_per_step: int = Field(4, ge=1, description="pairs one rank action plays")
    min_matches: int = Field(2, ge=0, description="matches each active hypothesis plays before evolving starts")
    top_k: int = Field(3, ge=1, description="size of the leaderboard head used for stability and debates")
    stable_window: int = Field(2, ge=1, description="rank rounds the top-k must hold still to stop")
    stable_tolerance: float = Field(8.0, ge=0, description="largest Elo move of a top-k hypothesis that counts as still")
    meta_review_every: int = Field(4, ge=1, description="supervisor steps between meta-reviews")
    debate_turns: int = Field(2, ge=0, description="argument turns before a debate's verdict (0: no debates)")
    deep_verify: bool = Field(False, description="split each hypothesis into assumptions and check each")
    judge: Literal["llm", "prm"] = Field(
        "llm", description="who judges a match: the model in both orders, or (with a PRM) the weakest-step PRM score")
    prm_margin: float = Field(0.02, ge=0, description="with judge=prm, a smaller gap in weakest-step score is a draw")
    samples: int = Field(4, ge=1, description="samples per hypothesis for P-VS when a PRM is given")
    hypothesis_tokens: int = Field(256, ge=8, description="max new tokens of a hypothesis")
    review_tokens: int = Field(96, ge=4, description="max new tokens of a review")
    judge_tokens: int = Field(24, ge=2, description="max new tokens of a judgement")
    debate_tokens: int = Field(96, ge=4, description="max new tokens of one debate turn")
    temperature: float = Field(0.8, ge=0, description="sampling temperature of generation and evolution")
    duplicate_threshold: float = Field(0.92, gt=0, le=1, description="TF-IDF cosine above which a newer hypothesis is a duplicate")
    edge_threshold: float = Field(0.3, ge=0, le=1, description="cosine above which the proximity graph links two hypotheses")
    seed: int = Field(0, description="base seed; each request's seed derives from it and the record id")
    plan_tokens: int = Field(96, ge=0, description="max new tokens of the goal's plan (0: the default plan, no model call)")
    overview_tokens: int = Field(256, ge=0, description="max new tokens of the final overview's summary (0: none)")


class Config(_Section):
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    prm: PRMConfig = Field(default_factory=PRMConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)

    def settings(self, *sections: str) -> dict[str, Any]:
        """The named sections (all if none) without the keys that cannot change a result (`NOT_RESULTS`)."""
        data = self.model_dump(mode="json", exclude={"serve"})  # how answers are served never changes a result
        for section, key in NOT_RESULTS:
            data[section].pop(key, None)
        return {name: data[name] for name in sections} if sections else data

    def digest(self, *sections: str) -> str:
        """A short stable hash of `settings(*sections)`, to make results attributable."""
        return hashlib.sha256(json.dumps(self.settings(*sections), sort_keys=True).encode()).hexdigest()[:12]


# Keys that decide how much is done or how it is scheduled, never what a result is: a longer run may resume a
# shorter one, and batched search equals one tree at a time (tests/test_driver.py).
NOT_RESULTS = (("search", "limit"), ("search", "trees_in_flight"),
               # where the work runs: N workers give the trees of one (tests/test_scale_ray.py)
               ("run", "workers"), ("run", "ray_address"), ("run", "worker_restarts"), ("run", "question_attempts"),
               ("run", "train_processes"), ("model", "tensor_parallel"))


def changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return keys


def _known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + name)
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            keys.extend(_known_keys(sub, prefix + name + "."))
    return keys


def _suggest(key: str) -> str | None:
    close = difflib.get_close_matches(key, _known_keys(Config), n=1, cutoff=0.6)
    return close[0] if close else None


def _raise_validation(err: ValidationError, source: str) -> None:
    first = err.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        hint = _suggest(key)
        fix = f"did you mean '{hint}'?" if hint else "remove it; `evolve search --help` lists the sections"
        raise ConfigError(f"unknown config key '{key}'", where=source, fix=fix) from None
    raise ConfigError(f"bad value for '{key}': {first['msg']}", where=source, fix="correct the value") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """`search.max_nodes=10` -> (["search", "max_nodes"], 10); the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' is not key=value", where="--set", fix="write e.g. --set search.max_nodes=10")
    key, raw = text.split("=", 1)
    path = [part for part in key.strip().split(".") if part]
    if not path:
        raise ConfigError(f"override '{text}' has no key", where="--set", fix="write e.g. --set search.max_nodes=10")
    return path, yaml.safe_load(raw) if raw.strip() else None


def _apply(data: dict, path: list[str], value: Any, source: str) -> None:
    node = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"'{part}' is not a section", where=source, fix="override a key inside a section")
        node = child
    node[path[-1]] = value


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML preset (optional), apply `key=value` overrides, validate strictly."""
    data: dict = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("config file not found", where=source, fix="check the path (presets live in configs/)") from None
        except UnicodeDecodeError:
            raise ConfigError("config file is not UTF-8 text", where=source, fix="save it as UTF-8") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            line = getattr(getattr(err, "problem_mark", None), "line", None)
            where = f"{source}:{line + 1}" if line is not None else source
            raise ConfigError(f"invalid YAML ({getattr(err, 'problem', err)})", where=where, fix="fix the YAML syntax") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError("a config file must be a mapping of sections", where=source, fix="see configs/search-cpu.yaml")
        data = loaded
    try:
        Config.model_validate(data)
    except ValidationError as err:
        _raise_validation(err, source)
    for text in overrides or []:
        keys, value = parse_override(text)
        _apply(data, keys, value, f"--set {text}")
        try:
            Config.model_validate(data)
        except ValidationError as err:
            _raise_validation(err, f"--set {text}")
    return Config.model_validate(data)
