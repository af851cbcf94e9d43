"""Loading the base model's pieces for training: the tokenizer, the LoRA config, quiet loading and
the identity that ties a trained artefact to its base."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

from evolve.errors import ConfigError, ModelSpecError

__all__ = ["IDENTITY_KEYS", "lora_config", "load_tokenizer", "quiet_loading", "base_identity", "torch_threads",
           "read_base_config",
           "wrap_lora", "resolve_base", "save_atomic"]

IDENTITY_KEYS = ("model_type", "hidden_size", "vocab_size", "num_hidden_layers")


def wrap_lora(model: Any, config: Any, *, where: str) -> Any:
    """`peft.get_peft_model`; a LoRA config peft only rejects when applying it becomes a ConfigError."""
    from peft import get_peft_model

    with quiet_loading():
        try:
            return get_peft_model(model, config)
        except (TypeError, ValueError) as err:
            raise _bad_lora(err, where) from None


def _bad_lora(err: Exception, where: str) -> ConfigError:
    message = str(err).splitlines()[0] if str(err) else type(err).__name__
    return ConfigError(f"peft rejects this LoRA config: {message}", where=where,
                       fix="use peft.LoraConfig's keys (r, lora_alpha, lora_dropout, target_modules, ...)")


def lora_config(lora: dict, *, task_type: str, where: str, exclude: tuple[str, ...] = ()) -> Any:
    """`peft.LoraConfig(**lora)` with our task type; a bad key or value becomes a ConfigError."""
    from peft import LoraConfig

    options = dict(lora)
    options["task_type"] = task_type
    if exclude:
        # "all-linear" would also wrap the PRM head in LoRA, which peft then refuses to train in full.
        given = options.get("exclude_modules") or []
        options["exclude_modules"] = sorted({*([given] if isinstance(given, str) else given), *exclude})
    try:
        config = LoraConfig(**options)
    except (TypeError, ValueError) as err:
        raise _bad_lora(err, where) from None
    # peft checks these only when it wraps the model; checked here, a typo fails before any loading.
    if isinstance(config.r, bool) or not isinstance(config.r, int) or config.r < 1:
        raise ConfigError(f"LoRA rank r={config.r!r} is not a positive integer", where=where, fix="set e.g. r: 16")
    if isinstance(config.lora_alpha, bool) or not isinstance(config.lora_alpha, (int, float)):
        raise ConfigError(f"lora_alpha={config.lora_alpha!r} is not a number", where=where,
                          fix="set e.g. lora_alpha: 32")
    return config


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


def resolve_base(base_dir: str | os.PathLike[str]) -> Path:
    from evolve.backends import resolve_model_folder

    return Path(resolve_model_folder(str(base_dir)))


def save_atomic(out_dir: Path, name: str, write) -> Path:
    """`write(folder)` into a temporary folder, then renamed: the result exists whole or not at all."""
    final, tmp = out_dir / name, out_dir / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    write(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final
