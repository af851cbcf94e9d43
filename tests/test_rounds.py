"""`evolve run`: one real round on a tiny model, per-stage resume, kill -9 mid-round, changed configs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from evolve.config import changed_keys, load_config
from evolve.errors import ConfigError
from evolve.rounds.manifest import claim_run, config_changes, run_digest
from evolve.rounds.report import data_warnings, markdown_table

ROOT = Path(__file__).resolve().parents[1]
TINY_LORA = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": "all-linear"}


def tiny_run_config(model_dir: Path, **sections) -> dict:
    config = {
        "data": {"domain": "medqa", "split": "search"},
        "model": {"spec": str(model_dir), "threads": 1},
        "search": {"root_children": 3, "children": 2, "max_nodes": 6, "rollout_base": 2, "rollout_min": 1,
                   "correct_leaves": 2, "step_tokens": 20, "finish_tokens": 30, "rollout_tokens": 30,
                   "temperature": 1.0, "trees_in_flight": 6, "limit": 6,
                   "seed": 3},  # a seed whose 18 sampled answers include correct and wrong ones
        "policy": {"epochs": 1, "batch_size": 2, "max_length": 2048, "checkpoint_every": 1, "lora": TINY_LORA},
        "prm": {"epochs": 1, "batch_size": 2, "max_length": 2048, "checkpoint_every": 1, "lora": TINY_LORA},
        "eval": {"limit": 3, "modes": ["cot", "sc", "pvs", "bon-min"], "n": 3, "max_tokens": 30},
        "run": {"rounds": 1, "baseline": True},
    }
    for name, values in sections.items():
        config[name].update(values)
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def evolve(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evolve.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def stable(manifest: dict) -> dict:
    """A manifest without what legitimately differs between two runs of the same config: wall times."""
    return {k: v for k, v in manifest.items() if k != "timings"}


@pytest.mark.slow
def test_one_round_end_to_end_then_resume_does_nothing(tmp_path, answering_model_dir):
    config = write_config(tmp_path / "run.yaml", tiny_run_config(answering_model_dir))
    out = tmp_path / "run"
    done = evolve("run", "--config", str(config), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    round_dir = out / "round-1"
    for name in ("trees.jsonl", "data/policy.parquet", "data/prm.parquet", "policy/adapter/adapter_config.json",
                 "prm/prm/prm.json", "eval/eval.json", "eval/questions.jsonl"):
        assert (round_dir / name).is_file(), name
    assert (out / "report.md").is_file() and (out / "report.png").stat().st_size > 10_000
    manifest = json.loads((round_dir / "manifest.json").read_text())
    assert sorted(manifest["stages"]) == sorted(["search", "harvest", "policy", "prm", "eval", "report"])
    assert manifest["data"]["search_questions"] == 6 and manifest["data"]["eval_questions"] == 3
    assert manifest["data"]["pos"] >= 1 and manifest["data"]["neg"] >= 1
    assert manifest["models"] == {"search_policy": str(answering_model_dir), "policy": "round-1/policy/adapter",
                                  "policy_init": None, "prm": "round-1/prm/prm"}
    assert set(manifest["metrics"]["eval"]) == {"cot", "sc", "pvs", "bon-min"}
    assert manifest["metrics"]["policy"]["steps"] >= 1 and manifest["versions"]["torch"]
    baseline = json.loads((out / "round-0" / "manifest.json").read_text())
    assert set(baseline["metrics"]["eval"]) == {"cot", "sc"}  # no PRM before round 1
    table = (out / "report.md").read_text()
    assert "| 0 |" in table and "| 1 |" in table and "pvs % [95% CI]" in table
    assert "report: " in done.stdout

    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = evolve("run", "--config", str(config), "--out", str(out), "--quiet")
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((round_dir / "manifest.json").read_text()) == manifest
    changed = [p for p in out.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime_ns]
    assert sorted(p.name for p in changed) == ["config.yaml", "run.json"]  # nothing re-ran

    # more evaluation questions for a finished run: only eval and report run again, in every round
    redo = ("run", "--config", str(config), "--out", str(out), "--quiet", "--set", "eval.limit=4", "--force", "--redo-eval")
    trees = (round_dir / "trees.jsonl").stat().st_mtime_ns
    assert evolve(*redo).returncode == 0
    redone = json.loads((round_dir / "manifest.json").read_text())
    assert redone["data"]["eval_questions"] == 4 and redone["config"] != manifest["config"]
    assert {k: v for k, v in redone["stages"].items() if k not in ("eval", "report")} == {
        k: v for k, v in manifest["stages"].items() if k not in ("eval", "report")}  # search and training kept
    assert redone["stages"]["eval"] == {"config": redone["config"]} and (round_dir / "trees.jsonl").stat().st_mtime_ns == trees
    assert json.loads((out / "round-0" / "manifest.json").read_text())["data"]["eval_questions"] == 4
    assert len((round_dir / "eval" / "questions.jsonl").read_text().splitlines()) == 4
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert evolve(*redo).returncode == 0  # the same command again: everything is evaluated under this config
    assert sorted(p.name for p in out.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime_ns) == [
        "config.yaml", "run.json"]


def test_changed_config_is_refused_without_force(tmp_path):
    first = load_config(None, ["search.max_nodes=7"])
    claim_run(tmp_path, first, force=False)
    claim_run(tmp_path, load_config(None, ["search.max_nodes=7", "run.rounds=5"]), force=False)  # extending is fine
    changed = load_config(None, ["search.max_nodes=9"])
    assert config_changes(tmp_path, changed) == ["search.max_nodes: 7 -> 9"]
    assert config_changes(tmp_path / "new", changed) == []
    with pytest.raises(ConfigError, match=r"search.max_nodes: 7 -> 9") as info:
        claim_run(tmp_path, changed, force=False)
    assert "--force" in info.value.one_line()
    info_after = claim_run(tmp_path, changed, force=True)
    assert info_after["digest"] == run_digest(changed)
    assert info_after["history"][0]["changed"] == ["search.max_nodes: 7 -> 9"]


def test_a_field_added_since_the_run_started_is_no_change_at_its_default(tmp_path):
    config = load_config(None, ["prm.epochs=3"])
    claim_run(tmp_path, config, force=False)
    info = json.loads((tmp_path / "run.json").read_text())
    del info["config"]["prm"]["balance"], info["config"]["policy"]["cold_start"]  # as a run from before they existed
    info["digest"] = "0123456789ab"
    (tmp_path / "run.json").write_text(json.dumps(info))
    assert config_changes(tmp_path, config) == []
    after = claim_run(tmp_path, config, force=False)
    assert after["digest"] == run_digest(config) and after["config"]["prm"]["balance"] is False
    assert after["history"] == [{"from": "0123456789ab", "to": run_digest(config), "at": after["history"][0]["at"],
                                 "changed": [], "added_at_default": ["policy.cold_start", "prm.balance"]}]
    del after["config"]["prm"]["balance"]
    after["digest"] = "0123456789ab"
    (tmp_path / "run.json").write_text(json.dumps(after))
    with pytest.raises(ConfigError, match=r"prm.balance: False -> True"):  # away from the default, it is a change
        claim_run(tmp_path, load_config(None, ["prm.epochs=3", "prm.balance=true"]), force=False)


def test_a_field_added_to_an_optional_section_is_no_change_at_its_default(tmp_path):
    config = load_config(None, ["policy.cold_start={source: generated, size: 50}"])
    claim_run(tmp_path, config, force=False)
    info = json.loads((tmp_path / "run.json").read_text())
    del info["config"]["policy"]["cold_start"]["source"]
    (tmp_path / "run.json").write_text(json.dumps(info))
    assert config_changes(tmp_path, config) == []
    assert config_changes(tmp_path, load_config(None, ["policy.cold_start={source: generated, size: 60}"])) == [
        "policy.cold_start.size: 50 -> 60"]


def test_changed_keys_and_digest():
    a = load_config(None, []).model_dump(mode="json")
    b = load_config(None, ["eval.n=4", "prm.lora.r=8"]).model_dump(mode="json")
    assert changed_keys(a, b) == ["eval.n: 8 -> 4", "prm.lora.r: 16 -> 8"]  # the other LoRA keys keep defaults
    assert run_digest(load_config(None, ["run.rounds=1"])) == run_digest(load_config(None, ["run.rounds=4"]))


def test_report_table_is_exact():
    manifests = [
        {"round": 0, "data": {"eval_questions": 10},
         "metrics": {"eval": {"cot": {"accuracy": 0.3, "low": 0.1078, "high": 0.6032, "mean_tokens": 88.4}}}},
        {"round": 1, "data": {"pos": 12, "neg": 30},
         "metrics": {"prm": {"auc": 0.7123, "accuracy": 0.65},
                     "eval": {"cot": {"accuracy": 0.4, "low": 0.1682, "high": 0.6873, "mean_tokens": 70.0},
                              "pvs": {"accuracy": 0.5, "low": 0.2366, "high": 0.7634}}}},
    ]
    assert markdown_table(manifests).splitlines() == [
        "| round | cot % [95% CI] | pvs % [95% CI] | PRM AUC (chance 0.5) | PRM balanced acc | pos / neg | tokens (cot) |",
        "|---|---|---|---|---|---|---|",
        "| 0 | 30.0 [11, 60] | - | - | - | - | 88 |",
        "| 1 | 40.0 [17, 69] | 50.0 [24, 76] | 0.712 | acc 0.650 | 12 / 30 | 70 |",
    ]
    manifests[1]["metrics"]["prm"].update(balanced_accuracy=0.5, positive_share=0.079)
    manifests[1]["metrics"]["pass_at"] = {"n": 8, "accuracy": 0.9, "low": 0.5958, "high": 0.9821}
    manifests[1]["metrics"]["policy"] = {"examples": 6, "steps": 4}
    manifests[1]["metrics"]["prm"]["heldout_steps"] = 31
    assert markdown_table(manifests).splitlines()[3] == (
        "| 1 | 40.0 [17, 69] | 50.0 [24, 76] | 90.0 [60, 98] (N=8) | 0.712 | 0.500 (8% pos) | 12 / 30 | 70 |")
    assert data_warnings(manifests[1]) == [
        "the policy trained on 6 examples in 4 steps: too little data for its loss curve or its gain to mean much",
        "the PRM's AUC is on 31 held-out steps: too few to tell it from chance"]
    assert data_warnings(manifests[0]) == []


KILLABLE_RUN = textwrap.dedent("""
    import sys, time
    import yaml
    from evolve.backends.scripted import ScriptedGenerator
    from evolve.config import Config
    from evolve.rounds.runner import run_rounds
    from tests.test_driver import pseudo_model

    def slow(request, index):
        time.sleep(0.01)
        return pseudo_model(request, index)

    if __name__ == "__main__":
        config = Config.model_validate(yaml.safe_load(open(sys.argv[1])))
        run_rounds(config, sys.argv[2], factory=lambda lora: ScriptedGenerator(slow))
