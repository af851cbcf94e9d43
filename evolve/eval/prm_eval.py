"""`evolve prm eval`: a PRM (and the search's own step values) checked against the truth.

On a generated domain every step of a sampled solution can be labelled right, wrong or neutral
(`domains.truth`). This measures:
- the PRM's step AUC against those true labels (neutral steps left out);
- ProcessBench-style first-error detection: the F1 of "the first step scored below a threshold is the
  first wrong step", the threshold chosen on dev questions;
- the last step's AUC against final correctness;
- with a tree file: the PRM's AUC against the Monte Carlo labels it was trained on (soft Q >= 0.5 and
  dual), and the tree's Q values themselves against the truth (step AUC, and first-error F1 at Q < 0.5,
  the soft label's cut), which says whether MedS3's labelling matches what is actually right. With
  `samples=0` only the tree is checked (`evaluate_trees`), and without a PRM only its Q values.
Written as prm_eval.json, prm_eval.md and prm_eval.png (ROC curves).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domains import Question
from domains.truth import first_error, label_steps
from evolve.errors import EvolveError
from evolve.eval.stats import best_threshold, first_below, first_error_f1, roc_points
from evolve.events import Progress, Sink, emit
from evolve.train.maths import roc_auc

if TYPE_CHECKING:
    from evolve.api import Reasoner


class NoTruthError(EvolveError):
    """The domain's questions carry no chain of true quantities."""

    @classmethod
    def for_domain(cls, name: str) -> NoTruthError:
        return cls(f"domain '{name}' has no step truth (it is not generated)", where="--domain",
                   fix="use a generated domain (evolve domains add --generate), or pass --no-truth to run only the "
                   "last-step AUC against final correctness and, with --trees, the PRM against the MC labels")


def check_truth(name: str, questions: Sequence[Question], use_truth: bool) -> None:
    if use_truth and not has_truth(questions):
        raise NoTruthError.for_domain(name)


def has_truth(questions: Sequence[Question]) -> bool:
    return bool(questions) and all(q.meta.get("truth") for q in questions)


@dataclass
class Sampled:
    """One trajectory: its question, steps, PRM scores, true labels and final correctness."""

    question: Question
    steps: list[str]
    scores: list[float]
    labels: list[str]
    correct: bool


def sample(reasoner: Reasoner, questions: Sequence[Question], n: int, *, events: Sink | None = None,
           task: str = "prm eval: sample") -> list[Sampled]:
    """`n` sampled solutions per question, every step scored by the PRM and labelled by the checker."""
    config = reasoner.config.model_copy(deep=True)
    config.eval.n = n

    def progress(_mode: str, done: int, total: int, info: dict | None = None) -> None:
        emit(events, Progress(task, done, total, "questions", info or {}))

    runs = type(reasoner)(config, reasoner.domain, reasoner.generator, reasoner.scorer).run_modes(
        questions, ["pvs"], progress=progress if events else None)
    out = []
    for q, solution in zip(questions, runs["pvs"].solutions):
        for candidate in solution.candidates:
            steps = [s for s in candidate.steps if s.strip()]
            if not steps or not candidate.scores:
                continue
            labels = label_steps(steps, q.meta["truth"], q.question, float(q.answer)) if q.meta.get("truth") else []
            out.append(Sampled(q, steps, list(candidate.scores[:len(steps)]), labels,
                               reasoner.domain.is_correct(candidate.answer, q)))
    return out


def _auc_pairs(pairs: list[tuple[float, int]]) -> dict:
    scores, truth = [p[0] for p in pairs], [p[1] for p in pairs]
    fpr, tpr = roc_points(scores, truth)
    return {"auc": roc_auc(scores, truth), "steps": len(pairs), "positive": sum(truth), "roc": [fpr, tpr]}


