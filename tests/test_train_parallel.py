"""Data-parallel training on CPU: 2 processes (torchrun, gloo) end where one process ends with the same
global batch, and rank 0's adapter loads and answers."""

from __future__ import annotations

import json
import shutil

import pytest

from evolve.config import PolicyConfig, PRMConfig
from evolve.train.parallel import launch, shard
from evolve.train.policy import train_policy
from evolve.train.prm import train_prm
from tests.test_train_policy import policy_rows
from tests.test_train_prm import prm_rows

# No dropout: with it the two runs would draw different masks, and only the rounding should differ.
LORA = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": "all-linear"}
TOLERANCE = 1e-4  # per-step loss, float32 sums taken in another order


def test_shards_cover_each_micro_batch_once():
    batch = [7, 3, 9, 1, 4]
    parts = [shard(batch, rank, 2) for rank in range(2)]
    assert parts == [[7, 9, 4], [3, 1]] and sorted(sum(parts, [])) == sorted(batch)
    assert shard([5], 1, 2) == []  # a rank may get nothing; its gradient counts as zero


def read_result(out):
    return json.loads((out / "done.json").read_text())["result"]


def test_two_process_policy_training_matches_one_process(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    from evolve.backends import GenerationRequest, load_generator

    # rows of different lengths, so that the token weighting of the shards matters
    rows = [{**row, "completion": row["completion"] * (1 + i % 3)} for i, row in enumerate(policy_rows(8))]
    cfg = PolicyConfig(lora=LORA, epochs=2, batch_size=4, learning_rate=1e-3, checkpoint_every=2)
    single = train_policy(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "one", config=cfg, threads=1)
    launch("policy", rows, {"base_dir": str(tiny_model_dir), "config": cfg.model_dump(mode="json"), "threads": 1},
           tmp_path / "two", 2)
    double = read_result(tmp_path / "two")
    assert double["steps"] == single.steps == 4
    assert max(abs(a - b) for a, b in zip(double["losses"], single.losses)) < TOLERANCE
    assert single.losses[-1] < single.losses[0]  # it learned, so the comparison is not of two no-ops
    one, two = load_file(f"{single.adapter_dir}/adapter_model.safetensors"), load_file(
        f"{double['adapter_dir']}/adapter_model.safetensors")
    assert set(one) == set(two) and all((one[k] - two[k]).abs().max() < 1e-4 for k in one)
    # the same call in this process now finds the finished run (how `evolve run` picks it up)
    again = train_policy(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "two", config=cfg, threads=1)
    assert again.losses == double["losses"]
    request = GenerationRequest("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", max_new_tokens=6,
                                temperature=0)
    answer = load_generator(str(tiny_model_dir), lora=double["adapter_dir"]).generate([request])[0][0]
    assert answer.num_tokens > 0


def test_two_process_prm_training_matches_one_process(tiny_model_dir, tmp_path):
    # the token-classification head has its own dropout (0.1 by default); off, as for LoRA above
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    settings = json.loads((base / "config.json").read_text())
    (base / "config.json").write_text(json.dumps({**settings, "classifier_dropout": 0.0}))
    tiny_model_dir = base
    rows = prm_rows()
    cfg = PRMConfig(lora=LORA, epochs=2, batch_size=4, learning_rate=3e-3, checkpoint_every=4, holdout=0.2,
                    warmup_ratio=0.0)
    single = train_prm(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "one", config=cfg, threads=1)
    launch("prm", rows, {"base_dir": str(tiny_model_dir), "config": cfg.model_dump(mode="json"), "threads": 1},
           tmp_path / "two", 2)
    double = read_result(tmp_path / "two")
    assert double["steps"] == single.steps
    assert max(abs(a - b) for a, b in zip(double["losses"], single.losses)) < TOLERANCE
    assert double["metrics"]["auc"] == pytest.approx(single.metrics["auc"], abs=1e-3)
