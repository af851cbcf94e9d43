"""The run report, regenerated after every round: accuracy per mode per round with 95% Wilson
intervals, PRM AUC, pos/neg counts and response length, as markdown and as a PNG."""

from __future__ import annotations

from pathlib import Path

from evolve.rounds.manifest import read_json


def load_manifests(run_dir: Path) -> list[dict]:
    found = []
    for path in run_dir.glob("round-*/manifest.json"):
        found.append(read_json(path))
    return sorted(found, key=lambda m: m["round"])


def _modes(manifests: list[dict]) -> list[str]:
    modes: list[str] = []
    for manifest in manifests:
        for mode in (manifest["metrics"].get("eval") or {}):
            if mode not in modes:
                modes.append(mode)
    return modes


def _cell(result: dict | None) -> str:
    if not result:
        return "-"
    return f"{100 * result['accuracy']:.1f} [{100 * result['low']:.0f}, {100 * result['high']:.0f}]"


def markdown_table(manifests: list[dict]) -> str:
    modes = _modes(manifests)
    head = ["round", *[f"{m} % [95% CI]" for m in modes], "PRM AUC", "PRM acc", "pos / neg", "tokens (cot)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for manifest in manifests:
        evals = manifest["metrics"].get("eval") or {}
        prm = manifest["metrics"].get("prm") or {}
        data = manifest["data"]
        auc = prm.get("auc")
        acc = prm.get("accuracy")
        pos_neg = f"{data['pos']} / {data['neg']}" if "pos" in data else "-"
        tokens = evals.get("cot", {}).get("mean_tokens")
        row = [str(manifest["round"]), *[_cell(evals.get(m)) for m in modes],
               "-" if auc is None else f"{auc:.3f}", "-" if acc is None else f"{acc:.3f}", pos_neg,
               "-" if tokens is None else f"{tokens:.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_run_report(run_dir: str | Path) -> tuple[Path, Path]:
    run_dir = Path(run_dir)
    manifests = load_manifests(run_dir)
    questions = next((m["data"].get("eval_questions") for m in manifests if m["data"].get("eval_questions")), None)
    lines = [f"# Run report: {run_dir.name}", "",
             f"Accuracy on {questions or '?'} held-out questions per inference mode and round "
             "(round 0 is the base model). Intervals are 95% Wilson intervals.", "",
             markdown_table(manifests), ""]
    for manifest in manifests:
        timings = ", ".join(f"{k} {v:.0f}s" for k, v in manifest["timings"].items())
        lines.append(f"- round {manifest['round']}: {timings}")
    md = run_dir / "report.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    png = run_dir / "report.png"
    plot_run(manifests, png)
    return md, png


def plot_run(manifests: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (acc_ax, side_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for offset, mode in enumerate(_modes(manifests)):
        points = [(m["round"], m["metrics"]["eval"][mode]) for m in manifests
                  if mode in (m["metrics"].get("eval") or {})]
        xs = [r + 0.04 * offset for r, _ in points]
        ys = [100 * e["accuracy"] for _, e in points]
        errs = [[100 * (e["accuracy"] - e["low"]) for _, e in points], [100 * (e["high"] - e["accuracy"]) for _, e in points]]
        acc_ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=mode)
    acc_ax.set(xlabel="round", ylabel="accuracy (%)", title="held-out accuracy (95% Wilson CI)")
    acc_ax.set_xticks([m["round"] for m in manifests])
    acc_ax.legend(fontsize=8)
    rounds = [m for m in manifests if "pos" in m["data"]]
    if rounds:
        xs = [m["round"] for m in rounds]
        side_ax.bar([x - 0.2 for x in xs], [m["data"]["pos"] for m in rounds], width=0.4, label="pos trajectories")
        side_ax.bar([x + 0.2 for x in xs], [m["data"]["neg"] for m in rounds], width=0.4, label="neg trajectories")
        side_ax.set(xlabel="round", ylabel="trajectories", title="search harvest and PRM AUC")
        side_ax.set_xticks(xs)
        aucs = [(m["round"], (m["metrics"].get("prm") or {}).get("auc")) for m in rounds]
        aucs = [(r, a) for r, a in aucs if a is not None]
        if aucs:
            twin = side_ax.twinx()
            twin.plot([r for r, _ in aucs], [a for _, a in aucs], "k-o", label="PRM step AUC")
            twin.set_ylim(0, 1)
            twin.set_ylabel("AUC")
            twin.legend(loc="upper right", fontsize=8)
        side_ax.legend(loc="upper left", fontsize=8)
    else:
        side_ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
