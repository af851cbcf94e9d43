"""`BatchingGenerator`: one backend shared by many threads, their concurrent calls merged.

Callers in different threads (LangGraph's `Send` workers, the server's requests, benchmark questions)
each call `generate` as if they owned the model. Requests that arrive within a short `window` of each
other go to the wrapped generator in ONE batched call, and a backend that is not thread-safe is only
ever entered by one thread at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from evolve.backends.base import Completion, GenerationRequest


class _Slot:
    def __init__(self, requests: Sequence[GenerationRequest]):
        self.requests = list(requests)
        self.result: list[list[Completion]] | None = None
        self.error: BaseException | None = None


class BatchingGenerator:
    """Wraps a Generator; concurrent `generate` calls within `window` seconds share one inner call."""

    def __init__(self, inner, window: float = 0.05):
        self.inner = inner
        self.window = window
        self.name = getattr(inner, "name", "generator")
        self.stats = inner.stats
        self._cv = threading.Condition()
        self._queue: list[_Slot] = []
        self._busy = False

    @property
    def max_n(self):
        return self.inner.max_n

    def render_chat(self, messages):
        return self.inner.render_chat(messages)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        slot = _Slot(requests)
        with self._cv:
            self._queue.append(slot)
            while slot.result is None and slot.error is None:
                if self._busy:
                    self._cv.wait()
                    continue
                self._busy = True
                self._cv.wait(timeout=self.window)  # let the other workers of this fan-out join the batch
                batch, self._queue = self._queue, []
                self._cv.release()
                try:
                    self._run(batch)
                finally:
                    self._cv.acquire()
                    self._busy = False
                    self._cv.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _run(self, batch: list[_Slot]) -> None:
        flat = [r for slot in batch for r in slot.requests]
        try:
            out = self.inner.generate(flat) if flat else []
        except BaseException as err:  # every waiting worker sees the backend's own error
            for slot in batch:
                slot.error = err
            return
        at = 0
        for slot in batch:
            slot.result = out[at:at + len(slot.requests)]
            at += len(slot.requests)
