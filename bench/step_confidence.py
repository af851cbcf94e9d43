"""A reference scorer for the PRM checks: the policy's own confidence in each step's numbers.

A step "29 + 11 = 30." is wrong where the policy, sampling at temperature, drew an unlikely digit. If the
policy's probability of a step's least likely digit token ranks steps by truth better than the trained
PRM does, the PRM recipe is throwing away what the policy knows; if not, the PRM is not the only thing
short of the target. `bench/prm_recipe.py --confidence` scores the same sampled steps with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def least_digit_probability(logprobs: Sequence[float], pieces: Sequence[str]) -> float:
    """exp of the lowest log-probability among a step's tokens that hold a digit (of all its tokens if
    none does); 0.5 for a step with no tokens."""
    digits = [lp for lp, piece in zip(logprobs, pieces, strict=True) if any(c.isdigit() for c in piece)]
    chosen = digits or list(logprobs)
    return math.exp(min(chosen)) if chosen else 0.5


class PolicyConfidence:
    """Scores trajectories like a PRM scorer (`score(question_text, trajectories)`), by the policy LoRA
    at `adapter` reading each step after the chat prompt the policy answered."""

    def __init__(self, config: Any, domain: Any, adapter: str, questions: Sequence[Any]):
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        from evolve.api import base_folder
        from evolve.backends.hf_loading import load_tokenizer

        folder = base_folder(config.model.spec)
        self.tokenizer = load_tokenizer(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        self.model = PeftModel.from_pretrained(model, adapter).eval()
        self.domain = domain
        self.by_text = {domain.format_question(q): q for q in questions}  # the scorer is handed the question's text

    def _token_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def score(self, question: str, trajectories: Sequence[Sequence[str]]) -> list[list[float]]:
        import torch

        from evolve.reasoner.steps import STEP_ZERO, serialise_steps, solution_text, task_messages
        from evolve.train.tokenise import render_prompt

        prefix = render_prompt(self.tokenizer, task_messages(self.domain, self.by_text[question]))
        scores = []
        for steps in trajectories:
            # Step i's text runs from after its "Step i:" header to its last character.
            starts = [len(self._token_ids(prefix + serialise_steps((STEP_ZERO, *steps[:i])))) for i in range(len(steps))]
            ends = [len(self._token_ids(prefix + solution_text((STEP_ZERO, *steps[:i + 1])))) for i in range(len(steps))]
            ids = torch.tensor([self._token_ids(prefix + solution_text((STEP_ZERO, *steps)))])
            with torch.inference_mode():
                logits = self.model(ids).logits[0, :-1].float()
            targets = ids[0, 1:]
            logprobs = torch.log_softmax(logits, -1).gather(1, targets[:, None])[:, 0].tolist()
            pieces = [self.tokenizer.decode([t]) for t in targets.tolist()]
            scores.append([least_digit_probability(logprobs[start - 1:end - 1], pieces[start - 1:end - 1])
                           for start, end in zip(starts, ends)])
        return scores
