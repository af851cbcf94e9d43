"""Ray, and only here: joining or starting a cluster, sizing the workers, starting them as actors.

Ray is the `ray` extra and is imported only when more than one worker (or a cluster) is asked for.
A local cluster is started with the workers' CPUs and no dashboard; a real cluster is joined by
address (see the README's "Scaling out" for what it needs).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

from evolve.backends.spec import parse_model_spec
from evolve.config import Config
from evolve.errors import EvolveError, MissingExtraError

START_CLUSTER = "start one with `ray start --head` (then pass --ray HOST:6379), or use --workers N for a local one"


class ClusterError(EvolveError):
    """The Ray cluster cannot be reached or cannot hold the workers asked for."""


def split_threads(total: int, workers: int) -> int:
    """Threads each of `workers` CPU workers gets out of `total` (at least one)."""
    return max(1, total // workers)


def cluster_address(address: str) -> str:
    """`auto` means $RAY_ADDRESS; anything else is taken as given."""
    if address != "auto":
        return address
    found = os.environ.get("RAY_ADDRESS", "").strip()
    if not found:
        raise ClusterError("--ray auto needs RAY_ADDRESS, which is not set", where="run.ray_address",
                           fix=f"export RAY_ADDRESS=HOST:6379, or {START_CLUSTER}")
    return found


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail in seconds, with the address, instead of waiting on Ray's own connection retries."""
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    host, port = parsed.hostname, parsed.port or (10001 if parsed.scheme == "ray" else 6379)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except (OSError, ValueError) as err:
        raise ClusterError(f"no Ray cluster answers at {address} ({err})", where="--ray",
                           fix=START_CLUSTER) from None


def ray_module():
    if importlib.util.find_spec("ray") is None:
        raise MissingExtraError("ray", "ray")
    import ray

    return ray


def connect(config: Config) -> tuple[object, bool]:
    """Ray, initialised: the cluster at `run.ray_address`, or a local one. Returns (ray, local)."""
    ray = ray_module()
    if ray.is_initialized():
        return ray, config.run.ray_address is None
    address = config.run.ray_address
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "WARNING",
             "configure_logging": True}
    if address is not None:
        address = cluster_address(address)
        check_reachable(address)
        ray.init(address=address, **quiet)
        return ray, False
    workers = config.run.workers or 1
    # "local": a cluster of our own, even when RAY_ADDRESS names another one
    ray.init(address="local", num_cpus=max(workers, os.cpu_count() or 1), **quiet)
    return ray, True


@dataclass(frozen=True)
class Placement:
    """How many workers, and what each one asks Ray for."""

    workers: int
    num_cpus: float
    num_gpus: float
    threads: int | None  # model.threads each worker's backend uses (None: the backend's default)


def place(config: Config, resources: dict[str, float], local: bool) -> Placement:
    """Size the workers from the config and the cluster: a vLLM worker takes one GPU (tensor_parallel
    of them for a sharded model), a CPU worker one CPU and its share of the threads."""
    gpus = int(resources.get("GPU", 0))
    cpus = int(resources.get("CPU", 1))
    on_gpu = parse_model_spec(config.model.spec).kind == "vllm"
    per_gpu = max(1, int(config.model.tensor_parallel)) if on_gpu else 0
    threads = config.model.threads or 1
    workers = config.run.workers or (max(1, gpus // per_gpu) if on_gpu else max(1, cpus // threads))
    if on_gpu and workers * per_gpu > gpus:
        raise ClusterError(f"{workers} vLLM workers of {per_gpu} GPU each need {workers * per_gpu} GPUs, but the "
                           f"cluster has {gpus}", where="--workers",
                           fix=f"use --workers {max(1, gpus // per_gpu)} or fewer" if gpus else
                           "add GPU nodes to the cluster, or use a CPU model spec")
    if on_gpu:
        return Placement(workers, 1.0, float(per_gpu), config.model.threads)
    if local:  # this machine's cores, shared out; more workers than cores still fit (a fraction of a CPU each)
        threads = split_threads(config.model.threads or os.cpu_count() or 1, workers)
        return Placement(workers, min(1.0, cpus / workers), 0.0, threads)
    # on a cluster each worker reserves the CPUs its threads use, so Ray spreads the workers over the nodes
    threads = config.model.threads or split_threads(cpus, workers)
    return Placement(workers, min(float(threads), cpus / workers), 0.0, threads)


def worker_config(config: Config, placement: Placement) -> dict:
    """The config a worker builds its own (single-process) Reasoner from."""
    cfg = config.model_copy(deep=True)
    cfg.model.threads = placement.threads
    cfg.run.workers, cfg.run.ray_address = 1, None
    return cfg.model_dump(mode="json")


def start_workers(ray, config: Config, placement: Placement, policy: str | None, prm: str | None) -> list:
    """One actor per worker; Ray restarts one that dies, up to `run.worker_restarts` times. Calls that were
    in flight when it died fail (no task retries): the coordinator re-queues their questions itself."""
    from evolve.scale.worker import Worker

    actor = ray.remote(Worker)
    options = {"num_cpus": placement.num_cpus, "num_gpus": placement.num_gpus,
               "max_restarts": config.run.worker_restarts, "max_task_retries": 0}
    cfg = worker_config(config, placement)
    token = uuid.uuid4().hex[:6]  # named, so `ray list actors` (and a test) can find them
    return [actor.options(name=f"evolve-worker-{token}-{i}", **options).remote(cfg, policy, prm) for i in range(placement.workers)]
