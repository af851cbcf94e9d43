"""The agents on the chat (the `evolve.chat` entry point): a model "agents/<domain>" that runs a
co-scientist loop on the message as its goal, and the web chat's Agents tab, where a person starts a
run, watches hypotheses, reviews and the Elo leaderboard update live, steers it (pin, reject, add,
feedback into the run's inbox) and resumes it after a restart.

Runs are ordinary run folders under the runs root, so `evolve agents status/show/resume` see them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

from agents.progress import update_lines
from evolve.chat.models import Chat, ChatContext, ServedModel
from evolve.chat.turns import Answer, ChatEvent, Thought


class _Stop(Exception):
    """The chat went away: the run stops here and stays resumable from its checkpoint."""


def start_run(context: ChatContext, domain: str, goal: str, *, budget: int | None = None,
              root: str | Path | None = None) -> Path:
    """A new run folder for `goal` on the context's models (checked like `evolve agents run`)."""
    from agents.run import create_run

    agents = context.config.agents.model_copy(deep=True)
    if budget is not None:
        agents.budget = budget
    return create_run(goal, domain, root=root, model=context.config.model.spec, policy=context.policy,
                      prm=context.prm, config=agents, model_config=context.config.model.model_dump())


def run_events(context: ChatContext, folder: Path, cancel: threading.Event) -> Iterator[tuple[str, dict] | dict]:
    """(node, patch) per graph update while the run in `folder` runs (or resumes), then its final state.
    Setting `cancel` stops it at the next update; the checkpoint keeps everything done so far."""
    from agents.run import execute, load_meta

    meta = load_meta(folder)
    reasoner = context.reasoners.get(meta["domain"]) or next(iter(context.reasoners.values()))
    updates: queue.Queue = queue.Queue()
    failure: list[BaseException] = []

    def on_update(node: str, patch: dict) -> None:
        if cancel.is_set():
            raise _Stop()
        updates.put((node, patch))

    def work() -> None:
        try:
            updates.put(execute(folder, reasoner.generator, scorer=reasoner.scorer, on_update=on_update,
                                base=context.config))
        except _Stop:
            pass
        except BaseException as err:  # re-raised in the caller's thread
            failure.append(err)
        finally:
            updates.put(None)

    threading.Thread(target=work, name=f"agents-{folder.name}", daemon=True).start()
    try:
        while (item := updates.get()) is not None:
            yield item
    finally:
        cancel.set()
    if failure:
        raise failure[0]


def final_answer(state: dict) -> str:
    """The reply of a finished run: its top hypothesis and the overview."""
    from agents.nodes.metareview import leaderboard

    top = leaderboard(state, 1)
    head = ""
    if top:
        h = top[0]
        head = f"Top hypothesis {h['id']} (Elo {h['elo']:.0f})" + (f", answer {h['answer']}" if h.get("answer") else "")
        head += f": {h['text'].strip()}\n\n"
    return head + (state.get("overview") or "")


def models(context: ChatContext) -> dict[str, ServedModel]:
    """One "agents/<domain>" model per loaded domain."""
    table = {}
    for domain in context.reasoners:
        def answer(chat: Chat, cancel: threading.Event, domain: str = domain) -> Iterator[ChatEvent]:
            folder = start_run(context, domain, chat.last_user_message())
            yield Thought(f"agents run {folder.name} in {folder}")
            state: dict = {}
            for item in run_events(context, folder, cancel):
                if isinstance(item, dict):
                    state = item
                    continue
                for line in update_lines(*item):
                    yield Thought(line)
            yield Answer(None, final_answer(state), "stop", 0, state.get("tokens", 0))

        table[f"agents/{domain}"] = ServedModel(
            f"agents/{domain}", f"a co-scientist run on {domain}: the message is the goal", answer, domain=domain)
    return table


def web_tab(host, store) -> None:
    from agents.web import agents_tab

    agents_tab(host)
