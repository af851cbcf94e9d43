"""The web chat's Agents tab (Gradio): start a co-scientist run on a goal, watch its hypotheses,
reviews and Elo leaderboard update live, steer it, open its plots, and resume it after a restart.

A run started here runs in the server's background, not in the page: reloading the page or closing
it leaves the run going, and a 2-second timer reads the run's checkpoint to refresh what is shown.
Steering goes into the run's inbox exactly as `evolve agents feedback` does; the supervisor reads
it at its next step. Everything a model wrote is escaped before it reaches the page.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from pathlib import Path

import gradio as gr

from agents.progress import update_lines

_RUNNING: dict[str, threading.Thread] = {}  # run folder -> the thread running it in this process
_CANCEL: dict[str, threading.Event] = {}  # run folder -> set to stop it at its next step
_LOGS: dict[str, list[str]] = {}  # run folder -> its update lines since this process started it
_LOCK = threading.Lock()  # Resume clicks run concurrently: one check-and-start at a time

log = logging.getLogger("agents.web")


def leaderboard_rows(state: dict, k: int = 20) -> list[list]:
    """rank, id, answer, Elo, W-L-D, origin, pinned: the order `evolve agents show` prints."""
    from agents.nodes.metareview import leaderboard

    return [[rank, h["id"], h.get("answer") or "", round(float(h["elo"]), 1),
             f"{h['wins']}-{h['losses']}-{h['draws']}", h.get("origin", ""), "pinned" if h.get("pinned") else ""]
            for rank, h in enumerate(leaderboard(state, k), start=1)]


HEADERS = ["rank", "id", "answer", "Elo", "W-L-D", "origin", "pinned"]


def board_html(rows: list[list]) -> str:
    """The leaderboard as an HTML table, every cell escaped."""
    if not rows:
        return "<p>No hypotheses yet.</p>"
    head = "".join(f"<th>{h}</th>" for h in HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="leaderboard"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def run_choices(root=None) -> list[tuple[str, str]]:
    from agents.run import RUN_FILE, load_meta, runs_root

    folders = sorted((p.parent for p in runs_root(root).glob(f"*/{RUN_FILE}")), key=lambda p: p.name, reverse=True)
    return [(f"{p.name}: {' '.join(load_meta(p)['goal'].split())[:60]}", str(p)) for p in folders]


def launch(context, folder: Path) -> bool:
    """Runs (or resumes) `folder` in the background; False when it is already running here."""
    from agents.chat import run_events

    key = str(folder)

    def work(lines: list[str], cancel: threading.Event) -> None:
        try:
            for item in run_events(context, folder, cancel):
                if isinstance(item, tuple):
                    lines.extend(update_lines(*item))
        except Exception as err:  # shown in the tab's log
            lines.append(f"! the run stopped: {type(err).__name__}: {err}")

    with _LOCK:
        if key in _RUNNING and _RUNNING[key].is_alive():
            return False
        cancel = _CANCEL[key] = threading.Event()
        thread = _RUNNING[key] = threading.Thread(target=work, args=(_LOGS.setdefault(key, []), cancel),
                                                  name=f"agents-web-{folder.name}", daemon=True)
        thread.start()
    return True


def stop_runs(timeout: float = 5.0) -> list[str]:
    """Stop every run started here at its next step and wait for it (the server is shutting down); each
    keeps its checkpoint, and Resume continues it. The names of the runs asked to stop.

    Left running, a run would meet the interpreter's exit mid-step: LangGraph's executor is shut by
    then, and every pending checkpoint write logs a "cannot schedule new futures" traceback.
    """
    with _LOCK:
        running = {key: thread for key, thread in _RUNNING.items() if thread.is_alive()}
        for key in running:
            _CANCEL[key].set()
    deadline = time.monotonic() + timeout
    for key, thread in running.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        state = "stopped" if not thread.is_alive() else f"still in a step after {timeout:.0f} s"
        log.info("agents run %s: %s; Resume continues it from its last checkpoint", Path(key).name, state)
        _LOGS.setdefault(key, []).append(f"{state}: the server shut down")
    return [Path(key).name for key in running]


def view(folder: str | None) -> tuple[str, str, str, str]:
    """Status line, leaderboard rows, recent log and reviews of a run, read from its checkpoint."""
    from agents.report import status_line
    from agents.run import load_meta, read_state

    if not folder or not Path(folder, "run.json").is_file():
        return "No run selected.", board_html([]), "", ""
    meta, state = load_meta(Path(folder)), read_state(Path(folder))
    running = folder in _RUNNING and _RUNNING[folder].is_alive()
    status = f"**{html.escape(Path(folder).name)}** ({'running' if running else 'idle'}): " + html.escape(
        status_line(state, meta["config"]["budget"]))
    reviews = "\n".join(f"- {html.escape(r['hypothesis'])}: score {r.get('score')}: "
                        f"{html.escape((r.get('comments') or '')[:160])}" for r in (state.get("reviews") or [])[-8:])
    log = "\n".join(_LOGS.get(folder, [])[-40:])
    return status, board_html(leaderboard_rows(state)), log, reviews


def steer(folder: str | None, kind: str, text: str, target: str) -> str:
    from agents import inbox
    from agents.run import read_state

    if not folder:
        return "Select a run first."
    target = (target or "").strip() or None
    if kind in ("pin", "reject"):
        known = sorted(read_state(Path(folder)).get("hypotheses") or {})
        if target not in known:
            return (f"No hypothesis '{html.escape(target or '')}' in this run; its ids are: "
                    f"{html.escape(', '.join(known) or '(none yet)')}.")
    if kind in ("note", "add") and not (text or "").strip():
        return "Type the text to send."
    entry = inbox.post(Path(folder) / inbox.INBOX_FILE, kind, (text or "").strip(), target)
    what = {"pin": f"pin {target}", "reject": f"reject {target}", "add": "new hypothesis", "note": "note"}[kind]
    return f"Queued {html.escape(what)} (inbox entry {entry}); the supervisor reads it at its next step."


def plots(folder: str | None):
    from agents.report import export
    from agents.run import load_meta, read_state

    if not folder:
        return None, None
    files = export(read_state(Path(folder)), load_meta(Path(folder)), Path(folder) / "export")
    return str(files[2]), str(files[1])


def agents_tab(host) -> None:
    host.on_close(stop_runs)
    with gr.Tab("Agents"):
        with gr.Row():
            goal = gr.Textbox(label="Goal (a question with option lines A) ..., B) ..., or an open goal)", lines=3,
                              elem_id="agents-goal", scale=4)
            with gr.Column(scale=1, min_width=200):
                domain = gr.Dropdown([], label="Domain", elem_id="agents-domain")
                budget = gr.Number(6, label="Budget (supervisor steps)", precision=0, minimum=1, elem_id="agents-budget")
                start = gr.Button("Start run", variant="primary", elem_id="agents-start")
        with gr.Row():
            runs = gr.Dropdown([], label="Runs", elem_id="agents-runs", scale=4)
            resume = gr.Button("Resume", elem_id="agents-resume", scale=1)
        status = gr.Markdown(elem_id="agents-status")
        gr.Markdown("**Elo leaderboard** (pinned first; on a question, hypotheses without an answer last)")
        table = gr.HTML(board_html([]), elem_id="agents-leaderboard")
        with gr.Row():
            target = gr.Textbox(label="Hypothesis id", elem_id="agents-target", scale=1)
            pin = gr.Button("Pin", elem_id="agents-pin", scale=0)
            reject = gr.Button("Reject", elem_id="agents-reject", scale=0)
        with gr.Row():
            text = gr.Textbox(label="Feedback note, or your own hypothesis", elem_id="agents-text", scale=4)
            note = gr.Button("Send note", elem_id="agents-note", scale=0)
            add = gr.Button("Add hypothesis", elem_id="agents-add", scale=0)
        steered = gr.Markdown(elem_id="agents-steered")
        with gr.Accordion("Live log and reviews", open=True):
            log = gr.Textbox(label="Updates", lines=10, interactive=False, elem_id="agents-log")
            reviews = gr.Markdown(elem_id="agents-reviews")
        with gr.Accordion("Plots", open=False):
            draw = gr.Button("Draw Elo and proximity plots", elem_id="agents-plots")
            with gr.Row():
                elo = gr.Image(label="Elo over time", type="filepath", interactive=False)
                proximity = gr.Image(label="Proximity graph", type="filepath", interactive=False)
        timer = gr.Timer(2.0)

        def on_load():
            context = host.context
            domains = list(context.reasoners) if context is not None else []
            return (gr.update(choices=domains, value=domains[0] if domains else None),
                    gr.update(choices=run_choices()))

        def on_start(goal_text: str, name: str, steps: float):
            from agents.chat import start_run
            from evolve.errors import UserFacingError

            if host.context is None:
                return gr.update(), "The models are still loading; start again in a moment."
            if not name:
                return gr.update(), "Pick a domain first."
            try:
                folder = start_run(host.context, name, goal_text, budget=int(steps or 1))
            except UserFacingError as err:
                return gr.update(), f"**Could not start:** {html.escape(err.one_line())}"
            launch(host.context, folder)
            return gr.update(choices=run_choices(), value=str(folder)), f"Started {html.escape(folder.name)}."

        def on_resume(folder: str | None):
            if host.context is None or not folder:
                return "Select a run (and wait for the models to load)."
            started = launch(host.context, Path(folder))
            return "Resumed from its last checkpoint." if started else "It is already running."

        blocks = gr.context.Context.root_block
        if blocks is not None:
            blocks.load(on_load, None, [domain, runs])
        start.click(on_start, [goal, domain, budget], [runs, steered])
        resume.click(on_resume, runs, steered)
        for trigger in (runs.change, timer.tick):
            trigger(view, runs, [status, table, log, reviews], show_progress="hidden")
        pin.click(lambda f, t: steer(f, "pin", "", t), [runs, target], steered)
        reject.click(lambda f, t: steer(f, "reject", "", t), [runs, target], steered)
        note.click(lambda f, x: steer(f, "note", x, ""), [runs, text], steered)
        add.click(lambda f, x: steer(f, "add", x, ""), [runs, text], steered)
        draw.click(plots, runs, [elo, proximity])
