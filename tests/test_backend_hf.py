"""The transformers backend on the tiny local model: batching, sharing, stops, seeds, compaction."""

from __future__ import annotations

import pytest

from evolve.backends.base import Completion, GenerationRequest, reporting_rows
from evolve.backends.hf import HFGenerator
from evolve.errors import ConfigError, ModelSpecError

PROMPTS = [
    "Step 1: the patient",
    "Question: what lowers glucose? The answer is",
    "the heart causes pain by 12 units. " * 4,
    "A",
    "Step 3: insulin treats infection by 7 units. Question: what needs oxygen?",
]


@pytest.fixture
def tiny(tiny_model_dir) -> HFGenerator:
    return HFGenerator(tiny_model_dir, threads=1)


def greedy(prompt: str, max_new_tokens: int = 24, **kwargs) -> GenerationRequest:
    return GenerationRequest(prompt, max_new_tokens=max_new_tokens, temperature=0.0, **kwargs)


def test_batched_greedy_equals_one_at_a_time(tiny):
    requests = [greedy(p, max_new_tokens=8 + 4 * i) for i, p in enumerate(PROMPTS)]
    alone = [tiny.generate([request])[0] for request in requests]
    together = tiny.generate(requests)
    assert together == alone
    # The budgets differ, so rows finish at different steps: compaction ran and changed nothing.
    assert [c[0].num_tokens for c in together] == [8, 12, 16, 20, 24]
    assert all(c[0].finish_reason == "length" for c in together)


def test_small_batch_limit_streams_rows_in_and_gives_the_same_text(tiny_model_dir, tiny):
    requests = [greedy(p, max_new_tokens=6 + 3 * i) for i, p in enumerate(PROMPTS)]
    wide = tiny.generate(requests)
    narrow = HFGenerator(tiny_model_dir, threads=1, max_batch_size=2)
    assert narrow.generate(requests) == wide
    assert narrow.stats.extra["peak_rows"] == 2


def test_a_prompt_whose_samples_are_admitted_in_parts_gets_all_of_them(tiny_model_dir):
    # 3 prompts x 4 samples through 5 rows: prompts are split across admissions (the bug that lost
    # the first part's completions).
    requests = [GenerationRequest(p, n=4, max_new_tokens=5 + 2 * i, temperature=1.0, seed=i) for i, p in enumerate(PROMPTS[:3])]
    wide = HFGenerator(tiny_model_dir, threads=1).generate(requests)
    narrow = HFGenerator(tiny_model_dir, threads=1, max_batch_size=5)
    got = narrow.generate(requests)
    assert [len(c) for c in got] == [4, 4, 4]
    assert got == wide
    assert narrow.stats.extra["peak_rows"] == 5


def test_greedy_n_returns_identical_copies_from_one_row(tiny):
    [completions] = tiny.generate([greedy(PROMPTS[0], n=3)])
    assert len(completions) == 3 and completions[0] == completions[1] == completions[2]
    # One row decoded, not three: 24 tokens = 1 from the prefill + 23 single-row decode steps.
    assert tiny.stats.extra["row_steps"] == 23


def test_n_samples_share_one_prefill_and_match_the_unshared_path(tiny_model_dir, tiny):
    request = GenerationRequest(PROMPTS[1], n=4, max_new_tokens=12, temperature=1.0, seed=11)
    [shared] = tiny.generate([request])
    prompt_tokens = len(tiny.encode(PROMPTS[1]))
    assert tiny.stats.extra["prefill_tokens"] == prompt_tokens
    unshared_generator = HFGenerator(tiny_model_dir, threads=1, share_prefill=False)
    [unshared] = unshared_generator.generate([request])
    assert unshared_generator.stats.extra["prefill_tokens"] == 4 * prompt_tokens
    assert shared == unshared
    assert len({c.text for c in shared}) > 1, "four samples at temperature 1 should not all agree"


def test_stop_string_is_excluded_and_reported(tiny):
    [[full]] = tiny.generate([greedy(PROMPTS[2], max_new_tokens=30)])
    stop = full.text[10:13]
    cut = full.text.find(stop)
    [[stopped]] = tiny.generate([greedy(PROMPTS[2], max_new_tokens=30, stop=(stop, "never appears"))])
    assert stopped.finish_reason == "stop"
    assert stopped.text == full.text[:cut]
    assert stop not in stopped.text
    assert 0 < stopped.num_tokens < 30


def test_stop_string_at_the_very_start_gives_empty_text(tiny):
    [[full]] = tiny.generate([greedy(PROMPTS[0], max_new_tokens=10)])
    [[stopped]] = tiny.generate([greedy(PROMPTS[0], max_new_tokens=10, stop=(full.text[:1],))])
    assert (stopped.text, stopped.finish_reason) == ("", "stop")


def test_eos_ends_a_row_and_is_not_in_the_text(tiny):
    [[full]] = tiny.generate([greedy(PROMPTS[3], max_new_tokens=12)])
    third_token = _greedy_token_ids(tiny, PROMPTS[3], 3)[2]
    tiny.eos_ids = frozenset({third_token})
    [[ended]] = tiny.generate([greedy(PROMPTS[3], max_new_tokens=12)])
    assert ended.finish_reason == "eos"
    assert ended.num_tokens == 3  # the EOS token counts as generated
    assert full.text.startswith(ended.text) and len(ended.text) < len(full.text)


def _greedy_token_ids(generator: HFGenerator, prompt: str, count: int) -> list[int]:
    import torch

    ids = torch.tensor([generator.encode(prompt)])
    with torch.inference_mode():
        out = generator.model.generate(ids, max_new_tokens=count, do_sample=False, eos_token_id=None)
    return out[0, ids.shape[1] :].tolist()