def truth_metrics(test: Sequence[Sampled], dev: Sequence[Sampled]) -> dict:
    """Step AUC against the truth, first-error F1 at the dev-chosen threshold, last-step AUC."""
    step_pairs = [(s, 1 if label == "correct" else 0) for t in test for s, label in zip(t.scores, t.labels)
                  if label != "neutral"]
    result: dict[str, Any] = {"step_vs_truth": _auc_pairs(step_pairs)}
    if dev:
        threshold, dev_f1 = best_threshold([t.scores for t in dev], [first_error(t.labels) for t in dev])
    else:
        threshold, dev_f1 = 0.5, {"f1": None}
    predicted = [first_below(t.scores, threshold) for t in test]
    result["first_error"] = {"threshold": threshold, "dev_f1": dev_f1["f1"],
                             **first_error_f1(predicted, [first_error(t.labels) for t in test])}
    result["labels"] = {label: sum(t.labels.count(label) for t in test) for label in ("correct", "wrong", "neutral")}
    return result


def last_step_metrics(test: Sequence[Sampled]) -> dict:
    return _auc_pairs([(t.scores[-1], int(t.correct)) for t in test])


Q_CUT = 0.5  # a step whose rollouts reach the answer less than half the time: the soft label's negative


def tree_metrics(records: Sequence[dict], questions: dict[str, Question], scorer, domain, *,
                 events: Sink | None = None) -> dict:
    """On the search's own trajectories: the tree's Q values against the truth, and the PRM against the
    Monte Carlo labels (soft Q >= 0.5, dual) it is trained on."""
    from evolve.train.harvest import dual_labels

    q_truth, q_flagged, q_first_wrong, prm_soft, prm_dual = [], [], [], [], []
    for done, record in enumerate(records):
        emit(events, Progress("prm eval: score the trees", done, len(records), "trees"))
        question = questions.get(record["id"])
        for trajectory in [*record["pos"], *record["neg"]]:
            steps, values = trajectory["steps"][1:], trajectory["values"]
            if not steps:
                continue
            scores = scorer.score(domain.format_question(question), [steps])[0] if question and scorer else None
            if question is not None and question.meta.get("truth"):
                labels = label_steps(steps, question.meta["truth"], question.question, float(question.answer))
                q_truth += [(v, 1 if label == "correct" else 0) for v, label in zip(values[1:], labels) if label != "neutral"]
                q_flagged.append(first_below(values[1:len(steps) + 1], Q_CUT))
                q_first_wrong.append(first_error(labels))
            if scores is not None:
                prm_soft += [(s, int(v >= Q_CUT)) for s, v in zip(scores, values[1:])]
                prm_dual += [(s, int(d)) for s, d in zip(scores, dual_labels(values))]
    emit(events, Progress("prm eval: score the trees", len(records), len(records), "trees"))
    metrics = {"q_vs_truth": _auc_pairs(q_truth), "q_first_error": {"threshold": Q_CUT,
                                                                    **first_error_f1(q_flagged, q_first_wrong)}}
    if scorer is not None:
        metrics |= {"prm_vs_soft_mc": _auc_pairs(prm_soft), "prm_vs_dual_mc": _auc_pairs(prm_dual)}
    return metrics


@dataclass
class PRMEvalReport:
    domain: str
    prm: str
    questions: int
    trajectories: int
    truth: dict | None = None
    last_step: dict = field(default_factory=dict)
    tree: dict | None = None

    def summary(self) -> dict:
        def strip(value):
            if isinstance(value, dict):
                return {k: strip(v) for k, v in value.items() if k != "roc"}
            return value
        return strip(self.__dict__)


def evaluate_prm(reasoner: Reasoner, test: Sequence[Question], dev: Sequence[Question], *, samples: int,
                 prm_name: str, trees: Sequence[dict] | None = None, use_truth: bool = True,
                 events: Sink | None = None) -> PRMEvalReport:
    """Progress goes to `events`: sampling the test and dev questions, then scoring the trees."""
    check_truth(reasoner.domain.name, test, use_truth)
    sampled = sample(reasoner, test, samples, events=events, task="prm eval: sample test")
    report = PRMEvalReport(reasoner.domain.name, prm_name, len(test), len(sampled), last_step=last_step_metrics(sampled))
    if use_truth:
        dev_sampled = sample(reasoner, dev, samples, events=events, task="prm eval: sample dev") if dev else []
        report.truth = truth_metrics(sampled, dev_sampled)
    if trees is not None:
        report.tree = tree_metrics(trees, _by_id(reasoner.domain, test, dev), reasoner.scorer, reasoner.domain,
                                   events=events)
    return report


