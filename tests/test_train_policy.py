"""Policy LoRA SFT on the tiny model: what changes, what must not, where it loads, how it resumes."""

from __future__ import annotations

import json

import pytest

from evolve.config import PolicyConfig
from evolve.errors import ConfigError, ModelSpecError, TrainingError
from evolve.train.policy import train_policy

LORA = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.1, "target_modules": "all-linear"}


def policy_rows(count: int = 6) -> list[dict]:
    return [
        {
            "question_id": f"q{i}", "messages": [{"role": "system", "content": "You answer medical questions."},
                                                 {"role": "user", "content": f"What lowers glucose {i}?"}],
            "prefix": "Step 0: Read the question.\n\nStep 1:", "completion": f" insulin lowers glucose by {i} units.",
            "min_value": 0.5, "answer": "A",
        }
        for i in range(count)
    ]


def config(**changes) -> PolicyConfig:
    values = {"lora": LORA, "epochs": 2, "batch_size": 2, "checkpoint_every": 2, "learning_rate": 1e-3}
    return PolicyConfig(**{**values, **changes})


def load_adapter(folder) -> dict:
    from safetensors.torch import load_file

    return load_file(f"{folder}/adapter_model.safetensors")


def test_training_changes_lora_only_and_loads_in_the_hf_backend(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    from evolve.backends import GenerationRequest, load_generator

    result = train_policy(policy_rows(), base_dir=tiny_model_dir, out_dir=tmp_path / "run", config=config(merge=True))
    assert result.finished and result.steps == 6 and len(result.losses) == 6 and result.examples == 6
    assert result.resumed_from is None and result.tokens > 0 and result.seconds > 0
    adapter = load_adapter(result.adapter_dir)
    assert adapter and all("lora_" in key for key in adapter)
    assert all(value.abs().sum() > 0 for key, value in adapter.items() if "lora_B" in key)  # B starts at zero
    # what LoRA does not touch (embeddings, norms, head) is bit-identical in the merged model
    base, merged = load_file(f"{tiny_model_dir}/model.safetensors"), load_file(f"{result.merged_dir}/model.safetensors")
    untouched = [k for k in base if "proj" not in k]
    assert untouched and all(base[k].equal(merged[k]) for k in untouched)
    assert any(not base[k].equal(merged[k]) for k in base if "proj" in k)

    request = GenerationRequest("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", max_new_tokens=8,
                                temperature=0)
    with_lora = load_generator(str(tiny_model_dir), lora=result.adapter_dir).generate([request])[0][0].text
    from_merged = load_generator(str(result.merged_dir)).generate([request])[0][0].text
    assert with_lora == from_merged


def test_loop_leaves_every_base_parameter_bit_identical(tiny_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from evolve.backends.hf_loading import load_tokenizer, torch_threads
    from evolve.train.loop import run_loop
    from evolve.train.models import lora_config, wrap_lora
    from evolve.train.policy import _causal_loss, _collate, _encode

    torch.manual_seed(0)
    model = wrap_lora(AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)),
                      lora_config(LORA, task_type="CAUSAL_LM", where="test"), where="test")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    examples, _ = _encode(load_tokenizer(tiny_model_dir), policy_rows(4), 256)
    with torch_threads(None, model):
        outcome = run_loop(model, examples, _collate(0), _causal_loss, config=config(epochs=1), out_dir=tmp_path,
                           fingerprint="x")
    assert outcome.finished and outcome.steps == 2
    after = dict(model.named_parameters())
    lora = [n for n in before if "lora_" in n]
    assert lora and all(not before[n].equal(after[n]) for n in lora if "lora_B" in n)
    assert all(before[n].equal(after[n]) for n in before if "lora_" not in n)


