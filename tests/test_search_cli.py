"""`evolve search` and `evolve tree show` end to end on a tiny local model, and their bad input."""

from pathlib import Path

import networkx as nx
import pytest

from evolve.search.records import read_records
from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
TINY_BUDGET = ["--set", "search.max_nodes=5", "--set", "search.step_tokens=8", "--set", "search.rollout_tokens=12",
               "--set", "search.finish_tokens=16", "--set", "search.trees_in_flight=2"]


def test_search_then_tree_show(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "run" / "trees.jsonl"
    code, stdout, _ = run_cli(["search", "--domain", "science", "--model", str(tiny_model_dir), "--out", str(out),
                               "--limit", "2", "--config", str(ROOT / "configs/search-cpu.yaml"), "--quiet",
                               *TINY_BUDGET], capsys)
    assert code == 0, stdout
    records = list(read_records(out))
    assert [r["id"] for r in records] == ["science-001", "science-002"]
    assert "searched 2 questions" in stdout and "correct leaves" in stdout
    for record in records:
        assert record["stats"]["nodes"] >= 4 and record["model"] == str(tiny_model_dir)
        assert len(record["pos"]) + len(record["neg"]) == record["stats"]["finish_leaves"] >= 1

    code, stdout, _ = run_cli(["tree", "show", str(out), "--id", "science-002", "--out", str(tmp_path / "view")], capsys)
    assert code == 0
    graph = nx.read_graphml(tmp_path / "view" / "science-002.graphml")
    assert graph.number_of_nodes() == records[1]["stats"]["nodes"]
    png = (tmp_path / "view" / "science-002.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000

    # the same command again resumes: nothing new is searched
    code, stdout, _ = run_cli(["search", "--domain", "science", "--model", str(tiny_model_dir), "--out", str(out),
                               "--limit", "2", "--config", str(ROOT / "configs/search-cpu.yaml"), "--quiet",
                               *TINY_BUDGET], capsys)
    assert code == 0 and "searched 0 questions (2 already done)" in stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--set", "search.max_node=3"], "did you mean 'search.max_nodes'"),
        (["--domain", "medqaa"], "medqa"),
        (["--model", "/nonexistent/model-folder"], "/nonexistent/model-folder"),
        (["--model", "vllm:some/model"], "pip install '.[vllm]'"),
        (["--split", "/nonexistent/file.jsonl"], "no split"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, needle, tiny_model_dir):
    out = tmp_path / "trees.jsonl"
    base = ["search", "--domain", "medqa", "--model", str(tiny_model_dir), "--out", str(out), "--quiet"]
    code, _, err = run_cli(base + args, capsys)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert not out.exists()


def test_malformed_seed_file_names_the_line(tmp_path, capsys, tiny_model_dir):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"id": "x1", "question": "q?", "options": {"A": "a", "B": "b"}, "answer": "A"}\n{"id": oops}\n')
    out = tmp_path / "trees.jsonl"
    code, _, err = run_cli(["search", "--domain", "medqa", "--split", str(data), "--model", str(tiny_model_dir),
                            "--out", str(out), "--quiet"], capsys)
    assert code == 2 and "bad.jsonl: 1 of 2 rows are invalid: line 2: malformed JSON" in err and not out.exists()


def test_tree_show_unknown_id_lists_known_ones(tmp_path, capsys):
    out = tmp_path / "trees.jsonl"
    out.write_text('{"id": "q1", "domain": "medqa"}\n')
    code, _, err = run_cli(["tree", "show", str(out), "--id", "nope"], capsys)
    assert code == 2 and "use one of: q1" in err
