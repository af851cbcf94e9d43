"""bench/step_confidence.py: the policy's confidence in a step is its least likely digit token's probability,
read from the tokens of that step alone."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from domains import load_domain
from evolve.config import load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from step_confidence import PolicyConfidence, least_digit_probability  # noqa: E402


def test_least_digit_probability_takes_the_least_likely_digit_token():
    assert least_digit_probability([-0.1, -2.0, -0.5, -3.0], ["The", " 3", "4", "."]) == math.exp(-2.0)
    assert least_digit_probability([-0.3, -1.0], ["So", " yes"]) == math.exp(-1.0)  # no digit: every token
    assert least_digit_probability([], []) == 0.5


def test_a_step_is_scored_by_its_own_tokens_only(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    lora = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(tmp_path / "adapter")
    domain = load_domain("science")
    question = domain.load_split(next(iter(domain.spec.splits)))[0]
    scorer = PolicyConfidence(load_config(None, [f"model.spec={tiny_model_dir}"]), domain, str(tmp_path / "adapter"),
                              [question])
    right, wrong_end, wrong_start = scorer.score(domain.format_question(question), [
        ["12 + 7 = 19.", "The answer is 19."], ["12 + 7 = 19.", "The answer is 91."], ["12 + 7 = 23.", "The answer is 19."]])
    assert all(0.0 < p <= 1.0 for p in right + wrong_end + wrong_start)
    # what follows a step does not change its score (up to float noise: the rows are padded differently
    # in the batch, and a 2e-6 relative difference was seen in a fresh-clone run)
    assert right[0] == pytest.approx(wrong_end[0], rel=1e-4)
    assert right[1] != pytest.approx(wrong_end[1], rel=1e-2), (right, wrong_end)
    # Step 2 of `right` again, found by character offsets in the whole text instead of by token counts
    import torch

    from evolve.reasoner.steps import STEP_ZERO, solution_text, task_messages
    from evolve.train.tokenise import render_prompt

    tokenizer = scorer.tokenizer
    text = render_prompt(tokenizer, task_messages(domain, question)) + solution_text((STEP_ZERO, "12 + 7 = 19.", "The answer is 19."))
    start = text.rindex("The answer is 19.")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = torch.tensor([encoded.input_ids])
    with torch.inference_mode():
        logprobs = torch.log_softmax(scorer.model(ids).logits[0, :-1].float(), -1)
    inside = [p for p, (a, b) in enumerate(encoded.offset_mapping) if p > 0 and a >= start and b > a
              and any(c.isdigit() for c in text[a:b])]
    assert inside and right[1] == pytest.approx(math.exp(min(logprobs[p - 1, ids[0, p]].item() for p in inside)), rel=1e-5)