def evaluate_trees(domain, test: Sequence[Question], dev: Sequence[Question], trees: Sequence[dict], *,
                   scorer=None, prm_name: str | None = None, events: Sink | None = None) -> PRMEvalReport:
    """Only the tree file: its Q values against the truth and, given a PRM's scorer, the PRM against
    the MC labels. Nothing is sampled, so no policy is needed."""
    check_truth(domain.name, test, True)
    report = PRMEvalReport(domain.name, prm_name or "-", len(test), 0)
    report.tree = tree_metrics(trees, _by_id(domain, test, dev), scorer, domain, events=events)
    return report


def _by_id(domain, test: Sequence[Question], dev: Sequence[Question]) -> dict[str, Question]:
    return {q.id: q for q in [*test, *dev, *domain.load_split("search")]}


def write_prm_report(report: PRMEvalReport, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "prm_eval.json").write_text(json.dumps(report.summary(), indent=2) + "\n", encoding="utf-8")
    (out_dir / "prm_eval.md").write_text(markdown(report), encoding="utf-8")
    plot(report, out_dir / "prm_eval.png")
    return [out_dir / "prm_eval.json", out_dir / "prm_eval.md", out_dir / "prm_eval.png"]


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def markdown(report: PRMEvalReport) -> str:
    lines = [f"# {'PRM' if report.prm != '-' else 'Tree Q values'} against the truth: {report.domain}", "",
             f"PRM `{report.prm}`, {report.questions} questions, "
             f"{report.trajectories} sampled trajectories.", "", "| check | AUC | items | positive |", "|---|---|---|---|"]
    rows = []
    if report.truth:
        rows.append(("step score vs true step label", report.truth["step_vs_truth"]))
    if report.last_step:
        rows.append(("last step vs final correctness", report.last_step))
    if report.tree:
        rows.append(("tree Q value vs true step label", report.tree["q_vs_truth"]))
        if "prm_vs_soft_mc" in report.tree:
            rows += [("step score vs MC label (soft Q >= 0.5)", report.tree["prm_vs_soft_mc"]),
                     ("step score vs MC label (dual)", report.tree["prm_vs_dual_mc"])]
    for name, m in rows:
        lines.append(f"| {name} | {_fmt(m['auc'])} | {m['steps']} | {m['positive']} |")
    if report.truth:
        fe = report.truth["first_error"]
        lines += ["", f"First-error detection (ProcessBench): F1 {_fmt(fe['f1'])} at threshold {fe['threshold']:.3f} "
                      f"(chosen on dev, F1 {_fmt(fe['dev_f1'])}): {_fmt(fe['error_accuracy'])} on {fe['erroneous']} "
                      f"trajectories with an error, {_fmt(fe['clean_accuracy'])} on {fe['clean']} without.",
                  f"True step labels: {report.truth['labels']}."]
    if report.tree:
        fe = report.tree["q_first_error"]
        lines += ["", f"The tree's own first-error detection (first step with Q < {fe['threshold']}): F1 {_fmt(fe['f1'])}: "
                      f"{_fmt(fe['error_accuracy'])} on {fe['erroneous']} trajectories with an error, "
                      f"{_fmt(fe['clean_accuracy'])} on {fe['clean']} without."]
    return "\n".join(lines) + "\n"


def plot(report: PRMEvalReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = []
    if report.truth:
        curves.append(("PRM step vs truth", report.truth["step_vs_truth"]))
    if report.last_step:
        curves.append(("PRM last step vs final answer", report.last_step))
    if report.tree:
        curves.append(("tree Q vs truth", report.tree["q_vs_truth"]))
        if "prm_vs_dual_mc" in report.tree:
            curves.append(("PRM step vs MC (dual)", report.tree["prm_vs_dual_mc"]))
    fig, ax = plt.subplots(figsize=(5.6, 5.0), dpi=120)
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="chance (AUC 0.5)")
    for name, metrics in curves:
        fpr, tpr = metrics["roc"]
        if fpr:
            ax.plot(fpr, tpr, linewidth=2, label=f"{name}: AUC {_fmt(metrics['auc'])} ({metrics['steps']})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="false positive rate", ylabel="true positive rate",
           title=f"{report.domain}: {'PRM' if report.prm != '-' else 'tree Q values'} against the truth")
    ax.legend(loc="lower right", fontsize=7, frameon=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
