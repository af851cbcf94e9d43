"""`evolve domains list | show | check | add` through the real CLI entry point, with EVOLVE_HOME in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolve.cli import main

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def mcq_rows(count: int) -> list[dict]:
    return [
        {"qid": f"r{i}", "stem": f"What is {i}+1?", "choices": [str(i), str(i + 1), str(i + 2)], "key": 1}
        for i in range(count)
    ]


def current_umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def assert_hash_split(folder: Path, fraction: float, seed: int) -> tuple[list, list]:
    """(search, dev) questions of a written domain, checking that dev holds exactly the questions whose
    content hash falls below `fraction`."""
    from domains.domain import Domain
    from domains.splits import in_dev

    domain = Domain.from_dir(folder, "user")
    search = domain.load_split("search")
    dev = domain.load_split("dev") if "dev" in domain.split_names else []
    assert all(in_dev(q, fraction, seed) for q in dev) and not any(in_dev(q, fraction, seed) for q in search)
    return search, dev


def test_add_writes_a_canonical_domain_that_list_show_and_check_accept(home: Path, tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", mcq_rows(10))
    code, out, err = run_cli(
        capsys, "domains", "add", "sums", "--from", str(source), "--type", "mcq",
        "--map", "id=qid", "--map", "question=stem", "--map", "options=choices", "--map", "answer=key",
        "--map", "answer_format=index0", "--description", "Adding one", "--dev-fraction", "0.3",
    )
    assert (code, err) == (0, "")
    folder = home / "domains" / "sums"
    search, dev = assert_hash_split(folder, 0.3, 0)
    assert (len(search), len(dev)) == (9, 1)
    assert out.strip() == f"added domain 'sums' at {folder}: 9 search, 1 dev questions"
    assert sorted(p.name for p in folder.iterdir()) == ["dev.jsonl", "domain.yaml", "seeds.jsonl"]
    assert oct(folder.stat().st_mode & 0o777) == oct(0o777 & ~current_umask())
    seeds = read_jsonl(folder / "seeds.jsonl")
    assert seeds[0] == {"id": "r0", "question": "What is 0+1?", "options": {"A": "0", "B": "1", "C": "2"}, "answer": "B"}
    assert list(home.joinpath("domains").iterdir()) == [folder]  # no staging directory left behind

    code, out, _ = run_cli(capsys, "domains", "list")
    assert code == 0
    assert any(line.split()[:3] == ["sums", "user", "mcq"] for line in out.splitlines())
    assert any(line.split()[:3] == ["medqa", "builtin", "mcq"] for line in out.splitlines())

    code, out, _ = run_cli(capsys, "domains", "show", "sums")
    assert code == 0
    assert "example 1 (r0, answer B)" in out and "example 2 (r1, answer B)" in out
    assert "Question: What is 0+1?\n\nOptions:\nA. 0\nB. 1\nC. 2\n" in out

    code, out, _ = run_cli(capsys, "domains", "check", "sums")
    assert code == 0
    assert "search: 9 questions, 0 bad rows" in out and "answers: B:9" in out
    assert "ok: domain 'sums' is valid" in out


def test_invalid_file_writes_nothing_and_names_every_bad_row(home: Path, tmp_path: Path, capsys) -> None:
    rows = [
        {"question": "ok?", "options": {"A": "x", "B": "y"}, "answer": "A"},
        {"question": "no answer?", "options": {"A": "x", "B": "y"}},
        {"question": "bad letter?", "options": {"A": "x", "B": "y"}, "answer": "D"},
    ]
    source = write_jsonl(tmp_path / "raw.jsonl", rows)
    code, out, err = run_cli(capsys, "domains", "add", "quiz", "--from", str(source), "--type", "mcq")
    assert code == 2
    assert err.startswith(f"error: {source}: 2 of 3 rows are invalid: line 2: no answer: no field 'answer'")
    assert "; line 3: answer 'D' is not among its options A-B -- fix:" in err
    assert "--skip-bad" in err and err.count("\n") == 1
    assert not (home / "domains").exists() or list((home / "domains").iterdir()) == []


def test_more_than_twenty_bad_rows_are_counted(home: Path, tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [{"question": f"q{i}", "answer": "many"} for i in range(25)])
    code, _, err = run_cli(capsys, "domains", "add", "nums", "--from", str(source), "--type", "numeric")
    assert code == 2
    assert "line 5: answer 'many' is not a number" in err
    assert "line 6:" not in err and "; and 20 more (25 of all 25 of the kind 'other') -- fix:" in err


def test_skip_bad_keeps_good_rows_and_reports_the_rest(home: Path, tmp_path: Path, capsys) -> None:
    rows = [{"question": f"q{i}", "answer": "yes" if i % 3 else "unsure"} for i in range(6)]
    source = write_jsonl(tmp_path / "raw.jsonl", rows)
    code, out, _ = run_cli(
        capsys, "domains", "add", "yn", "--from", str(source), "--type", "yesno", "--skip-bad", "--dev-fraction", "0",
        "--max-bad", "50%",
    )
    folder = home / "domains" / "yn"
    assert code == 0
    assert f"skipped 2 bad rows; all of them, with reasons, in {folder / 'bad_rows.jsonl'}" in out
    assert "  line 1: answer 'unsure' is not yes, no or maybe\n  line 4: answer" in out
    assert [row["id"] for row in read_jsonl(folder / "seeds.jsonl")] == ["yn-2", "yn-3", "yn-5", "yn-6"]
    assert read_jsonl(folder / "bad_rows.jsonl") == [
        {"source": str(source), "line": 1, "reason": "answer 'unsure' is not yes, no or maybe", "kind": "other"},
        {"source": str(source), "line": 4, "reason": "answer 'unsure' is not yes, no or maybe", "kind": "other"},
    ]
    assert not (folder / "dev.jsonl").exists()


def test_dev_split_is_deterministic_by_seed(home: Path, tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [{"id": f"n{i}", "question": f"q{i}", "answer": str(i)} for i in range(30)])
    dev_ids = []
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert run_cli(capsys, "domains", "add", name, "--from", str(source), "--type", "numeric", "--seed", seed)[0] == 0
        assert_hash_split(home / "domains" / name, 0.1, int(seed))
        dev_ids.append([row["id"] for row in read_jsonl(home / "domains" / name / "dev.jsonl")])
    assert dev_ids[0] == dev_ids[1] != dev_ids[2]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"question": "q", "answer": "1"}\n{"question": \n', "raw.jsonl: 1 of 2 rows are invalid: line 2: malformed JSON"),
        (b"", "raw.jsonl: the file holds no rows"),
        (b'{"question": "caf\xe9", "answer": "1"}\n', "raw.jsonl:1: not UTF-8 text"),
    ],
)
def test_unreadable_files_fail_with_one_line(home: Path, tmp_path: Path, capsys, content: bytes, expected: str) -> None:
    source = tmp_path / "raw.jsonl"
    source.write_bytes(content)
    code, _, err = run_cli(capsys, "domains", "add", "nums", "--from", str(source), "--type", "numeric")
    assert code == 2
    assert expected in err and err.count("\n") == 1
    assert not (home / "domains" / "nums").exists()


def test_add_refuses_builtin_and_existing_names_and_bad_options(home: Path, tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [{"question": "q", "answer": "1"}])
    code, _, err = run_cli(capsys, "domains", "add", "medqa", "--from", str(source), "--type", "numeric")
    assert (code, "'medqa' is a built-in domain" in err) == (2, True)
    assert run_cli(capsys, "domains", "add", "n", "--from", str(source), "--type", "numeric")[0] == 0
    code, _, err = run_cli(capsys, "domains", "add", "n", "--from", str(source), "--type", "numeric")
    assert (code, "already exists" in err, "--force" in err) == (2, True, True)
    assert run_cli(capsys, "domains", "add", "n", "--from", str(source), "--type", "numeric", "--force")[0] == 0
    code, _, err = run_cli(capsys, "domains", "add", "m", "--from", str(source), "--type", "numeric", "--map", "questoin=q")
    assert code == 2 and "unknown field 'questoin' -- fix: did you mean 'question'?" in err
    code, _, err = run_cli(capsys, "domains", "add", "m", "--from", str(source), "--type", "number")
    assert code == 2 and "unknown answer type 'number'" in err


def test_check_fails_on_a_bad_row_and_show_on_unknown_domain(home: Path, tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [{"question": "q", "answer": "1"}, {"question": "r", "answer": "2"}])
    assert run_cli(capsys, "domains", "add", "n", "--from", str(source), "--type", "numeric", "--dev-fraction", "0")[0] == 0
    seeds = home / "domains" / "n" / "seeds.jsonl"
    seeds.write_text(seeds.read_text(encoding="utf-8") + '{"question": "s"}\n', encoding="utf-8")
    code, out, err = run_cli(capsys, "domains", "check", "n")
    assert code == 1
    assert "search: 2 questions, 1 bad rows" in out and "line 3: no answer" in out
    assert "error: domain 'n' has 1 problem(s)" in err
    code, _, err = run_cli(capsys, "domains", "show", "nn")
    assert code == 2 and err.startswith("error: unknown domain 'nn' -- fix: did you mean 'n'?")


# ---- the public datasets in their original formats --------------------------------------------------

needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")


def _slice(source: Path, target: Path, lines: list[int]) -> Path:
    all_lines = source.read_text(encoding="utf-8").splitlines()
    target.write_text("\n".join(all_lines[i - 1] for i in lines) + "\n", encoding="utf-8")
    return target


def _commands() -> dict[str, str]:
    text = (Path(__file__).resolve().parents[1] / "domains" / "README-commands.md").read_text(encoding="utf-8")
    commands = [line for line in text.splitlines() if line.startswith("evolve domains add ")]
    return {command.split()[3]: command for command in commands}


@needs_shared_data
@pytest.mark.parametrize(
    ("name", "data_file", "first", "answer_type"),
    [
        ("medqa-test", "medqa/test.jsonl", ("B", "A junior orthopaedic surgery resident"), "mcq"),
        ("pubmedqa-test", "pubmedqa/test.jsonl", ("yes", "Is anorectal endosonography valuable in dyschesia?"), "yesno"),
        ("arc-easy-dev", "arc_easy/dev.jsonl", ("A", "Which technology was developed most recently?"), "mcq"),
        ("gsm8k-test", "gsm8k/test.jsonl", ("18", None), "numeric"),
    ],
)
def test_documented_commands_load_real_formats(
    home: Path, tmp_path: Path, capsys, monkeypatch, name: str, data_file: str, first: tuple, answer_type: str
) -> None:
    import shlex

    command = _commands()[name]
    args = shlex.split(command)[1:]
    real = args[args.index("--from") + 1]
    assert real == f"../shared/data/{data_file}"
    # Run the documented command verbatim from a copy of the layout: repo/ beside shared/data/ holding the
    # first 20 lines (ARC's line 9 has digit labels and a digit answerKey).
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    sliced = (repo / real).resolve()
    sliced.parent.mkdir(parents=True)
    _slice(SHARED_DATA / data_file, sliced, list(range(1, 21)))
    code, out, err = run_cli(capsys, *args)
    assert (code, err) == (0, ""), err
    folder = home / "domains" / name
    search, dev = assert_hash_split(folder, 0.1, 0)
    assert len(search) + len(dev) == 20 and f"{len(search)} search, {len(dev)} dev questions" in out
    rows = read_jsonl(folder / "seeds.jsonl") + read_jsonl(folder / "dev.jsonl")
    row = next(r for r in rows if r["question"].startswith(first[1])) if first[1] else rows[0]
    assert row["answer"] == first[0]
    code, out, _ = run_cli(capsys, "domains", "check", name)
    assert code == 0 and f"ok: domain '{name}' is valid" in out
    if name == "arc-easy-dev":
        digit = next(r for r in rows if r["id"] == "NYSEDREGENTS_2014_8_10")
        assert digit["options"]["A"] == "obtain energy" and digit["answer"] == "A"
    if name == "pubmedqa-test":
        assert rows[0]["context"].startswith("Dyschesia can be provoked") and "explanation" in rows[0]
    if answer_type == "numeric":
        assert {r["id"]: r["answer"] for r in rows}["gsm8k-test-3"] == "70000"
