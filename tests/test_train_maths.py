"""The pure parts of training: step plans, learning-rate shape, batch order, held-out split,
step metrics, the two PRM losses and the tokenisation that places labels."""

from __future__ import annotations

import math
import random

import pytest

from evolve.train.maths import (
    epoch_order,
    holdout_split,
    lr_factor,
    micro_batch,
    plan_steps,
    roc_auc,
    sample_indices,
    step_metrics,
)


def test_plan_counts_micro_batches_and_optimiser_steps():
    plan = plan_steps(10, batch_size=4, grad_accum=1, epochs=2, warmup_ratio=0.1)
    assert (plan.micro_per_epoch, plan.total_steps, plan.warmup_steps) == (3, 6, 1)
    plan = plan_steps(10, batch_size=4, grad_accum=2, epochs=1.5, warmup_ratio=0.0)
    assert (plan.total_steps, plan.warmup_steps) == (3, 0)  # ceil(4.5) = 5 micro-batches -> 3 steps
    # a tiny fraction of an epoch still takes one whole optimiser step
    assert plan_steps(3, batch_size=1, grad_accum=4, epochs=0.1, warmup_ratio=0.5).total_steps == 1
    with pytest.raises(ValueError):
        plan_steps(0, batch_size=1, grad_accum=1, epochs=1, warmup_ratio=0)


def test_lr_ramps_up_then_decays_without_zero_steps():
    factors = [lr_factor(s, 6, 2) for s in range(6)]
    assert factors == [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]
    assert [lr_factor(s, 3, 0) for s in range(3)] == [1.0, 2 / 3, 1 / 3]


def test_batch_order_is_a_pure_function_of_seed_and_epoch():
    assert epoch_order(9, 0, 1) == epoch_order(9, 0, 1)
    assert sorted(epoch_order(9, 0, 1)) == list(range(9))
    assert epoch_order(9, 0, 0) != epoch_order(9, 0, 1) or epoch_order(9, 1, 0) != epoch_order(9, 0, 0)
    plan = plan_steps(5, batch_size=2, grad_accum=1, epochs=2, warmup_ratio=0)
    first_epoch = [i for k in range(plan.micro_per_epoch) for i in micro_batch(k, plan, seed=3)]
    assert sorted(first_epoch) == list(range(5))  # each example once per epoch, the last batch short
    assert micro_batch(3, plan, seed=3) == epoch_order(5, 3, 1)[:2]


def test_holdout_keeps_questions_together():
    qids = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"]
    train, held = holdout_split(qids, 0.2, seed=0)
    assert len(held) == 2 and len({qids[i] for i in held}) == 1
    assert sorted(train + held) == list(range(10))
    assert holdout_split(qids, 0.2, seed=0) == (train, held)
    assert holdout_split(qids, 0.0, seed=0) == (list(range(10)), [])
    # one question only: it is never all held out
    assert holdout_split(["q"] * 4, 0.5, seed=0) == ([0, 1, 2, 3], [])


def test_step_metrics_auc_and_accuracy():
    metrics = step_metrics([0.9, 0.2, 0.6, 0.4], [1.0, 0.0, 0.0, 1.0])
    assert metrics == {"auc": 0.75, "accuracy": 0.5, "balanced_accuracy": 0.5, "positive_share": 0.5, "steps": 4}
    # soft labels count as positive at >= 0.5; one class only: no AUC, no balanced accuracy
    assert step_metrics([0.7, 0.1], [0.6, 0.5]) == {"auc": None, "accuracy": 0.5, "balanced_accuracy": None,
                                                    "positive_share": 1.0, "steps": 2}
    assert step_metrics([], [])["steps"] == 0 and step_metrics([], [])["balanced_accuracy"] is None
    # skewed labels: a constant "wrong" gets 0.75 accuracy but 0.5 balanced accuracy
    skewed = step_metrics([0.1, 0.2, 0.3, 0.1], [1.0, 0.0, 0.0, 0.0])
    assert (skewed["accuracy"], skewed["balanced_accuracy"], skewed["positive_share"]) == (0.75, 0.5, 0.25)


