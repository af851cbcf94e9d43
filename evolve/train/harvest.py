"""Harvest: search trees to training data (MedS3 section 3.3).

- The policy SFT set holds the correct (pos) trajectories. Each is scored by its minimum step value,
  leaving out step 0, and the top-k per question are kept.
- The PRM set holds pos and neg trajectories in the step-wise format `{prompt, completions, labels}`,
  with one float label per step (step 0 is never labelled).

The label maths are pure functions; `harvest()` reads a tree file and writes both sets as Parquet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from domains import Domain, Question
from evolve.errors import EvolveError
from evolve.reasoner.steps import STEP_ZERO, continuation, serialise_steps, task_messages

Labeling = Literal["soft", "dual"]


class HarvestError(EvolveError):
    """The trees hold nothing to train on."""


def min_step_value(values: Sequence[float]) -> float:
    """The weakest step of a trajectory, step 0 left out (it is the same fixed text everywhere)."""
    steps = values[1:]
    return min(steps) if steps else values[0]


def soft_labels(values: Sequence[float]) -> list[float]:
    """MedS3 v1: each step's target is its own value Q_i (the PRM learns [1-Q, Q]); step 0 has none."""
    return [min(1.0, max(0.0, float(q))) for q in values[1:]]


def dual_labels(values: Sequence[float]) -> list[float]:
    """MedS3 (AAAI): step i is good when 2*Q_i - Q_(i-1) > 0, i.e. it keeps more than half of the
    value its parent had; a hard 0/1 label per step after step 0."""
    return [1.0 if 2 * values[i] - values[i - 1] > 0 else 0.0 for i in range(1, len(values))]


LABELINGS = {"soft": soft_labels, "dual": dual_labels}


def question_from_record(record: dict) -> Question:
    options = {opt["label"]: opt["text"] for opt in record.get("options") or []} or None
    return Question(id=record["id"], question=record["question"], answer=record["gold"], options=options,
                    context=record.get("context"))


def top_trajectories(pos: Sequence[dict], top_k: int) -> list[dict]:
    """Best minimum step value first; ties keep the tree's order (leaf id) so the choice is stable."""
    ranked = sorted(pos, key=lambda t: (-min_step_value(t["values"]), t["leaf"]))
    return ranked[:top_k]


def policy_rows(records: Iterable[dict], domain: Domain, top_k: int) -> list[dict]:
    rows = []
    for record in records:
        question = question_from_record(record)
        messages = task_messages(domain, question)
        for traj in top_trajectories(record["pos"], top_k):
            steps = [STEP_ZERO, *traj["steps"][1:]]
            rows.append({
                "question_id": record["id"], "messages": messages,
                "prefix": serialise_steps(steps[:1]), "completion": continuation(steps),
                "min_value": min_step_value(traj["values"]), "answer": traj["answer"] or "",
            })
    return rows


def prm_rows(records: Iterable[dict], domain: Domain, labeling: Labeling) -> list[dict]:
    label = LABELINGS[labeling]
    rows = []
    for record in records:
        prompt = domain.format_question(question_from_record(record))
        for traj in [*record["pos"], *record["neg"]]:
            if len(traj["steps"]) < 2:
                continue  # only step 0: nothing to label
            rows.append({
                "question_id": record["id"], "prompt": prompt, "completions": list(traj["steps"][1:]),
                "labels": label(traj["values"]), "values": [float(v) for v in traj["values"]],
                "correct": bool(traj["correct"]),
            })
    return rows


@dataclass
class HarvestSummary:
    questions: int
    pos: int
    neg: int
    questions_with_pos: int
    policy_rows: int
    prm_rows: int
    prm_steps: int
    prm_positive_share: float  # mean label, so a skewed PRM set is visible in the report

    def to_dict(self) -> dict:
        return asdict(self)


def summarise(records: Sequence[dict], policy: Sequence[dict], prm: Sequence[dict]) -> HarvestSummary:
    labels = [x for row in prm for x in row["labels"]]
    return HarvestSummary(
        questions=len(records),
        pos=sum(len(r["pos"]) for r in records),
        neg=sum(len(r["neg"]) for r in records),
        questions_with_pos=sum(1 for r in records if r["pos"]),
        policy_rows=len(policy),
        prm_rows=len(prm),
        prm_steps=len(labels),
        prm_positive_share=round(sum(labels) / len(labels), 4) if labels else 0.0,
    )


def write_parquet(rows: list[dict], path: Path) -> None:
    """Plain Arrow Parquet, which `datasets.Dataset.from_parquet(path)` and pandas read back as-is;
    written to a temporary name first so a crash never leaves half a file behind."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.Table.from_pylist(rows), tmp)
    tmp.replace(path)


def read_parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def harvest(records: Sequence[dict], domain: Domain, *, top_k: int, labeling: Labeling,
            out_dir: str | Path) -> tuple[list[dict], list[dict], HarvestSummary]:
    """Both training sets from searched trees, written to `out_dir/{policy,prm}.parquet`."""
    records = list(records)
    foreign = sorted({str(r.get("domain")) for r in records if r.get("domain") != domain.name})
    if foreign:
        raise HarvestError(
            f"the trees belong to domain {', '.join(repr(name) for name in foreign)}, not '{domain.name}'",
            where="harvest", fix=f"set data.domain to {foreign[0]}, or search '{domain.name}' into a fresh run folder",
        )
    policy = policy_rows(records, domain, top_k)
    if not policy:
        raise HarvestError(
            f"no correct trajectories in {len(records)} searched question(s)",
            where="harvest", fix="lower the difficulty or raise the budget (search.max_nodes, search.correct_leaves)",
        )
    prm = prm_rows(records, domain, labeling)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(policy, out / "policy.parquet")
    write_parquet(prm, out / "prm.parquet")
    return policy, prm, summarise(records, policy, prm)
