"""Search and eval on a real local Ray cluster (2 CPUs, the scripted backend): the same files as in one
process, after a worker is killed mid-question, and after the driver itself is killed with kill -9."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from evolve.config import Config
from evolve.eval.evaluate import evaluate
from evolve.scale import reasoner_for
from evolve.search.records import read_records
from evolve.search.runner import run_search
from tests.cli_helpers import run_cli

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
SEARCH = {"max_nodes": 16, "rollout_base": 6, "rollout_min": 2, "correct_leaves": 3, "trees_in_flight": 2}


@pytest.fixture(scope="module", autouse=True)
def cluster():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local test cluster only
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield
    ray.shutdown()


def config(spec="scripted:hash", limit=8, **run):
    return Config.model_validate({"data": {"domain": "medqa", "split": "search"}, "model": {"spec": spec},
                                  "search": {**SEARCH, "limit": limit}, "run": run})


def trees(path):
    """Records by id, without their wall times (the only field that may differ)."""
    records = list(read_records(path))
    assert len({r["id"] for r in records}) == len(records), "a question was written twice"
    for record in records:
        record["stats"].pop("seconds")
    return {r["id"]: r for r in records}


def test_two_workers_write_the_trees_of_one_worker_and_of_one_process(tmp_path):
    run_search(reasoner_for(config()), tmp_path / "local.jsonl")
    one = run_search(reasoner_for(config(workers=1, ray_address="auto")), tmp_path / "one.jsonl")
    two = run_search(reasoner_for(config(workers=2)), tmp_path / "two.jsonl")
    assert (one.workers, two.workers, two.questions, two.failed) == (1, 2, 8, [])
    local = trees(tmp_path / "local.jsonl")
    assert len(local) == 8 and any(r["pos"] for r in local.values())
    assert trees(tmp_path / "one.jsonl") == local
    assert trees(tmp_path / "two.jsonl") == local
    # the same resume rules: a second run finds everything done
    again = run_search(reasoner_for(config(workers=2)), tmp_path / "two.jsonl")
    assert (again.questions, again.skipped) == (0, 8)


def test_killing_a_worker_mid_question_gives_the_same_file_once(tmp_path):
    slow = "scripted:hash@0.04"  # every backend call sleeps, so the kill lands mid-question
    run_search(reasoner_for(config(slow)), tmp_path / "reference.jsonl")
    out = tmp_path / "killed.jsonl"
    result = {}
    thread = threading.Thread(target=lambda: result.update(summary=run_search(
        reasoner_for(config(slow, workers=2)), out)))
    thread.start()
    deadline = time.monotonic() + 60
    while not (out.exists() and out.read_text().count("\n") >= 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = sorted(name for name in ray.util.list_named_actors() if name.startswith("evolve-worker-"))[0]
    ray.kill(ray.get_actor(victim), no_restart=False)  # Ray restarts it; its questions are dealt again
    thread.join(120)
    summary = result["summary"]
    # The other worker may finish the rest before Ray's restart of the victim has loaded its model.
    assert (summary.deaths, summary.failed) == (1, []) and summary.restarts <= 1 and summary.requeued >= 1
    assert trees(out) == trees(tmp_path / "reference.jsonl")


def test_questions_that_kill_or_fail_every_attempt_are_reported_and_the_rest_is_written(tmp_path):
    seeds = [json.loads(line) for line in (ROOT / "domains/medqa/seeds.jsonl").read_text().splitlines()[:8]]
    planted = {seeds[2]["id"]: "CRASH", seeds[5]["id"]: "FAULT"}  # the scripted model dies / raises on these
    bad = [{**row, "question": f"{row['question']} {planted[row['id']]}"} if row["id"] in planted else row
           for row in seeds]
    (tmp_path / "bad.jsonl").write_text("".join(json.dumps(row) + "\n" for row in bad))
    (tmp_path / "good.jsonl").write_text("".join(json.dumps(row) + "\n" for row in seeds if row["id"] not in planted))

    def search(split, out, **run):
        cfg = config("scripted:faulty", **run)
        cfg.data.split, cfg.run.question_attempts = str(split), 2
        return run_search(reasoner_for(cfg), out)

    summary = search(tmp_path / "bad.jsonl", tmp_path / "bad-trees.jsonl", workers=2)
    assert sorted(qid for qid, _ in summary.failed) == sorted(planted)
    why = dict(summary.failed)
    assert "FAULT" in why[seeds[5]["id"]] and why[seeds[2]["id"]] == "its worker died"
    assert summary.deaths == 2  # CRASH kills its worker in its first batch, then again when dealt alone
    search(tmp_path / "good.jsonl", tmp_path / "reference.jsonl")  # in this process: nothing planted there
    assert trees(tmp_path / "bad-trees.jsonl") == trees(tmp_path / "reference.jsonl")


def test_kill_9_of_the_driver_then_the_same_command_resumes(tmp_path):
    out = tmp_path / "trees.jsonl"
    spec = "scripted:hash@0.08"
    command = [sys.executable, "-m", "evolve.cli", "search", "--domain", "medqa", "--model", spec, "--out", str(out),
               "--limit", "10", "--workers", "2", "--quiet", *[f"--set=search.{k}={v}" for k, v in SEARCH.items()]]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while not (out.exists() and out.read_text().count("\n") >= 2) and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the search ended before it could be killed: {proc.stdout.read().decode()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    os.killpg(proc.pid, signal.SIGKILL)  # then the local cluster it had started, which kill -9 leaves behind
    partial = trees(out)
    assert 2 <= len(partial) < 10
    finished = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert f"({len(partial)} already done)" in finished.stdout
    run_search(reasoner_for(config(spec, limit=10)), tmp_path / "reference.jsonl")
    assert trees(out) == trees(tmp_path / "reference.jsonl")


def test_eval_on_two_workers_gives_the_eval_json_of_one_process(tmp_path):
    def run(out, **workers):
        cfg = config(**workers)
        cfg.eval.n, cfg.eval.modes = 4, ["cot", "sc"]
        reasoner = reasoner_for(cfg)
        evaluate(reasoner.domain.load_split("dev", limit=10), reasoner, out_dir=out, split="dev")
        summary = json.loads((out / "eval.json").read_text())
        for mode in summary["modes"]:
            mode.pop("seconds")
        summary.pop("seconds"), summary.pop("out_dir")
        return summary, (out / "questions.jsonl").read_text()

    local, local_questions = run(tmp_path / "local")
    scaled, scaled_questions = run(tmp_path / "two", workers=2)
    assert scaled == local and scaled_questions == local_questions
    assert [m["n"] for m in local["modes"]] == [10, 10] and local["pass_at"]["n"] == 4


@pytest.mark.parametrize("args,needle", [
    (["--model", "/nonexistent/model-folder"], "model folder '/nonexistent/model-folder' does not exist"),
    (["--model", "vllm:some/model"], "2 vLLM workers of 1 GPU each need 2 GPUs, but the cluster has 0"),
])
def test_a_worker_error_is_said_once_and_nothing_is_written(tmp_path, capsys, args, needle):
    out = tmp_path / "trees.jsonl"
    code, _, err = run_cli(["search", "--domain", "medqa", "--out", str(out), "--workers", "2", "--quiet", *args],
                           capsys)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
    assert not any(tmp_path.iterdir())


def test_a_round_on_workers_with_two_training_processes_matches_one_process(tmp_path, answering_model_dir):
    from evolve.rounds.runner import run_rounds
    from tests.test_rounds import stable, tiny_run_config

    def run(out, **run_section):
        values = tiny_run_config(answering_model_dir)
        values["run"].update(run_section)
        run_rounds(Config.model_validate(values), out)
        return json.loads((out / "round-1" / "manifest.json").read_text())

    local = run(tmp_path / "local")
    scaled = run(tmp_path / "scaled", workers=2, train_processes=2)
    for folder in ("policy", "prm"):  # trained by torchrun's 2 processes, then picked up here
        assert json.loads((tmp_path / "scaled" / "round-1" / folder / "launch.json").read_text())["kind"] == folder
    assert trees(tmp_path / "scaled" / "round-1" / "trees.jsonl") == trees(tmp_path / "local" / "round-1" / "trees.jsonl")
    # the PRM's classification head keeps its dropout (0.1), whose masks differ between 1 and 2 processes
    prm_local, prm_scaled = local["metrics"].pop("prm"), scaled["metrics"].pop("prm")
    assert prm_local["steps"] == prm_scaled["steps"] and prm_local["train_steps"] == prm_scaled["train_steps"]
    assert stable(scaled) == stable(local)
