"""Per-row next-token choice: greedy, temperature and nucleus (top-p) sampling.

Each sampled row owns a `torch.Generator` seeded from (request seed, sample index) and draws
exactly one uniform number per step, so a row's tokens do not depend on which other rows share
its batch. Sampling is by inverse CDF over the row's (possibly nucleus-truncated) distribution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["row_seed", "make_row_generator", "choose_next_tokens"]

_SEED_MASK = (1 << 63) - 1


def row_seed(seed: int, sample_index: int) -> int:
    """A 63-bit seed for sample `sample_index` of a request seeded with `seed` (stable across runs)."""
    # splitmix64-style mixing: neighbouring (seed, index) pairs give unrelated streams.
    value = (seed * 0x9E3779B97F4A7C15 + sample_index * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & ((1 << 64) - 1)
    value ^= value >> 31
    value = (value * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    value ^= value >> 29
    return value & _SEED_MASK


def make_row_generator(seed: int) -> torch.Generator:
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    return generator


def choose_next_tokens(
    logits: torch.Tensor,
    temperatures: Sequence[float],
    top_ps: Sequence[float],
    generators: Sequence[torch.Generator | None],
) -> list[int]:
    """One token id per row of `logits` ([rows, vocab]).

    A row with temperature <= 0 (or no generator) is greedy: the first maximal logit wins.
    """
    rows = logits.shape[0]
    assert len(temperatures) == len(top_ps) == len(generators) == rows, "one setting per row"
    chosen = logits.argmax(dim=-1)
    sampled = [i for i in range(rows) if temperatures[i] > 0 and generators[i] is not None]
    if sampled:
        index = torch.tensor(sampled, dtype=torch.long)
        temps = torch.tensor([temperatures[i] for i in sampled], dtype=torch.float32).unsqueeze(1)
        probs = torch.softmax(logits.index_select(0, index).float() / temps, dim=-1)
        uniforms = torch.cat([torch.rand(1, generator=generators[i]) for i in sampled])
        nucleus = [top_ps[i] for i in sampled]
        if any(p < 1.0 for p in nucleus):
            picked = _sample_nucleus(probs, torch.tensor(nucleus, dtype=torch.float32), uniforms)
        else:
            picked = _sample_inverse_cdf(probs, uniforms)
        chosen[index] = picked
    return chosen.tolist()


def _sample_inverse_cdf(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    cdf = probs.cumsum(dim=-1)
    thresholds = (uniforms * cdf[:, -1]).unsqueeze(1)
    # right=True: the first token whose cumulative mass exceeds u, so zero-mass tokens never win.
    picked = torch.searchsorted(cdf, thresholds, right=True).squeeze(1)
    return picked.clamp_(max=probs.shape[-1] - 1)


def _sample_nucleus(probs: torch.Tensor, top_ps: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
    # Keep the smallest prefix whose mass reaches top_p (the most likely token always stays).
    sorted_probs = sorted_probs.masked_fill(mass_before >= top_ps.unsqueeze(1), 0.0)
    positions = _sample_inverse_cdf(sorted_probs, uniforms)
    return order.gather(1, positions.unsqueeze(1)).squeeze(1)
