"""LoRA SFT of the policy on harvested trajectories, loss on the assistant's tokens only.

A row is `{"messages", "prefix", "completion", ...}`; the model sees the chat prompt plus
`prefix` exactly as the search renders it, and learns `completion` + EOS. The adapter is saved in
PEFT format (`out_dir/adapter`), which the hf backend merges on load and vLLM serves as a LoRA;
with `merge`, `out_dir/merged` also holds the full merged model and its tokenizer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evolve.backends.hf_loading import (
    base_identity,
    check_adapter,
    load_tokenizer,
    pad_id,
    quiet_loading,
    torch_threads,
)
from evolve.config import PolicyConfig
from evolve.errors import TrainingError
from evolve.events import Sink
from evolve.train.loop import read_done, run_fingerprint, run_loop, write_done
from evolve.train.models import adapter_digest, lora_config, resolve_base, save_atomic, wrap_lora
from evolve.train.parallel import barrier, device, is_main
from evolve.train.tokenise import PolicyExample, encode_policy_row, require_chat_template

__all__ = ["TrainResult", "train_policy", "POLICY_KEYS"]

POLICY_KEYS = ("prefix", "completion")  # text fields; "messages" is the chat before the reply


@dataclass
class TrainResult:
    adapter_dir: str | None  # None while the run is unfinished (stopped by `stop_after`)
    steps: int
    losses: list[float]
    seconds: float
    examples: int
    tokens: int  # tokens in the training examples, prompt included (each counted once per epoch)
    resumed_from: int | None
    merged_dir: str | None = None
    skipped: int = 0  # rows with no completion token left after truncation to max_length
    finished: bool = True


def _encode(tokenizer: Any, rows: Sequence[dict], max_length: int) -> tuple[list[PolicyExample], int]:
    examples, skipped = [], 0
    for index, row in enumerate(rows):
        missing = [key for key in POLICY_KEYS if not isinstance(row.get(key), str)]
        messages = row.get("messages")
        if not isinstance(messages, (list, tuple)) or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in messages):
            missing.append("messages")
        if missing:
            raise TrainingError(f"policy row {index} lacks text field(s) {', '.join(missing)}", where="policy rows",
                                fix="pass the rows written by the harvest step")
        example = encode_policy_row(tokenizer, row, max_length)
        if example is None:
            skipped += 1
        else:
            examples.append(example)
    return examples, skipped


def _collate(pad_id: int):
    import torch

    def collate(batch: list[PolicyExample]) -> dict:
        width = max(len(e.input_ids) for e in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, example in enumerate(batch):
            n = len(example.input_ids)
            ids[row, :n] = torch.tensor(example.input_ids)
            labels[row, :n] = torch.tensor(example.labels)
            mask[row, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    return collate


def _target_tokens(batch: dict) -> float:
    """What `_causal_loss` averages over: the completion tokens that are predicted."""
    return float((batch["labels"][:, 1:] != -100).sum())


def _causal_loss(model: Any, batch: dict) -> Any:
    import torch

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    # Position t predicts token t+1; prompt and padding targets are -100 and drop out of the mean.
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(), batch["labels"][:, 1:].reshape(-1), ignore_index=-100
    )


def train_policy(
    rows: Sequence[dict],
    *,
    base_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: PolicyConfig,
    init_adapter: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    events: Sink | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """Fine-tune a LoRA adapter on `rows` into `out_dir`, resuming an unfinished run there and
    returning a finished one's saved result at once.

    `init_adapter` continues training that adapter (its own LoRA settings apply; `config.lora` is
    then unused); None starts a fresh adapter on the base model. `stop_after` stops after that
    many optimiser steps (checkpointed), for time-boxed runs.
    """
    rows = list(rows)
    if not rows:
        raise TrainingError("no policy rows to train on", where="policy",
                            fix="the harvest found no correct trajectories: search more questions or check the domain")
    base = resolve_base(base_dir)
    tokenizer = load_tokenizer(base)
    require_chat_template(tokenizer, where=str(base))
    lora = lora_config(config.lora, task_type="CAUSAL_LM", where="policy.lora")
    adapter_in = check_adapter(init_adapter) if init_adapter is not None else None
    out = Path(out_dir)
    # the adapter's content, not its path: a run folder that moved (its adapters with it) still resumes
    fingerprint = run_fingerprint(config, rows, base=base_identity(base),
                                  init_adapter=adapter_digest(adapter_in) if adapter_in else str(None))
    done = read_done(out, fingerprint)
    if done is not None:  # the artefacts where they lie now: a run folder may have been moved since
        result = done["result"]
        return TrainResult(**{**result, "adapter_dir": str(out / "adapter"),
                              "merged_dir": str(out / "merged") if result.get("merged_dir") else None})
    examples, skipped = _encode(tokenizer, rows, config.max_length)
    if not examples:
        raise TrainingError(f"all {len(rows)} policy rows are longer than max_length={config.max_length} before "
                            "their completion starts", where="policy.max_length", fix="raise policy.max_length")

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    with quiet_loading():
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
        if adapter_in is not None:
            model = PeftModel.from_pretrained(model, str(adapter_in), is_trainable=True)
        else:
            model = wrap_lora(model, lora, where="policy.lora")
    model.to(device())  # this rank's GPU, or the CPU
    with torch_threads(threads, model), quiet_loading():
        outcome = run_loop(model, examples, _collate(pad_id(tokenizer)), _causal_loss, config=config, out_dir=out,
                           fingerprint=fingerprint, events=events, label="policy", stop_after=stop_after,
                           weight_fn=_target_tokens)
        result = TrainResult(None, outcome.steps, outcome.losses, outcome.seconds, len(examples),
                             sum(len(e.input_ids) for e in examples), outcome.resumed_from, skipped=skipped,
                             finished=outcome.finished)
        if not outcome.finished or not is_main():  # rank 0 alone writes the artefacts
            barrier()
            return result
        result.adapter_dir = str(save_atomic(out, "adapter", model.save_pretrained))
        if config.merge:
            merged = model.merge_and_unload()

            def write_merged(folder: Path) -> None:
                merged.save_pretrained(folder)
                tokenizer.save_pretrained(folder)

            result.merged_dir = str(save_atomic(out, "merged", write_merged))
    write_done(out, fingerprint, {"result": asdict(result)})
    barrier()
    return result
