"""`evolve eval` and `evolve solve` end to end on the tiny local model, and their bad input."""

import json

import pytest

from evolve.cli.solve_cmd import parse_options
from tests.cli_helpers import run_cli

TINY = ["--set", "eval.max_tokens=12", "--set", "eval.step_tokens=6"]


def test_eval_writes_json_markdown_plot_and_records(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "ev"
    code, stdout, _ = run_cli(["eval", "--domain", "science", "--limit", "3", "--modes", "cot,sc", "--n", "3",
                               "--model", str(tiny_model_dir), "--out", str(out), "--quiet", *TINY], capsys)
    assert code == 0, stdout
    assert "│ cot " in stdout and "│ sc " in stdout and "results:" in stdout
    summary = json.loads((out / "eval.json").read_text())
    assert summary["questions"] == 3 and summary["model"] == str(tiny_model_dir)
    assert [m["mode"] for m in summary["modes"]] == ["cot", "sc"] and summary["config"]["n"] == 3
    cot, sc = summary["modes"]
    assert cot["n"] == 3 and 0 <= cot["low"] <= cot["accuracy"] <= cot["high"] <= 1
    assert 0 < cot["mean_tokens"] <= 12 and 0 < sc["mean_tokens"] <= 36
    records = [json.loads(line) for line in (out / "questions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["science-049", "science-050", "science-051"]
    assert len(records[0]["modes"]["sc"]["candidates"]) == 3
    assert (out / "eval.md").read_text().startswith("# Evaluation: science")
    assert (out / "eval.png").stat().st_size > 5_000


def test_solve_prints_steps_and_answer(tiny_model_dir, capsys):
    code, stdout, _ = run_cli(["solve", "Which planet is largest?", "--domain", "science", "--mode", "sc", "--n", "2",
                               "--options", "A) Mars|B) Jupiter", "--model", str(tiny_model_dir), *TINY], capsys)
    assert code == 0
    assert "Step 1" in stdout and "answer:" in stdout and "mode sc, 2 candidate(s)" in stdout


@pytest.mark.parametrize("args,needle", [
    (["solve", "q?", "--mode", "pvs"], "--prm: mode pvs needs a process reward model"),
    (["solve", "q?", "--mode", "beam,mcts"], "--mode takes one mode"),
    (["eval", "--modes", "cot,beam"], "--prm: mode beam needs a process reward model"),
    (["eval", "--modes", "cot,best"], "unknown inference mode 'best'"),
    (["eval", "--modes", "sc", "--prm", "/nonexistent/prm"], "PRM folder not found"),
    (["eval", "--set", "eval.n=0"], "eval.n"),
    (["eval", "--modes", "cot", "--split", "/nonexistent/file.jsonl"], "no split"),
])
def test_bad_input_is_one_line(tmp_path, tiny_model_dir, capsys, args, needle):
    out = tmp_path / "ev"
    extra = ["--out", str(out)] if args[0] == "eval" else []
    code, _, err = run_cli(args + ["--model", str(tiny_model_dir), *extra], capsys)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert not out.exists()


def test_parse_options():
    assert parse_options("A) red|B) blue") == {"A": "red", "B": "blue"}
    assert parse_options("(a) red | b. blue | C: green") == {"A": "red", "B": "blue", "C": "green"}
    assert parse_options("red|blue") == {"A": "red", "B": "blue"}


class HalfScorer:
    """Stands in for a trained PRM (none can be passed on the command line): every step scores 0.5."""

    def score(self, question, trajectories):
        return [[0.5] * len(t) for t in trajectories]


def test_solve_with_a_prm_prints_step_scores(tmp_path, tiny_model_dir, capsys, monkeypatch):
    from evolve import api

    monkeypatch.setattr(api, "build_scorer", lambda prm, config: HalfScorer())
    code, stdout, _ = run_cli(["solve", "Is ice cold?", "--domain", "science", "--mode", "pvs", "--n", "2",
                               "--prm", str(tmp_path), "--model", str(tiny_model_dir), *TINY], capsys)
    assert code == 0 and "Step 1 [0.500]:" in stdout and "mode pvs, 2 candidate(s)" in stdout


def test_eval_step_modes_with_a_prm(tmp_path, tiny_model_dir, capsys, monkeypatch):
    from evolve import api

    monkeypatch.setattr(api, "build_scorer", lambda prm, config: HalfScorer())
    out = tmp_path / "ev"
    budget = ["--set", "eval.max_steps=2", "--set", "eval.beam_width=1", "--set", "eval.beam_expansions=2",
              "--set", "eval.mcts_iterations=2", "--set", "eval.mcts_children=2"]
    code, stdout, _ = run_cli(["eval", "--domain", "medqa", "--limit", "2", "--modes", "beam,mcts,bon-min",
                               "--n", "2", "--prm", str(tmp_path), "--model", str(tiny_model_dir), "--out", str(out),
                               "--quiet", *TINY, *budget], capsys)
    assert code == 0, stdout
    summary = json.loads((out / "eval.json").read_text())
    assert [m["mode"] for m in summary["modes"]] == ["beam", "mcts", "bon-min"]
    records = [json.loads(line) for line in (out / "questions.jsonl").read_text().splitlines()]
    for record in records:
        beam = record["modes"]["beam"]
        assert beam["scores"] == [0.5] * len(beam["steps"]) and beam["tokens"] > 0


def test_where_filters_by_metadata_and_test_split_must_exist(tmp_path, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setenv("EVOLVE_HOME", str(tmp_path / "home"))
    rows = [{"question": f"Which organ {i}?", "options": ["Heart", "Lung"], "answer": "A",
             "subject": ["anatomy", "physiology", "anatomy"][i % 3]} for i in range(9)]
    source = tmp_path / "organs.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert run_cli(["domains", "add", "organs", "--from", str(source), "--type", "mcq", "--dev-fraction", "0"],
                   capsys)[0] == 0
    out = tmp_path / "ev"
    code, stdout, _ = run_cli(["eval", "--domain", "organs", "--split", "search", "--modes", "cot", "--where",
                               "subject=anatomy", "--by", "subject", "--model", str(tiny_model_dir), "--out", str(out),
                               "--quiet", *TINY], capsys)
    assert code == 0 and "split search (subject=anatomy): 6 questions" in stdout
    summary = json.loads((out / "eval.json").read_text())
    assert summary["questions"] == 6 and [g["value"] for g in summary["groups"]] == ["anatomy"]
    for args, needle in [
        (["--where", "topic=anatomy"], "no question of split 'search' of domain 'organs' has a field 'topic' -- "
                                       "fix: fields there: subject"),
        (["--where", "subject=surgery"], "values of 'subject': anatomy, physiology"),
        (["--split", "test"], "domain 'organs' has no split 'test'"),
    ]:
        split = [] if "--split" in args else ["--split", "search"]
        code, _, err = run_cli(["eval", "--domain", "organs", *split, "--modes", "cot", *args, "--model",
                                str(tiny_model_dir), "--out", str(tmp_path / "bad"), "--quiet", *TINY], capsys)
        assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "bad").exists()
