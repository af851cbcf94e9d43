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


# Below these a stage ran for real but its number says little: flagged in the report, not hidden.
TOO_LITTLE = {"policy examples": 32, "policy steps": 10, "PRM held-out steps": 50}


def _prm_cells(prm: dict) -> tuple[str, str]:
    """AUC, and the balanced accuracy with the positive share beside it: a plain accuracy of 0.89 on
    labels that are 8% positive is what "always negative" gets."""
    auc = prm.get("auc")
    balanced, share = prm.get("balanced_accuracy"), prm.get("positive_share")
    if balanced is None and prm.get("accuracy") is not None:
        acc = f"acc {prm['accuracy']:.3f}"
    else:
        acc = "-" if balanced is None else f"{balanced:.3f}"
    if share is not None:
        acc += f" ({100 * share:.0f}% pos)"
    return ("-" if auc is None else f"{auc:.3f}"), acc


def markdown_table(manifests: list[dict]) -> str:
    modes = _modes(manifests)
    passes = any((m["metrics"].get("pass_at") or {}) for m in manifests)
    head = ["round", *[f"{m} % [95% CI]" for m in modes], *(["pass@N %"] if passes else []),
            "PRM AUC (chance 0.5)", "PRM balanced acc", "pos / neg", "tokens (cot)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for manifest in manifests:
        evals = manifest["metrics"].get("eval") or {}
        data = manifest["data"]
        auc, acc = _prm_cells(manifest["metrics"].get("prm") or {})
        pos_neg = f"{data['pos']} / {data['neg']}" if "pos" in data else "-"
        tokens = evals.get("cot", {}).get("mean_tokens")
        passed = manifest["metrics"].get("pass_at")
        row = [str(manifest["round"]), *[_cell(evals.get(m)) for m in modes],
               *([(f"{_cell(passed)} (N={passed['n']})" if passed else "-")] if passes else []),
               auc, acc, pos_neg, "-" if tokens is None else f"{tokens:.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def data_warnings(manifest: dict) -> list[str]:
    """What a round's numbers cannot show because its stage had too little data."""
    metrics, notes = manifest["metrics"], []
    policy, prm = metrics.get("policy") or {}, metrics.get("prm") or {}
    if policy and (policy.get("examples", 0) < TOO_LITTLE["policy examples"]
                   or policy.get("steps", 0) < TOO_LITTLE["policy steps"]):
        notes.append(f"the policy trained on {policy.get('examples')} examples in {policy.get('steps')} steps: "
                     "too little data for its loss curve or its gain to mean much")
    if prm and prm.get("heldout_steps") is not None and prm["heldout_steps"] < TOO_LITTLE["PRM held-out steps"]:
        notes.append(f"the PRM's AUC is on {prm['heldout_steps']} held-out steps: too few to tell it from chance")
    return notes


def write_run_report(run_dir: str | Path) -> tuple[Path, Path]:
    run_dir = Path(run_dir)
    manifests = load_manifests(run_dir)
    questions = next((m["data"].get("eval_questions") for m in manifests if m["data"].get("eval_questions")), None)
    lines = [f"# Run report: {run_dir.name}", "",
             f"Accuracy on {questions or '?'} held-out questions per inference mode and round "
             "(round 0 is the base model). Intervals are 95% Wilson intervals.", "",
             markdown_table(manifests), ""]
    for manifest in manifests:
        timings = ", ".join(f"{k} {v:.0f}s" for k, v in manifest["timings"].items() if " " not in k)
        lines.append(f"- round {manifest['round']}: {timings}")
        lines += [f"  - note: {note}" for note in data_warnings(manifest)]
    md = run_dir / "report.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    png = run_dir / "report.png"
    plot_run(manifests, png)
    return md, png


MODE_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def plot_run(manifests: list[dict], path: Path) -> None:
    """Left: accuracy per mode per round (one colour per mode, nowhere else). Right: the harvest's
    pos/neg counts in greys and the PRM's AUC in black against the dashed chance line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (acc_ax, side_ax) = plt.subplots(1, 2, figsize=(12, 4.4))
    for offset, mode in enumerate(_modes(manifests)):
        points = [(m["round"], m["metrics"]["eval"][mode]) for m in manifests
                  if mode in (m["metrics"].get("eval") or {})]
        xs = [r + 0.04 * offset for r, _ in points]
        ys = [100 * e["accuracy"] for _, e in points]
        errs = [[100 * (e["accuracy"] - e["low"]) for _, e in points], [100 * (e["high"] - e["accuracy"]) for _, e in points]]
        acc_ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=mode,
                        color=MODE_COLOURS[offset % len(MODE_COLOURS)])
    acc_ax.set(xlabel="round (0 = base model)", ylabel="accuracy (%)", title="held-out accuracy (95% Wilson CI)",
               ylim=(0, 100))
    acc_ax.set_xticks([m["round"] for m in manifests])
    acc_ax.grid(alpha=0.3)
    acc_ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    rounds = [m for m in manifests if "pos" in m["data"]]
    if rounds:
        xs = [m["round"] for m in rounds]
        side_ax.bar([x - 0.2 for x in xs], [m["data"]["pos"] for m in rounds], width=0.4, color="#bbbbbb",
                    label="pos trajectories")
        side_ax.bar([x + 0.2 for x in xs], [m["data"]["neg"] for m in rounds], width=0.4, color="#666666",
                    label="neg trajectories")
        side_ax.set(xlabel="round", ylabel="trajectories", title="search harvest and PRM step AUC")
        side_ax.set_xticks(xs)
        handles, labels = side_ax.get_legend_handles_labels()
        aucs = [(m["round"], (m["metrics"].get("prm") or {}).get("auc")) for m in rounds]
        aucs = [(r, a) for r, a in aucs if a is not None]
        if aucs:
            twin = side_ax.twinx()
            twin.plot([r for r, _ in aucs], [a for _, a in aucs], "k-o", label="PRM step AUC (held out)")
            twin.axhline(0.5, color="black", linestyle="--", linewidth=0.8, label="chance (AUC 0.5)")
            twin.set_ylim(0, 1)
            twin.set_ylabel("AUC")
            more_handles, more_labels = twin.get_legend_handles_labels()
            handles, labels = handles + more_handles, labels + more_labels
        side_ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.12, 1.0), frameon=False)
    else:
        side_ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