def test_auc_is_the_pairwise_win_rate_with_ties_counting_half():
    assert roc_auc([0.5, 0.5, 0.9, 0.1], [1, 0, 1, 0]) == 0.875
    assert roc_auc([0.1, 0.2], [1, 1]) is None
    rng = random.Random(1)
    for _ in range(20):
        scores = [rng.choice([0.1, 0.3, 0.5, 0.7]) for _ in range(12)]
        truth = [rng.randint(0, 1) for _ in range(12)]
        pos = [s for s, t in zip(scores, truth) if t]
        neg = [s for s, t in zip(scores, truth) if not t]
        if pos and neg:
            wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
            assert roc_auc(scores, truth) == pytest.approx(wins / (len(pos) * len(neg)))


def test_soft_cross_entropy_is_exact():
    import torch

    from evolve.train.losses import soft_cross_entropy

    logits = torch.tensor([[0.0, 0.0], [1.0, 3.0]])
    targets = torch.tensor([0.3, 0.8])
    p = 1 / (1 + math.exp(-2.0))  # softmax P(class 1) of [1, 3]
    expected = (math.log(2) + -(0.2 * math.log(1 - p) + 0.8 * math.log(p))) / 2
    assert soft_cross_entropy(logits, targets).item() == pytest.approx(expected, rel=1e-6)
    # a soft target is kept as it is (TRL's int() cast would have made it 0)
    zero = soft_cross_entropy(logits[1:], torch.tensor([0.0])).item()
    assert soft_cross_entropy(logits[1:], torch.tensor([0.8])).item() != pytest.approx(zero)


def test_dual_bce_is_exact_and_equals_soft_ce_on_hard_labels():
    import torch

    from evolve.train.losses import dual_bce, soft_cross_entropy

    logits = torch.tensor([[0.5, -1.0], [2.0, 0.5], [-0.3, 1.7]])
    hard = torch.tensor([1.0, 0.0, 1.0])
    margins = [-1.5, -1.5, 2.0]
    expected = sum(-math.log(1 / (1 + math.exp(-m))) if y else -math.log(1 - 1 / (1 + math.exp(-m)))
                   for m, y in zip(margins, [1, 0, 1])) / 3
    assert dual_bce(logits, hard).item() == pytest.approx(expected, rel=1e-6)
    assert dual_bce(logits, hard).item() == pytest.approx(soft_cross_entropy(logits, hard).item(), rel=1e-6)


def test_class_weights_make_both_classes_weigh_half_and_keep_the_mean_weight_1():
    from evolve.train.maths import class_weights

    assert class_weights([1, 1, 1, 0]) == (2.0, pytest.approx(2 / 3))  # 4 steps: 1 wrong x 2 = 3 right x 2/3 = 2
    assert class_weights([0.5, 0.5]) == (1.0, 1.0)  # soft labels: Q right, 1 - Q wrong
    assert class_weights([1.0, 0.2, 0.2, 0.2]) == (pytest.approx(4 / 4.8), pytest.approx(4 / 3.2))
    assert class_weights([1, 1]) == (1.0, 1.0) and class_weights([0]) == (1.0, 1.0) and class_weights([]) == (1.0, 1.0)


