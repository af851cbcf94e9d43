"""An evaluation as a markdown table and a bar chart with its 95% intervals."""

from __future__ import annotations

from pathlib import Path

from evolve.eval.results import EvalReport


def render_markdown(report: EvalReport) -> str:
    title = f"# Evaluation: {report.domain}" + (f" ({report.label})" if report.label else "")
    where = report.config.get("where") or {}
    chosen = f" of split `{report.split}`" if report.split else ""
    chosen += f" where {', '.join(f'{k}={v}' for k, v in where.items())}" if where else ""
    lines = [
        title, "",
        f"model `{report.model}`, {report.questions} questions{chosen}, n={report.config.get('n')}, "
        f"seed {report.config.get('seed')}, {report.seconds:.1f}s in all", "",
        "| mode | accuracy | 95% CI (Wilson) | correct | mean tokens | wall s |",
        "|---|---|---|---|---|---|",
    ]
    for m in report.modes:
        mark = " *" if m.shared else ""
        lines.append(f"| {m.mode}{mark} | {m.accuracy:.1%} | [{m.low:.1%}, {m.high:.1%}] | {m.correct}/{m.n} "
                     f"| {m.mean_tokens:.1f} | {m.seconds:.1f} |")
    if report.pass_at:
        p = report.pass_at
        lines += ["", f"pass@{p['n']} (any of the {p['n']} samples right): {p['accuracy']:.1%} "
                      f"[{p['low']:.1%}, {p['high']:.1%}], {p['correct']}/{p['questions']}"]
    tops = [f"{m.mode} {m.top_answer} ({m.top_share:.0%})" for m in report.modes if m.top_answer is not None]
    if tops:
        lines += ["", "Most frequent answer per mode (a constant answer would show here): " + ", ".join(tops)]
    if any(m.shared for m in report.modes):
        lines += ["", "\\* these modes share one draw of N samples per question: each counts all N samples' "
                      "tokens and the sampling time (the PRM modes add the PRM's time)."]
    if report.comparisons:
        lines += ["", f"| vs {report.comparisons[0]['base']} | diff | 95% CI (paired bootstrap) | only base | "
                      "only mode | McNemar p |", "|---|---|---|---|---|---|"]
        for c in report.comparisons:
            lines.append(f"| {c['mode']} | {c['diff']:+.1%} | [{c['diff_low']:+.1%}, {c['diff_high']:+.1%}] "
                         f"| {c['only_base']} | {c['only_mode']} | {c['mcnemar_p']:.3g} |")
    if report.groups:
        modes = list(report.groups[0]["modes"])
        lines += ["", f"By `{report.groups[0]['field']}` (accuracy, 95% Wilson interval):", "",
                  "| " + report.groups[0]["field"] + " | questions | " + " | ".join(modes) + " |",
                  "|---|---|" + "---|" * len(modes)]
        for group in report.groups:
            cells = [f"{g['accuracy']:.1%} [{g['low']:.0%}, {g['high']:.0%}]" for g in group["modes"].values()]
            lines.append(f"| {group['value']} | {group['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_plot(report: EvalReport, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [m.mode for m in report.modes]
    acc = [m.accuracy for m in report.modes]
    errors = [[m.accuracy - m.low for m in report.modes], [m.high - m.accuracy for m in report.modes]]
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2.5, 3.6), dpi=120)
    bars = ax.bar(names, acc, yerr=errors, capsize=6, color="#4C72B0", ecolor="#333333")
    for bar, m in zip(bars, report.modes):
        inside = m.accuracy >= 0.15  # a short (or 0%) bar has no room: the label goes above its interval, dark
        ax.text(bar.get_x() + bar.get_width() / 2, 0.02 if inside else m.high + 0.02,
                f"{m.accuracy:.0%}\n{m.mean_tokens:.0f} tok", ha="center", va="bottom",
                color="white" if inside else "#222222", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy (95% Wilson CI)")
    ax.set_title(f"{report.domain}{' ' + report.label if report.label else ''}: {report.questions} questions")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
