"""GRPO (TRL's GRPOTrainer) on the tiny model: rewards, refusals, what training changes, kill -9 and
resume, and a `policy.method=grpo` round."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import typing
from pathlib import Path

import pytest

pytest.importorskip("trl")

from domains import Question, load_domain  # noqa: E402
from evolve.config import PolicyConfig, RewardName  # noqa: E402
from evolve.errors import ConfigError  # noqa: E402
from evolve.train.grpo import check_grpo, generated_tokens, rolling_mean, train_grpo  # noqa: E402
from evolve.train.rewards import REWARDS, format_score, prm_score, reward_functions, verifier_score  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LORA = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": "all-linear"}
DOSE = Question(id="d1", question="What is the dose?", answer="500")
MCQ = Question(id="m1", question="Largest planet?", answer="B", options={"A": "Mars", "B": "Jupiter"})


def test_the_reward_table_is_the_configs():
    assert list(REWARDS) == list(typing.get_args(RewardName))


@pytest.mark.parametrize("text, verifier, fmt", [
    (" 50 x 10 = 500 mg.\n\nStep 2: The answer is 500.", 1.0, 1.0),
    (" 50 x 10 = 500 mg.\n\nStep 2: The answer is 500. Then more text", 1.0, 0.75),  # did not stop
    (" 50 x 10 = 500 mg.\n\nStep 3: The answer is 500.", 1.0, 0.75),  # skipped step 2
    (" The answer is 450.", 0.0, 1.0),  # well formed, wrong
    (" The answer is twelve.\n", 0.0, 0.5),  # no number to read: only headers and stopping count
    (" 50 x 10 = 500 mg.", 0.0, 0.0),  # no answer sentence at all
])
def test_numeric_rewards_are_exact(text, verifier, fmt):
    domain = load_domain("medcalc")
    assert verifier_score(text, DOSE, domain) == verifier
    assert format_score(text, DOSE, domain) == fmt


def test_mcq_rewards_read_letters_and_option_text():
    domain = load_domain("science")
    assert verifier_score(" Jupiter is largest.\n\nStep 2: The answer is B.", MCQ, domain) == 1.0
    assert verifier_score(" The answer is Jupiter.", MCQ, domain) == 1.0
    assert verifier_score(" The answer is A.", MCQ, domain) == 0.0


class StepScorer:
    def score(self, question, trajectories):
        return [[0.2 + 0.3 * i for i, _ in enumerate(t)] for t in trajectories]


def test_prm_reward_is_the_mean_or_min_step_score():
    domain = load_domain("medcalc")
    text = " 50 x 10 = 500 mg.\n\nStep 2: The answer is 500."
    assert prm_score(text, DOSE, domain, StepScorer(), "mean") == pytest.approx(0.35)
    assert prm_score(text, DOSE, domain, StepScorer(), "min") == pytest.approx(0.2)
    assert prm_score("", DOSE, domain, StepScorer()) == 0.0


def test_the_training_curve_is_smoothed_by_a_rolling_mean_of_the_last_steps():
    assert rolling_mean([1.0, 0.0, 0.5, 1.0, 0.0], 2) == [1.0, 0.5, 0.25, 0.75, 0.5]
    assert rolling_mean([1.0, 0.0, 0.5], 3) == [1.0, 0.5, 0.5]  # the first points average what there is
    assert rolling_mean([0.2, 0.4], 1) == [0.2, 0.4] and rolling_mean([], 5) == []


def test_reward_functions_keep_the_weighted_ones_and_count_tokens():
    domain = load_domain("medcalc")
    seen = []
    funcs, weights = reward_functions(domain, [DOSE], {"verifier": 1.0, "format": 0.2, "prm": 0.0},
                                      on_tokens=seen.append)
    assert [f.__name__ for f in funcs] == ["verifier", "format"] and weights == [1.0, 0.2]
    out = funcs[0](prompts=["p", "p"], completions=[" The answer is 500.", " The answer is 4."],
                   question_id=["d1", "d1"], completion_ids=[[1, 2, 3], [4, 5]])
    assert out == [1.0, 0.0] and seen == [5]


def config(**changes) -> PolicyConfig:
    values = {"method": "grpo", "lora": LORA, "batch_size": 4, "checkpoint_every": 2, "learning_rate": 1e-3,
              "grpo": {"num_generations": 2, "max_completion_length": 32, "max_steps": 4}}
    return PolicyConfig(**{**values, **changes})


@pytest.mark.parametrize("changes, where", [
    ({"grpo": {"num_generation": 4}}, "policy.grpo.num_generation"),  # a typo: did you mean
    ({"grpo": {"num_generations": 1}}, "policy.grpo.num_generations"),
    ({"grpo": {"learning_rate": 1e-5}}, "policy.grpo.learning_rate"),  # owned by the policy section
    ({"rewards": {"prm": 0.5}}, "policy.reward_prm"),  # the PRM reward without a PRM
    ({"batch_size": 3}, "policy.batch_size"),  # 3 completions cannot hold groups of 2
])
def test_bad_grpo_setups_are_refused_by_name(changes, where):
    with pytest.raises(ConfigError) as err:
        check_grpo(config(**changes), load_domain("medcalc"))
    assert err.value.where == where
    if "num_generation" in changes.get("grpo", {}):
        assert "num_generations" in err.value.fix


def test_a_free_text_domain_without_a_verifier_is_refused(tmp_path):
    from domains.domain import Domain

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "seeds.jsonl").write_text(json.dumps({"question": "Why?", "answer": "because"}) + "\n")
    (folder / "domain.yaml").write_text("name: notes\nanswer_type: text\nprompt:\n  system: Answer briefly.\n"
                                        "splits:\n  search: seeds.jsonl\n")
    with pytest.raises(ConfigError) as err:
        check_grpo(config(), Domain.from_dir(folder))
    assert "no verifier" in err.value.message


def _questions() -> list[Question]:
    """medqa questions the answering model (tests/conftest.py) answers with a random letter: its groups
    have right and wrong answers, so the advantages are not all zero and GRPO has something to learn."""
    return load_domain("medqa").load_split("search", limit=4)


def test_grpo_changes_the_lora_weights_only_and_logs_each_step(answering_model_dir, tmp_path):
    from safetensors.torch import load_file

    before = load_file(f"{answering_model_dir}/model.safetensors")
    result = train_grpo(_questions(), load_domain("medqa"), base_dir=answering_model_dir, out_dir=tmp_path / "g",
                        config=config(), threads=1)
    assert result.finished and result.steps == 4 and result.resumed_from is None
    adapter = load_file(f"{result.adapter_dir}/adapter_model.safetensors")
    assert adapter and all("lora_" in k for k in adapter)
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)  # B starts at zero
    after = load_file(f"{answering_model_dir}/model.safetensors")
    assert all(before[k].equal(after[k]) for k in before)  # the base folder is untouched
    log = [json.loads(line) for line in (tmp_path / "g" / "grpo_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    for key in ("reward", "reward_std", "rewards/verifier/mean", "rewards/format/mean", "frac_reward_zero_std",
                "completions/mean_length", "learning_rate"):
        assert all(key in r for r in log), key
    assert result.generated_tokens == generated_tokens(log, 4) > 0
    assert (tmp_path / "g" / "grpo.png").stat().st_size > 10_000
    again = train_grpo(_questions(), load_domain("medqa"), base_dir=answering_model_dir, out_dir=tmp_path / "g",
                       config=config(), threads=1)
    assert again.steps == 4 and again.seconds == result.seconds  # finished: returned, not retrained


CHILD = """
import sys
from pathlib import Path
from domains import load_domain
from evolve.train.grpo import train_grpo
sys.path.insert(0, {root!r})
from tests.test_train_grpo import _questions, config
train_grpo(_questions(), load_domain("medqa"), base_dir=sys.argv[1], out_dir=sys.argv[2],
           config=config(grpo={{"num_generations": 2, "max_completion_length": 32, "max_steps": 6}}), threads=1)