def test_weighted_losses_are_exact_and_weights_of_1_change_nothing():
    import torch

    from evolve.train.losses import dual_bce, soft_cross_entropy

    logits = torch.tensor([[0.5, -1.0], [2.0, 0.5], [-0.3, 1.7]])
    hard = torch.tensor([1.0, 0.0, 1.0])
    sig = [1 / (1 + math.exp(-m)) for m in (-1.5, -1.5, 2.0)]
    expected = (0.75 * -math.log(sig[0]) + 1.5 * -math.log(1 - sig[1]) + 0.75 * -math.log(sig[2])) / 3
    assert dual_bce(logits, hard, (1.5, 0.75)).item() == pytest.approx(expected, rel=1e-6)
    assert soft_cross_entropy(logits, hard, (1.5, 0.75)).item() == pytest.approx(expected, rel=1e-6)
    soft = torch.tensor([0.3, 0.8, 1.0])
    assert soft_cross_entropy(logits, soft, (1.0, 1.0)).item() == soft_cross_entropy(logits, soft).item()
    logp = torch.log_softmax(logits, dim=-1)
    weighted = -(2.0 * 0.7 * logp[0, 0] + 0.5 * 0.3 * logp[0, 1]).item()
    assert soft_cross_entropy(logits[:1], soft[:1], (2.0, 0.5)).item() == pytest.approx(weighted, rel=1e-6)


class _CharTokenizer:
    """One id per character, BOS 1 added as a special token, EOS 2: positions are easy to check."""

    bos_token_id, eos_token_id, pad_token_id = 1, 2, 0
    chat_template = "x"

    def __call__(self, text, add_special_tokens=True):
        ids = [ord(c) for c in text]
        return {"input_ids": ([1] if add_special_tokens else []) + ids}

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<a>"


def test_step_labels_sit_on_the_last_separator_token():
    from evolve.prm.encoding import SEPARATOR, encode_steps

    tok = _CharTokenizer()
    enc = encode_steps(tok, "Q?", ["ab", "c"], max_length=None)
    text = "Q?" + SEPARATOR + "Step 1: ab" + SEPARATOR + "Step 2: c" + SEPARATOR
    assert enc.input_ids == [1] + [ord(c) for c in text]
    first = 1 + len("Q?" + SEPARATOR + "Step 1: ab" + SEPARATOR) - 1
    assert enc.positions == [first, len(enc.input_ids) - 1]
    assert all(enc.input_ids[p] == ord(SEPARATOR[-1]) for p in enc.positions)
    # cut from the end: a step whose label would not fit is dropped whole
    assert encode_steps(tok, "Q?", ["ab", "c"], max_length=len(enc.input_ids) - 1).positions == [first]
    assert encode_steps(tok, "Q?", ["ab", "c"], max_length=3).steps == 0


def test_policy_loss_only_on_completion_and_eos():
    from evolve.train.tokenise import encode_policy_row

    tok = _CharTokenizer()
    row = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}], "prefix": "P",
           "completion": "xy"}
    example = encode_policy_row(tok, row, max_length=64)
    prompt = [1] + [ord(c) for c in "<system>s<user>u<a>P"]
    assert example.input_ids == prompt + [ord("x"), ord("y"), 2]
    assert example.labels == [-100] * len(prompt) + [ord("x"), ord("y"), 2]
    cut = encode_policy_row(tok, row, max_length=len(prompt) + 1)
    assert cut.labels[-1] == ord("x") and len(cut.input_ids) == len(prompt) + 1
    assert encode_policy_row(tok, row, max_length=len(prompt)) is None


def test_no_double_bos_when_the_template_writes_it():
    from evolve.backends.hf_text import encode_prompt

    class BosText(_CharTokenizer):
        def __call__(self, text, add_special_tokens=True):
            ids = [1 if c == "^" else ord(c) for c in text]
            return {"input_ids": ([1] if add_special_tokens else []) + ids}

    assert encode_prompt(BosText(), "^hi") == [1, ord("h"), ord("i")]


def test_sample_indices_is_seeded_ordered_and_capped():
    assert sample_indices(5, None, 0) == [0, 1, 2, 3, 4] and sample_indices(3, 10, 0) == [0, 1, 2]
    picked = sample_indices(100, 10, seed=7)
    assert len(picked) == 10 == len(set(picked)) and picked == sorted(picked) == sample_indices(100, 10, seed=7)
    assert picked != sample_indices(100, 10, seed=8)
