"""Tree files: atomic appends, resume, crash safety, and loading with `datasets`."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from evolve.api import Reasoner
from evolve.backends.scripted import ScriptedGenerator
from evolve.config import load_config
from evolve.search.records import TreeFileError, TreeWriter, read_records
from evolve.search.runner import run_search
from tests.test_driver import pseudo_model

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["search.max_nodes=8", "search.rollout_base=4", "search.rollout_min=2", "search.trees_in_flight=3"]


def small_config(limit, domain="medqa", extra=()):
    return load_config(None, SMALL + [f"data.domain={domain}", f"search.limit={limit}", *extra])


def test_resume_skips_finished_questions(tmp_path):
    out = tmp_path / "trees.jsonl"
    first = run_search(Reasoner.from_config(small_config(3), generator=ScriptedGenerator(pseudo_model)), out)
    assert (first.questions, first.skipped) == (3, 0)
    second = run_search(Reasoner.from_config(small_config(5), generator=ScriptedGenerator(pseudo_model)), out)
    assert (second.questions, second.skipped) == (2, 3)
    ids = [r["id"] for r in read_records(out)]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 5
    again = run_search(Reasoner.from_config(small_config(5), generator=ScriptedGenerator(pseudo_model)), out)
    assert (again.questions, again.skipped) == (0, 5)


def test_records_load_with_datasets(tmp_path):
    out = tmp_path / "trees.jsonl"
    summary = run_search(Reasoner.from_config(small_config(4), generator=ScriptedGenerator(pseudo_model)), out)
    from datasets import load_dataset

    ds = load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert len(ds) == 4
    assert {"id", "domain", "nodes", "pos", "neg", "stats", "gold", "config"} <= set(ds.column_names)
    node = ds[0]["nodes"][1]
    assert {"id", "parent", "depth", "step", "action", "visits", "q", "value", "rollouts"} <= set(node)
    assert sum(len(r) for r in ds["pos"]) == summary.pos and sum(len(r) for r in ds["neg"]) == summary.neg


def test_search_progress_counts_each_node_once(tmp_path):
    events = []
    summary = run_search(Reasoner.from_config(small_config(4), generator=ScriptedGenerator(pseudo_model)),
                         tmp_path / "trees.jsonl", events=events.append)
    nodes = [e.info["nodes"] for e in events]
    # a finished tree moves from the active count to the finished one; it is never in both
    assert nodes == sorted(nodes) and nodes[-1] == summary.nodes
    assert [e.done for e in events][-1] == 4


def test_torn_last_line_is_cut_on_resume(tmp_path):
    out = tmp_path / "trees.jsonl"
    run_search(Reasoner.from_config(small_config(2), generator=ScriptedGenerator(pseudo_model)), out)
    whole = out.read_bytes()
    out.write_bytes(whole + b'{"version":1,"id":"medqa-0')  # a crash in the middle of a write
    assert len(list(read_records(out))) == 2  # readers never see the fragment
    writer = TreeWriter(out, domain="medqa")
    assert writer.repaired_bytes == len(b'{"version":1,"id":"medqa-0') and out.read_bytes() == whole


def test_other_domain_or_config_is_refused(tmp_path):
    out = tmp_path / "trees.jsonl"
    run_search(Reasoner.from_config(small_config(1), generator=ScriptedGenerator(pseudo_model)), out)
    with pytest.raises(TreeFileError, match="domain 'medqa', not 'science'"):
        run_search(Reasoner.from_config(small_config(1, domain="science"), generator=ScriptedGenerator(pseudo_model)), out)
    with pytest.raises(TreeFileError) as err:
        run_search(Reasoner.from_config(small_config(2, extra=["search.seed=5"]), generator=ScriptedGenerator(pseudo_model)), out)
    # the refusal names the key that changed, not two hashes
    assert "was searched with another config (search.seed: 0 -> 5)" in err.value.one_line()
    # how many trees are in flight cannot change a tree (batched equals serial): no refusal
    more_in_flight = run_search(Reasoner.from_config(small_config(2, extra=["search.trees_in_flight=1"]),
                                                     generator=ScriptedGenerator(pseudo_model)), out)
    assert more_in_flight.questions == 1
    forced = run_search(Reasoner.from_config(small_config(3, extra=["search.seed=5"]),
                                             generator=ScriptedGenerator(pseudo_model)), out, force=True)
    assert forced.questions == 1


def test_corrupt_middle_line_names_the_line(tmp_path):
    out = tmp_path / "trees.jsonl"
    out.write_text('{"id": "a", "domain": "medqa"}\nnot json\n')
    with pytest.raises(TreeFileError) as err:
        list(read_records(out))
    assert err.value.where == f"{out}:2"


SLOW_SEARCH = textwrap.dedent("""
    import sys, time
    from evolve.backends.scripted import ScriptedGenerator
    from evolve.config import load_config
    from evolve.api import Reasoner
    from evolve.search.runner import run_search
    from tests.test_driver import pseudo_model

    def slow(request, index):
        time.sleep(0.002)
        return pseudo_model(request, index)

    if __name__ == "__main__":
        cfg = load_config(None, {small} + ["search.limit=12"])
        run_search(Reasoner.from_config(cfg, generator=ScriptedGenerator(slow)), sys.argv[1])
""")


def test_kill_9_mid_search_loses_only_trees_in_flight(tmp_path):
    out = tmp_path / "trees.jsonl"
    script = tmp_path / "slow_search.py"
    script.write_text(SLOW_SEARCH.format(small=SMALL))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(out)], cwd=ROOT, env=env)
    deadline = time.time() + 60
    while time.time() < deadline and (not out.exists() or out.read_bytes().count(b"\n") < 3):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    survived = [r["id"] for r in read_records(out)]
    assert 3 <= len(survived) < 12, "the kill should land mid-search"
    for line in out.read_bytes().splitlines(keepends=True)[:-1]:
        json.loads(line)
    run_search(Reasoner.from_config(small_config(12), generator=ScriptedGenerator(pseudo_model)), out)
    ids = [r["id"] for r in read_records(out)]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert ids[: len(survived)] == survived