def test_resume_after_a_stop_ends_where_an_uninterrupted_run_ends(tiny_model_dir, tmp_path):
    rows = policy_rows()
    whole = train_policy(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "whole", config=config())
    part = train_policy(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "cut", config=config(),
                        stop_after=3)
    assert not part.finished and part.adapter_dir is None and part.steps == 3
    assert not (tmp_path / "cut" / "done.json").exists()
    resumed = train_policy(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "cut", config=config())
    assert resumed.resumed_from == 3 and resumed.steps == 6
    assert resumed.losses == whole.losses
    a, b = load_adapter(whole.adapter_dir), load_adapter(resumed.adapter_dir)
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    # a finished folder answers at once with the saved result
    again = train_policy(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "cut", config=config())
    assert again == resumed
    # ... and from where it lies now, once the run folder has moved
    (tmp_path / "cut").rename(tmp_path / "moved")
    moved = train_policy(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "moved", config=config())
    assert moved.adapter_dir == str(tmp_path / "moved" / "adapter") and moved.losses == resumed.losses


def test_continuing_from_a_previous_adapter(tiny_model_dir, tmp_path):
    first = train_policy(policy_rows(), base_dir=tiny_model_dir, out_dir=tmp_path / "r1", config=config(epochs=1))
    second = train_policy(policy_rows(), base_dir=tiny_model_dir, out_dir=tmp_path / "r2",
                          config=config(epochs=1, from_base=False), init_adapter=first.adapter_dir)
    a, b = load_adapter(first.adapter_dir), load_adapter(second.adapter_dir)
    assert a.keys() == b.keys() and any(not a[k].equal(b[k]) for k in a)
    with pytest.raises(ModelSpecError, match="not a PEFT LoRA adapter"):
        train_policy(policy_rows(), base_dir=tiny_model_dir, out_dir=tmp_path / "r3", config=config(from_base=False),
                     init_adapter=tmp_path)
    # a cold start: each round fine-tunes from that adapter (from_base) rather than from the bare model
    from_start = train_policy(policy_rows(), base_dir=tiny_model_dir, out_dir=tmp_path / "r4", config=config(epochs=1),
                              init_adapter=first.adapter_dir)
    assert any(not a[k].equal(load_adapter(from_start.adapter_dir)[k]) for k in a)


def test_bad_input_fails_before_any_work(tiny_model_dir, tiny_model_dir_no_template, tmp_path):
    with pytest.raises(ModelSpecError, match="no chat template") as err:
        train_policy(policy_rows(), base_dir=tiny_model_dir_no_template, out_dir=tmp_path / "a", config=config())
    assert "\n" not in err.value.one_line() and not (tmp_path / "a").exists()
    with pytest.raises(TrainingError, match="no policy rows"):
        train_policy([], base_dir=tiny_model_dir, out_dir=tmp_path / "b", config=config())
    with pytest.raises(ConfigError) as err:
        train_policy(policy_rows(), base_dir=tiny_model_dir, out_dir=tmp_path / "c",
                     config=config(lora={"r": 4, "rank_typo": 3}))
    assert err.value.where == "policy.lora"
    with pytest.raises(TrainingError, match="lacks text field"):
        train_policy([{"messages": "s"}], base_dir=tiny_model_dir, out_dir=tmp_path / "d", config=config())


def test_a_folder_holding_another_run_is_not_resumed(tiny_model_dir, tmp_path):
    events = []
    train_policy(policy_rows(), base_dir=tiny_model_dir, out_dir=tmp_path, config=config(), events=events.append,
                 stop_after=1)
    # progress after the start and after the one step taken, with its loss
    assert [(e.task, e.done, e.total) for e in events] == [("policy", 0, 6), ("policy", 1, 6)]
    assert "loss" in events[1].info and "loss" not in events[0].info
    with pytest.raises(TrainingError, match="other data, settings") as err:
        train_policy(policy_rows(3), base_dir=tiny_model_dir, out_dir=tmp_path, config=config())
    assert err.value.where == str(tmp_path)
    json.loads((tmp_path / "checkpoints" / "step-0000001" / "state.json").read_text())
    # how often checkpoints are written is no reason to refuse a resume
    resumed = train_policy(policy_rows(), base_dir=tiny_model_dir, out_dir=tmp_path, config=config(checkpoint_every=5))
    assert resumed.resumed_from == 1 and resumed.finished
