"""Fixtures shared by the whole suite: a tiny, locally built model (never downloaded).

`tiny_model_dir` is a 2-layer Llama with random weights and a byte-level BPE tokenizer trained in
memory, saved with a ChatML chat template. Its text is gibberish, but it exercises every code path
of a real Hugging Face model folder in well under a second per use.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

# Ray's token authentication is for real clusters; the local clusters the tests start need none
# (the variable also reaches the `evolve` subprocesses the tests run).
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

TINY_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _training_lines(count: int = 400) -> list[str]:
    """Deterministic sentences in the shape of the project's prompts (questions, steps, answers)."""
    rng = random.Random(0)
    subjects = ["the patient", "a doctor", "the heart", "insulin", "the kidney", "a fever", "blood", "the lung"]
    verbs = ["raises", "lowers", "causes", "treats", "prevents", "needs", "shows", "reduces"]
    objects = ["pressure", "glucose", "pain", "infection", "oxygen", "the dose", "sodium", "the rate"]
    lines = []
    for index in range(count):
        sentence = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}"
        lines.append(
            f"Step {index % 7 + 1}: {sentence} by {rng.randint(0, 999)} units. "
            f"Question: what {rng.choice(verbs)} {rng.choice(objects)}? The answer is ({'ABCD'[index % 4]})."
        )
    return lines


def build_tiny_model(folder: Path, *, chat_template: bool = True, seed: int = 0) -> Path:
    """Write a tiny random Llama + locally trained tokenizer into `folder` and return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=384,
        special_tokens=TINY_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_training_lines(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    if chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        # The default init (std 0.02) gives near-uniform logits whose argmax flips on rounding noise
        # and text that repeats one token. Wider weights give clear-cut, context-dependent choices,
        # so exact-text tests are meaningful and stop strings have varied text to match.
        for name, parameter in model.named_parameters():
            if "norm" not in name:
                parameter.normal_(0.0, 1.0 if "embed_tokens" in name else 0.3)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama-architecture model folder with a ChatML chat template (eos <|im_end|>)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")


@pytest.fixture(scope="session")
def tiny_model_dir_no_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny model, but its tokenizer has no chat template."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model-raw") / "model", chat_template=False)


ANSWER_TARGETS = [f" So the answer is {letter}." for letter in "ABCD"]


def build_answering_model(folder: Path, *, questions: int = 8, steps: int = 120) -> Path:
    """The tiny model, fully fine-tuned for a few seconds to answer medqa search prompts with
    "... The answer is X." for a letter it picks at random: sampled searches then find both correct
    and incorrect trajectories, which is what a real round needs, in a model built in seconds."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from domains import load_domain
    from evolve.reasoner.steps import STEP_ZERO, serialise_steps, task_messages

    build_tiny_model(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    domain = load_domain("medqa")
    prompts = [tokenizer.apply_chat_template(task_messages(domain, q), tokenize=False, add_generation_prompt=True)
               + serialise_steps([STEP_ZERO]) for q in domain.load_split("search", limit=questions)]
    examples = []
    for prompt in prompts:
        for target in ANSWER_TARGETS:
            prompt_ids = tokenizer(prompt)["input_ids"]
            target_ids = tokenizer(target)["input_ids"] + [tokenizer.eos_token_id]
            examples.append((prompt_ids + target_ids, [-100] * len(prompt_ids) + target_ids))
    torch.manual_seed(0)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small only loses to thread hand-offs, badly so on a busy machine
    for step in range(steps):
        batch = [examples[(step * 4 + i) % len(examples)] for i in range(4)]
        width = max(len(ids) for ids, _ in batch)
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch])
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch])
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    torch.set_num_threads(threads)
    model.eval()
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def answering_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model that answers medqa search prompts with a random letter (see build_answering_model)."""
    return build_answering_model(tmp_path_factory.mktemp("answering-model") / "model")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private EVOLVE_HOME: user domains and runs never touch ~/.evolve."""
    monkeypatch.setenv("EVOLVE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
