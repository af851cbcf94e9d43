"""The vLLM backend.

The pure helpers are tested everywhere. The engine tests need vLLM (`make test-vllm` builds a venv
with the CPU build) and skip without it; they load the embedded SmolLM2-135M once per module.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from evolve.backends.base import Completion, GenerationRequest, Generator
from evolve.backends.vllm_backend import (
    VLLMGenerator,
    finish_reason_of,
    lora_rank_slot,
    platform_engine_settings,
    samples_to_draw,
    stale_gguf_overrides,
)
from evolve.errors import BackendError, MissingExtraError, ModelSpecError

EMBEDDED = "smollm2-135m-instruct"


# ---------------------------------------------------------------- pure helpers (no vLLM needed)


def test_finish_reason_maps_vllm_reasons():
    assert finish_reason_of("length", None) == "length"
    assert finish_reason_of("stop", None) == "eos"  # the tokenizer's EOS
    assert finish_reason_of("stop", 2) == "eos"  # a generation-config stop token id
    assert finish_reason_of("stop", ".") == "stop"  # a stop string
    assert finish_reason_of("stop", "") == "stop"


def test_finish_reason_abort_is_a_backend_error():
    with pytest.raises(BackendError, match="'abort'"):
        finish_reason_of("abort", None)


def test_greedy_requests_draw_one_sample():
    # vLLM rejects n > 1 when greedy; the backend draws one and repeats it.
    assert samples_to_draw(GenerationRequest("p", n=4, temperature=0.0)) == 1
    assert samples_to_draw(GenerationRequest("p", n=4, temperature=1e-6)) == 1
    assert samples_to_draw(GenerationRequest("p", n=4, temperature=0.7)) == 4
    assert samples_to_draw(GenerationRequest("p", n=1, temperature=0.7)) == 1


def test_lora_rank_slot_rounds_up_to_a_vllm_rank():
    assert [lora_rank_slot(r) for r in (1, 2, 8, 9, 16, 17, 64, 512)] == [1, 8, 8, 16, 16, 32, 64, 512]
    with pytest.raises(ModelSpecError, match="513"):
        lora_rank_slot(513)


def test_cpu_engines_run_eager_and_in_fp32_without_native_bf16():
    def settings(dtype: str, on_cpu: bool = True, machine: str = "x86_64", native_bf16: bool = False) -> dict:
        return platform_engine_settings(dtype, on_cpu=on_cpu, machine=machine, native_bf16=native_bf16)

    assert settings("auto") == {"dtype": "float32", "enforce_eager": True}
    assert settings("auto", native_bf16=True) == {"dtype": "auto", "enforce_eager": True}
    assert settings("auto", machine="aarch64") == {"dtype": "auto", "enforce_eager": True}
    assert settings("bfloat16") == {"dtype": "bfloat16", "enforce_eager": True}
    assert settings("auto", on_cpu=False) == {"dtype": "auto"}


def _write_config(folder: Path, config: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_stale_gguf_overrides_drops_the_marker_of_a_converted_folder(tmp_path):
    converted = _write_config(tmp_path / "m", {"quantization_config": {"quant_method": "gguf"}})
    assert stale_gguf_overrides(str(converted)) == {"quantization_config": None}


def test_stale_gguf_overrides_leaves_other_folders_alone(tmp_path):
    real_gguf = _write_config(tmp_path / "g", {"quantization_config": {"quant_method": "gguf"}})
    (real_gguf / "model.gguf").write_bytes(b"GGUF")
    awq = _write_config(tmp_path / "a", {"quantization_config": {"quant_method": "awq"}})
    plain = _write_config(tmp_path / "p", {"model_type": "llama"})
    broken = tmp_path / "b"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    assert [stale_gguf_overrides(str(f)) for f in (real_gguf, awq, plain, broken)] == [{}, {}, {}, {}]
    assert stale_gguf_overrides("HuggingFaceTB/SmolLM2-135M-Instruct") == {}


def test_missing_local_model_is_a_spec_error(tmp_path):
    pytest.importorskip("vllm")
    with pytest.raises(ModelSpecError, match="model folder not found"):
        VLLMGenerator(str(tmp_path / "absent"))


def test_missing_vllm_raises_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(MissingExtraError) as caught:
        VLLMGenerator("any-model")
    assert caught.value.extra == "vllm"
    assert "pip install '.[vllm]'" in caught.value.one_line()


# ---------------------------------------------------------------- the engine (needs vLLM)

CAPITAL = "The capital of France is"


def _engine_env() -> None:
    # What .ci/test-vllm sets, for runs that call pytest directly.
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")


@pytest.fixture(scope="module")
def model_dir() -> Path:
    pytest.importorskip("vllm")
    from evolve.backends.embedded import ensure_embedded

    try:
        return ensure_embedded(EMBEDDED)
    except ModelSpecError as exc:
        pytest.skip(exc.one_line())


def _generator(model_dir: Path, **kwargs) -> VLLMGenerator:
    _engine_env()
    return VLLMGenerator(str(model_dir), seed=0, max_model_len=1024, **kwargs)


@pytest.fixture(scope="module")
def generator(model_dir):
    gen = _generator(model_dir)
    yield gen
    gen.close()


def _texts(completions: list[Completion]) -> list[str]:
    return [c.text for c in completions]


@pytest.mark.vllm
def test_is_a_generator_with_unbounded_n(generator, model_dir):
    assert isinstance(generator, Generator)
    assert generator.max_n is None
    assert generator.name == f"vllm:{model_dir}"


@pytest.mark.vllm
def test_render_chat_ends_where_the_assistant_begins(generator):
    prompt = generator.render_chat([{"role": "user", "content": "What is 2+2?"}])
    assert "<|im_start|>user\nWhat is 2+2?<|im_end|>\n" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


@pytest.mark.vllm
def test_batch_with_n_returns_n_completions_per_request(generator):
    before = (generator.stats.calls, generator.stats.completions, generator.stats.generated_tokens)
    prompts = [generator.render_chat([{"role": "user", "content": q}]) for q in ("Name a colour.", "Say hi.")]
    requests = [
        GenerationRequest(prompts[0], n=3, max_new_tokens=16, temperature=0.8, seed=1),
        GenerationRequest(prompts[1], n=2, max_new_tokens=16, temperature=0.8, seed=2),
        GenerationRequest(CAPITAL, n=1, max_new_tokens=16, temperature=0.8, seed=3),
    ]
    results = generator.generate(requests)
    assert [len(r) for r in results] == [3, 2, 1]
    for completions in results:
        for completion in completions:
            assert 0 < completion.num_tokens <= 16
            assert completion.finish_reason in ("eos", "length")
    tokens = sum(c.num_tokens for r in results for c in r)
    assert generator.stats.calls == before[0] + 1
    assert generator.stats.completions == before[1] + 6
    assert generator.stats.generated_tokens == before[2] + tokens
    assert generator.generate([]) == []


@pytest.mark.vllm
def test_stop_string_is_excluded_and_reported(generator):
    [[completion]] = generator.generate([GenerationRequest(CAPITAL, max_new_tokens=16, temperature=0.0, stop=(".",))])
    assert completion.text == " Paris"
    assert completion.finish_reason == "stop"
    # The token holding the stop string was generated, so it counts, though its text is cut.
    assert completion.num_tokens == 2


@pytest.mark.vllm
def test_length_and_eos_finish_reasons(generator):
    chat = generator.render_chat([{"role": "user", "content": "Reply with one word: yes or no?"}])
    short, long = generator.generate(
        [
            GenerationRequest(CAPITAL, max_new_tokens=3, temperature=0.0),
            GenerationRequest(chat, max_new_tokens=64, temperature=0.0),
        ]
    )
    assert (short[0].finish_reason, short[0].num_tokens) == ("length", 3)
    assert long[0].finish_reason == "eos"
    assert "<|im_end|>" not in long[0].text


@pytest.mark.vllm
def test_greedy_is_deterministic_across_calls(generator):
    request = GenerationRequest(CAPITAL, n=2, max_new_tokens=24, temperature=0.0)
    tokens_before = generator.stats.generated_tokens
    [completions] = generator.generate([request])
    # vLLM refuses n > 1 when greedy: one sample is drawn (and counted), then repeated.
    assert generator.stats.generated_tokens - tokens_before == completions[0].num_tokens
    first = _texts(completions)
    second = _texts(generator.generate([request])[0])
    assert len(first) == 2
    assert first == second
    assert first[0] == first[1]


@pytest.mark.vllm
def test_invalid_sampling_settings_are_a_backend_error(generator):
    good = GenerationRequest(CAPITAL, max_new_tokens=4)
    with pytest.raises(BackendError, match="top_p") as caught:
        generator.generate([good, GenerationRequest(CAPITAL, top_p=0.0)])
    assert caught.value.where == "requests[1]"


@pytest.mark.vllm
def test_seeded_sampling_is_reproducible(generator):
    seeded = GenerationRequest(CAPITAL, n=3, max_new_tokens=24, temperature=1.0, seed=123)
    first = _texts(generator.generate([seeded])[0])
    second = _texts(generator.generate([seeded])[0])
    other_seed = _texts(generator.generate([GenerationRequest(CAPITAL, n=3, max_new_tokens=24, temperature=1.0, seed=7)])[0])
    assert first == second
    assert len(set(first)) > 1  # the n samples are drawn, not copied
    assert other_seed != first


@pytest.fixture(scope="module")
def random_lora(model_dir, tmp_path_factory) -> Path:
    """A rank-4 LoRA on q/v with random (non-zero) B, so it visibly changes the output."""
    peft = pytest.importorskip("peft")
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    config = peft.LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    adapter = tmp_path_factory.mktemp("lora") / "random-lora"
    peft.get_peft_model(base, config).save_pretrained(str(adapter))
    return adapter


@pytest.mark.vllm
def test_lora_adapter_loads_and_changes_greedy_output(model_dir, random_lora, generator):
    request = GenerationRequest(CAPITAL, max_new_tokens=12, temperature=0.0)
    [[base]] = generator.generate([request])
    with_lora = _generator(model_dir, lora=str(random_lora))
    try:
        assert with_lora.name.endswith(f"+lora:{random_lora}")
        [[adapted]] = with_lora.generate([request])
        [[again]] = with_lora.generate([request])
    finally:
        with_lora.close()
    with pytest.raises(BackendError, match="was closed"):
        with_lora.generate([request])
    assert adapted.num_tokens > 0
    assert adapted.text == again.text
    assert adapted.text != base.text


@pytest.mark.vllm
def test_lora_folder_without_adapter_config_is_a_spec_error(model_dir, tmp_path):
    with pytest.raises(ModelSpecError, match="adapter_config.json"):
        _generator(model_dir, lora=str(tmp_path))


@pytest.fixture(scope="module")
def trained_policy(model_dir, tmp_path_factory) -> tuple[Path, str]:
    """A policy adapter from our own trainer (all-linear LoRA, as `evolve run` writes it), taught to
    answer one prompt with a word the base model never says there."""
    from transformers import AutoTokenizer

    from evolve.config import PolicyConfig
    from evolve.train.policy import train_policy
    from evolve.train.tokenise import render_prompt

    row = {"question_id": "q", "messages": [{"role": "system", "content": "You answer questions."},
                                            {"role": "user", "content": "Name a fruit."}],
           "prefix": "Step 0: Read the question.\n\nStep 1:", "completion": " Zucchini bananas zucchini.",
           "min_value": 1.0, "answer": ""}
    config = PolicyConfig(lora={"r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": "all-linear"},
                          epochs=12, batch_size=2, learning_rate=3e-3, checkpoint_every=100)
    result = train_policy([row, row], base_dir=model_dir, out_dir=tmp_path_factory.mktemp("policy"),
                          config=config)
    prompt = render_prompt(AutoTokenizer.from_pretrained(str(model_dir)), row["messages"]) + row["prefix"]
    return Path(result.adapter_dir), prompt


@pytest.mark.vllm
def test_policy_adapter_from_our_trainer_is_served_by_vllm(model_dir, trained_policy, generator):
    adapter, prompt = trained_policy
    request = GenerationRequest(prompt, max_new_tokens=8, temperature=0.0)
    [[base]] = generator.generate([request])
    served = _generator(model_dir, lora=str(adapter))
    try:
        [[adapted]] = served.generate([request])
    finally:
        served.close()
    assert "Zucchini" not in base.text
    assert adapted.text.startswith(" Zucchini bananas")
