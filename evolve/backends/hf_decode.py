"""The decode loop: continuous batching of sample rows over one transformers model.

Work arrives as prompt groups (one prompt, the sample rows that continue it). The loop keeps up
to `max_batch_size` rows decoding together:
  * each prompt is prefilled once, however many rows continue it; its KV rows are repeated;
  * prefills are batched (left padding); prompts that start alike run their common prefix once;
  * finished rows (EOS, stop string, budget) leave the batch in bulk (their KV rows are dropped
    and columns that are padding for every row cut), and when enough slots are free, waiting
    groups are prefilled and join the batch, so long tails run at full batch width instead of
    one row at a time.
Rows never see each other: each has its own sampling generator and position ids, so its text
does not depend on what else is in the batch (up to float rounding of batched matmuls).
"""

from __future__ import annotations

import inspect
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers.cache_utils import DynamicCache

from evolve.backends.base import FinishReason, RowProgress, StopRule
from evolve.backends.hf_cache import KVBlock
from evolve.backends.hf_sampling import choose_next_tokens
from evolve.backends.hf_text import IncrementalDetokenizer, find_stop

__all__ = [
    "DecodeRow", "Prefilled", "PromptGroup", "BatchDecoder", "DecodeCounters", "common_prefix_length",
    "plan_prefill_chunks", "prefill_cost",
]


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all `sequences` have in common."""
    if not sequences:
        return 0
    first = sequences[0]
    length = min(len(sequence) for sequence in sequences)
    for other in sequences[1:]:
        index = 0
        while index < length and other[index] == first[index]:
            index += 1
        length = index
    return length


def prefill_cost(lengths: Sequence[int], shared: int) -> int:
    """Token positions a prefill chunk computes: the shared prefix once, then every row padded to
    the longest suffix (padding costs as much as real tokens)."""
    return shared + len(lengths) * (max(lengths) - shared)


def plan_prefill_chunks(prompts: Sequence[Sequence[int]], budget: int, min_shared: int) -> list[tuple[int, int]]:
    """Split prompts (sorted so that alike ones are neighbours) into contiguous prefill chunks.

    A chunk's common prefix runs once, so a prompt joins the current chunk only while that is
    cheaper than starting a new chunk with it: prompts of the same question stay together and a
    prompt of another question, which would shrink the shared prefix to the system prompt, starts
    a chunk of its own. No chunk computes more than `budget` positions (a lone prompt may).
    """
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < len(prompts):
        end, shared = start + 1, len(prompts[start]) - 1
        while end < len(prompts):
            candidate = prompts[end]
            new_shared = min(shared, common_prefix_length([prompts[start], candidate]), len(candidate) - 1)
            lengths = [len(p) for p in prompts[start : end + 1]]
            effective = new_shared if new_shared >= min_shared else 0
            before = [len(p) for p in prompts[start:end]]
            old_effective = shared if shared >= min_shared and end - start > 1 else 0
            joined = prefill_cost(lengths, effective)
            apart = prefill_cost(before, old_effective) + len(candidate)
            if joined > budget or joined > apart:  # a tie joins: one bigger call beats two
                break
            end, shared = end + 1, new_shared
        bounds.append((start, end))
        start = end
    return bounds


@dataclass(eq=False)
class DecodeRow:
    """One sampled continuation in progress (a greedy row may stand for several identical samples)."""

    request_index: int
    sample_indices: list[int]
    temperature: float
    top_p: float
    max_new_tokens: int
    stops: tuple[str, ...]
    generator: torch.Generator | None
    detokenizer: IncrementalDetokenizer
    stop_rule: StopRule | None = None
    num_tokens: int = 0
    finish_reason: FinishReason | None = None
    text: str = ""

    def accept(self, token_id: int, eos_ids: frozenset[int]) -> None:
        """Record the next token and decide whether the row is finished."""
        self.num_tokens += 1
        if token_id in eos_ids:
            self._finish("eos")
            return
        before = len(self.detokenizer.text)
        delta = self.detokenizer.push(token_id)
        if self.stops and delta:
            # A stop string may straddle the previous text and this token's text.
            longest = max(len(s) for s in self.stops)
            position = find_stop(self.detokenizer.text, self.stops, max(0, before - longest + 1))
            if position >= 0:
                self.finish_reason = "stop"
                self.text = self.detokenizer.text[:position]
                return
        if self.stop_rule is not None and delta:
            end = self.stop_rule(self.detokenizer.text)
            if end is not None:
                self.finish_reason = "stop"
                self.text = self.detokenizer.text[:end]
                return
        if self.num_tokens >= self.max_new_tokens:
            self._finish("length")

    def _finish(self, reason: FinishReason) -> None:
        self.detokenizer.finish()
        self.finish_reason = reason
        self.text = self.detokenizer.text


@dataclass(frozen=True, eq=False)
class Prefilled:
    """A prompt's KV and next-token logits: row `index` of a (possibly shared) prefill chunk."""

    block: KVBlock
    logits: torch.Tensor
    index: int


