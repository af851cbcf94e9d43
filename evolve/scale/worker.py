"""One worker: a backend of its own, and the batched driver running over the questions it holds.

The coordinator (`pool.py`) hands a worker questions with `exchange` and gets back what finished. A
background thread keeps the worker's `Driver` busy: a search refills its trees in flight from the
worker's inbox as trees finish (so a slow question holds up nothing but itself), and an evaluation
answers what the inbox holds with every mode at once. The class is plain Python: Ray makes it an actor
(`cluster.py`), and the tests can also drive it in-process.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from domains import Question
from evolve.config import Config
from evolve.errors import EvolveError


@dataclass
class Answered:
    """One question's solution under every mode of an evaluation, and the worker time each mode took."""

    question: Question
    solutions: dict[str, Any]  # mode -> Solution
    seconds: dict[str, float]
    shared: dict[str, bool]


@dataclass
class Report:
    """What `exchange` returns: finished work, questions lost to an error, and counters since last time."""

    finished: list[Any] = field(default_factory=list)  # evolve.search.tree.FinishedTree, or Answered
    errors: list[tuple[list[str], str]] = field(default_factory=list)  # (ids held when it failed, message)
    generated_tokens: int = 0
    nodes_in_flight: int = 0
    incarnation: str = ""  # which process answered: a restarted actor has a new one
    serving: bool = True  # the worker's thread is loaded and running


def error_fields(err: BaseException) -> dict[str, str]:
    """A failure as plain strings (it crosses process boundaries; exception classes may not unpickle)."""
    if isinstance(err, EvolveError):
        return {"message": err.message, "where": err.where or "", "fix": err.fix or "", "type": type(err).__name__}
    return {"message": f"{type(err).__name__}: {err}", "where": "", "fix": "", "type": type(err).__name__,
            "traceback": traceback.format_exc(limit=6)}


class Worker:
    """Owns one Reasoner built from `config` (a dump of `Config`), its policy adapter and its PRM."""

    def __init__(self, config: dict, policy: str | None = None, prm: str | None = None):
        self.config = Config.model_validate(config)
        self.policy, self.prm = policy, prm
        self.reasoner = None
        self.task: tuple | None = None
        self._inbox: deque[Question] = deque()
        self._started: set[str] = set()  # taken from the inbox and not finished yet
        self._report = Report()
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self.incarnation = uuid.uuid4().hex

    # -- called by the coordinator -------------------------------------------------------------------

    def load(self, task: tuple) -> dict:
        """Build the model and check `task` ("search",) or ("eval", modes) against it. Returns
        {"incarnation": ...} when ready, else {"error": fields} (the coordinator raises the first
        worker's, once). A worker already loaded only drops what it holds and has not started: the
        coordinator has dealt those questions again."""
        from evolve.api import Reasoner

        with self._lock:
            self._inbox.clear()
        if self.reasoner is not None:
            return {"incarnation": self.incarnation}
        try:
            reasoner = Reasoner.from_config(self.config, policy=self.policy, prm=self.prm)
            if task[0] == "search":
                from evolve.search.runner import check_budget

                check_budget(self.config, reasoner.generator)
            else:
                reasoner.check(task[1])
        except Exception as err:  # noqa: BLE001 - every failure goes back as fields, once
            return {"error": error_fields(err)}
        self.reasoner, self.task = reasoner, task
        self._thread = threading.Thread(target=self._serve, name="evolve-worker", daemon=True)
        self._thread.start()
        return {"incarnation": self.incarnation}

    def exchange(self, questions: list[Question], wait: float) -> Report:
        """Take `questions`, then return what finished since the last call (waiting up to `wait`
        seconds for something to finish when nothing has)."""
        with self._lock:
            self._inbox.extend(questions)
            self._lock.notify_all()
            deadline = time.monotonic() + wait
            while not (self._report.finished or self._report.errors) and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(left)
            report, self._report = self._report, Report(nodes_in_flight=self._report.nodes_in_flight)
        report.incarnation = self.incarnation
        report.serving = self._thread is not None and self._thread.is_alive()
        return report

    # -- the worker's own thread ----------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._inbox:
                    self._lock.wait()
            try:
                self._search() if self.task[0] == "search" else self._answer(self.task[1])
            except Exception as err:  # noqa: BLE001 - the questions held go back to the coordinator
                fields = error_fields(err)
                with self._lock:
                    lost = sorted(self._started)
                    self._started.clear()
                    self._report.nodes_in_flight = 0
                    self._report.errors.append((lost, fields["message"]))
                    self._lock.notify_all()

    def _take(self) -> Question | None:
        with self._lock:
            if not self._inbox:
                return None
            question = self._inbox.popleft()
            self._started.add(question.id)
            return question

    def _finish(self, item: Any) -> None:
        with self._lock:
            self._started.discard(item.question.id)
            self._report.finished.append(item)
            self._lock.notify_all()

    def _search(self) -> None:
        def on_tick(tick) -> None:
            with self._lock:
                self._report.generated_tokens += tick.generated_tokens
                self._report.nodes_in_flight = sum(len(job.context.tree.nodes) for job in tick.active)

        # The feed ends whenever the inbox is empty; the loop in `_serve` waits for more.
        self.reasoner.search(Feed(self._take), on_tree=self._finish, on_tick=on_tick)
        with self._lock:
            self._report.nodes_in_flight = 0  # every tree of this pass has been reported

    def _answer(self, modes: list[str]) -> None:
        with self._lock:
            batch = list(self._inbox)
            self._inbox.clear()
            self._started.update(q.id for q in batch)
        runs = self.reasoner.run_modes(batch, modes)
        tokens = 0
        for index, question in enumerate(batch):
            solutions = {m: runs[m].solutions[index] for m in modes}
            tokens += sum(s.tokens for s in solutions.values())
            share = {m: runs[m].seconds / len(batch) for m in modes}
            self._finish(Answered(question, solutions, share, {m: runs[m].shared for m in modes}))
        with self._lock:
            self._report.generated_tokens += tokens


class Feed:
    """An iterator over whatever `take` returns, ending (for now) when it returns None."""

    def __init__(self, take):
        self.take = take

    def __iter__(self) -> Feed:
        return self

    def __next__(self) -> Question:
        item = self.take()
        if item is None:
            raise StopIteration
        return item