""")


@pytest.mark.slow
def test_kill_9_mid_round_then_resume_gives_the_same_manifest(tmp_path, tiny_model_dir):
    config = write_config(tmp_path / "run.yaml", tiny_run_config(
        tiny_model_dir, search={"limit": 6, "trees_in_flight": 2, "max_nodes": 8, "rollout_base": 4},
        eval={"limit": 3, "modes": ["cot", "sc", "pvs"], "n": 3}))
    script = tmp_path / "killable.py"
    script.write_text(KILLABLE_RUN)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start(out: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(script), str(config), str(out)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    reference = tmp_path / "reference"
    assert start(reference).wait(timeout=300) == 0

    killed = tmp_path / "killed"
    proc = start(killed)
    trees = killed / "round-1" / "trees.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if trees.exists() and trees.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "round-1" / "manifest.json").exists() or "policy" not in json.loads(
        (killed / "round-1" / "manifest.json").read_text())["stages"]
    resumed = start(killed)
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()[-2000:]

    ids = [json.loads(line)["id"] for line in trees.read_text().splitlines()]
    assert len(ids) == 6 and len(set(ids)) == 6  # nothing searched twice
    for index in (0, 1):
        got = json.loads((killed / f"round-{index}" / "manifest.json").read_text())
        want = json.loads((reference / f"round-{index}" / "manifest.json").read_text())
        assert stable(got) == stable(want)


def test_round_without_correct_trajectories_says_what_to_do(tmp_path, tiny_model_dir):
    # the untrained tiny model writes gibberish, so no trajectory can state the right answer
    config = write_config(tmp_path / "run.yaml", tiny_run_config(tiny_model_dir, run={"baseline": False}))
    failed = evolve("run", "--config", str(config), "--out", str(tmp_path / "run"), "--quiet")
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines()[-1] == (
        "error: harvest: no correct trajectories in 6 searched question(s) -- fix: lower the difficulty or raise "
        "the budget (search.max_nodes, search.correct_leaves)")
    manifest = json.loads((tmp_path / "run" / "round-1" / "manifest.json").read_text())
    assert list(manifest["stages"]) == ["search"]  # harvest is not marked done


def test_policy_model_without_chat_template_is_refused(tmp_path, tiny_model_dir_no_template):
    config = write_config(tmp_path / "run.yaml", tiny_run_config(tiny_model_dir_no_template))
    failed = evolve("run", "--config", str(config), "--out", str(tmp_path / "run"), "--quiet")
    assert failed.returncode == 2
    assert "has no chat template" in failed.stderr and "Traceback" not in failed.stderr


def test_more_samples_than_the_backend_allows_is_refused_before_any_work(tmp_path, tiny_model_dir):
    from evolve.backends.scripted import ScriptedGenerator
    from evolve.rounds.runner import run_rounds
    from tests.test_driver import pseudo_model

    config = load_config(None, [f"model.spec={tiny_model_dir}", "search.rollout_base=2", "search.children=2",
                                "search.root_children=2", "search.rollout_min=1", "eval.n=8"])
    with pytest.raises(ConfigError, match=r"eval.n=8 asks for more samples .* allows \(4\)") as info:
        run_rounds(config, tmp_path / "run", factory=lambda lora: ScriptedGenerator(pseudo_model, max_n=4))
    assert info.value.where == "eval.n"
    assert not (tmp_path / "run" / "round-0").exists()


@pytest.mark.slow
def test_on_policy_prm_trains_on_the_new_policys_trees_and_the_next_search_reuses_them(tmp_path, tiny_model_dir):
    import zlib
    from collections import Counter
    from dataclasses import replace
    from functools import partial

    from evolve.backends.scripted import ScriptedGenerator
    from evolve.rounds.runner import run_rounds
    from evolve.train.harvest import read_parquet
    from tests.test_golden import SEARCH, respond

    calls = Counter()

    def by_policy(lora_dir, request, index):  # each policy answers differently, so whose trees they are shows
        tag = Path(lora_dir).parent.parent.name if lora_dir else "base"
        calls[tag] += 1
        return respond(replace(request, seed=zlib.crc32(tag.encode()) + (request.seed or 0)), index)

    lora = "{r: 2, lora_alpha: 4, lora_dropout: 0.0, target_modules: all-linear}"
    config = load_config(None, [*SEARCH, f"model.spec={tiny_model_dir}", "model.threads=1", "prm.on_policy=true",
                                "eval.modes=[cot]", "eval.limit=2", "run.baseline=false",
                                "policy.epochs=1", "policy.batch_size=2", f"policy.lora={lora}",
                                "prm.epochs=1", "prm.batch_size=2", f"prm.lora={lora}", "run.rounds=1"])
    factory = lambda lora_dir: ScriptedGenerator(partial(by_policy, lora_dir))  # noqa: E731
    run_rounds(config, tmp_path, factory=factory)
    assert calls["round-1"] > 0  # its PRM's search (and the round's eval)
    calls.clear()
    config.run.rounds = 2
    run_rounds(config, tmp_path, factory=factory)
    assert calls["round-1"] == 0 and calls["round-2"] > 0  # round 2's search by round 1's policy was not redone
    first, second = (json.loads((tmp_path / f"round-{i}" / "manifest.json").read_text()) for i in (1, 2))
    own, on_policy = tmp_path / "round-1" / "trees.jsonl", tmp_path / "round-1" / "prm-search" / "trees.jsonl"
    assert own.read_text() != on_policy.read_text()  # searched by the base model, then by round 1's policy
    assert first["data"]["prm_search"]["search_questions"] == 4
    rows = read_parquet(tmp_path / "round-1" / "prm-search" / "data" / "prm.parquet")
    prm = first["metrics"]["prm"]
    assert prm["train_trajectories"] + prm["heldout_trajectories"] == len(rows) == (
        first["data"]["prm_search"]["pos"] + first["data"]["prm_search"]["neg"])
    # round 2 searches with round 1's policy: the same search, taken over whole and not repeated
    assert (tmp_path / "round-2" / "trees.jsonl").read_text() == on_policy.read_text()
    assert second["data"]["search_reused"] == "round-1/prm-search/trees.jsonl"
    assert second["models"]["search_policy"] == first["models"]["policy"]
    assert (tmp_path / "round-2" / "prm-search" / "trees.jsonl").is_file()  # searched by round 2's own policy


def test_prm_init_policy_starts_the_prm_from_the_rounds_own_policy(tmp_path, tiny_model_dir):
    from evolve.backends.scripted import ScriptedGenerator
    from evolve.rounds.runner import run_rounds
    from tests.test_golden import SEARCH, respond

    lora = "{r: 2, lora_alpha: 4, lora_dropout: 0.0, target_modules: all-linear}"
    config = load_config(None, [*SEARCH, f"model.spec={tiny_model_dir}", "model.threads=1", "prm.init=policy",
                                "eval.modes=[cot]", "eval.limit=2", "run.baseline=false", "run.rounds=1",
                                "policy.epochs=1", "policy.batch_size=2", f"policy.lora={lora}",
                                "prm.epochs=1", "prm.batch_size=2", f"prm.lora={lora}"])
    run_rounds(config, tmp_path, factory=lambda lora_dir: ScriptedGenerator(respond))
    manifest = json.loads((tmp_path / "round-1" / "manifest.json").read_text())
    policy, prm = tmp_path / manifest["models"]["policy"], tmp_path / manifest["models"]["prm"]
    meta = json.loads((prm / "prm.json").read_text())
    assert meta["init_adapter"]["from"] == str(policy.resolve())
    assert (prm / "init_adapter" / "adapter_model.safetensors").read_bytes() == \
        (policy / "adapter_model.safetensors").read_bytes()


def test_prm_init_policy_on_another_base_is_refused_before_any_work(tmp_path, tiny_model_dir):
    from evolve.rounds.runner import run_rounds

    config = load_config(None, [f"model.spec={tiny_model_dir}", "prm.init=policy", "prm.base=embedded:smollm2-135m-instruct"])
    with pytest.raises(ConfigError, match="prm.init is policy, but the PRM's base") as err:
        run_rounds(config, tmp_path / "run")
    assert err.value.where == "prm.base" and not (tmp_path / "run").exists()
