"""The PRM on the tiny model: both labelings learn, the one-pass scorer equals prefix-by-prefix
scoring, a killed run resumes to the same result, and bad input fails in one line."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evolve.config import PRMConfig
from evolve.errors import ConfigError, ModelSpecError, TrainingError
from evolve.train.prm import train_prm

LORA = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": "all-linear"}
ROOT = Path(__file__).resolve().parents[1]


def prm_rows(labeling: str = "soft", questions: int = 10, per_question: int = 2) -> list[dict]:
    """Steps that 'raise' are good and steps that 'lower' are bad: a pattern even a tiny model learns."""
    rng = random.Random(0)
    rows = []
    for q in range(questions):
        for _ in range(per_question):
            steps, labels = [], []
            for _ in range(rng.randint(1, 4)):
                good = rng.random() < 0.5
                steps.append(f"the heart {'raises' if good else 'lowers'} pressure by {rng.randint(0, 99)} units.")
                value = rng.uniform(0.7, 1.0) if good else rng.uniform(0.0, 0.3)
                labels.append(float(good) if labeling == "dual" else value)
            rows.append({"question_id": f"q{q}", "prompt": f"Question {q}: what raises pressure?",
                         "completions": steps, "labels": labels, "values": labels, "correct": labels[-1] >= 0.5})
    return rows


def config(**changes) -> PRMConfig:
    values = {"lora": LORA, "epochs": 6, "batch_size": 4, "learning_rate": 3e-3, "checkpoint_every": 4,
              "holdout": 0.2, "warmup_ratio": 0.0}
    return PRMConfig(**{**values, **changes})


def mean(values):
    return sum(values) / len(values)


@pytest.fixture(scope="module")
def soft_prm(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("prm-soft")
    return train_prm(prm_rows(), base_dir=tiny_model_dir, out_dir=out, config=config())


def test_soft_prm_learns_and_saves_a_tied_adapter(soft_prm, tiny_model_dir):
    from safetensors.torch import load_file

    assert soft_prm.finished and soft_prm.steps == len(soft_prm.losses) > 8
    assert mean(soft_prm.losses[-4:]) < 0.8 * mean(soft_prm.losses[:4])
    metrics = soft_prm.metrics
    assert metrics["heldout_trajectories"] == 4 and metrics["train_trajectories"] == 16
    # held-out questions: "raises" steps (label >= 0.7) must outrank "lowers" steps (<= 0.3)
    assert metrics["heldout_steps"] == 11 and metrics["auc"] == 1.0 and metrics["accuracy"] >= 0.8
    meta = json.loads((Path(soft_prm.prm_dir) / "prm.json").read_text())
    assert meta["labeling"] == "soft" and meta["separator"] == "\n\n" and meta["metrics"] == metrics
    assert meta["base"]["num_hidden_layers"] == 2 and meta["base"]["path"] == str(Path(tiny_model_dir).resolve())
    saved = load_file(f"{soft_prm.prm_dir}/adapter_model.safetensors")
    assert all("lora_" in k or ".score." in k for k in saved) and any(".score." in k for k in saved)


def test_prm_training_leaves_base_weights_bit_identical(soft_prm, tiny_model_dir):
    from safetensors.torch import load_file

    from evolve.prm import load_prm

    scorer = load_prm(soft_prm.prm_dir)
    base = load_file(f"{tiny_model_dir}/model.safetensors")
    merged = {k: v for k, v in scorer.model.state_dict().items()}
    untouched = [k for k in base if "proj" not in k and k in merged]
    assert untouched and all(base[k].equal(merged[k]) for k in untouched)


def test_one_pass_scorer_equals_prefix_by_prefix(soft_prm):
    from evolve.prm import StepScorer, load_prm

    scorer = load_prm(soft_prm.prm_dir, batch_size=2)  # 2: padded batches of unequal lengths
    assert isinstance(scorer, StepScorer)
    question = "Question 3: what raises pressure?"
    trajectories = [["the heart raises pressure by 3 units."],
                    ["the heart lowers pressure by 9 units.", "so it raises the rate.", "The answer is (A)."],
                    ["a fever raises pressure.", "the heart lowers pressure by 1 units."]]
    together = scorer.score(question, trajectories)
    assert [len(s) for s in together] == [1, 3, 2]
    for steps, scores in zip(trajectories, together):
        alone = [scorer.score(question, [steps[:i + 1]])[0][-1] for i in range(len(steps))]
        assert scores == pytest.approx(alone, abs=1e-5)
    assert len({round(s, 6) for scores in together for s in scores}) > 1
    assert scorer.score(question, [[]]) == [[]]


def test_dual_prm_learns_and_resumes_to_the_same_result(tiny_model_dir, tmp_path):
    import numpy as np

    # rows read back through pandas hold numpy arrays; they train like plain lists
    rows = [{**r, "completions": np.array(r["completions"], dtype=object), "labels": np.array(r["labels"])}
            for r in prm_rows("dual")]
    whole = train_prm(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "whole", config=config(labeling="dual",
                      lora={**LORA, "lora_dropout": 0.1}))
    assert mean(whole.losses[-4:]) < 0.8 * mean(whole.losses[:4])
    assert whole.metrics["auc"] >= 0.9  # good steps outrank bad ones on held-out questions
    cut = tmp_path / "cut"
    part = train_prm(rows, base_dir=tiny_model_dir, out_dir=cut, config=config(labeling="dual",
                     lora={**LORA, "lora_dropout": 0.1}), stop_after=5)
    assert not part.finished and part.prm_dir is None
    resumed = train_prm(rows, base_dir=tiny_model_dir, out_dir=cut, config=config(labeling="dual",
                        lora={**LORA, "lora_dropout": 0.1}))
    assert resumed.resumed_from == 5 and resumed.losses == whole.losses and resumed.metrics == whole.metrics
    _same_adapter(whole.prm_dir, resumed.prm_dir)


def _same_adapter(a: str, b: str) -> None:
    from safetensors.torch import load_file

    x, y = load_file(f"{a}/adapter_model.safetensors"), load_file(f"{b}/adapter_model.safetensors")
    assert x.keys() == y.keys() and all(x[k].equal(y[k]) for k in x)


_KILLED_RUN = """
import sys
from evolve.config import PRMConfig
from evolve.train.prm import train_prm
rows, config = __import__("json").loads(sys.argv[1]), PRMConfig.model_validate_json(sys.argv[2])
train_prm(rows, base_dir=sys.argv[3], out_dir=sys.argv[4], config=config)
"""


def test_a_killed_run_resumes_from_its_checkpoint(tiny_model_dir, tmp_path):
    rows, cfg = prm_rows(questions=6, per_question=1), config(epochs=10, batch_size=1, checkpoint_every=3)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, json.dumps(rows), cfg.model_dump_json(),
                             str(tiny_model_dir), str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while not list((out / "checkpoints").glob("step-*")) if (out / "checkpoints").is_dir() else True:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "done.json").exists()
    resumed = train_prm(rows, base_dir=tiny_model_dir, out_dir=out, config=cfg)
    whole = train_prm(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "whole", config=cfg)
    assert resumed.resumed_from is not None and 0 < resumed.resumed_from < resumed.steps
    assert resumed.losses == whole.losses
    _same_adapter(whole.prm_dir, resumed.prm_dir)


def test_a_prm_folder_must_match_its_base(soft_prm, tiny_model_dir, tmp_path):
    from evolve.prm import load_prm

    other = tmp_path / "other-base"
    shutil.copytree(tiny_model_dir, other)
    cfg = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**cfg, "num_hidden_layers": 3}))
    with pytest.raises(ModelSpecError) as err:
        load_prm(soft_prm.prm_dir, base_dir=other)
    line = err.value.one_line()
    assert "\n" not in line and "num_hidden_layers=2" in line and "num_hidden_layers=3" in line
    with pytest.raises(ModelSpecError, match="not a PRM directory"):
        load_prm(tmp_path)


def test_bad_prm_rows_fail_in_one_line(tiny_model_dir, tmp_path):
    def train(rows, **changes):
        return train_prm(rows, base_dir=tiny_model_dir, out_dir=tmp_path, config=config(**changes))

    with pytest.raises(TrainingError, match="no PRM rows"):
        train([])
    row = prm_rows()[0]
    with pytest.raises(TrainingError, match="labels for"):
        train([{**row, "labels": row["labels"] + [0.5]}])
    with pytest.raises(TrainingError, match="not a number"):
        train([{**row, "labels": [1.5] * len(row["labels"])}])
    with pytest.raises(TrainingError, match="soft label"):
        train([{**row, "labels": [0.5] * len(row["labels"])}], labeling="dual")
    with pytest.raises(ConfigError) as err:
        train([row], lora={"r": "four"})
    assert err.value.where == "prm.lora"
    with pytest.raises(TrainingError, match="max_length"):
        train([{**row, "prompt": "long " * 200}], max_length=16)
    assert not (tmp_path / "checkpoints").exists()


def random_policy_adapter(model_dir: Path, out: Path) -> Path:
    """A causal-LM LoRA adapter with random (non-zero) B matrices, as if a policy had been trained."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(7)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    for name, param in model.named_parameters():
        if "lora_B" in name:
            param.data.normal_(0, 0.5)
    model.save_pretrained(out)
    return out


