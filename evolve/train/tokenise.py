"""Turning training rows into token ids, the one place that decides where loss and labels sit.

The PRM's input is built from separately tokenised pieces whose ids are concatenated, so each
step's label position (the last token of its separator) is known exactly instead of being searched
for in a joint tokenisation; training and scoring both call `encode_steps`, so they cannot drift.
Works on any Hugging Face tokenizer object; needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evolve.backends.hf_text import encode_piece, encode_prompt
from evolve.errors import ModelSpecError

__all__ = ["PolicyExample", "encode_policy_row", "render_prompt", "require_chat_template"]


def require_chat_template(tokenizer: Any, where: str) -> None:
    """The policy is trained on chats; a tokenizer without a template cannot render them."""
    if not getattr(tokenizer, "chat_template", None):
        raise ModelSpecError(
            "this model's tokenizer has no chat template, so the policy's chats cannot be rendered",
            where=where,
            fix="train an instruct/chat model (e.g. embedded:smollm2-135m-instruct)",
        )


def render_prompt(tokenizer: Any, messages: list[dict]) -> str:
    """The chat prompt exactly as the hf backend's `render_chat` writes it at search time."""
    chat = [{"role": m["role"], "content": m["content"]} for m in messages]
    return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)



@dataclass(frozen=True)
class PolicyExample:
    input_ids: list[int]
    labels: list[int]  # -100 on prompt tokens: loss only on the completion and its EOS


def encode_policy_row(tokenizer: Any, row: dict, max_length: int) -> PolicyExample | None:
    """`render(messages) + prefix` is the prompt, `completion + EOS` the target.

    The two halves are tokenised apart because that is how the model meets them: at search time
    the prompt is encoded and the completion generated after it. Cut from the end at
    `max_length`; None when no target token is left.
    """
    prompt = encode_prompt(tokenizer, render_prompt(tokenizer, row["messages"]) + row["prefix"])
    target = encode_piece(tokenizer, row["completion"])
    if tokenizer.eos_token_id is not None:
        target.append(int(tokenizer.eos_token_id))
    ids = (prompt + target)[:max_length]
    if len(ids) <= len(prompt):
        return None
    labels = [-100] * len(prompt) + ids[len(prompt):]
    return PolicyExample(ids, labels)


