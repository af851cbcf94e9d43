"""Turning training rows into token ids, the one place that decides where loss and labels sit.

The PRM's input is built from separately tokenised pieces whose ids are concatenated, so each
step's label position (the last token of its separator) is known exactly instead of being searched
for in a joint tokenisation; training and scoring both call `encode_steps`, so they cannot drift.
Works on any Hugging Face tokenizer object; needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from evolve.errors import ModelSpecError

__all__ = ["SEPARATOR", "EncodedSteps", "PolicyExample", "encode_prompt", "encode_policy_row", "encode_steps",
           "render_prompt", "require_chat_template", "step_text"]

SEPARATOR = "\n\n"


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


def encode_prompt(tokenizer: Any, text: str) -> list[int]:
    """Ids of a prompt as `HFGenerator.encode` makes them (special tokens, but never two BOS)."""
    ids = list(tokenizer(text, add_special_tokens=True)["input_ids"])
    bos = tokenizer.bos_token_id
    # A chat template usually writes BOS as text already; the tokenizer must not add a second.
    if bos is not None and len(ids) >= 2 and ids[0] == bos and ids[1] == bos:
        ids = ids[1:]
    return ids


def _piece(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


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
    target = _piece(tokenizer, row["completion"])
    if tokenizer.eos_token_id is not None:
        target.append(int(tokenizer.eos_token_id))
    ids = (prompt + target)[:max_length]
    if len(ids) <= len(prompt):
        return None
    labels = [-100] * len(prompt) + ids[len(prompt):]
    return PolicyExample(ids, labels)


def step_text(index: int, text: str) -> str:
    """Step `index` (1..) as the search serialises it."""
    return f"Step {index}: {text}"


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
    sep = _piece(tokenizer, separator)
    positions: list[int] = []
    for index, text in enumerate(steps, start=1):
        piece = _piece(tokenizer, step_text(index, text)) + sep
        if max_length is not None and len(ids) + len(piece) > max_length:
            break
        ids.extend(piece)
        positions.append(len(ids) - 1)
    return EncodedSteps(ids, positions)
