"""Run folders: create, run and resume a checkpointed agents run, with live progress.

A run lives in `<runs root>/<run id>/`: `run.json` (what to rebuild: goal, domain, model, knobs),
`checkpoints.sqlite` (LangGraph's SqliteSaver) and `inbox.sqlite` (steering). Resuming streams from
the last checkpoint: tasks that finished before a crash are not re-run, and re-run tasks write the
same ids, so nothing is duplicated. `extend` gives a run more steps; a finished one then reopens at the
supervisor, which reads the feedback posted since it stopped.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from agents import inbox
from agents.errors import AgentsError, RunNotFoundError
from agents.inbox import INBOX_FILE
from evolve.config import AgentsConfig

RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints.sqlite"
THREAD = "main"


def runs_root(root: str | Path | None = None) -> Path:
    """`--runs-dir`, else `$EVOLVE_HOME/agents/runs`."""
    if root is not None:
        return Path(root).expanduser()
    from domains import evolve_home

    return evolve_home() / "agents" / "runs"


def resolve_run(run: str | Path, root: str | Path | None = None) -> Path:
    """A run folder from a path or an id under the runs root."""
    for candidate in (Path(run).expanduser(), runs_root(root) / str(run)):
        if (candidate / RUN_FILE).is_file():
            return candidate
    raise RunNotFoundError(f"no agents run '{run}'", where=str(runs_root(root)),
                           fix="pass a run folder or an id that `evolve agents run` printed")


def new_run_id(goal: str) -> str:
    slug = "-".join(re.findall(r"[a-z0-9]+", goal.lower())[:4])[:32] or "goal"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{os.getpid() % 1000:03d}"


def create_run(goal: str, domain_name: str, *, root: str | Path | None = None, model: str | None = None,
               policy: str | None = None, prm: str | None = None, config: AgentsConfig | None = None,
               question: dict | None = None, seed_ideas: list[str] | None = None, run_id: str | None = None,
               model_config: dict | None = None) -> Path:
    if not goal.strip():
        raise AgentsError("the goal is empty", where="GOAL", fix='pass a research goal or question: evolve agents run "..."')
    if question is None:  # a goal the domain cannot take fails here, before a folder or a model exists
        from agents.policy import check_goal
        from domains import load_domain

        check_goal(goal, load_domain(domain_name))
    folder = runs_root(root) / (run_id or new_run_id(goal))
    if (folder / RUN_FILE).exists():
        raise AgentsError(f"run folder {folder} already exists", where=str(folder), fix="resume it or pick another id")
    folder.mkdir(parents=True, exist_ok=True)
    inbox.create(folder / INBOX_FILE)  # there from the start, so feedback never races the run to make it
    meta = {"goal": goal, "domain": domain_name, "model": model, "model_config": model_config, "policy": policy,
            "prm": prm,
            "config": (config or AgentsConfig()).model_dump(), "question": question, "seed_ideas": seed_ideas or [],
            "created": time.time()}
    (folder / RUN_FILE).write_text(json.dumps(meta, indent=2))
    return folder


def load_meta(folder: Path) -> dict:
    return json.loads((folder / RUN_FILE).read_text())


def is_finished(state: dict) -> bool:
    """Whether the run wrote its final report (and so stopped)."""
    return state.get("next_action") == "final" and bool(state.get("overview"))


def pending_feedback(folder: Path, state: dict) -> int:
    """Inbox entries the supervisor has not read yet."""
    return len(inbox.read_since(folder / INBOX_FILE, state.get("inbox_cursor", 0)))


def extend(folder: Path, steps: int) -> dict:
    """`steps` more supervisor steps for the run in `folder`; returns the new run.json. A finished run
    continues from where it stopped (`execute` reopens it, feedback posted since included) for exactly
    `steps` steps before a new report; an unfinished one gets `steps` more budget."""
    if steps < 1:
        raise AgentsError(f"--budget {steps} adds no steps", where="--budget", fix="pass a number of steps of 1 or more")
    meta = load_meta(folder)
    state = read_state(folder)
    if is_finished(state):
        # The decision to write the report took a step too, so steps S .. S + steps - 1 are new work.
        meta["config"]["budget"] = state["step"] + steps
        meta["continue_at"] = state["step"]
    else:
        meta["config"]["budget"] += steps
    meta.setdefault("extensions", []).append({"steps": steps, "budget": meta["config"]["budget"],
                                              "at_step": state.get("step", 0)})
    (folder / RUN_FILE).write_text(json.dumps(meta, indent=2))
    return meta


def open_checkpointer(folder: Path):
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(folder / CHECKPOINTS), check_same_thread=False)
    return SqliteSaver(conn), conn


def graph_config(meta: dict) -> dict:
    from agents.graph import recursion_limit

    return {"configurable": {"thread_id": THREAD}, "recursion_limit": recursion_limit(AgentsConfig(**meta["config"]))}


def execute(folder: Path, generator, *, scorer=None, on_update: Callable[[str, dict], None] | None = None,
            batch_window: float = 0.05, base=None) -> dict:
    """Runs (or resumes) the run in `folder` to its end and returns the final state."""
    from agents.graph import build_graph
    from agents.policy import goal_question
    from agents.runtime import question_dict
    from domains import load_domain

    meta = load_meta(folder)
    domain = load_domain(meta["domain"])
    cfg = AgentsConfig(**meta["config"])
    saver, conn = open_checkpointer(folder)
    try:
        graph = build_graph(generator, domain, saver, config=cfg, scorer=scorer, inbox=folder / INBOX_FILE,
                            batch_window=batch_window, base=base)
        config = graph_config(meta)
        snapshot = graph.get_state(config)
        if snapshot.created_at is None:  # a fresh run: the initial state
            question = meta.get("question")
            if question is None:
                parsed = goal_question(meta["goal"], domain)
                question = question_dict(parsed) if parsed is not None else None
            start = {"goal": meta["goal"], "question": question, "seed_ideas": meta.get("seed_ideas") or []}
        elif not snapshot.next and not snapshot.tasks:
            # `next` leaves out the tasks of the current step that already wrote: a run stopped right after
            # every task of a parallel step finished, before the step's checkpoint, has none left "next"
            # but its step still pending (`tasks`), and is not finished
            step = snapshot.values.get("step", 0)
            if meta.get("continue_at") != step:
                return snapshot.values  # already finished
            # `extend` gave the finished run more steps: reopen it as if the meta-review had just run,
            # whose edge leads back to the supervisor; the inbox entries posted since are read there.
            graph.update_state(config, {"overview": "", "stop_reason": "", "history_from": step},
                               as_node="meta_review")
            start = None
        else:
            start = None  # None continues from the last checkpoint
        for update in graph.stream(start, config, stream_mode="updates"):
            for node, patch in (update or {}).items():
                if on_update is not None:
                    on_update(node, patch or {})
        return graph.get_state(config).values
    finally:
        conn.close()


def read_state(folder: Path) -> dict:
    """The last checkpointed state, without a model (for status, show and export)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    if not (folder / CHECKPOINTS).exists():
        return {}
    conn = sqlite3.connect(str(folder / CHECKPOINTS), check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        tup = saver.get_tuple({"configurable": {"thread_id": THREAD}})
        return dict(tup.checkpoint["channel_values"]) if tup else {}
    finally:
        conn.close()
