"""What training adds to loading a base model (`evolve.backends.hf_loading`): the LoRA config and its
wrapping, the base folder a spec names, and saving an artefact atomically."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from evolve.backends.hf_loading import quiet_loading
from evolve.errors import ConfigError

__all__ = ["lora_config", "wrap_lora", "resolve_base", "save_atomic", "adapter_digest"]



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


def adapter_digest(adapter: Path) -> str:
    """A short hash of an adapter (its weights and its config, whose lora_alpha scales them), for
    fingerprints: a retrained adapter at the same path differs, and the same adapter moved elsewhere does not."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted([*adapter.glob("adapter_model.*"), adapter / "adapter_config.json"]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


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
