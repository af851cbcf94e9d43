"""A batch of rows' KV cache plus the bookkeeping that goes with it, and the few ops on it.

Every row is left-padded: its real tokens sit at the right end of the cache, and the attention
mask marks which columns are real. That lets rows of different lengths decode together, rows be
dropped when they finish (`select`), new rows join a running batch (`concat`), and columns that
are padding for every remaining row be cut away (`trim_left`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

__all__ = ["KVBlock"]


def _layer(keys: torch.Tensor, values: torch.Tensor) -> DynamicLayer:
    # Built by hand rather than through `update`, which would copy the tensors once more.
    layer = DynamicLayer()
    layer.lazy_initialization(keys, values)
    layer.keys, layer.values = keys, values
    return layer


def _cache_from(keys: list[torch.Tensor], values: list[torch.Tensor]) -> DynamicCache:
    cache = DynamicCache()
    cache.layers = [_layer(k, v) for k, v in zip(keys, values)]
    return cache


@dataclass
class KVBlock:
    """Rows sharing one DynamicCache: `mask` [rows, width] (1 = real token), `lengths` [rows] real tokens."""

    cache: DynamicCache
    mask: torch.Tensor
    lengths: torch.Tensor

    @property
    def rows(self) -> int:
        return int(self.mask.shape[0])

    @property
    def width(self) -> int:
        return int(self.mask.shape[1])

    def _tensors(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        keys = [layer.keys for layer in self.cache.layers]
        values = [layer.values for layer in self.cache.layers]
        return keys, values

    def check(self) -> None:
        """Internal invariant: every layer's cache is as wide as the mask."""
        for layer in self.cache.layers:
            assert layer.keys.shape[0] == self.rows and layer.keys.shape[-2] == self.width, (
                f"cache {tuple(layer.keys.shape)} vs mask {tuple(self.mask.shape)}"
            )

    def select(self, index: torch.Tensor) -> KVBlock:
        """The rows at `index` (may repeat rows: that is how n samples share one prefill)."""
        keys, values = self._tensors()
        return KVBlock(
            _cache_from([k.index_select(0, index) for k in keys], [v.index_select(0, index) for v in values]),
            self.mask.index_select(0, index),
            self.lengths.index_select(0, index),
        )

    def keep(self, index: torch.Tensor) -> KVBlock:
        """`select(index)` then `trim_left()`, with one copy of the cache instead of two."""
        mask = self.mask.index_select(0, index)
        real_columns = mask.any(dim=0).nonzero()
        first = int(real_columns[0]) if len(real_columns) else 0
        keys, values = self._tensors()
        return KVBlock(
            _cache_from(
                [k[..., first:, :].index_select(0, index) for k in keys],
                [v[..., first:, :].index_select(0, index) for v in values],
            ),
            mask[:, first:].contiguous(),
            self.lengths.index_select(0, index),
        )

    def pad_left(self, width: int) -> KVBlock:
        extra = width - self.width
        assert extra >= 0, "pad_left never shrinks"
        if extra == 0:
            return self
        keys, values = self._tensors()

        def pad(t: torch.Tensor) -> torch.Tensor:
            zeros = t.new_zeros(*t.shape[:-2], extra, t.shape[-1])
            return torch.cat([zeros, t], dim=-2)

        return KVBlock(
            _cache_from([pad(k) for k in keys], [pad(v) for v in values]),
            torch.cat([self.mask.new_zeros(self.rows, extra), self.mask], dim=1),
            self.lengths,
        )

    def trim_left(self) -> KVBlock:
        """Drop leading columns that are padding in every row (they only cost attention time)."""
        real_columns = self.mask.any(dim=0).nonzero()
        first = int(real_columns[0]) if len(real_columns) else self.width
        if first == 0:
            return self
        keys, values = self._tensors()
        return KVBlock(
            _cache_from([k[..., first:, :].contiguous() for k in keys], [v[..., first:, :].contiguous() for v in values]),
            self.mask[:, first:].contiguous(),
            self.lengths,
        )

    @staticmethod
    def concat(blocks: list[KVBlock]) -> KVBlock:
        """Stack the rows of `blocks`, left-padding each to the widest."""
        assert blocks, "concat needs at least one block"
        if len(blocks) == 1:
            return blocks[0]
        width = max(block.width for block in blocks)
        padded = [block.pad_left(width) for block in blocks]
        tensors = [block._tensors() for block in padded]
        layers = len(tensors[0][0])
        keys = [torch.cat([t[0][i] for t in tensors], dim=0) for i in range(layers)]
        values = [torch.cat([t[1][i] for t in tensors], dim=0) for i in range(layers)]
        return KVBlock(
            _cache_from(keys, values),
            torch.cat([block.mask for block in padded], dim=0),
            torch.cat([block.lengths for block in padded], dim=0),
        )
