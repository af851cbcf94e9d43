"""Pure parts of the transformers backend: stop search, incremental detokenising, sampling, KV blocks."""

from __future__ import annotations

import pytest
import torch

from evolve.backends.hf_cache import KVBlock, _cache_from
from evolve.backends.hf_sampling import _sample_inverse_cdf, _sample_nucleus, choose_next_tokens, row_seed
from evolve.backends.hf_text import IncrementalDetokenizer, find_stop


def test_find_stop_earliest_match_from_offset():
    assert find_stop("ab\nStep 2\nStep", ("\nStep", "2"), 0) == 2
    assert find_stop("ab\nStep 2", ("2", "\nStep"), 0) == 2
    assert find_stop("ab\nStep 2", ("\nStep",), 3) == -1
    assert find_stop("abc", ("", "x"), 0) == -1


def test_incremental_detokenizer_matches_full_decode_on_multibyte_text(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = " Step 1: the patient — 37.5 °C, naïve 😀 lowers glucose."
    ids = tokenizer.encode(text, add_special_tokens=False)
    detokenizer = IncrementalDetokenizer(tokenizer, tokenizer.encode("Question:", add_special_tokens=False))
    deltas = [detokenizer.push(token) for token in ids]
    detokenizer.finish()
    assert detokenizer.text == text
    assert "".join(deltas) == text  # nothing was held back at the end
    assert "" in deltas  # a multi-byte character spanned tokens and was held back once


def test_row_seed_is_stable_and_spreads():
    assert row_seed(0, 0) == row_seed(0, 0)
    seeds = {row_seed(seed, index) for seed in range(20) for index in range(20)}
    assert len(seeds) == 400 and all(0 <= s < 2**63 for s in seeds)


def test_inverse_cdf_picks_the_bucket_holding_u():
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    uniforms = torch.tensor([0.1, 0.25, 0.0, 0.5])
    # cdf 0.2, 0.5, 1.0: u=0.5 lands past the second bucket; zero-mass token 0 never wins even at u=0.
    assert _sample_inverse_cdf(probs, uniforms).tolist() == [0, 1, 1, 2]


def test_nucleus_keeps_the_smallest_set_reaching_top_p():
    probs = torch.tensor([[0.1, 0.6, 0.3], [0.1, 0.6, 0.3]])
    # top_p 0.6: only token 1 survives; top_p 0.8: tokens 1 and 2 (mass 0.9), renormalised by the CDF.
    assert _sample_nucleus(probs, torch.tensor([0.6, 0.8]), torch.tensor([0.99, 0.7])).tolist() == [1, 2]


def test_choose_next_tokens_mixes_greedy_and_seeded_rows():
    logits = torch.tensor([[0.0, 3.0, 1.0], [0.0, 3.0, 1.0], [5.0, 0.0, 0.0]])

    def draw(seed: int) -> list[int]:
        generators = [None, torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)]
        return choose_next_tokens(logits, [0.0, 1.0, 0.0], [1.0, 1.0, 1.0], generators)

    first = draw(1)
    assert first[0] == 1 and first[2] == 0  # greedy rows take the argmax
    assert draw(1) == first  # same seed, same draw
    draws = {tuple(draw(seed)) for seed in range(40)}
    assert {d[1] for d in draws} == {0, 1, 2}  # the sampled row explores all tokens


def _block(rows: list[list[int]]) -> KVBlock:
    """A 1-layer block whose key/value at (row, column) is the mask value times 10*row+column."""
    mask = torch.tensor(rows)
    width = mask.shape[1]
    values = torch.stack([torch.arange(width, dtype=torch.float32) + 10 * r for r in range(len(rows))])
    kv = (values * mask).reshape(len(rows), 1, width, 1)
    return KVBlock(_cache_from([kv.clone()], [kv.clone()]), mask, mask.sum(dim=1))


def test_kv_block_select_trim_and_concat():
    block = _block([[0, 1, 1], [1, 1, 1]])
    only_first = block.select(torch.tensor([0, 0])).trim_left()
    assert only_first.mask.tolist() == [[1, 1], [1, 1]]
    assert only_first.cache.layers[0].keys.flatten().tolist() == [1.0, 2.0, 1.0, 2.0]
    merged = KVBlock.concat([_block([[1]]), only_first])
    merged.check()
    assert merged.mask.tolist() == [[0, 1], [1, 1], [1, 1]]
    assert merged.cache.layers[0].values.flatten().tolist() == [0.0, 0.0, 1.0, 2.0, 1.0, 2.0]
    assert merged.lengths.tolist() == [1, 2, 2]


def test_kv_block_pad_left_never_shrinks():
    with pytest.raises(AssertionError):
        _block([[1, 1]]).pad_left(1)


def test_kv_block_keep_selects_and_trims_in_one_go():
    block = _block([[0, 0, 1], [0, 1, 1], [1, 1, 1]])
    kept = block.keep(torch.tensor([0, 1]))
    assert kept.mask.tolist() == [[0, 1], [1, 1]]
    assert kept.cache.layers[0].keys.flatten().tolist() == [0.0, 2.0, 11.0, 12.0]
    assert kept.lengths.tolist() == [1, 2]
    kept.check()


def test_prefill_chunks_keep_each_question_together():
    from evolve.backends.hf_decode import plan_prefill_chunks, prefill_cost

    system = list(range(100))
    tree_a = [system + [1000] * 230 + [1 + i] * 40 for i in range(3)]  # one question, three partial answers
    tree_b = [system + [2000] * 230 + [9 + i] * 40 for i in range(3)]
    prompts = tree_a + tree_b
    assert plan_prefill_chunks(prompts, budget=4096, min_shared=32) == [(0, 3), (3, 6)]
    # one chunk for all six would share only the system prompt: dearer than two chunks
    assert prefill_cost([370] * 6, 100) > 2 * prefill_cost([370] * 3, 330)
    # the budget still caps a chunk of alike prompts
    assert plan_prefill_chunks(tree_a, budget=330 + 2 * 40, min_shared=32) == [(0, 2), (2, 3)]
    # below min_shared nothing is shared, and unrelated prompts batch together up to the budget
    unrelated = [[i] * 50 for i in range(4)]
    assert plan_prefill_chunks(unrelated, budget=150, min_shared=32) == [(0, 3), (3, 4)]
