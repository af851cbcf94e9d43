"""The transformers backend: a local model folder, our own batched decode loop (see hf_decode.py).

Why not `model.generate`: it cannot share one prefill between n samples, drop finished rows, let
waiting prompts take their slots, or seed each row independently of its batch.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evolve.backends.base import Completion, GenerationRequest, GeneratorStats, row_listener
from evolve.backends.hf_loading import check_adapter
from evolve.errors import ConfigError, ModelSpecError

__all__ = ["HFGenerator", "DTYPES"]

DTYPES = ("float32", "bfloat16", "float16", "auto")
_TINY_MODEL_PARAMETERS = 20_000_000


def _check_requests(requests: Sequence[GenerationRequest]) -> None:
    for index, request in enumerate(requests):
        problem = None
        if request.n < 1:
            problem = f"n={request.n} (must be >= 1)"
        elif request.max_new_tokens < 0:
            problem = f"max_new_tokens={request.max_new_tokens} (must be >= 0)"
        elif request.temperature < 0:
            problem = f"temperature={request.temperature} (must be >= 0)"
        elif not 0 < request.top_p <= 1:
            problem = f"top_p={request.top_p} (must be in (0, 1])"
        if problem:
            raise ValueError(f"request {index}: {problem}")


class HFGenerator:
    """A `Generator` over a Hugging Face causal LM folder, on CPU (or wherever torch puts it)."""

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        *,
        name: str | None = None,
        threads: int | None = None,
        dtype: str = "float32",
        max_batch_size: int = 32,
        lora: str | os.PathLike[str] | None = None,
        prefill_tokens: int = 4096,
        seed: int | None = None,
        share_prefill: bool = True,
        min_shared_prefix: int = 32,
    ):
        import torch

        if dtype not in DTYPES:
            raise ConfigError(f"unknown dtype '{dtype}'", where="dtype", fix=f"use one of: {', '.join(DTYPES)}")
        if max_batch_size < 1:
            raise ConfigError(f"max_batch_size={max_batch_size}", where="max_batch_size", fix="use a value >= 1")
        if threads is not None:
            torch.set_num_threads(threads)
        self.model_dir = Path(model_dir)
        self.name = name or str(model_dir)
        self.stats = GeneratorStats()
        self.max_batch_size = max_batch_size
        self.row_report_every = 2.0  # seconds between reports of finished rows during a call (see row_listener)
        self.prefill_tokens = prefill_tokens
        # Off only to measure what sharing saves (and to test that it changes nothing).
        self.share_prefill = share_prefill
        self.min_shared_prefix = min_shared_prefix
        # "auto" means float32 here: on CPU it is faster than bf16 (no native bf16 matmul on most cores).
        torch_dtype = torch.float32 if dtype == "auto" else getattr(torch, dtype)
        self.tokenizer, self.model = _load(self.model_dir, torch_dtype, lora)
        self.eos_ids = _eos_ids(self.tokenizer, self.model)
        pad = self.tokenizer.pad_token_id
        # Padding positions are masked out, so any id works; prefer the tokenizer's own.
        self._pad_id = pad if pad is not None else min(self.eos_ids, default=0)
        # Unseeded requests still get reproducible-within-a-process, independent per-row streams.
        self._seed_source = random.Random(seed)
        # Splitting a tiny model's matmuls across threads costs more than it saves (20x slower on a
        # busy 2-core machine), so tiny models decode on one thread unless told otherwise.
        parameters = sum(p.numel() for p in self.model.parameters())
        self._decode_threads = threads if threads is not None else (1 if parameters < _TINY_MODEL_PARAMETERS else None)

    @property
    def max_n(self) -> int | None:
        return None

    # -- prompts ----------------------------------------------------------------------------------

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        if not getattr(self.tokenizer, "chat_template", None):
            raise ModelSpecError(
                "this model's tokenizer has no chat template, so chats cannot be rendered",
                where=str(self.model_dir),
                fix="use an instruct/chat model (e.g. embedded:smollm2-135m-instruct) or send raw prompts",
            )
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

    def encode(self, prompt: str) -> list[int]:
        from evolve.backends.hf_text import encode_prompt

        ids = encode_prompt(self.tokenizer, prompt)
        if not ids:  # an empty prompt: the model still needs one token to start from
            bos = self.tokenizer.bos_token_id
            return [bos if bos is not None else self._pad_id]
        return ids

    # -- generation -------------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        import torch

        from evolve.backends.hf_decode import BatchDecoder

        _check_requests(requests)
        started = time.perf_counter()
        results: list[list[Completion | None]] = [[None] * request.n for request in requests]
        work, prompt_tokens = self._plan(requests, results)
        decoder = BatchDecoder(
            self.model,
            self.eos_ids,
            self._pad_id,
            max_batch_size=self.max_batch_size,
            prefill_tokens=self.prefill_tokens,
            min_shared_prefix=self.min_shared_prefix if self.share_prefill else 0,
            on_rows=row_listener(),
            report_every=self.row_report_every,
        )
        # Taken before decoding: a prompt whose rows are admitted in parts leaves its group with only
        # the rows not yet admitted.
        rows = [row for group in work for row in group.rows]
        previous_threads = torch.get_num_threads()
        if self._decode_threads is not None:
            torch.set_num_threads(self._decode_threads)
        try:
            with torch.inference_mode():
                decoder.run(work)
        finally:
            torch.set_num_threads(previous_threads)
        for row in rows:
            assert row.finish_reason is not None, "the decode loop left a row unfinished"
            for index in row.sample_indices:
                results[row.request_index][index] = Completion(row.text, row.num_tokens, row.finish_reason)
        final = [[c for c in per_request if c is not None] for per_request in results]
        assert all(len(f) == r.n for f, r in zip(final, requests)), "a request is missing completions"
        self._count(requests, final, prompt_tokens, decoder.counters, time.perf_counter() - started)
        return final

    def _plan(self, requests: Sequence[GenerationRequest], results: list[list[Completion | None]]):
        """Rows to decode, grouped by prompt; zero-budget requests are answered in `results` at once."""
        from evolve.backends.hf_decode import DecodeRow, PromptGroup
        from evolve.backends.hf_sampling import make_row_generator, row_seed
        from evolve.backends.hf_text import IncrementalDetokenizer

        groups: dict[str, PromptGroup] = {}
        prompt_tokens = 0
        for request_index, request in enumerate(requests):
            group = groups.get(request.prompt)
            if group is None:
                group = groups[request.prompt] = PromptGroup(self.encode(request.prompt), [])
            prompt_tokens += len(group.prompt_ids)
            if request.max_new_tokens == 0:
                results[request_index] = [Completion("", 0, "length") for _ in range(request.n)]
                continue
            greedy = request.temperature == 0
            # Greedy samples are identical: decode one row and hand out copies.
            samples = [list(range(request.n))] if greedy else [[i] for i in range(request.n)]
            seed = request.seed if request.seed is not None else self._seed_source.getrandbits(62)
            for indices in samples:
                group.rows.append(
                    DecodeRow(
                        request_index=request_index,
                        sample_indices=indices,
                        temperature=request.temperature,
                        top_p=request.top_p,
                        max_new_tokens=request.max_new_tokens,
                        stops=tuple(s for s in request.stop if s),
                        stop_rule=request.stop_rule,
                        generator=None if greedy else make_row_generator(row_seed(seed, indices[0])),
                        detokenizer=IncrementalDetokenizer(self.tokenizer, group.prompt_ids),
                    )
                )
        work = [group for group in groups.values() if group.rows]
        if not self.share_prefill:
            work = [PromptGroup(group.prompt_ids, [row]) for group in work for row in group.rows]
        return work, prompt_tokens

    def _count(self, requests, results, prompt_tokens: int, counters: Any, seconds: float) -> None:
        stats = self.stats
        stats.calls += 1
        stats.requests += len(requests)
        stats.completions += sum(len(r) for r in results)
        stats.generated_tokens += sum(c.num_tokens for r in results for c in r)
        stats.prompt_tokens += prompt_tokens
        stats.seconds += seconds
        for key in ("prefill_tokens", "prefill_calls", "decode_steps", "row_steps"):
            stats.extra[key] = stats.extra.get(key, 0) + getattr(counters, key)
        stats.extra["peak_rows"] = max(stats.extra.get("peak_rows", 0), counters.peak_rows)


def _load(model_dir: Path, torch_dtype: Any, lora: str | os.PathLike[str] | None) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (model_dir / "config.json").is_file():
        raise ModelSpecError(
            f"'{model_dir}' holds no config.json",
            where=str(model_dir),
            fix="pass a folder written by save_pretrained, or embedded:smollm2-135m-instruct",
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch_dtype)
    except (OSError, ValueError, KeyError) as err:
        raise ModelSpecError(
            f"transformers could not load the model: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
            where=str(model_dir),
            fix="check that the folder holds config.json, the weights and the tokenizer files",
        ) from err
    if lora is not None:
        model = _attach_lora(model, Path(lora))
    model.eval()
    return tokenizer, model


def _attach_lora(model: Any, lora: Path) -> Any:
    lora = check_adapter(lora)
    import warnings

    from peft import PeftModel

    with warnings.catch_warnings():
        # peft asks transformers a deprecated question (`is_gradient_checkpointing`): not ours to fix
        warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
        # Merged into the base weights: decoding then costs what the base model costs.
        return PeftModel.from_pretrained(model, str(lora)).merge_and_unload()


def _eos_ids(tokenizer: Any, model: Any) -> frozenset[int]:
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(int(i) for i in configured)
    return frozenset(ids)