"""


@pytest.mark.slow
def test_kill_9_during_grpo_then_resume_gives_the_same_adapter(answering_model_dir, tmp_path):
    from safetensors.torch import load_file

    script = CHILD.format(root=str(ROOT))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    reference = tmp_path / "reference"
    subprocess.run([sys.executable, "-c", script, str(answering_model_dir), str(reference)], check=True, env=env,
                   timeout=600, capture_output=True)
    killed = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-c", script, str(answering_model_dir), str(killed)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not (killed / "checkpoints" / "checkpoint-2").is_dir():
        time.sleep(0.05)
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    assert not (killed / "adapter").exists()  # it died before the end
    subprocess.run([sys.executable, "-c", script, str(answering_model_dir), str(killed)], check=True, env=env,
                   timeout=600, capture_output=True)
    a = load_file(f"{reference}/adapter/adapter_model.safetensors")
    b = load_file(f"{killed}/adapter/adapter_model.safetensors")
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-4
    steps = [json.loads(line)["step"] for line in (killed / "grpo_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # the log holds each step once, resumed or not


def test_grpo_rounds_record_method_rewards_and_tokens_and_continue_one_another(answering_model_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    from evolve.config import Config
    from evolve.rounds.runner import run_rounds

    cfg = Config.model_validate({
        "data": {"domain": "medqa", "split": "search"}, "model": {"spec": str(answering_model_dir), "threads": 1},
        "search": {"limit": 4}, "policy": config().model_dump(), "prm": {"enabled": False},
        "eval": {"limit": 2, "modes": ["cot", "sc"], "n": 2, "max_tokens": 8}, "run": {"rounds": 2, "baseline": False}})
    run_rounds(cfg, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "round-1" / "manifest.json").read_text())
    assert sorted(manifest["stages"]) == ["eval", "policy", "report"]  # no search, harvest or PRM
    policy = manifest["metrics"]["policy"]
    assert policy["method"] == "grpo" and policy["steps"] == 4
    assert policy["reward_weights"] == {"verifier": 1.0, "format": 0.2}
    assert manifest["data"]["generated_tokens"] == policy["generated_tokens"] > 0
    assert manifest["models"]["policy"] == "round-1/policy/adapter" and manifest["models"]["prm"] is None
    assert set(manifest["metrics"]["eval"]) == {"cot", "sc"}
    # round 2 continues from round 1's policy: from the base model, on the same questions and seed, it
    # would replay round 1 and end at the very same adapter
    second = json.loads((tmp_path / "run" / "round-2" / "manifest.json").read_text())
    assert second["models"]["policy_init"] == "round-1/policy/adapter"
    first_weights, second_weights = (load_file(tmp_path / "run" / f"round-{i}" / "policy" / "adapter" /
                                               "adapter_model.safetensors") for i in (1, 2))
    assert any(not torch.equal(first_weights[k], second_weights[k]) for k in first_weights)


def test_bad_grpo_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    from tests.cli_helpers import run_cli

    out = tmp_path / "run"
    for setting in ("policy.grpo.num_generations=1", "policy.grpo.bogus_knob=3", "policy.rewards.prm=1.0"):
        code, _out, err = run_cli(["run", "--set", "policy.method=grpo", "--set", setting, "--set", "eval.modes=[cot]",
                                   "--domain", "medcalc", "--out", str(out)], capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert not out.exists()