def test_greedy_matches_transformers_generate(tiny):
    tokens = _greedy_token_ids(tiny, PROMPTS[4], 16)
    [[ours]] = tiny.generate([greedy(PROMPTS[4], max_new_tokens=16)])
    assert ours.text == tiny.tokenizer.decode(tokens)


def test_seeded_sampling_is_reproducible_and_independent_of_the_batch(tiny):
    target = GenerationRequest(PROMPTS[0], n=3, max_new_tokens=10, temperature=0.9, top_p=0.9, seed=5)
    alone = tiny.generate([target])[0]
    again = tiny.generate([target])[0]
    others = [GenerationRequest(p, n=2, max_new_tokens=7, temperature=1.0, seed=i) for i, p in enumerate(PROMPTS[1:])]
    in_company = tiny.generate([*others[:2], target, *others[2:]])[2]
    assert alone == again == in_company
    reseeded = tiny.generate([GenerationRequest(PROMPTS[0], n=3, max_new_tokens=10, temperature=0.9, seed=6)])[0]
    assert reseeded != alone


def test_tiny_top_p_keeps_only_the_best_token(tiny):
    nucleus = GenerationRequest(PROMPTS[1], max_new_tokens=10, temperature=1.0, top_p=1e-6, seed=3)
    assert tiny.generate([nucleus]) == tiny.generate([greedy(PROMPTS[1], max_new_tokens=10)])


def test_zero_budget_and_stats(tiny):
    results = tiny.generate([greedy(PROMPTS[0], max_new_tokens=0, n=2), greedy(PROMPTS[1], max_new_tokens=5)])
    assert results[0] == [Completion("", 0, "length")] * 2
    assert results[1][0].num_tokens == 5
    stats = tiny.stats
    assert (stats.calls, stats.requests, stats.completions, stats.generated_tokens) == (1, 2, 3, 5)
    assert stats.prompt_tokens == len(tiny.encode(PROMPTS[0])) + len(tiny.encode(PROMPTS[1]))
    assert stats.seconds > 0


def test_bad_requests_and_settings_are_rejected(tiny_model_dir, tiny):
    with pytest.raises(ValueError, match="request 0: top_p=0"):
        tiny.generate([GenerationRequest("x", top_p=0.0)])
    with pytest.raises(ConfigError, match="unknown dtype"):
        HFGenerator(tiny_model_dir, dtype="float8")


def test_render_chat_uses_the_template_and_fails_clearly_without_one(tiny, tiny_model_dir_no_template):
    rendered = tiny.render_chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert rendered == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    raw = HFGenerator(tiny_model_dir_no_template, threads=1)
    assert raw.generate([greedy("Step 1", max_new_tokens=4)])[0][0].num_tokens == 4
    with pytest.raises(ModelSpecError, match="no chat template"):
        raw.render_chat([{"role": "user", "content": "Hi"}])


def test_lora_adapter_is_applied(tiny_model_dir, tiny, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(tmp_path / "adapter")
    adapted = HFGenerator(tiny_model_dir, threads=1, lora=str(tmp_path / "adapter"))
    request = greedy(PROMPTS[2], max_new_tokens=12)
    assert adapted.generate([request]) != tiny.generate([request])
    with pytest.raises(ModelSpecError, match="adapter_config.json"):
        HFGenerator(tiny_model_dir, lora=str(tmp_path))


def test_prompts_sharing_a_prefix_prefill_it_once_with_the_same_result(tiny_model_dir, tiny):
    question = "Question: what lowers glucose in the patient with a fever? " * 3
    prompts = [question + tail for tail in ("Step 1:", "Step 1: insulin lowers", "Step 1: the kidney needs oxygen. Step 2:")]
    requests = [GenerationRequest(p, n=2, max_new_tokens=10, temperature=0.8, seed=9) for p in prompts]
    unshared = HFGenerator(tiny_model_dir, threads=1, min_shared_prefix=0)
    expected = unshared.generate(requests)
    assert tiny.generate(requests) == expected
    lengths = [len(tiny.encode(p)) for p in prompts]
    shared = len(tiny.encode(question)) - 1  # BPE may merge the question's last token with the tail
    assert unshared.stats.extra["prefill_tokens"] == sum(lengths)
    assert tiny.stats.extra["prefill_tokens"] <= sum(lengths) - 2 * shared


def test_empty_prompt_still_generates(tiny):
    [[completion]] = tiny.generate([greedy("", max_new_tokens=3)])
    assert completion.num_tokens == 3 and completion.finish_reason == "length"


def test_a_call_reports_finished_samples_and_tokens_as_it_decodes(tiny):
    requests = [GenerationRequest(p, n=3, max_new_tokens=6 + 3 * i, temperature=1.0, seed=i)
                for i, p in enumerate(PROMPTS[:3])] + [greedy(PROMPTS[3], max_new_tokens=7, n=2)]
    quiet = tiny.generate(requests)
    tiny.row_report_every = 0.0  # every decode step
    reports = []
    with reporting_rows(lambda done, samples, tokens: reports.append((done, samples, tokens))):
        loud = tiny.generate(requests)
    assert loud == quiet  # reporting changes nothing
    lengths = [c.num_tokens for group in loud for c in group]  # 11 samples; the greedy pair decodes as one row
    # after decode step k, every sample has k tokens or has finished with fewer; a report while some remain
    expected = [(sum(n <= k for n in lengths), 11, sum(min(n, k) for n in lengths)) for k in range(1, max(lengths) + 1)]
    assert reports == [r for r in expected if r[0] < 11]
    tiny.generate(requests)  # outside the block nobody listens
    assert len(reports) == len([r for r in expected if r[0] < 11])
