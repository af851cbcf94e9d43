"""Admission and execution of chat requests: a bounded queue, per-client limits, timeouts, cancels.

Each admitted request answers in a thread of its own, so requests that arrive together all reach the
shared `BatchingGenerator` together and are merged into batched backend calls; at most `max_active`
answer at once and the rest wait their turn. A request that times out, or whose client goes away,
sets its cancel event: its search stops at the next backend answer and frees its slot.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

from evolve.chat.models import Chat, ServedModel
from evolve.chat.turns import ChatEvent
from evolve.config import ServeConfig


class Busy(Exception):
    """The queue, or this client's share of it, is full (HTTP 429)."""


class RequestTimeout(Exception):
    """The request ran past `serve.request_timeout` (HTTP 504)."""


@dataclass
class Ticket:
    client: str
    released: bool = False


class Engine:
    def __init__(self, config: ServeConfig):
        self.config = config
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(config.max_active)
        self._per_client: Counter[str] = Counter()
        self.admitted = 0
        self.active = 0

    @property
    def waiting(self) -> int:
        return max(0, self.admitted - self.active)

    def admit(self, client: str, count: int = 1) -> list[Ticket]:
        """Tickets for `count` answers (the choices of one request), or Busy: all or nothing."""
        with self._lock:
            if self.admitted + count > self.config.max_queue:
                raise Busy(f"the server is busy: {self.admitted} requests are admitted (serve.max_queue "
                           f"{self.config.max_queue}); retry shortly")
            if self._per_client[client] + count > self.config.max_per_client:
                raise Busy(f"this client has {self._per_client[client]} requests in flight "
                           f"(serve.max_per_client {self.config.max_per_client}); wait for one to finish")
            self.admitted += count
            self._per_client[client] += count
        return [Ticket(client) for _ in range(count)]

    def release(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.released:
                return
            ticket.released = True
            self.admitted -= 1
            self._per_client[ticket.client] -= 1
            if self._per_client[ticket.client] <= 0:
                del self._per_client[ticket.client]

    async def events(self, model: ServedModel, chat: Chat, ticket: Ticket) -> AsyncIterator[ChatEvent]:
        """The model's answer, event by event; leaving early (an error, a disconnect) cancels it."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()

        def put(kind: str, value: object) -> None:
            try:
                loop.call_soon_threadsafe(inbox.put_nowait, (kind, value))
            except RuntimeError:  # the event loop is gone (server shutting down): nobody is listening
                cancel.set()

        def work() -> None:
            acquired = False
            try:
                while not cancel.is_set() and not acquired:
                    acquired = self._slots.acquire(timeout=0.1)
                if not acquired:
                    return
                with self._lock:
                    self.active += 1
                answer = model.answer(chat, cancel)
                try:
                    for event in answer:
                        if cancel.is_set():
                            break
                        put("event", event)
                finally:
                    answer.close()
                put("done", None)
            except BaseException as err:  # re-raised in the request's coroutine
                put("error", err)
            finally:
                if acquired:
                    with self._lock:
                        self.active -= 1
                    self._slots.release()
                self.release(ticket)

        threading.Thread(target=work, name=f"answer-{model.id}", daemon=True).start()
        deadline = loop.time() + self.config.request_timeout
        try:
            while True:
                remaining = deadline - loop.time()
                try:
                    kind, value = await asyncio.wait_for(inbox.get(), max(remaining, 0.0))
                except TimeoutError:
                    raise RequestTimeout(f"the answer took longer than serve.request_timeout "
                                         f"({self.config.request_timeout:g} s) and was cancelled") from None
                if kind == "event":
                    yield value  # type: ignore[misc]
                elif kind == "done":
                    return
                else:
                    raise value  # type: ignore[misc]
        finally:
            cancel.set()
