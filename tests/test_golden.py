"""Golden files: `evolve search`, `evolve eval` and `evolve run` on the scripted backend give the same
bytes as when the files in tests/data/golden/ were written (wall times aside). They were written before
the step format, the driver and the `Reasoner` were reorganised, so that the reorganisation could be
checked to change nothing. `UPDATE_GOLDEN=1` rewrites them (only after a deliberate behaviour change).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from evolve.backends.scripted import ScriptedGenerator
from evolve.config import load_config

GOLDEN = Path(__file__).parent / "data" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
# Keys whose values are wall times, clocks or where the test ran: the only things two runs of one config
# may differ in. Config digests are left out too: they hash the tiny model's temporary path (and which keys
# they cover is a rule of its own, tested in test_config.py).
VOLATILE_KEYS = {"seconds", "timings", "created", "at", "versions", "out_dir", "config", "digest"}


def _draw(request, index: int) -> int:
    digest = hashlib.blake2b(f"{request.prompt}|{request.seed}|{request.temperature}|{index}".encode(), digest_size=4)
    return int.from_bytes(digest.digest(), "big")


def respond(request, index: int) -> str:
    """A deterministic "model": what it writes depends only on the request and the sample index."""
    r = _draw(request, index)
    letter = "ABCD"[r % 4]
    if request.stop:  # one Reason step: sometimes it already states an answer
        if r % 5 == 0:
            return f" So the answer is {letter}.\n\nStep 9: more"
        return f" thought {r % 97} about option {letter} [{(r % 89) / 100:.2f}]\n\nStep 9: more"
    return f" worked {r % 53} [{(r % 83) / 100:.2f}]\n\nStep 8: The answer is {letter}. then rambling on"


class TagScorer:
    """A PRM stand-in: a step's score is the number in its [x] tag, else a hash of its text."""

    def score(self, question, trajectories):
        def one(step: str) -> float:
            found = re.search(r"\[([\d.]+)\]", step)
            return float(found.group(1)) if found else (int(hashlib.md5(step.encode()).hexdigest(), 16) % 100) / 100
        return [[one(s) for s in t] for t in trajectories]


def _scrub(value):
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in VOLATILE_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def normalised(path: Path) -> str:
    """The file as text with wall times replaced (JSON keys in VOLATILE_KEYS, "12.3s" and wall columns)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return "".join(json.dumps(row, sort_keys=True) + "\n" for row in pq.read_table(path).to_pylist())
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return "".join(json.dumps(_scrub(json.loads(line)), sort_keys=True) + "\n" for line in text.splitlines())
    if path.suffix == ".json":
        return json.dumps(_scrub(json.loads(text)), indent=2, sort_keys=True) + "\n"
    text = re.sub(r"\b\d+(?:\.\d+)?s\b", "<s>", text)  # "171.9s in all", "search 12s"
    return re.sub(r"\| [\d.]+ \|\n", "| <wall> |\n", text)  # the wall-time column of eval tables


def check(out: Path, names: list[str], golden: Path, paths: dict[str, str] | None = None) -> None:
    for name in names:
        actual = normalised(out / name)
        for path, label in (paths or {}).items():
            actual = actual.replace(path, label)
        target = golden / name.replace("/", "__")
        if UPDATE:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(actual, encoding="utf-8")
        assert actual == target.read_text(encoding="utf-8"), f"{name} differs from {target}"


SEARCH = ["search.root_children=3", "search.children=2", "search.max_nodes=9", "search.rollout_base=4",
          "search.rollout_min=2", "search.correct_leaves=3", "search.trees_in_flight=2", "search.limit=4",
          "search.seed=5", "data.domain=medqa"]


def test_search_output_is_unchanged(tmp_path):
    from evolve.api import Reasoner
    from evolve.search.runner import run_search

    config = load_config(None, SEARCH)
    run_search(Reasoner.from_config(config, generator=ScriptedGenerator(respond)), tmp_path / "trees.jsonl")
    check(tmp_path, ["trees.jsonl"], GOLDEN / "search")


def test_eval_output_is_unchanged(tmp_path):
    from domains import load_domain
    from evolve.api import Reasoner
    from evolve.eval.evaluate import evaluate

    config = load_config(None, ["eval.modes=[cot, sc, pvs, bon-last, bon-min, beam, mcts]", "eval.n=4",
                                "eval.beam_width=2", "eval.beam_expansions=2", "eval.max_steps=3",
                                "eval.mcts_iterations=3", "eval.mcts_children=2", "eval.seed=2"])
    domain = load_domain("science")
    questions = domain.load_split("dev", limit=4)
    evaluate(questions, Reasoner(config, domain, ScriptedGenerator(respond), TagScorer()), out_dir=tmp_path,
             label="golden", split="dev")
    check(tmp_path, ["eval.json", "eval.md", "questions.jsonl"], GOLDEN / "eval")


@pytest.mark.slow
def test_run_output_is_unchanged(tmp_path, tiny_model_dir):
    from evolve.rounds.runner import run_rounds

    lora = "{r: 2, lora_alpha: 4, lora_dropout: 0.0, target_modules: all-linear}"
    config = load_config(None, [*SEARCH, f"model.spec={tiny_model_dir}", "model.threads=1", "prm.enabled=false",
                                "eval.modes=[cot, sc]", "eval.limit=3", "eval.n=3", "run.rounds=1",
                                "policy.epochs=1", "policy.batch_size=2", f"policy.lora={lora}"])
    run_rounds(config, tmp_path, factory=lambda lora_dir: ScriptedGenerator(respond))
    names = ["round-0/manifest.json", "round-0/eval/eval.json", "round-0/eval/questions.jsonl",
             "round-1/trees.jsonl", "round-1/data/policy.parquet", "round-1/data/prm.parquet",
             "round-1/eval/eval.json", "round-1/eval/questions.jsonl", "report.md"]
    check(tmp_path, names, GOLDEN / "run", {str(tiny_model_dir): "<tiny>"})
    manifest = json.loads((tmp_path / "round-1" / "manifest.json").read_text())
    # Training metrics are floats of a real (tiny) model: compared by what is exact, not byte by byte.
    policy = manifest["metrics"].pop("policy")
    assert policy["steps"] >= 1 and policy["examples"] >= 1
    target = GOLDEN / "run" / "round-1__manifest.json"
    actual = json.dumps(_scrub(manifest), indent=2, sort_keys=True).replace(str(tiny_model_dir), "<tiny>") + "\n"
    if UPDATE:
        target.write_text(actual, encoding="utf-8")
    assert actual == target.read_text(encoding="utf-8")
