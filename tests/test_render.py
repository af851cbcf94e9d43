"""How the command line shows progress when stderr is not a terminal: a plain line about every 30 s."""

import io

from evolve.cli.render import LineRenderer, RichRenderer, progress_sink
from evolve.events import Note, Progress, Stage


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_plain_lines_every_30_seconds_with_rate_eta_and_info():
    stream, clock = io.StringIO(), Clock()
    render = LineRenderer(stream, every=30, clock=clock)
    render(Stage("round 1 eval"))
    render(Progress("eval cot", 0, 100, "questions"))  # first event of the task: printed
    for done, at in ((10, 10), (20, 20), (30, 31), (40, 50), (100, 95)):
        clock.now = 1000.0 + at
        render(Progress("eval cot", done, 100, "questions", {"tok/s": 41.25}))
    render(Note("done"))
    assert stream.getvalue().splitlines() == [
        "== round 1 eval",
        "eval cot: 0/100 questions, elapsed 0s",
        "eval cot: 30/100 questions, 58.1/min, ETA 1m12s, elapsed 31s, tok/s 41.2",  # 30 s after the first line
        "eval cot: 100/100 questions, 1.05/s, elapsed 1m35s, tok/s 41.2",  # the last one always
        "done",
    ]


def test_no_eta_until_a_tenth_is_done():
    stream, clock = io.StringIO(), Clock()
    render = LineRenderer(stream, every=30, clock=clock)
    render(Progress("eval sc", 0, 50, "questions"))
    for done, at in ((1, 50), (5, 90), (50, 91)):
        clock.now = 1000.0 + at
        render(Progress("eval sc", done, 50, "questions"))
    assert stream.getvalue().splitlines() == [
        "eval sc: 0/50 questions, elapsed 0s",
        "eval sc: 1/50 questions, 1.2/min, elapsed 50s",  # 2% done: no guess
        "eval sc: 5/50 questions, 3.33/min, ETA 13m30s, elapsed 1m30s",
        "eval sc: 50/50 questions, 33/min, elapsed 1m31s",
    ]


def test_quiet_means_no_sink_and_a_log_gets_lines():
    with progress_sink(quiet=True) as sink:
        assert sink is None
    stream = io.StringIO()
    with progress_sink(stream=stream) as sink:
        assert isinstance(sink, LineRenderer)


def test_terminal_bars_show_the_same_eta_and_each_stage_gets_new_bars():
    from rich.console import Console

    clock, screen = Clock(), io.StringIO()
    render = RichRenderer(Console(file=screen, force_terminal=False, width=200), clock=clock)
    try:
        render(Stage("round 0 eval"))
        render(Progress("eval sc", 0, 50, "questions"))
        etas = []
        for done, at in ((1, 50), (5, 90), (50, 91)):
            clock.now = 1000.0 + at
            render(Progress("eval sc", done, 50, "questions"))
            etas.append(render.bars.tasks[-1].fields["eta"])
        assert etas == ["", "ETA 13m30s", ""]  # no guess at 2%, the plain lines' figure at 10%, none when done
        render(Stage("round 1 eval"))
        render(Progress("eval sc", 0, 50, "questions"))
        assert [t.completed for t in render.bars.tasks] == [0]  # the finished bar left as a line
        assert "eval sc: 50/50, elapsed " in screen.getvalue()
    finally:
        render.close()
