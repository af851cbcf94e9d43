"""GRPO training of the policy (DeepSeek-R1's recipe) with TRL's `GRPOTrainer`: LoRA through
`peft_config`, the domain's search questions as prompts in the step format, and the rule-based rewards
of `evolve.train.rewards` (plus the PRM-shaped one when its weight is not 0).

`policy.grpo` is passed to `trl.GRPOConfig` as it is; the keys this project's policy section already
owns (learning rate, epochs, batch size, accumulation, checkpoints, seed) come from there, so each
knob has one home. The run is resumable: TRL checkpoints into `out_dir/checkpoints` every
`checkpoint_every` steps (model, optimiser, scheduler and RNG state) and a restarted run continues from
the last one. Every logged step is a line of `out_dir/grpo_log.jsonl`; `grpo.png` plots reward and
completion length over the steps (R1's "response length grows" curve).
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domains import Domain, Question
from evolve.config import PolicyConfig
from evolve.errors import ConfigError, TrainingError
from evolve.events import Progress, Sink, emit
from evolve.train.loop import read_done, run_fingerprint, write_done

LOG_FILE = "grpo_log.jsonl"
CHECKPOINTS = "checkpoints"
# GRPOConfig keys that the policy section sets, and the policy key to use instead.
OWNED = {"output_dir": None, "reward_weights": "policy.rewards", "learning_rate": "policy.learning_rate",
         "num_train_epochs": "policy.epochs", "per_device_train_batch_size": "policy.batch_size",
         "gradient_accumulation_steps": "policy.grad_accum", "save_steps": "policy.checkpoint_every",
         "seed": "policy.seed", "warmup_steps": "policy.warmup_ratio", "weight_decay": "policy.weight_decay",
         "shuffle_dataset": "policy.seed (the rows are shuffled here, once per epoch)"}
# Our defaults for a CPU and a small model; `policy.grpo` overrides any of them.
DEFAULTS = {"num_generations": 4, "max_completion_length": 256, "beta": 0.0, "temperature": 1.0, "logging_steps": 1,
            "report_to": "none", "save_strategy": "steps", "save_total_limit": 2, "disable_tqdm": True, "bf16": False,
            "fp16": False,
            # TRL turns it on by default; a 135M model fits without it, and it cost about 20% of a CPU step
            "gradient_checkpointing": False}


@dataclass
class GRPOResult:
    adapter_dir: str | None
    steps: int
    seconds: float
    generated_tokens: int
    log: list[dict]
    resumed_from: int | None
    finished: bool = True


def check_grpo(config: PolicyConfig, domain: Domain | None = None, *, has_prm: bool | None = None) -> None:
    """Refuse, before any work, a GRPO setup that cannot run: an unknown GRPOConfig key, a key the policy
    section owns, num_generations below 2, a batch that does not hold whole groups, a PRM reward without a
    PRM, or a domain whose answers no rule can check."""
    from trl import GRPOConfig

    known = {f.name for f in dataclasses.fields(GRPOConfig)}
    for key in config.grpo:
        if key in OWNED:
            fix = f"set {OWNED[key]} instead" if OWNED[key] else "the round chooses the output folder"
            raise ConfigError(f"policy.grpo.{key} is set by this project", where=f"policy.grpo.{key}", fix=fix)
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            raise ConfigError(f"trl.GRPOConfig has no field '{key}'", where=f"policy.grpo.{key}",
                              fix=f"did you mean '{close[0]}'?" if close else "see trl's GRPOConfig for its fields")
    generations = int(config.grpo.get("num_generations", DEFAULTS["num_generations"]))
    if generations < 2:
        raise ConfigError(f"num_generations={generations}: GRPO's advantage compares completions within a group",
                          where="policy.grpo.num_generations", fix="use at least 2 (4 or more is usual)")
    batch = config.batch_size * config.grad_accum
    if batch % generations:
        raise ConfigError(f"policy.batch_size x policy.grad_accum = {batch} completions per step does not hold whole "
                          f"groups of {generations}", where="policy.batch_size",
                          fix=f"make batch_size x grad_accum a multiple of {generations}")
    if config.rewards.get("prm", 0.0) and not (has_prm if has_prm is not None else config.reward_prm):
        raise ConfigError("the PRM reward is on (policy.rewards.prm) but no PRM is named", where="policy.reward_prm",
                          fix="set policy.reward_prm to a PRM folder (e.g. a MedS3 run's round-1/prm/prm), or "
                              "policy.rewards.prm=0")
    if config.reward_prm and not Path(config.reward_prm).is_dir():
        raise ConfigError("PRM folder not found", where=str(config.reward_prm),
                          fix="point policy.reward_prm at a folder a PRM training wrote")
    if not any(config.rewards.get(name, 0.0) for name in ("verifier", "format")):
        raise ConfigError("GRPO needs a rule-based reward", where="policy.rewards",
                          fix="give policy.rewards.verifier (or format) a non-zero weight")
    if domain is not None and domain.answer_type == "text" and domain.load_verifier() is None:
        raise ConfigError(f"domain '{domain.name}' has free-text answers and no verifier, so no rule can reward an "
                          "answer", where="policy.method",
                          fix="use an mcq, yesno or numeric domain, add a verifier hook, or use policy.method=sft")


def grpo_arguments(config: PolicyConfig, out_dir: Path, *, use_cpu: bool, weights: list[float]) -> Any:
    from importlib.util import find_spec

    from trl import GRPOConfig

    defaults = dict(DEFAULTS)
    if not use_cpu and find_spec("vllm") is not None:  # on a GPU, TRL generates with vLLM (the grpo-vllm extra)
        defaults.update(use_vllm=True, vllm_mode="colocate")
    options = {**defaults, **config.grpo}
    # One pass over rows that `epoch_rows` already shuffled per epoch, with TRL's own shuffle off: after a
    # resume, TRL's sampler replays its first epoch's order (a fresh generator), so a run resumed after
    # epoch 1 would see other batches than one never stopped. Measured: 0.0025 apart in LoRA B after 6 steps.
    options.update(output_dir=str(out_dir / CHECKPOINTS), learning_rate=config.learning_rate,
                   num_train_epochs=1, shuffle_dataset=False, per_device_train_batch_size=config.batch_size,
                   gradient_accumulation_steps=config.grad_accum, save_steps=config.checkpoint_every,
                   seed=config.seed, data_seed=config.seed, warmup_steps=config.warmup_ratio,
                   weight_decay=config.weight_decay, reward_weights=weights, use_cpu=use_cpu)
    try:
        return GRPOConfig(**options)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"trl.GRPOConfig refused the settings: {err}", where="policy.grpo",
                          fix="check the values of policy.grpo") from None


def prompt_rows(questions: Sequence[Question], domain: Domain, tokenizer: Any) -> list[dict]:
    """One dataset row per question: the step-format prompt (chat template applied, ending "Step 1:")."""
    from evolve.reasoner.steps import StepPrompt

    def render(messages):
        return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

    return [{"prompt": StepPrompt(domain, q, render).prompt([]), "question_id": q.id} for q in questions]


def epoch_rows(rows: Sequence[dict], epochs: float, seed: int) -> list[dict]:
    """`epochs` passes over `rows`, each in its own seeded order (a fraction of a pass at the end)."""
    import math
    import random

    rng = random.Random(seed)
    out: list[dict] = []
    for _ in range(math.ceil(epochs)):
        order = list(rows)
        rng.shuffle(order)
        out += order
    return out[: max(1, round(len(rows) * epochs))]


def generated_tokens(log: Sequence[dict], completions_per_step: int) -> int:
    """Completion tokens over the logged steps: mean completion length times completions per step."""
    return int(round(sum(entry.get("completions/mean_length", 0.0) for entry in log) * completions_per_step))


def read_log(out_dir: Path, upto: int | None = None) -> list[dict]:
    path = Path(out_dir) / LOG_FILE
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if upto is None or r["step"] <= upto]


def train_grpo(questions: Sequence[Question], domain: Domain, *, base_dir: str | Path, out_dir: str | Path,
               config: PolicyConfig, init_adapter: str | None = None, scorer=None, threads: int | None = None,
               events: Sink | None = None) -> GRPOResult:
    """Trains (or resumes, or returns the finished result of) a GRPO run into `out_dir/adapter`."""
    import torch
    from transformers import AutoModelForCausalLM, TrainerCallback
    from transformers.trainer_utils import get_last_checkpoint
    from trl import GRPOTrainer

    from evolve.backends.hf_loading import base_identity, load_tokenizer, quiet_loading, torch_threads
    from evolve.train.models import lora_config, resolve_base, save_atomic
    from evolve.train.rewards import reward_functions

    check_grpo(config, domain, has_prm=scorer is not None)
    if not questions:
        raise TrainingError("GRPO got no questions", where="data", fix="check the domain's search split")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = resolve_base(base_dir)
    tokenizer = load_tokenizer(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    rows = prompt_rows(questions, domain, tokenizer)
    fingerprint = run_fingerprint(config, rows, base=base_identity(base), init_adapter=str(init_adapter),
                                  method="grpo")
    done = read_done(out, fingerprint)
    per_step = config.batch_size * config.grad_accum
    if done is not None:
        log = read_log(out)
        return GRPOResult(str(out / "adapter"), done["steps"], done["seconds"], generated_tokens(log, per_step), log,
                          None)
    funcs, weights = reward_functions(domain, questions, config.rewards, scorer=scorer, how=config.prm_reward)
    use_cpu = not torch.cuda.is_available()
    args = grpo_arguments(config, out, use_cpu=use_cpu, weights=weights)
    last = get_last_checkpoint(str(out / CHECKPOINTS)) if (out / CHECKPOINTS).is_dir() else None
    resumed = int(Path(last).name.split("-")[-1]) if last else None
    kept = read_log(out, upto=resumed if resumed is not None else 0)
    (out / LOG_FILE).write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")

    class Log(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs and "reward" not in logs:
                return
            entry = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, int | float)}}
            with open(out / LOG_FILE, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
            if config.token_budget is not None and generated_tokens(read_log(out), per_step) >= config.token_budget:
                control.should_training_stop = True  # the generated-token budget is spent
            emit(events, Progress("grpo", state.global_step, state.max_steps, "steps",
                                  {"reward": round(entry.get("reward", 0.0), 3),
                                   "length": round(entry.get("completions/mean_length", 0.0), 1)}))

    from datasets import Dataset

    started = time.perf_counter()
    with quiet_loading():
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    peft_config = None
    if init_adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
    else:
        peft_config = lora_config(config.lora, task_type="CAUSAL_LM", where="policy.lora")
    with torch_threads(threads, model):
        dataset = Dataset.from_list(epoch_rows(rows, config.epochs, config.seed))
        trainer = GRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=dataset,
                              processing_class=tokenizer, peft_config=peft_config, callbacks=[Log()])
        trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - started
    adapter = save_atomic(out, "adapter", trainer.model.save_pretrained)
    log = read_log(out)
    steps = int(trainer.state.global_step)
    write_done(out, fingerprint, {"steps": steps, "seconds": seconds})
    plot_log(log, out / "grpo.png")
    return GRPOResult(str(adapter), steps, seconds, generated_tokens(log, per_step), log, resumed)


def rolling_mean(values: Sequence[float], window: int) -> list[float]:
    """At each point, the mean of the last `window` values (of all so far at the start)."""
    means, total = [], 0.0
    for i, value in enumerate(values):
        total += value - (values[i - window] if i >= window else 0.0)
        means.append(total / min(i + 1, window))
    return means


def plot_log(log: Sequence[dict], path: Path) -> Path | None:
    """Reward per reward function and mean completion length over the steps. A step holds a couple of
    questions, so each curve is drawn faint step by step and bold as a rolling mean over ~1/12 of the run."""
    if not log:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in log]
    window = max(1, len(log) // 12)

    def curve(ax, values, colour, label, style="-", lw=1.8):
        if window > 1:
            ax.plot(steps, values, style, color=colour, lw=0.8, alpha=0.25)
        ax.plot(steps, rolling_mean(values, window), style, color=colour, lw=lw, label=label)

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    curve(left, [r.get("reward", 0.0) for r in log], "black", "total (weighted)", lw=2.4)
    names = sorted({k.split("/")[1] for r in log for k in r if k.startswith("rewards/") and k.endswith("/mean")})
    for name, colour in zip(names, itertools.cycle(("#1565c0", "#ef6c00", "#2e7d32", "#ad1457", "#00838f"))):
        curve(left, [r.get(f"rewards/{name}/mean", 0.0) for r in log], colour, name)
    zero = [r.get("frac_reward_zero_std") for r in log]
    if any(z is not None for z in zero):
        curve(left, [z if z is not None else 0.0 for z in zero], "grey", "groups with zero reward variance", ":")
    left.set(title="reward", xlabel="optimiser step", ylabel="mean per completion")
    left.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    curve(right, [r.get("completions/mean_length", 0.0) for r in log], "#6a1b9a", None)
    right.set(title="completion length", xlabel="optimiser step", ylabel="mean tokens")
    for ax in (left, right):
        ax.xaxis.get_major_locator().set_params(integer=True)
    if window > 1:
        fig.suptitle(f"GRPO training: faint, each step; bold, the mean of the last {window} steps", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
