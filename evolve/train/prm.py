"""Training the step-wise PRM: the base LM with LoRA and a 2-class token head, one label per step.

A row is `{"question_id", "prompt", "completions": [step 1, ...], "labels": [l_1, ...], ...}`; the
label of step i sits on the last token of its separator (`tokenise.encode_steps`). `soft` trains
cross-entropy against [1 - Q, Q], `dual` BCE against hard 0/1 labels (`losses.py`). Whole questions
are held out for step AUC and accuracy. The result, `out_dir/prm`, is a PEFT adapter (LoRA plus the
head) and `prm.json`, which ties it to its base model; `evolve.prm.load_prm` loads it. With an
`init_adapter` (`prm.init: policy`), the base first has the round's policy LoRA merged in, and a copy of
that adapter goes into the PRM folder (`INIT_ADAPTER`), so the PRM loads from its own folder alone.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evolve.backends.hf_loading import (
    base_identity,
    check_adapter,
    load_tokenizer,
    merge_adapter,
    pad_id,
    quiet_loading,
    torch_threads,
)
from evolve.config import PRMConfig
from evolve.errors import TrainingError
from evolve.events import Sink
from evolve.prm.encoding import SEPARATOR, EncodedSteps, encode_steps, step_probabilities
from evolve.train.loop import read_done, run_fingerprint, run_loop, write_done
from evolve.train.losses import PRM_LOSSES
from evolve.train.maths import class_weights, holdout_split, sample_indices, step_metrics
from evolve.train.models import (
    adapter_digest,
    lora_config,
    resolve_base,
    save_atomic,
    wrap_lora,
)
from evolve.train.parallel import barrier, device, is_main

__all__ = ["PRMResult", "train_prm", "PRM_VERSION", "HEAD_MODULES", "INIT_ADAPTER"]

PRM_VERSION = 1
HEAD_MODULES = ("score", "classifier")  # what transformers calls the token head, by architecture
INIT_ADAPTER = "init_adapter"  # in a PRM folder: the policy adapter merged into the base before training


@dataclass
class PRMResult:
    prm_dir: str | None  # None while the run is unfinished (stopped by `stop_after`)
    steps: int
    losses: list[float]
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0
    resumed_from: int | None = None
    finished: bool = True


@dataclass(frozen=True)
class StepExample:
    encoded: EncodedSteps
    labels: list[float]  # one per kept step


def _clean_rows(rows: Sequence[dict], labeling: str) -> list[dict]:
    """Rows checked and normalised to plain lists and floats (rows read back through pandas carry
    numpy arrays and numpy floats)."""
    cleaned = []
    for index, row in enumerate(rows):
        steps, labels = row.get("completions"), row.get("labels")
        problem = None
        if not isinstance(row.get("prompt"), str):
            problem = "has no text 'prompt'"
        elif (isinstance(steps, (str, bytes)) or not hasattr(steps, "__len__")
              or not all(isinstance(s, str) for s in steps)):
            problem = "has no list of step texts 'completions'"
        elif isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__") or len(labels) != len(steps):
            problem = f"has {len(labels) if hasattr(labels, '__len__') else 'no'} labels for {len(steps)} steps"
        else:
            try:
                values = [float(v) for v in labels]
            except (TypeError, ValueError):
                values = [-1.0]
            if not all(0 <= v <= 1 for v in values):
                problem = "has a label that is not a number in [0, 1]"
            elif labeling == "dual" and not all(v in (0.0, 1.0) for v in values):
                problem = "has a soft label, but prm.labeling is dual (hard 0/1 labels)"
        if problem:
            raise TrainingError(f"PRM row {index} {problem}", where="prm rows",
                                fix="pass the rows the harvest wrote for this prm.labeling")
        cleaned.append({"question_id": str(row.get("question_id", index)), "prompt": row["prompt"],
                        "completions": list(steps), "labels": values})
    return cleaned


def _encode(tokenizer: Any, rows: Sequence[dict], max_length: int | None) -> list[StepExample | None]:
    examples: list[StepExample | None] = []
    for row in rows:
        encoded = encode_steps(tokenizer, row["prompt"], row["completions"], max_length)
        # None when not even step 1 fits: nothing to learn from or measure.
        examples.append(StepExample(encoded, row["labels"][:encoded.steps]) if encoded.steps else None)
    return examples


def _collate(pad_id: int):
    import torch

    def collate(batch: list[StepExample]) -> dict:
        width = max(len(e.encoded.input_ids) for e in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        targets = torch.full((len(batch), width), -1.0)  # -1: no label at this position
        for row, example in enumerate(batch):
            n = len(example.encoded.input_ids)
            ids[row, :n] = torch.tensor(example.encoded.input_ids)
            mask[row, :n] = 1
            targets[row, example.encoded.positions] = torch.tensor(example.labels)
        return {"input_ids": ids, "attention_mask": mask, "targets": targets}

    return collate


def _labelled_steps(batch: dict) -> float:
    """What the step losses average over: the labelled step positions."""
    return float((batch["targets"] >= 0).sum())


def _step_loss(labeling: str, weights: tuple[float, float] | None = None):
    loss = PRM_LOSSES[labeling]

    def step_loss(model: Any, batch: dict) -> Any:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        labelled = batch["targets"] >= 0
        return loss(logits[labelled], batch["targets"][labelled], weights)

    return step_loss


def _heldout_metrics(model: Any, examples: Sequence[StepExample], pad_id: int, batch_size: int) -> dict:
    probs = step_probabilities(model, [e.encoded for e in examples], pad_id=pad_id, batch_size=batch_size)
    return step_metrics([p for ps in probs for p in ps], [v for e in examples for v in e.labels])


def train_prm(
    rows: Sequence[dict],
    *,
    base_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: PRMConfig,
    init_adapter: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    events: Sink | None = None,
    stop_after: int | None = None,
) -> PRMResult:
    """Train the PRM on `rows` into `out_dir/prm`, resuming an unfinished run in `out_dir` and
    returning a finished one's saved result at once. `init_adapter`: a policy LoRA adapter merged into
    the base before the PRM's own LoRA and head are added. `stop_after`: see `train_policy`."""
    rows = list(rows)
    if not rows:
        raise TrainingError("no PRM rows to train on", where="prm",
                            fix="the harvest found no trajectories with step values: search more questions")
    rows = _clean_rows(rows, config.labeling)
    rows = [rows[i] for i in sample_indices(len(rows), config.max_trajectories, config.seed)]
    base = resolve_base(base_dir)
    tokenizer = load_tokenizer(base)
    lora = lora_config(config.lora, task_type="TOKEN_CLS", where="prm.lora", exclude=HEAD_MODULES)
    identity = base_identity(base)
    init = check_adapter(init_adapter) if init_adapter is not None else None
    out = Path(out_dir)
    fingerprint = run_fingerprint(config, rows, base=identity, **({"init": adapter_digest(init)} if init else {}))
    done = read_done(out, fingerprint)
    if done is not None:  # the PRM where it lies now: a run folder may have been moved since
        return PRMResult(**{**done["result"], "prm_dir": str(out / "prm")})
    train_idx, held_idx = holdout_split([r["question_id"] for r in rows],
                                        config.holdout, config.seed)
    encoded = _encode(tokenizer, rows, config.max_length)
    train = [encoded[i] for i in train_idx if encoded[i] is not None]
    held = [encoded[i] for i in held_idx if encoded[i] is not None]
    if not train:
        raise TrainingError(f"no PRM row has a step within max_length={config.max_length} tokens",
                            where="prm.max_length", fix="raise prm.max_length")
    # From every training step, before the ranks split them, so all ranks weigh alike.
    weights = class_weights([v for e in train for v in e.labels]) if config.balance else None

    import torch
    from transformers import AutoModelForTokenClassification

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)  # the head's init and LoRA's
    with quiet_loading():
        model = AutoModelForTokenClassification.from_pretrained(str(base), num_labels=2, dtype=torch.float32)
    if init is not None:
        model = merge_adapter(model, init)
    model = wrap_lora(model, lora, where="prm.lora")
    model.to(device())  # this rank's GPU, or the CPU
    pad = pad_id(tokenizer)
    with torch_threads(threads, model), quiet_loading():
        outcome = run_loop(model, train, _collate(pad), _step_loss(config.labeling, weights), config=config, out_dir=out,
                           fingerprint=fingerprint, events=events, label=f"prm ({config.labeling})",
                           stop_after=stop_after, weight_fn=_labelled_steps)
        result = PRMResult(None, outcome.steps, outcome.losses, seconds=outcome.seconds,
                           resumed_from=outcome.resumed_from, finished=outcome.finished)
        if not outcome.finished or not is_main():  # rank 0 alone measures and writes the PRM
            barrier()
            return result
        model.eval()
        metrics = _heldout_metrics(model, held, pad, config.batch_size)
        result.metrics = {
            "auc": metrics["auc"], "accuracy": metrics["accuracy"], "balanced_accuracy": metrics["balanced_accuracy"],
            "positive_share": metrics["positive_share"], "heldout_steps": metrics["steps"],
            "heldout_trajectories": len(held), "train_trajectories": len(train),
            "train_steps": sum(e.encoded.steps for e in train),
            "dropped_trajectories": sum(e is None for e in encoded),
            "class_weights": list(weights) if weights else None,
        }
        meta = {
            "version": PRM_VERSION,
            "base": {**identity, "path": str(base.resolve()), "spec": str(base_dir)},
            "init_adapter": {"path": INIT_ADAPTER, "from": str(init)} if init else None,
            "labeling": config.labeling,
            "separator": SEPARATOR,
            "max_length": config.max_length,
            "metrics": result.metrics,
        }

        def write(folder: Path) -> None:
            model.save_pretrained(folder)
            if init is not None:
                shutil.copytree(init, folder / INIT_ADAPTER)
            (folder / "prm.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

        result.prm_dir = str(save_atomic(out, "prm", write))
    write_done(out, fingerprint, {"result": asdict(result)})
    barrier()
    return result