def test_a_prm_started_from_the_policy_carries_it_and_scores_as_the_merged_model(tiny_model_dir, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoModelForTokenClassification

    from evolve.prm import load_prm
    from evolve.prm.encoding import step_probabilities

    policy = random_policy_adapter(tiny_model_dir, tmp_path / "policy")
    result = train_prm(prm_rows(), base_dir=tiny_model_dir, out_dir=tmp_path / "run", config=config(epochs=2),
                       init_adapter=policy)
    prm_dir = Path(result.prm_dir)
    meta = json.loads((prm_dir / "prm.json").read_text())
    assert meta["init_adapter"] == {"path": "init_adapter", "from": str(policy.resolve())}
    assert (prm_dir / "init_adapter" / "adapter_model.safetensors").read_bytes() == \
        (policy / "adapter_model.safetensors").read_bytes()

    # the reference: the policy merged into the causal LM, its body moved under a fresh token head, the PRM on top
    causal = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(policy)).merge_and_unload()
    reference = AutoModelForTokenClassification.from_pretrained(tiny_model_dir, num_labels=2)
    reference.model.load_state_dict(causal.model.state_dict())
    reference = PeftModel.from_pretrained(reference, str(prm_dir)).merge_and_unload().eval()
    scorer = load_prm(prm_dir)
    question, steps = "Question 3: what raises pressure?", ["the heart raises pressure by 3 units.", "The answer is (A)."]
    expected = step_probabilities(reference, [scorer.encode(question, steps)], pad_id=scorer._pad_id)[0]
    assert scorer.score(question, [steps])[0] == pytest.approx(expected, abs=1e-5)
    body = AutoModelForTokenClassification.from_pretrained(tiny_model_dir, num_labels=2).model.layers[0].mlp.up_proj.weight
    assert not torch.allclose(scorer.model.model.layers[0].mlp.up_proj.weight, body)  # the policy is in there

    moved = shutil.copytree(prm_dir, tmp_path / "elsewhere" / "prm")  # the folder alone is the PRM
    shutil.rmtree(policy)
    assert load_prm(moved).score(question, [steps]) == scorer.score(question, [steps])
    with pytest.raises(ModelSpecError, match="not a PEFT LoRA adapter"):
        train_prm(prm_rows(), base_dir=tiny_model_dir, out_dir=tmp_path / "run2", config=config(), init_adapter=policy)


