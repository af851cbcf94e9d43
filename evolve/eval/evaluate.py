"""`evaluate`: run the configured inference modes over held-out questions and score them.

The N-sample modes (sc, pvs, bon-*) share one draw of N samples per question and one PRM pass;
each reports the tokens of the samples it used (all N) and the wall time it depended on (sc
excludes the PRM's time, the PRM modes include it), and is marked `shared` in the results.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domains import Question
from evolve.errors import EvolveError
from evolve.eval.report import render_markdown, render_plot
from evolve.eval.results import EvalReport, ModeResult
from evolve.eval.stats import mcnemar, paired_bootstrap_diff, wilson_interval
from evolve.events import Progress, Sink, emit
from evolve.infer.base import Solution
from evolve.infer.modes import MODES

if TYPE_CHECKING:
    from evolve.api import Reasoner

BOOTSTRAP_ITERS = 2000


def mode_result(mode: str, correct: Sequence[bool], tokens: Sequence[int], seconds: float, shared: bool,
                answers: Sequence[str | None] = ()) -> ModeResult:
    k, n = sum(correct), len(correct)
    low, high = wilson_interval(k, n)
    top, share = top_answer(answers)
    return ModeResult(mode, k, n, k / n, low, high, sum(tokens) / n, seconds, shared, top, share)


def top_answer(answers: Sequence[str | None]) -> tuple[str | None, float]:
    """The most frequent answer (None counts as an answer here: "no answer") and its share."""
    if not answers:
        return None, 0.0
    counts = Counter(answers)
    answer, count = max(counts.items(), key=lambda kv: (kv[1], kv[0] is not None))
    return answer, count / len(answers)


def pass_at_n(questions: Sequence[Question], solutions, domain) -> dict[str, Any] | None:
    """Whether any of a question's sampled candidates is right (pass@N), with a Wilson interval."""
    if not solutions or not solutions[0].candidates:
        return None
    hits = [any(domain.is_correct(c.answer, q) for c in s.candidates) for s, q in zip(solutions, questions)]
    k, n = sum(hits), len(hits)
    low, high = wilson_interval(k, n)
    return {"n": len(solutions[0].candidates), "correct": k, "questions": n, "accuracy": k / n, "low": low, "high": high}


def compare(base: str, other: str, a: Sequence[bool], b: Sequence[bool], seed: int,
            iters: int = BOOTSTRAP_ITERS) -> dict[str, Any]:
    """`other` against `base` on the same questions: exact McNemar and a paired bootstrap of the difference."""
    only_base = sum(x and not y for x, y in zip(a, b))
    only_other = sum(y and not x for x, y in zip(a, b))
    diff, low, high = paired_bootstrap_diff(b, a, iters, seed)
    return {"base": base, "mode": other, "only_base": only_base, "only_mode": only_other,
            "mcnemar_p": mcnemar(only_base, only_other), "diff": diff, "diff_low": low, "diff_high": high}


def solution_record(solution: Solution, correct: bool, is_right=None) -> dict[str, Any]:
    """One mode's answer to one question; `is_right(answer)` also marks each candidate (for pass@N)."""
    return {
        "answer": solution.answer, "correct": correct, "tokens": solution.tokens, "steps": solution.steps,
        "scores": solution.scores, "votes": solution.votes,
        "candidates": [{"answer": c.answer, "tokens": c.tokens, "scores": c.scores, "finish_reason": c.finish_reason,
                        **({"correct": is_right(c.answer)} if is_right else {})} for c in solution.candidates],
    }


def group_results(questions: Sequence[Question], correct: dict[str, list[bool]], by: str) -> list[dict[str, Any]]:
    """Accuracy with a Wilson interval per value of the metadata field `by`, for every mode; values in
    first-seen order, questions without the field under "(none)"."""
    from domains.domain import metadata_fields

    if by not in metadata_fields(list(questions)):
        fields = ", ".join(metadata_fields(list(questions))) or "none (the file kept no metadata)"
        raise EvolveError(f"no question has a metadata field '{by}'", where=f"--by {by}", fix=f"fields there: {fields}")
    members: dict[str, list[int]] = {}
    for index, q in enumerate(questions):
        members.setdefault(str(q.meta.get(by, "(none)")), []).append(index)
    groups = []
    for value, indices in members.items():
        modes = {}
        for mode, marks in correct.items():
            k = sum(marks[i] for i in indices)
            low, high = wilson_interval(k, len(indices))
            modes[mode] = {"correct": k, "accuracy": k / len(indices), "low": low, "high": high}
        groups.append({"field": by, "value": value, "n": len(indices), "modes": modes})
    return groups


def evaluate(questions: Sequence[Question], reasoner: Reasoner, *, modes: Sequence[str] | None = None,
             out_dir: str | Path | None = None, label: str = "", events: Sink | None = None,
             split: str = "") -> EvalReport:
    """`modes` (default `eval.modes`) on `questions` (of `split`, for the report); writes eval.json,
    eval.md, eval.png and questions.jsonl to `out_dir`. With `eval.by`, also accuracy per value of that
    field. Progress goes to `events` as questions finish."""
    config, domain = reasoner.config.eval, reasoner.domain
    if not questions:
        raise EvolveError("no questions to evaluate", where="eval.split", fix="pick a split or file with questions")
    if config.by:
        group_results(questions, {}, config.by)  # an unknown field fails before any generation
    modes = list(dict.fromkeys(modes or config.modes))
    reasoner.check(modes)
    config = config.model_copy(update={"modes": modes})
    started = time.perf_counter()

    def progress(task: str, done: int, total: int, info: dict | None = None) -> None:
        emit(events, Progress(f"eval {task}", done, total, "questions", info or {}))

    runs = reasoner.run_modes(questions, modes, progress=progress)
    correct = {m: [domain.is_correct(s.answer, q) for s, q in zip(runs[m].solutions, questions)] for m in modes}
    results = [mode_result(m, correct[m], [s.tokens for s in runs[m].solutions], runs[m].seconds, runs[m].shared,
                           [s.answer for s in runs[m].solutions]) for m in modes]
    shared = next((m for m in modes if runs[m].shared or MODES[m].pick is not None), None)
    comparisons = [compare(modes[0], m, correct[modes[0]], correct[m], config.seed) for m in modes[1:]]
    records = [
        {"id": q.id, "gold": q.answer, **({"meta": q.meta} if q.meta else {}),
         "modes": {m: solution_record(runs[m].solutions[i], correct[m][i], lambda a, q=q: domain.is_correct(a, q))
                   for m in modes}}
        for i, q in enumerate(questions)
    ]
    report = EvalReport(domain.name, reasoner.model_name, label, len(questions), results, split, comparisons, records,
                        config.model_dump(mode="json"), time.perf_counter() - started,
                        groups=group_results(questions, correct, config.by) if config.by else [],
                        pass_at=pass_at_n(questions, runs[shared].solutions, domain) if shared else None)
    if out_dir is not None:
        write_report(report, out_dir)
    return report


def write_report(report: EvalReport, out_dir: str | Path) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report.out_dir = str(out)
    (out / "eval.json").write_text(json.dumps(report.summary(), indent=2) + "\n", encoding="utf-8")
    (out / "eval.md").write_text(render_markdown(report), encoding="utf-8")
    with (out / "questions.jsonl").open("w", encoding="utf-8") as handle:
        for record in report.records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    render_plot(report, out / "eval.png")
