"""Loading a Hugging Face model folder's pieces: the tokenizer, its identity, quietly, on few threads.

Shared by the PRM scorer and the trainers, which is why it sits with the backends and not in either.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evolve.errors import ModelSpecError

__all__ = ["IDENTITY_KEYS", "base_identity", "load_tokenizer", "pad_id", "quiet_loading", "read_base_config", "torch_threads"]

IDENTITY_KEYS = ("model_type", "hidden_size", "vocab_size", "num_hidden_layers")


def read_base_config(base_dir: str | Path) -> dict:
    path = Path(base_dir) / "config.json"
    if not path.is_file():
        raise ModelSpecError(f"'{base_dir}' holds no config.json, so it is not a model folder", where=str(base_dir),
                             fix="pass a folder written by save_pretrained, or embedded:smollm2-135m-instruct")
    return json.loads(path.read_text(encoding="utf-8"))


def base_identity(base_dir: str | Path) -> dict:
    """What a trained adapter needs of its base to be meaningful on it (shapes and architecture)."""
    config = read_base_config(base_dir)
    text = config.get("text_config") or {}
    identity: dict[str, Any] = {key: config.get(key, text.get(key)) for key in IDENTITY_KEYS}
    identity["name"] = Path(base_dir).resolve().name
    return identity


def load_tokenizer(base_dir: str | Path) -> Any:
    from transformers import AutoTokenizer

    with quiet_loading():
        try:
            return AutoTokenizer.from_pretrained(str(base_dir))
        except (OSError, ValueError, KeyError) as err:
            raise ModelSpecError(f"transformers could not load the tokenizer: {type(err).__name__}",
                                 where=str(base_dir), fix="check that the folder holds the tokenizer files") from err


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence transformers' load reports (e.g. 'score.weight newly initialised', which is the
    point of adding a PRM head), its loading bars, and a FutureWarning peft triggers inside it."""
    import warnings

    import transformers

    logging = transformers.utils.logging
    level = logging.get_verbosity()
    bars = logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
            yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


_TINY_MODEL_PARAMETERS = 20_000_000


@contextlib.contextmanager
def torch_threads(threads: int | None, model: Any = None) -> Iterator[None]:
    """Run with `threads` torch threads. Left unset, a tiny model gets one: splitting its small
    matmuls across threads costs more than it saves (50x slower per step on a busy 2-core machine)."""
    import torch

    previous = torch.get_num_threads()
    if threads is None and model is not None and sum(p.numel() for p in model.parameters()) < _TINY_MODEL_PARAMETERS:
        threads = 1
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def pad_id(tokenizer: Any) -> int:
    """The id to pad batches with: the tokenizer's own, else EOS (padding is masked, so any id works)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return int(pad or 0)


def check_adapter(path: str | Path) -> Path:
    adapter = Path(path)
    if not (adapter / "adapter_config.json").is_file():
        raise ModelSpecError(f"'{adapter}' holds no adapter_config.json, so it is not a PEFT LoRA adapter",
                             where=str(adapter), fix="pass a folder written by peft's save_pretrained (a round's <out_dir>/adapter)")
    return adapter.resolve()


def merge_adapter(model: Any, adapter: str | Path) -> Any:
    """`model` with the LoRA `adapter` merged into its weights, whatever head `model` has: this is how a
    PRM starts from the policy (a causal-LM adapter on a token-classification model). peft would wrap
    the model for the adapter's task type, and a causal-LM wrapper needs generation methods that a
    token-classification model lacks, so the task type is dropped: only the LoRA weights matter here."""
    from peft import PeftConfig, PeftModel

    config = PeftConfig.from_pretrained(str(adapter))
    config.task_type = None
    with quiet_loading():
        return PeftModel.from_pretrained(model, str(adapter), config=config).merge_and_unload()
