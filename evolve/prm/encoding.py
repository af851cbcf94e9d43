"""How the PRM reads a trajectory: the one encoding that training and scoring share.

The input is built from separately tokenised pieces whose ids are concatenated, so each step's label
position (the last token of its separator) is known exactly instead of being searched for in a joint
tokenisation. `step_probabilities` reads P(class 1) at those positions in one forward pass per batch;
causal attention makes that equal to scoring each prefix on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evolve.backends.hf_text import encode_piece, encode_prompt
from evolve.reasoner.steps import step_line

__all__ = ["SEPARATOR", "EncodedSteps", "encode_steps", "step_probabilities"]

SEPARATOR = "\n\n"



@dataclass(frozen=True)
class EncodedSteps:
    input_ids: list[int]
    positions: list[int]  # per kept step, the index of its separator's last token

    @property
    def steps(self) -> int:
        return len(self.positions)


def encode_steps(tokenizer: Any, prompt: str, steps: Sequence[str], max_length: int | None,
                 separator: str = SEPARATOR) -> EncodedSteps:
    """`prompt + sep`, then `Step i: text` + sep for steps 1.. ; the label of step i sits on the
    last token of its separator. Trailing steps whose label would fall past `max_length` are
    dropped (never a label position cut off its step)."""
    ids = encode_prompt(tokenizer, prompt + separator)
    sep = encode_piece(tokenizer, separator)
    positions: list[int] = []
    for index, text in enumerate(steps, start=1):
        piece = encode_piece(tokenizer, step_line(index, text)) + sep
        if max_length is not None and len(ids) + len(piece) > max_length:
            break
        ids.extend(piece)
        positions.append(len(ids) - 1)
    return EncodedSteps(ids, positions)


def step_probabilities(model: Any, encoded: Sequence[EncodedSteps], *, pad_id: int,
                       batch_size: int = 8) -> list[list[float]]:
    """P(class 1) at every label position, one right-padded forward pass per batch of trajectories."""
    import torch

    result: list[list[float]] = [[] for _ in encoded]
    # Similar lengths together: less padding to compute.
    todo = sorted((i for i, e in enumerate(encoded) if e.positions), key=lambda i: len(encoded[i].input_ids))
    with torch.inference_mode():
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            width = max(len(encoded[i].input_ids) for i in chunk)
            ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                n = len(encoded[i].input_ids)
                ids[row, :n] = torch.tensor(encoded[i].input_ids)
                mask[row, :n] = 1
            where = next(model.parameters()).device
            logits = model(input_ids=ids.to(where), attention_mask=mask.to(where)).logits
            probs = torch.softmax(logits.float(), dim=-1)[..., 1]
            for row, i in enumerate(chunk):
                result[i] = probs[row, encoded[i].positions].tolist()
    return result
