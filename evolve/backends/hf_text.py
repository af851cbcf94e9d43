"""Text side of decoding: incremental detokenisation and stop-string search.

Decoding the whole continuation after every token costs O(length) per step; instead each row
decodes only a short window of its last tokens (the trick vLLM and TGI use) and searches stop
strings only in the new tail of its text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["IncrementalDetokenizer", "encode_piece", "encode_prompt", "find_stop"]

# Tokens of the prompt's end kept as context, so the first generated token decodes with its
# leading space (SentencePiece drops it at the start of a decode).
_PROMPT_CONTEXT_TOKENS = 4


def find_stop(text: str, stops: Sequence[str], search_from: int = 0) -> int:
    """The earliest position >= `search_from` where any of `stops` starts in `text`, else -1."""
    best = -1
    for stop in stops:
        if not stop:
            continue
        position = text.find(stop, search_from)
        if position >= 0 and (best < 0 or position < best):
            best = position
    return best


class IncrementalDetokenizer:
    """Turns a growing list of token ids into text, a few tokens at a time.

    `push(token_id)` returns the text that token added (possibly "" while a multi-byte character is
    incomplete); `text` is everything so far. `finish()` flushes what is left.
    """

    __slots__ = ("_tokenizer", "_ids", "_prefix_offset", "_read_offset", "text")

    def __init__(self, tokenizer: Any, prompt_ids: Sequence[int]):
        self._tokenizer = tokenizer
        self._ids: list[int] = list(prompt_ids[-_PROMPT_CONTEXT_TOKENS:])
        self._prefix_offset = 0
        self._read_offset = len(self._ids)
        self.text = ""

    def _decode(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def push(self, token_id: int) -> str:
        self._ids.append(token_id)
        prefix_text = self._decode(self._ids[self._prefix_offset : self._read_offset])
        new_text = self._decode(self._ids[self._prefix_offset :])
        # A trailing U+FFFD means the token ended inside a UTF-8 character: wait for the rest.
        if len(new_text) > len(prefix_text) and not new_text.endswith("\ufffd"):
            delta = new_text[len(prefix_text) :]
            self._prefix_offset = self._read_offset
            self._read_offset = len(self._ids)
            self.text += delta
            return delta
        return ""

    def finish(self) -> str:
        """Flush text held back for an incomplete character (it stays as U+FFFD)."""
        prefix_text = self._decode(self._ids[self._prefix_offset : self._read_offset])
        new_text = self._decode(self._ids[self._prefix_offset :])
        delta = new_text[len(prefix_text) :]
        self._prefix_offset = self._read_offset = len(self._ids)
        self.text += delta
        return delta


def encode_prompt(tokenizer: Any, text: str) -> list[int]:
    """Ids of a prompt: the tokenizer's special tokens, but never two BOS (a chat template usually
    writes BOS as text already). The one rule of how a prompt becomes ids, for generation, training
    and scoring alike."""
    ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
    bos = tokenizer.bos_token_id
    if bos is not None and len(ids) >= 2 and ids[0] == bos and ids[1] == bos:
        ids = ids[1:]
    return ids


def encode_piece(tokenizer: Any, text: str) -> list[int]:
    """Ids of a piece that continues a prompt (a completion, a step): no special tokens."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])
