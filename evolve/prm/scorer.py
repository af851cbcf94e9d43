"""A trained PRM as a `StepScorer`: every step of a batch of trajectories scored in one forward pass.

Each trajectory is encoded by `evolve.prm.encoding`, the same encoding training used, and the model's
P(class 1) is read at each step's separator position, in one pass per batch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evolve.backends.hf_loading import (
    IDENTITY_KEYS,
    base_identity,
    load_tokenizer,
    merge_adapter,
    pad_id,
    quiet_loading,
    torch_threads,
)
from evolve.errors import ModelSpecError
from evolve.prm.encoding import SEPARATOR, EncodedSteps, encode_steps, step_probabilities

__all__ = ["HFStepScorer", "load_prm", "read_prm_meta", "PRM_META"]

PRM_META = "prm.json"


class HFStepScorer:
    """`StepScorer` over a token-classification model (LoRA merged) and its base tokenizer."""

    def __init__(self, model: Any, tokenizer: Any, *, separator: str = SEPARATOR, max_length: int | None = None,
                 batch_size: int = 8, threads: int | None = None, name: str | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.separator = separator
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads
        self.name = name or "prm"
        self._pad_id = pad_id(tokenizer)  # padding sits after every label position

    def encode(self, question: str, steps: Sequence[str]) -> EncodedSteps:
        return encode_steps(self.tokenizer, question, steps, self.max_length, self.separator)

    def score(self, question: str, trajectories: Sequence[Sequence[str]]) -> list[list[float]]:
        encoded = [self.encode(question, steps) for steps in trajectories]
        with torch_threads(self.threads, self.model):
            probs = step_probabilities(self.model, encoded, pad_id=self._pad_id, batch_size=self.batch_size)
        # Steps past the model's length limit get the last step's score that fit (0.5 if none did):
        # the best guess without more context, and every step keeps a score.
        return [p + [p[-1] if p else 0.5] * (len(steps) - len(p)) for p, steps in zip(probs, trajectories)]


def read_prm_meta(prm_dir: str | os.PathLike[str]) -> dict:
    path = Path(prm_dir) / PRM_META
    if not path.is_file():
        raise ModelSpecError(f"'{prm_dir}' is not a PRM directory (it holds no {PRM_META})", where=str(prm_dir),
                             fix="pass the prm folder written by `train_prm` (<out_dir>/prm)")
    return json.loads(path.read_text(encoding="utf-8"))


def _describe(identity: dict) -> str:
    return ", ".join(f"{key}={identity.get(key)}" for key in ("name", *IDENTITY_KEYS))


def load_prm(prm_dir: str | os.PathLike[str], base_dir: str | os.PathLike[str] | None = None, *,
             threads: int | None = None, batch_size: int = 8) -> HFStepScorer:
    """Load a PRM trained by `train_prm` onto its base model (by default the one it was trained on).

    A base whose architecture or shapes differ from the PRM's raises a one-line ModelSpecError
    naming both, before any weights are loaded.
    """
    from evolve.backends import resolve_model_folder

    meta = read_prm_meta(prm_dir)
    base = Path(resolve_model_folder(str(base_dir if base_dir is not None else meta["base"]["path"])))
    trained, given = meta["base"], base_identity(base)
    if any(trained.get(key) != given.get(key) for key in IDENTITY_KEYS):
        raise ModelSpecError(
            f"the PRM was trained on base ({_describe(trained)}) but '{base}' is ({_describe(given)})",
            where=str(prm_dir),
            fix=f"load it with the base model it was trained on ({trained.get('path')}) or retrain the PRM",
        )
    import torch
    from peft import PeftModel
    from transformers import AutoModelForTokenClassification

    with quiet_loading():
        model = AutoModelForTokenClassification.from_pretrained(str(base), num_labels=2, dtype=torch.float32)
        if meta.get("init_adapter"):  # prm.init: policy, the policy it started from merged first
            model = merge_adapter(model, Path(prm_dir) / meta["init_adapter"]["path"])
        # Merged once here: scoring then costs what the base model costs.
        model = PeftModel.from_pretrained(model, str(prm_dir)).merge_and_unload()
    limit = getattr(model.config, "max_position_embeddings", None)
    return HFStepScorer(model, load_tokenizer(base), separator=meta.get("separator", SEPARATOR), max_length=limit,
                        batch_size=batch_size, threads=threads, name=str(prm_dir))