def test_a_finished_run_moved_elsewhere_answers_with_its_new_place(soft_prm, tiny_model_dir, tmp_path):
    moved = shutil.copytree(Path(soft_prm.prm_dir).parent, tmp_path / "moved")
    again = train_prm(prm_rows(), base_dir=tiny_model_dir, out_dir=moved, config=config())
    assert again.prm_dir == str(moved / "prm") and again.losses == soft_prm.losses  # found, not retrained


def test_balance_weighs_the_rare_wrong_steps_up(tiny_model_dir, tmp_path):
    from evolve.prm import load_prm

    # one wrong step in ten, as on a strong policy's own trees: unweighted, the head learns "right"
    rows = prm_rows("dual", questions=12)
    rng = random.Random(1)
    for row in rows:
        row["completions"] = [s.replace("lowers", "raises") if rng.random() < 0.8 else s for s in row["completions"]]
        row["labels"] = [float("raises" in s) for s in row["completions"]]
    short = {"labeling": "dual", "epochs": 2, "checkpoint_every": 100}
    plain = train_prm(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "plain", config=config(**short))
    balanced = train_prm(rows, base_dir=tiny_model_dir, out_dir=tmp_path / "balanced",
                         config=config(**short, balance=True))
    from evolve.train.maths import class_weights, holdout_split

    train_idx, _ = holdout_split([r["question_id"] for r in rows], 0.2, config().seed)
    train_labels = [v for i in train_idx for v in rows[i]["labels"]]
    assert plain.metrics["class_weights"] is None
    assert balanced.metrics["class_weights"] == list(class_weights(train_labels))
    w_wrong, w_right = balanced.metrics["class_weights"]
    assert w_wrong > 3 and w_right < 0.7  # wrong steps are the rare class
    wrong = [["the heart lowers pressure by 7 units."], ["the heart lowers pressure by 50 units."]]
    question = "Question 0: what raises pressure?"
    score = {name: mean([s[0] for s in load_prm(result.prm_dir).score(question, wrong)])
             for name, result in (("plain", plain), ("balanced", balanced))}
    assert score["balanced"] < score["plain"] - 0.05
