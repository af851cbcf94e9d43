"""Data-parallel training: the same loop on several processes (`torchrun`, `accelerate launch`, or
`evolve run` with `run.train_processes > 1`), each taking its share of every micro-batch.

`batch_size` stays the global micro-batch, so a run's result does not depend on how many processes
trained it: rank r takes examples r, r+W, ... of each micro-batch, scales its loss by its share of
the batch's loss weight (tokens for the policy, labelled steps for the PRM) and the gradients are
summed over ranks, which is the one-process gradient up to float rounding (dropout aside: each rank
draws its own masks). Rank 0 alone writes checkpoints and the final artefact; the others wait for it.
accelerate's `PartialState` sets the process group up from the launcher's environment: gloo on CPU,
NCCL with each rank's model, batches and reductions on its own GPU (`device()`).

    python -m torch.distributed.run --standalone --nproc-per-node 2 -m evolve.train.parallel JOB.json
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evolve.errors import TrainingError

JOB = "launch.json"


def init_from_env() -> None:
    """Join the process group a launcher described in the environment (no-op for one process)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch

        if not torch.distributed.is_initialized():
            from accelerate import PartialState

            PartialState(cpu=not torch.cuda.is_available())


def device():
    """Where this rank trains: its own GPU (LOCAL_RANK) when there are GPUs, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def to_device(batch: Any, where: Any) -> Any:
    """A collated batch (a dict of tensors) on `where`."""
    if isinstance(batch, dict):
        return {key: value.to(where) if hasattr(value, "to") else value for key, value in batch.items()}
    return batch


def world() -> tuple[int, int]:
    """(rank, number of processes); (0, 1) outside a process group."""
    import torch

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def barrier() -> None:
    if world()[1] > 1:
        import torch

        torch.distributed.barrier()


def shard(indices: Sequence[int], rank: int, size: int) -> list[int]:
    """This rank's examples of a micro-batch: every `size`-th, from its rank on."""
    return list(indices[rank::size])


def all_sum(value: float) -> float:
    """`value` summed over ranks."""
    rank, size = world()
    if size == 1:
        return value
    import torch

    tensor = torch.tensor([float(value)], dtype=torch.float64, device=device())  # NCCL reduces GPU tensors only
    torch.distributed.all_reduce(tensor)
    return float(tensor.item())


def sum_gradients(params: Sequence[Any]) -> None:
    """Add every rank's gradients together (a rank whose shard was empty adds zeros)."""
    if world()[1] == 1:
        return
    import torch

    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        torch.distributed.all_reduce(p.grad)


def launch(kind: str, rows: Sequence[dict], job: dict, out_dir: Path, processes: int) -> None:
    """Train `kind` ("policy" or "prm") on `rows` with `job`'s other arguments on `processes` local
    processes, through torchrun. The caller then calls the same training function, which finds the
    finished result (the rows round-trip through JSON unchanged, so the run's fingerprint matches)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows_path = out_dir / "launch-rows.jsonl"
    rows_path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    path = out_dir / JOB
    path.write_text(json.dumps({"kind": kind, "rows": str(rows_path), "out_dir": str(out_dir), **job}, default=str),
                    encoding="utf-8")
    log = out_dir / "launch.log"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
               "-m", "evolve.train.parallel", str(path)]
    with log.open("w", encoding="utf-8") as handle:
        code = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0 or not (out_dir / "done.json").is_file():
        tail = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        last = next((line for line in reversed(tail) if "Error" in line), tail[-1] if tail else "no output")
        raise TrainingError(f"{processes}-process {kind} training failed: {last.strip()}", where=str(log),
                            fix="read the log; run.train_processes=1 trains in this process")


def _run(path: Path) -> None:
    from evolve.config import PolicyConfig, PRMConfig

    job = json.loads(path.read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in Path(job["rows"]).read_text(encoding="utf-8").splitlines() if line]
    init_from_env()
    common = {"base_dir": job["base_dir"], "out_dir": job["out_dir"], "threads": job.get("threads")}
    if job["kind"] == "policy":
        from evolve.train.policy import train_policy

        train_policy(rows, config=PolicyConfig.model_validate(job["config"]), init_adapter=job.get("init_adapter"),
                     **common)
    else:
        from evolve.train.prm import train_prm

        train_prm(rows, config=PRMConfig.model_validate(job["config"]), init_adapter=job.get("init_adapter"), **common)
    barrier()


if __name__ == "__main__":
    _run(Path(sys.argv[1]))
