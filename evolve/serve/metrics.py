"""What `/metrics` and `/health` report: requests, tokens, queue depth and latency percentiles."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Metrics:
    """Counters since start, and the latencies of the last `window` finished requests."""

    def __init__(self, window: int = 1000):
        self._lock = threading.Lock()
        self.started = time.time()
        self.requests = 0
        self.by_status: dict[int, int] = {}
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.latencies: deque[float] = deque(maxlen=window)
        self.first_step: deque[float] = deque(maxlen=window)
        self.finished: deque[tuple[float, int]] = deque(maxlen=window)  # (when, completion tokens)

    def record(self, status: int, seconds: float, *, prompt_tokens: int = 0, completion_tokens: int = 0,
               first_step: float | None = None) -> None:
        with self._lock:
            self.requests += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1
            if status == 200:
                self.prompt_tokens += prompt_tokens
                self.completion_tokens += completion_tokens
                self.latencies.append(seconds)
                self.finished.append((time.time(), completion_tokens))
                if first_step is not None:
                    self.first_step.append(first_step)

    def snapshot(self, *, active: int, waiting: int, span: float = 60.0) -> dict:
        with self._lock:
            now = time.time()
            recent = [tokens for when, tokens in self.finished if now - when <= span]
            latencies, firsts = list(self.latencies), list(self.first_step)
            return {
                "uptime_s": round(now - self.started, 1),
                "requests": self.requests,
                "responses_by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "active": active,
                "queue_depth": waiting,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "tokens_per_s_last_minute": round(sum(recent) / span, 2),
                "latency_s": {f"p{q}": _round(percentile(latencies, q)) for q in (50, 90, 95, 99)},
                "first_step_s": {f"p{q}": _round(percentile(firsts, q)) for q in (50, 95)},
            }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
