"""Model backends behind one `Generator` protocol, chosen by a model spec string (see spec.py).

Importing this package stays cheap: torch, transformers, httpx and vllm load only when a backend
is built.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from evolve.backends.base import Completion, GenerationRequest, Generator, GeneratorStats
from evolve.backends.scripted import ScriptedGenerator
from evolve.backends.spec import ModelSpec, parse_model_spec
from evolve.errors import MissingExtraError, ModelSpecError

__all__ = [
    "Completion",
    "GenerationRequest",
    "Generator",
    "GeneratorStats",
    "ModelSpec",
    "ScriptedGenerator",
    "load_generator",
    "parse_model_spec",
    "resolve_model_folder",
]


def resolve_model_folder(target: str) -> str:
    """A local folder for `target`: `embedded:<name>` is converted once, folders/hub ids resolved."""
    from evolve.backends.spec import resolve_local_model

    if target.startswith("embedded:"):
        from evolve.backends.embedded import ensure_embedded

        return str(ensure_embedded(target.removeprefix("embedded:")))
    return str(resolve_local_model(target))


def load_generator(
    spec: str,
    *,
    threads: int | None = None,
    dtype: str | None = None,
    max_batch_size: int = 32,
    openai_model: str | None = None,
    lora: str | None = None,
    **backend_options: Any,
) -> Generator:
    """Build the backend that `spec` names.

    `dtype` None means the backend's default (float32 for transformers on CPU, "auto" for vLLM).
    `backend_options` go to the backend's constructor unchanged (e.g. `max_concurrency` for openai,
    `max_model_len` for vllm).
    """
    parsed = parse_model_spec(spec, openai_model=openai_model)
    if parsed.kind in ("embedded", "hf"):
        from evolve.backends.hf import HFGenerator

        folder = resolve_model_folder(f"embedded:{parsed.target}" if parsed.kind == "embedded" else parsed.target)
        return HFGenerator(
            folder,
            name=spec,
            threads=threads,
            dtype=dtype or "float32",
            max_batch_size=max_batch_size,
            lora=lora,
            **backend_options,
        )
    if parsed.kind == "vllm":
        if importlib.util.find_spec("vllm") is None:
            raise MissingExtraError("vllm", "vllm")
        from evolve.backends.vllm_backend import VLLMGenerator

        model = parsed.target
        if model.startswith("embedded:"):
            model = resolve_model_folder(model)
        return VLLMGenerator(model, lora=lora, dtype=dtype or "auto", **backend_options)
    if parsed.kind == "openai":
        from evolve.backends.openai_backend import OpenAIGenerator

        if lora is not None:
            raise ModelSpecError(
                "a LoRA adapter cannot be attached to a remote OpenAI-compatible server",
                where=spec,
                fix="serve the adapter from the server itself and name it in the spec (openai:<url>#<adapter>)",
            )
        assert parsed.model is not None  # parse_model_spec guarantees it for openai specs
        return OpenAIGenerator(parsed.target, parsed.model, name=spec, **backend_options)
    if parsed.kind == "scripted":
        from evolve.backends.scripted import SCRIPTS

        return ScriptedGenerator(SCRIPTS[parsed.target], name=spec, latency=float(parsed.model or 0))
    raise AssertionError(f"unhandled backend kind {parsed.kind!r}")
