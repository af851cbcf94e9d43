"""What long-running library code reports, for front ends to show: a terminal, a log, a browser.

Library code never prints or draws. It calls the `Sink` it was given with `Stage`, `Progress` and
`Note` events, and each front end renders them its own way: rich bars in a terminal, a plain line
every 30 s in a log (`evolve.cli.render`), server-sent events in the web chat. A sink of None means
nobody is listening.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Stage:
    """A named piece of work begins ("round 1 search")."""

    name: str


@dataclass(frozen=True)
class Progress:
    """`done` of `total` `unit`s of `task`; `info` holds what else is worth showing (rates, loss)."""

    task: str
    done: int
    total: int | None
    unit: str = ""
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    """A line worth telling a person."""

    text: str


Event = Stage | Progress | Note
Sink = Callable[[Event], None]


def emit(sink: Sink | None, event: Event) -> None:
    if sink is not None:
        sink(event)
