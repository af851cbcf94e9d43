"""How the command line shows the library's events (`evolve.events`): rich bars on a terminal, and a
plain progress line about every 30 s when stderr is a log file, CI or nohup (where bars print nothing)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from evolve.events import Event, Note, Progress, Sink, Stage

LINE_EVERY_S = 30.0


def describe(info: dict) -> str:
    return "  ".join(f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}"
                     for key, value in info.items())


class Pace:
    """Per task: when its first event came, its rate and an ETA. One rule for both renderers: batched work
    finishes its first items late and the rest at once, so no ETA is guessed before a tenth is done (1/50
    after 50 s said 40 min, and the other 49 came 1 s later)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.started: dict[str, tuple[float, int]] = {}

    def reset(self) -> None:
        self.started.clear()

    def measure(self, event: Progress) -> tuple[float, float, str]:
        """(elapsed seconds, items per second, "ETA 1m12s" or "") for this event of its task."""
        now = self.clock()
        start, first = self.started.setdefault(event.task, (now, event.done))
        elapsed = now - start
        rate = (event.done - first) / elapsed if elapsed > 0 else 0.0
        finished = event.total is not None and event.done >= event.total
        eta = ""
        if rate > 0 and event.total is not None and not finished and (event.done - first) * 10 >= event.total - first:
            eta = f"ETA {_duration((event.total - event.done) / rate)}"
        return elapsed, rate, eta


class LineRenderer:
    """One line per stage and note, and per task a progress line when it starts, then at most every
    `every` seconds, and when it completes: done/total, rate, ETA and the task's info."""

    def __init__(self, stream: TextIO, every: float = LINE_EVERY_S, clock=time.monotonic):
        self.stream = stream
        self.every = every
        self.clock = clock
        self.pace = Pace(clock)
        self.last: dict[str, float] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, Stage):  # a new stage starts its tasks' clocks afresh ("eval cot" recurs per round)
            self.pace.reset()
            self.last.clear()
            self._line(f"== {event.name}")
        elif isinstance(event, Note):
            self._line(event.text)
        elif isinstance(event, Progress):
            self._progress(event)

    def _progress(self, event: Progress) -> None:
        now = self.clock()
        elapsed, rate, eta = self.pace.measure(event)
        finished = event.total is not None and event.done >= event.total
        if not finished and event.task in self.last and now - self.last[event.task] < self.every:
            return
        self.last[event.task] = now
        parts = [f"{event.task}: {event.done}" + (f"/{event.total}" if event.total is not None else "") +
                 (f" {event.unit}" if event.unit else "")]
        if rate > 0:
            parts.append(f"{rate * 60:.3g}/min" if rate < 1 else f"{rate:.3g}/s")
        if eta:
            parts.append(eta)
        parts.append(f"elapsed {_duration(elapsed)}")
        if event.info:
            parts.append(describe(event.info))
        self._line(", ".join(parts))

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class RichRenderer:
    """A rich bar per task (elapsed time from the task's first event, and the same ETA as the plain lines),
    stages and notes as lines. Rich's own remaining-time column guesses from the first items, which
    batched work finishes late."""

    def __init__(self, console=None, clock=time.monotonic):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bars

        self.console = console or Console(stderr=True)
        self.bars = Bars(TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(),
                         TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("{task.fields[eta]}"),
                         console=self.console)
        self.pace = Pace(clock)
        self.tasks: dict[str, int] = {}
        self.bars.start()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Stage):  # a new stage gets new bars ("eval cot" recurs per round)
            self._retire()
            self.pace.reset()
            self.console.print(f"[bold cyan]{event.name}[/]")
        elif isinstance(event, Note):
            self.console.print(event.text, markup=False, highlight=False)
        elif isinstance(event, Progress):
            if event.task not in self.tasks:
                self.tasks[event.task] = self.bars.add_task(event.task, total=event.total, info="", eta="")
            _, _, eta = self.pace.measure(event)
            self.bars.update(self.tasks[event.task], completed=event.done, total=event.total,
                             info=describe(event.info), eta=eta)

    def _retire(self) -> None:
        """The last stage's bars leave the live display as plain lines, so a long run's screen does not pile up."""
        for task in [t for t in self.bars.tasks if t.id in self.tasks.values()]:
            total = f"/{task.total:g}" if task.total is not None else ""
            info = f", {task.fields['info']}" if task.fields.get("info") else ""
            self.console.print(f"{task.description}: {task.completed:g}{total}{info}, elapsed "
                               f"{_duration(task.elapsed or 0.0)}", markup=False, highlight=False)
            self.bars.remove_task(task.id)
        self.tasks.clear()

    def close(self) -> None:
        self.bars.stop()


@contextlib.contextmanager
def progress_sink(quiet: bool = False, stream: TextIO | None = None) -> Iterator[Sink | None]:
    """The sink for this run: None when quiet, rich bars on a terminal, else plain lines."""
    stream = stream or sys.stderr
    if quiet:
        yield None
        return
    if stream.isatty():
        renderer = RichRenderer()
        try:
            yield renderer
        finally:
            renderer.close()  # a Ctrl-C leaves no frozen bar behind
        return
    yield LineRenderer(stream)