@dataclass(eq=False)
class PromptGroup:
    """Rows continuing the same prompt; `prefilled` holds its KV once computed."""

    prompt_ids: list[int]
    rows: list[DecodeRow]
    prefilled: Prefilled | None = None


@dataclass
class DecodeCounters:
    prefill_tokens: int = 0  # prompt tokens actually run through the model (shared prompts once)
    prefill_calls: int = 0
    decode_steps: int = 0
    row_steps: int = 0  # sum over steps of rows in the batch
    peak_rows: int = 0


class BatchDecoder:
    """Runs prompt groups to completion on `model`; results land in each row's `text`/`finish_reason`."""

    def __init__(
        self,
        model: Any,
        eos_ids: frozenset[int],
        pad_id: int,
        *,
        max_batch_size: int,
        prefill_tokens: int,
        admit_fraction: float = 0.25,
        min_shared_prefix: int = 32,
        on_rows: RowProgress | None = None,
        report_every: float = 2.0,
    ):
        assert max_batch_size >= 1 and prefill_tokens >= 1
        self._model = model
        # transformers 5.x renamed `past_key_values` to `cache` (the old name warns, then goes in 5.40).
        self._cache_kwarg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self._eos_ids = eos_ids
        self._pad_id = pad_id
        self._max_rows = max_batch_size
        self._prefill_tokens = prefill_tokens
        # Admitting costs a prefill and a cache copy; wait until enough slots are free to be worth it.
        self._admit_min = max(1, int(max_batch_size * admit_fraction))
        # Below this many common tokens, a separate prefix pass costs more than it saves; 0 disables.
        self._min_shared_prefix = min_shared_prefix if min_shared_prefix > 0 else 1 << 62
        self.counters = DecodeCounters()
        # Finished samples and their tokens go to `on_rows` at most every `report_every` seconds (never once
        # all have finished: the caller sees the call return).
        self._on_rows = on_rows
        self._report_every = report_every

    def _forward(self, input_ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: DynamicCache):
        output = self._model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            **{self._cache_kwarg: cache},
            logits_to_keep=1,  # only the last position's logits: the full [rows, len, vocab] is huge
        )
        return output.logits[:, -1, :].float()

    def _prefill(self, groups: Sequence[PromptGroup]) -> tuple[KVBlock, torch.Tensor]:
        """The groups' prompts through the model: their KV (one row each) and next-token logits.

        Prompts that start alike (the same question, different partial answers) share their
        common prefix: it runs once, and only the rest of each prompt runs per row. The cache then
        holds [prefix | padding | suffix] per row; the mask hides the padding.
        """
        shared = common_prefix_length([group.prompt_ids for group in groups])
        # At least one token per prompt must run in the second pass: it yields the next-token logits.
        shared = min(shared, min(len(group.prompt_ids) for group in groups) - 1)
        if len(groups) < 2 or shared < self._min_shared_prefix:
            shared = 0
        cache = DynamicCache()
        rows = len(groups)
        if shared:
            prefix = torch.tensor([groups[0].prompt_ids[:shared]], dtype=torch.long)
            self._forward(prefix, torch.ones_like(prefix), torch.arange(shared).unsqueeze(0), cache)
            for layer in cache.layers:  # one prefix row seen by every prompt (cat below copies it)
                layer.keys = layer.keys.expand(rows, -1, -1, -1)
                layer.values = layer.values.expand(rows, -1, -1, -1)
            self.counters.prefill_tokens += shared
        width = max(len(group.prompt_ids) for group in groups) - shared
        input_ids = torch.full((rows, width), self._pad_id, dtype=torch.long)
        suffix_mask = torch.zeros((rows, width), dtype=torch.long)
        for row, group in enumerate(groups):
            suffix = group.prompt_ids[shared:]
            input_ids[row, width - len(suffix) :] = torch.tensor(suffix, dtype=torch.long)
            suffix_mask[row, width - len(suffix) :] = 1
        positions = shared + (suffix_mask.cumsum(dim=1) - 1).clamp_(min=0)
        mask = torch.cat([suffix_mask.new_ones(rows, shared), suffix_mask], dim=1)
        logits = self._forward(input_ids, mask, positions, cache)
        self.counters.prefill_calls += 1
        self.counters.prefill_tokens += int(suffix_mask.sum())
        return KVBlock(cache, mask, mask.sum(dim=1)), logits

    def _prefill_chunks(self, groups: list[PromptGroup]) -> None:
        """Prefill groups lacking a KV, in chunks planned by `plan_prefill_chunks`."""
        todo = [group for group in groups if group.prefilled is None]
        bounds = plan_prefill_chunks([group.prompt_ids for group in todo], self._prefill_tokens, self._min_shared_prefix)
        for start, end in bounds:
            chunk = todo[start:end]
            block, logits = self._prefill(chunk)
            for index, group in enumerate(chunk):
                group.prefilled = Prefilled(block, logits, index)

    def _admit(self, pending: deque[PromptGroup], free: int) -> tuple[KVBlock, torch.Tensor, list[DecodeRow]]:
        """Take up to `free` rows from the front of `pending`, prefill what needs it, build their block."""
        taken: list[tuple[PromptGroup, list[DecodeRow]]] = []
        while pending and free > 0:
            group = pending[0]
            rows = group.rows[:free]
            taken.append((group, rows))
            free -= len(rows)
            if len(rows) == len(group.rows):
                pending.popleft()
        self._prefill_chunks([group for group, _ in taken])

        # Rows whose KV comes from the same prefill chunk are gathered with one index_select.
        by_source: dict[int, tuple[Prefilled, list[int], list[DecodeRow]]] = {}
        for group, rows in taken:
            prefilled = group.prefilled
            assert prefilled is not None
            entry = by_source.setdefault(id(prefilled.block), (prefilled, [], []))
            entry[1].extend([prefilled.index] * len(rows))
            entry[2].extend(rows)
        blocks: list[KVBlock] = []
        logits: list[torch.Tensor] = []
        admitted: list[DecodeRow] = []
        for prefilled, positions, rows in by_source.values():
            index = torch.tensor(positions, dtype=torch.long)
            blocks.append(prefilled.block.select(index))
            logits.append(prefilled.logits.index_select(0, index))
            admitted.extend(rows)

        for group, rows in taken:
            if len(rows) < len(group.rows):
                # The group continues in a later admission: keep only its own KV row so the chunk can go.
                prefilled = group.prefilled
                assert prefilled is not None
                own = torch.tensor([prefilled.index], dtype=torch.long)
                group.prefilled = Prefilled(prefilled.block.select(own), prefilled.logits.index_select(0, own), 0)
                group.rows = group.rows[len(rows) :]
            else:
                group.prefilled = None  # done with it: free the memory
        return KVBlock.concat(blocks), torch.cat(logits, dim=0), admitted

    def _should_compact(self, rows: int, finished: int, waiting: bool) -> bool:
        """Whether to drop finished rows from the batch now.

        Dropping copies the whole KV cache (about one decode step's cost on CPU), while a finished
        row left in costs 1/rows of a step per step. So rows go in bulk: once a quarter of the
        batch has finished, or when the freed slots let waiting prompts join.
        """
        if finished == 0:
            return False
        if finished >= max(1, rows // 4):
            return True
        return waiting and self._max_rows - rows + finished >= self._admit_min

    def run(self, groups: Sequence[PromptGroup]) -> None:
        # Token order puts prompts that start alike side by side, so prefill chunks share long prefixes.
        pending = deque(sorted(groups, key=lambda group: group.prompt_ids))
        block: KVBlock | None = None
        logits: torch.Tensor | None = None
        active: list[DecodeRow] = []
        # Counted in samples: a greedy row decodes once for all the identical samples it stands for.
        total_rows = sum(len(row.sample_indices) for group in groups for row in group.rows)
        finished = generated = 0
        last_report = time.monotonic()
        while True:
            free = self._max_rows - len(active)
            if pending and (not active or free >= self._admit_min):
                new_block, new_logits, new_rows = self._admit(pending, free)
                if block is None or logits is None:
                    block, logits, active = new_block, new_logits, new_rows
                else:
                    block = KVBlock.concat([block, new_block])
                    logits = torch.cat([logits, new_logits], dim=0)
                    active = active + new_rows
            if not active or block is None or logits is None:
                break
            self.counters.peak_rows = max(self.counters.peak_rows, len(active))

            tokens = choose_next_tokens(
                logits,
                [row.temperature for row in active],
                [row.top_p for row in active],
                [row.generator for row in active],
            )
            for row, token in zip(active, tokens):
                if row.finish_reason is None:
                    row.accept(token, self._eos_ids)
                    generated += len(row.sample_indices)
                    finished += len(row.sample_indices) if row.finish_reason is not None else 0
            if self._on_rows is not None and finished < total_rows and time.monotonic() - last_report >= self._report_every:
                last_report = time.monotonic()
                self._on_rows(finished, total_rows, generated)
            alive = [i for i, row in enumerate(active) if row.finish_reason is None]
            if not alive:
                block, logits, active = None, None, []
                continue
            if self._should_compact(len(active), len(active) - len(alive), bool(pending)):
                index = torch.tensor(alive, dtype=torch.long)
                block = block.keep(index)
                active = [active[i] for i in alive]
                tokens = [tokens[i] for i in alive]

            block.mask = torch.cat([block.mask, block.mask.new_ones(block.rows, 1)], dim=1)
            logits = self._forward(
                torch.tensor(tokens, dtype=torch.long).unsqueeze(1), block.mask, block.lengths.unsqueeze(1), block.cache
            )
            block.lengths = block.lengths + 1
            self.counters.decode_steps += 1
            self.counters.row_steps += len(active)
