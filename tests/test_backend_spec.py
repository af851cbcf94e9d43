"""Model spec parsing and `load_generator` dispatch, including every user-facing failure."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evolve.backends import load_generator
from evolve.backends.base import GenerationRequest
from evolve.backends.spec import ModelSpec, parse_model_spec, resolve_local_model
from evolve.errors import MissingExtraError, ModelSpecError

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("embedded:smollm2-135m-instruct", ModelSpec("embedded", "smollm2-135m-instruct")),
        ("/models/x", ModelSpec("hf", "/models/x")),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", ModelSpec("hf", "HuggingFaceTB/SmolLM2-135M-Instruct")),
        ("hf:./local", ModelSpec("hf", "./local")),
        ("vllm:Qwen/Qwen2.5-0.5B", ModelSpec("vllm", "Qwen/Qwen2.5-0.5B")),
        ("vllm:embedded:smollm2-135m-instruct", ModelSpec("vllm", "embedded:smollm2-135m-instruct")),
        ("openai:http://127.0.0.1:8000/v1/#qwen", ModelSpec("openai", "http://127.0.0.1:8000/v1", "qwen")),
    ],
)
def test_parse_model_spec(spec, expected):
    assert parse_model_spec(spec) == expected


def test_openai_model_may_come_from_the_option():
    parsed = parse_model_spec("openai:https://api.example.com/v1", openai_model="m")
    assert parsed == ModelSpec("openai", "https://api.example.com/v1", "m")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("ollama:llama3", "unknown model scheme 'ollama:'"),
        ("embedded:", "needs a model name"),
        ("openai:http://127.0.0.1:8000/v1", "needs the served model's name"),
        ("openai:localhost:8000#m", r"not an http\(s\) URL"),
        ("http://127.0.0.1:8000/v1", "bare URL"),
    ],
)
def test_parse_errors_say_what_to_write(spec, message):
    with pytest.raises(ModelSpecError, match=message) as caught:
        parse_model_spec(spec, openai_model=None)
    assert caught.value.fix


def test_missing_folder_names_the_path_and_the_fix(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ModelSpecError) as caught:
        load_generator(str(missing))
    assert str(missing) in caught.value.one_line()
    assert "does not exist" in caught.value.message and caught.value.fix


def test_a_file_or_a_folder_without_config_is_refused(tmp_path):
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF")
    with pytest.raises(ModelSpecError, match="is a file"):
        resolve_local_model(str(weights))
    with pytest.raises(ModelSpecError, match="no readable config.json"):
        resolve_local_model(str(tmp_path))


def test_unknown_embedded_name_lists_the_known_ones():
    with pytest.raises(ModelSpecError, match="unknown embedded model") as caught:
        load_generator("embedded:gpt-5")
    assert "embedded:smollm2-135m-instruct" in caught.value.fix


def test_hub_id_offline_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    started = time.perf_counter()
    with pytest.raises(ModelSpecError, match="HF_HUB_OFFLINE"):
        resolve_local_model("some-org/some-model")
    assert time.perf_counter() - started < 5


def test_hub_id_with_unreachable_hub_fails_fast(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused at once
    started = time.perf_counter()
    with pytest.raises(ModelSpecError, match="cannot be reached"):
        resolve_local_model("some-org/some-model", connect_timeout_s=1.0)
    assert time.perf_counter() - started < 5


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_without_the_extra_says_how_to_install():
    with pytest.raises(MissingExtraError) as caught:
        load_generator("vllm:some/model")
    assert caught.value.fix == "install it with: pip install '.[vllm]'"


def test_openai_spec_builds_the_http_backend_without_connecting():
    generator = load_generator("openai:http://127.0.0.1:9/v1#tiny", max_retries=0)
    assert (generator.base_url, generator.model, generator.max_n) == ("http://127.0.0.1:9/v1", "tiny", None)
    with pytest.raises(ModelSpecError, match="LoRA"):
        load_generator("openai:http://127.0.0.1:9/v1#tiny", lora="/adapter")


def test_local_folder_loads_the_transformers_backend(tiny_model_dir):
    generator = load_generator(str(tiny_model_dir), threads=1, max_batch_size=4)
    assert generator.name == str(tiny_model_dir) and generator.max_batch_size == 4
    [[completion]] = generator.generate([GenerationRequest("Step 1", max_new_tokens=3, temperature=0)])
    assert completion.num_tokens == 3
    hf_prefixed = load_generator(f"hf:{tiny_model_dir}", threads=1)
    assert hf_prefixed.generate([GenerationRequest("Step 1", max_new_tokens=3, temperature=0)]) == [[completion]]


def test_importing_the_package_does_not_import_torch():
    code = (
        "import sys, evolve.backends, evolve.backends.spec, evolve.backends.scripted; "
        "heavy = [m for m in ('torch', 'transformers', 'httpx', 'vllm') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""
