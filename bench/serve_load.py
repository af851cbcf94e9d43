"""Load on `evolve serve` with the embedded model, on loopback (not CI).

    .venv/bin/python bench/serve_load.py [--soak 600] [--max-tokens 128]

Clients are threads that stream chat completions through real HTTP. For 1, 4, 8 and 16 concurrent
clients (each sends two questions) it reports answers/s, generated tokens/s, p50/p95 latency and time
to the first step; then the same 8 requests sent one after another against 8 sent at once, side by
side in one run (concurrent requests share batched backend calls); then a soak at 8 clients for
`--soak` seconds, counting errors and sampling the server's resident memory every 30 s.

The embedded 135M model cannot do the dose arithmetic reliably; this measures serving, not accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """This process's resident memory now (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_request(base: str, model: str, question: str, max_tokens: int) -> dict:
    started = time.perf_counter()
    first = None
    tokens = 0
    body = {"model": model, "stream": True, "max_tokens": max_tokens, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": question}]}
    with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=600) as response:
        if response.status_code != 200:
            return {"error": f"{response.status_code}: {response.read()[:200]!r}"}
        for line in response.iter_lines():
            if not line.startswith("data:") or line.endswith("[DONE]"):
                continue
            payload = json.loads(line[5:])
            if "error" in payload:
                return {"error": payload["error"]["message"]}
            for choice in payload.get("choices", []):
                if first is None and (choice["delta"].get("reasoning") or choice["delta"].get("content")):
                    first = time.perf_counter() - started
            if payload.get("usage"):
                tokens = payload["usage"]["completion_tokens"]
    return {"seconds": time.perf_counter() - started, "first_step": first, "tokens": tokens}


def load(base: str, model: str, questions: list[str], clients: int, per_client: int, max_tokens: int) -> dict:
    from evolve.serve.metrics import percentile

    results: list[dict] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        for k in range(per_client):
            q = questions[(index * per_client + k) % len(questions)]
            out = one_request(base, model, q, max_tokens)
            with lock:
                results.append(out)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ok = [r for r in results if "error" not in r]
    latencies = [r["seconds"] for r in ok]
    firsts = [r["first_step"] for r in ok if r["first_step"] is not None]
    return {"clients": clients, "requests": len(results), "errors": len(results) - len(ok), "wall_s": round(wall, 2),
            "answers_per_s": round(len(ok) / wall, 3), "tokens_per_s": round(sum(r["tokens"] for r in ok) / wall, 1),
            "p50_s": round(percentile(latencies, 50) or 0, 2), "p95_s": round(percentile(latencies, 95) or 0, 2),
            "first_step_p50_s": round(percentile(firsts, 50) or 0, 2)}


def plot(report: dict, path: Path) -> None:
    """Throughput and latency per client count, and memory over the soak, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = report["levels"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    clients = [r["clients"] for r in levels]
    axes[0].plot(clients, [r["answers_per_s"] for r in levels], "o-", color="#1565c0")
    axes[0].set(title="throughput", xlabel="concurrent clients", ylabel="answers / s", xticks=clients)
    axes[1].plot(clients, [r["p50_s"] for r in levels], "o-", label="p50 latency")
    axes[1].plot(clients, [r["p95_s"] for r in levels], "s--", label="p95 latency")
    axes[1].plot(clients, [r["first_step_p50_s"] for r in levels], "^:", label="p50 time to first step")
    axes[1].set(title="latency", xlabel="concurrent clients", ylabel="seconds", xticks=clients)
    axes[1].legend(fontsize=8)
    soak = report.get("soak")
    if soak:
        t, mb = zip(*soak["rss_mb"])
        axes[2].plot(t, mb, "o-", color="#6a1b9a")
        axes[2].set(title=f"soak, 8 clients: {soak['requests']} requests, {soak['errors']} errors",
                    xlabel="seconds", ylabel="server process RSS (MB)", ylim=(0, max(mb) * 1.15))
    else:
        axes[2].axis("off")
    fig.suptitle(f"evolve serve, {report['mode']} on {report['model']} ({report['machine']}); "
                 f"8 concurrent vs 8 sequential: {report['speedup_8']}x answers/s")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--soak", type=float, default=600.0, help="seconds of the 8-client soak (0: skip)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--levels", default="1,4,8,16")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "serve-load.json")
    parser.add_argument("--plot-only", action="store_true", help="redraw the PNG from --out")
    args = parser.parse_args()
    if args.plot_only:
        plot(json.loads(args.out.read_text()), args.out.with_suffix(".png"))
        return

    from domains import load_domain
    from evolve.cli.serve_cmd import build_server_app
    from evolve.config import load_config
    from tests.serve_helpers import live, wait_healthy

    cfg = load_config(None, ["data.domain=medcalc", "model.threads=2"])
    app, host, _ids = build_server_app(cfg, ["medcalc"], None, None, {"base": cfg.model.spec}, api_key=None, web=False)
    host.start()
    questions = [q.question for q in load_domain("medcalc").load_split("test", limit=64)]
    report: dict = {"machine": f"{os.cpu_count()} CPUs", "model": cfg.model.spec, "mode": "medcalc/cot",
                    "max_tokens": args.max_tokens}
    with live(app) as base:
        wait_healthy(base, timeout=600)
        one_request(base, "medcalc/cot", questions[0], 8)  # warm-up
        report["levels"] = []
        for clients in [int(x) for x in args.levels.split(",")]:
            row = load(base, "medcalc/cot", questions, clients, 2, args.max_tokens)
            report["levels"].append(row)
            print(json.dumps(row), flush=True)
        sequential = load(base, "medcalc/cot", questions, 1, 8, args.max_tokens)
        concurrent = load(base, "medcalc/cot", questions, 8, 1, args.max_tokens)
        report["sequential_8"], report["concurrent_8"] = sequential, concurrent
        report["speedup_8"] = round(concurrent["answers_per_s"] / sequential["answers_per_s"], 2)
        print(json.dumps({"sequential_8": sequential, "concurrent_8": concurrent, "speedup": report["speedup_8"]}),
              flush=True)
        if args.soak > 0:
            stop = time.perf_counter() + args.soak
            samples, totals = [], {"requests": 0, "errors": 0}
            lock = threading.Lock()

            def soaker(index: int) -> None:
                k = 0
                while time.perf_counter() < stop:
                    out = one_request(base, "medcalc/cot", questions[(index * 7 + k) % len(questions)], args.max_tokens)
                    k += 1
                    with lock:
                        totals["requests"] += 1
                        totals["errors"] += "error" in out

            threads = [threading.Thread(target=soaker, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            began = time.perf_counter()
            while any(t.is_alive() for t in threads):
                samples.append([round(time.perf_counter() - began), round(rss_mb(), 1)])
                time.sleep(30)
            for t in threads:
                t.join()
            report["soak"] = {"seconds": args.soak, **totals, "rss_mb": samples}
            print(json.dumps(report["soak"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    plot(report, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
