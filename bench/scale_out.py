"""Scaling the search out on Ray, side by side in one run (not CI: minutes on 2 cores).

    .venv/bin/python bench/scale_out.py [--questions 8] [--sim-questions 192] [--latency 0.05] [--out runs/scale-out]

(a) On this CPU, with the embedded model and configs/search-cpu.yaml, the same questions searched
    - in this process (the batched driver, 2 threads),
    - on Ray by 1 worker with 2 threads (so the difference is Ray's overhead),
    - on Ray by 2 workers with 1 thread each;
    with nodes/s and generated tokens/s. The trees are checked to be the same questions.
(b) A simulated scaling curve: N workers (N = 1, 2, 4, 8, 16) over the scripted backend that sleeps
    `--latency` seconds per backend call, like a remote engine whose cost is its latency. The workers
    then need almost no CPU, so the curve shows whether the one coordinator and the one writer keep
    up: nodes/s against N times the 1-worker rate (the ideal), as an efficiency.

Writes scale_out.json and scale_out.png to --out. The 135M model's answers do not matter here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evolve.config import load_config  # noqa: E402
from evolve.scale import reasoner_for  # noqa: E402
from evolve.search.records import read_records  # noqa: E402
from evolve.search.runner import run_search  # noqa: E402

SETTLE = 15  # seconds a fresh local cluster is left alone before an arm is timed


def search(config, out: Path) -> dict:
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    summary = run_search(reasoner_for(config), out)
    # rates over the search itself; starting the workers and loading their models is reported apart
    seconds = time.perf_counter() - started - summary.startup_seconds
    ids = sorted(r["id"] for r in read_records(out))
    return {"questions": summary.questions, "nodes": summary.nodes, "tokens": summary.generated_tokens,
            "startup_seconds": round(summary.startup_seconds, 2), "search_seconds": round(seconds, 2),
            "nodes_per_s": round(summary.nodes / seconds, 3), "tokens_per_s": round(summary.generated_tokens / seconds, 1),
            "ids": ids}


def cpu_arms(args, out: Path) -> dict:
    base = [f"data.domain={args.domain}", f"model.spec={args.model}", f"search.limit={args.questions}",
            "model.threads=2"]
    arms = {
        "in_process_2_threads": [],
        "ray_1_worker_2_threads": ["run.workers=1", "run.ray_address=auto"],
        "ray_2_workers_1_thread": ["run.workers=2"],
    }
    results = {}
    for name, extra in arms.items():
        config = load_config(ROOT / "configs/search-cpu.yaml", base + extra)
        results[name] = search(config, out / f"{name}.jsonl")
        print(name, {k: v for k, v in results[name].items() if k != "ids"}, flush=True)
    assert len({tuple(r.pop("ids")) for r in results.values()}) == 1, "the arms searched different questions"
    local = results["in_process_2_threads"]["nodes_per_s"]
    results["ray_overhead"] = round(1 - results["ray_1_worker_2_threads"]["nodes_per_s"] / local, 3)
    results["two_workers_vs_in_process"] = round(results["ray_2_workers_1_thread"]["nodes_per_s"] / local, 3)
    return results


def simulated(args, out: Path) -> list[dict]:
    curve = []
    for workers in (1, 2, 4, 8, 16):
        config = load_config(None, [
            "data.domain=medcalc", f"model.spec=scripted:hash@{args.latency}", f"search.limit={args.sim_questions}",
            "search.max_nodes=16", "search.rollout_base=6", "search.rollout_min=2", "search.trees_in_flight=2",
            f"run.workers={workers}", "run.ray_address=auto"])
        result = search(config, out / f"sim-{workers}.jsonl")
        result.pop("ids")
        curve.append({"workers": workers, **result})
        print("simulated", curve[-1], flush=True)
    one = curve[0]["nodes_per_s"]
    for point in curve:
        point["efficiency"] = round(point["nodes_per_s"] / (one * point["workers"]), 3)
    return curve


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = report["simulated"]
    n = [p["workers"] for p in curve]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(n, [curve[0]["nodes_per_s"] * w for w in n], "--", color="grey", label="ideal (N x 1 worker)")
    left.plot(n, [p["nodes_per_s"] for p in curve], "o-", color="tab:blue", label="measured")
    for p in curve:
        left.annotate(f"{p['efficiency']:.0%}", (p["workers"], p["nodes_per_s"]), textcoords="offset points",
                      xytext=(-8, 8), fontsize=8)
    left.set(xscale="log", yscale="log", xticks=n, xticklabels=[str(x) for x in n], xlabel="workers",
             ylabel="tree nodes / s", title=f"simulated backend ({report['latency'] * 1000:.0f} ms per call)")
    left.legend()
    cpu = report["cpu"]
    names = ["in_process_2_threads", "ray_1_worker_2_threads", "ray_2_workers_1_thread"]
    labels = ["in process\n2 threads", "Ray, 1 worker\n2 threads", "Ray, 2 workers\n1 thread each"]
    bars = right.bar(labels, [cpu[k]["nodes_per_s"] for k in names], color=["tab:grey", "tab:orange", "tab:green"])
    right.bar_label(bars, fmt="%.2f")
    right.set(ylabel="tree nodes / s", title=f"embedded 135M model, {report['questions']} questions, 2 cores")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--domain", default="medqa")
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--sim-questions", type=int, default=192)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=ROOT / "runs/scale-out")
    parser.add_argument("--skip-cpu", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local benchmark cluster

    import ray

    def cluster(cpus: int) -> None:
        """A local cluster for a group of arms, left to settle: Ray prestarts one Python worker per CPU,
        and that burst must not land on the arm measured first."""
        if ray.is_initialized():
            ray.shutdown()
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
        time.sleep(SETTLE)

    report = {"cores": os.cpu_count(), "questions": args.questions, "latency": args.latency,
              "sim_questions": args.sim_questions}
    if not args.skip_cpu:
        cluster(2)
        report["cpu"] = cpu_arms(args, args.out)
    cluster(16)  # 16 logical CPUs, so that 16 simulated workers can be placed
    report["simulated"] = simulated(args, args.out)
    (args.out / "scale_out.json").write_text(json.dumps(report, indent=2))
    if report.get("cpu"):
        plot(report, args.out / "scale_out.png")
    print(json.dumps({k: v for k, v in report.items() if k != "simulated"}, indent=1))


if __name__ == "__main__":
    main()
