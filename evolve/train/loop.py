"""The one small training loop behind the policy and the PRM, resumable from its checkpoints.

AdamW over the trainable (LoRA and head) parameters only, linear warm-up then decay, gradient
accumulation, and a batch order that is a pure function of (seed, step): a run killed at any point
and started again resumes from its last checkpoint and ends with the same weights, bit for bit on
the same machine and thread count, as one that was never interrupted.

Layout of `out_dir`: `checkpoints/step-NNNNNNN/` (trainable weights, optimiser, step, losses, RNG
state; written to a temporary folder and renamed, so a checkpoint either exists whole or not at
all) and `done.json` once the caller has saved the final artefact.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolve.config import _TrainingSection
from evolve.errors import TrainingError
from evolve.events import Progress, Sink, emit
from evolve.train.maths import StepPlan, lr_factor, micro_batch
from evolve.train.parallel import all_sum, barrier, is_main, shard, sum_gradients, to_device, world

__all__ = ["LoopOutcome", "run_loop", "run_fingerprint", "read_done", "write_done", "latest_checkpoint"]

CHECKPOINTS = "checkpoints"
DONE = "done.json"
MAX_GRAD_NORM = 1.0  # the usual SFT clip; guards the first steps of a freshly initialised head


@dataclass
class LoopOutcome:
    steps: int  # optimiser steps taken in total (this call and the ones it resumed)
    total_steps: int
    losses: list[float]  # mean loss of every optimiser step so far
    seconds: float  # training time summed over every call
    resumed_from: int | None  # the checkpoint's step this call started from
    finished: bool


def _foreign(out_dir: Path, what: str) -> TrainingError:
    return TrainingError(
        f"'{out_dir}' holds a {what} of a run with other data, settings or base model",
        where=str(out_dir),
        fix="train into a new output folder, or delete this one to start over",
    )


def read_done(out_dir: Path, fingerprint: str) -> dict | None:
    """The saved result of a finished run into `out_dir`, None if it has not finished."""
    path = Path(out_dir) / DONE
    if not path.is_file():
        return None
    done = json.loads(path.read_text(encoding="utf-8"))
    if done.get("fingerprint") != fingerprint:
        raise _foreign(Path(out_dir), "finished result")
    return done


def write_done(out_dir: Path, fingerprint: str, result: dict) -> None:
    path = Path(out_dir) / DONE
    tmp = path.with_name(f".{DONE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"fingerprint": fingerprint, **result}, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def latest_checkpoint(out_dir: Path) -> Path | None:
    folder = Path(out_dir) / CHECKPOINTS
    if not folder.is_dir():
        return None
    found = sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step-"))
    return found[-1] if found else None


def _trainable(model: Any) -> list[tuple[str, Any]]:
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]


def _save_checkpoint(out_dir: Path, model: Any, optimizer: Any, state: dict) -> None:
    import torch

    folder = out_dir / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{state['step']:07d}"
    tmp = folder / f".tmp-{state['step']:07d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save({name: p.detach().cpu().clone() for name, p in _trainable(model)}, tmp / "trainable.pt")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(torch.get_rng_state(), tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in folder.iterdir():  # only the newest is ever resumed from
        if old != final and old.name.startswith("step-"):
            shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(path: Path, model: Any, optimizer: Any, fingerprint: str) -> dict:
    import torch

    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    if state.get("fingerprint") != fingerprint:
        raise _foreign(path.parent.parent, "checkpoint")
    weights = torch.load(path / "trainable.pt", weights_only=True, map_location="cpu")
    params = dict(_trainable(model))
    if set(weights) != set(params):
        raise _foreign(path.parent.parent, "checkpoint")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True, map_location="cpu"))
    torch.set_rng_state(torch.load(path / "rng.pt", weights_only=True))
    return state


def run_loop(
    model: Any,
    examples: Sequence[Any],
    collate: Callable[[list[Any]], Any],
    loss_fn: Callable[[Any, Any], Any],
    *,
    config: _TrainingSection,
    out_dir: Path,
    fingerprint: str,
    events: Sink | None = None,
    label: str = "training",
    stop_after: int | None = None,
    weight_fn: Callable[[Any], float] | None = None,
) -> LoopOutcome:
    """Train `model`'s trainable parameters on `examples`, resuming from `out_dir`'s checkpoint.

    `collate` turns a list of examples into a batch, `loss_fn(model, batch)` returns the mean loss.
    `stop_after` ends this call (checkpointed) after that many optimiser steps, for time-boxed
    runs and for testing resumption. After every step, `events` gets the step count and the loss.

    In a process group (see `parallel.py`) each rank takes its shard of every micro-batch; `weight_fn(batch)`
    is what `loss_fn` averages over (tokens, steps; default: examples), so that the ranks' weighted
    losses sum to the one-process loss. Only rank 0 writes checkpoints.
    """
    import torch

    out_dir = Path(out_dir)
    plan = StepPlan(len(examples), config.batch_size, config.grad_accum, config.epochs, config.warmup_ratio)
    params = [p for _, p in _trainable(model)]
    if not params:
        raise TrainingError("the model has no trainable parameters", where=label, fix="check the LoRA config")
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    rank, size = world()
    where = params[0].device  # the batches go where the model is
    state = {"step": 0, "losses": [], "seconds": 0.0, "fingerprint": fingerprint, "total_steps": plan.total_steps}
    resumed_from = None
    checkpoint = latest_checkpoint(out_dir)
    if checkpoint is not None:
        state = _load_checkpoint(checkpoint, model, optimizer, fingerprint)
        resumed_from = state["step"]
    emit(events, Progress(label, state["step"], plan.total_steps, "steps"))
    model.train()
    taken = 0
    while state["step"] < plan.total_steps and (stop_after is None or taken < stop_after):
        started = time.perf_counter()
        step = state["step"]
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * lr_factor(step, plan.total_steps, plan.warmup_steps)
        total = 0.0
        for micro in range(config.grad_accum):
            indices = shard(micro_batch(step * config.grad_accum + micro, plan, config.seed), rank, size)
            batch = to_device(collate([examples[i] for i in indices]), where) if indices else None
            weight = (weight_fn(batch) if weight_fn else len(indices)) if indices else 0.0
            share = weight / max(all_sum(weight), 1e-12) if size > 1 else 1.0  # all ranks call all_sum
            if batch is not None and share > 0:
                loss = loss_fn(model, batch) * share  # this rank's part of the micro-batch's mean loss
                (loss / config.grad_accum).backward()
                total += float(loss.detach())
        sum_gradients(params)
        total = all_sum(total)
        torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        taken += 1
        state["step"] = step + 1
        state["losses"].append(total / config.grad_accum)
        state["seconds"] += time.perf_counter() - started
        last = state["step"] == plan.total_steps
        if last or state["step"] % config.checkpoint_every == 0 or taken == stop_after:
            if is_main():
                _save_checkpoint(out_dir, model, optimizer, state)
            barrier()
        emit(events, Progress(label, state["step"], plan.total_steps, "steps", {"loss": state["losses"][-1]}))
    model.eval()
    return LoopOutcome(state["step"], plan.total_steps, list(state["losses"]), state["seconds"], resumed_from,
                       state["step"] >= plan.total_steps)


def run_fingerprint(config: _TrainingSection, rows: Sequence[dict], **extra: Any) -> str:
    """What decides a run's result: the section's settings, the rows and whatever the caller adds
    (base model identity, initial adapter). A folder is only resumed by a run with the same one."""
    import hashlib

    # Keys that change how often or whether a run is saved or used, never what it learns.
    settings = config.model_dump(mode="json", exclude={"checkpoint_every", "top_k", "enabled"})
    digest = hashlib.sha256()
    digest.update(json.dumps({"config": settings, **extra}, sort_keys=True, default=str).encode())
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]
