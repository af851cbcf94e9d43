"""The web chat (Gradio), mounted on the API's FastAPI app at `/` or served alone.

Reasoner tab: pick a domain and a mode and ask; the answer's steps stream into a collapsible
"Thinking" message, each with its PRM score as a coloured badge and the weakest step marked, then
the vote table (sc, pvs) and the answer. Conversations live in SQLite (`ConversationStore`): they are
listed, reopened after a reload or a restart, and exported as markdown or JSON. Packages that serve
models of their own add tabs (the agents add "Agents") through the `evolve.chat` entry point.

Everything a model wrote is HTML-escaped before it reaches the page, so a model that writes
`<script>` or `<img onerror=...>` shows that text instead of running it.
"""

from __future__ import annotations

import html
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from evolve.chat.models import Chat, ServedModel
from evolve.chat.store import ConversationStore
from evolve.chat.turns import Answer, Step, Thought, Votes
from evolve.errors import UserFacingError

CSS = """
.prm { display: inline-block; padding: 0 6px; margin-right: 6px; border-radius: 8px; font-size: 0.85em;
       font-weight: 600; color: #fff; }
.prm-high { background: #2e7d32; } .prm-mid { background: #f9a825; color: #222; } .prm-low { background: #c62828; }
.prm-weak { background: #6a1b9a; }
.thought { color: #777; font-size: 0.9em; }
table.leaderboard { border-collapse: collapse; width: 100%; }
table.leaderboard th, table.leaderboard td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; }
"""


def badge(score: float | None, weakest: bool = False) -> str:
    """The HTML badge of a step's PRM score: green from 0.7, amber from 0.4, red below; "weakest" marked."""
    if score is None:
        return ""
    level = "high" if score >= 0.7 else "mid" if score >= 0.4 else "low"
    mark = '<span class="prm prm-weak">weakest</span>' if weakest else ""
    return f'<span class="prm prm-{level}">PRM {score:.2f}</span>{mark}'


def safe(text: str) -> str:
    """Model text as inert page text: HTML escaped, markdown link and image syntax defused."""
    return html.escape(text).replace("[", "&#91;").replace("]", "&#93;")


def render_turn(events: list, *, done: bool) -> list[dict]:
    """The assistant messages of one answer so far: a Thinking parent with one child per step (and a
    log of the work in progress), then the votes and the answer."""
    steps = [e for e in events if isinstance(e, Step)]
    thoughts = [e for e in events if isinstance(e, Thought)]
    status = "done" if done else "pending"
    lines = [f'<span class="thought">{safe(t.text)}</span>' for t in thoughts[-8:]]
    lines += [f'<span class="step" id="step-{s.index}">**Step {s.index}** {badge(s.score, s.weakest)}{safe(s.text)}</span>'
              for s in steps]
    weakest = next((s.index for s in steps if s.weakest), None)
    title = f"Thinking: {len(steps)} steps" + (f", weakest is step {weakest}" if weakest else "")
    out = [{"role": "assistant", "content": "\n\n".join(lines) or "…",
            "metadata": {"title": title, "id": "thinking", "status": status}}]
    votes = next((e for e in events if isinstance(e, Votes)), None)
    if votes is not None:
        rows = "\n".join(f"| {safe(str(a))} | {v:.3g} |" for a, v in votes.votes.items())
        out.append({"role": "assistant", "content": f"**Votes over {votes.samples} samples**\n\n| answer | votes |\n"
                                                    f"|---|---|\n{rows}"})
    answer = next((e for e in events if isinstance(e, Answer)), None)
    if answer is not None:
        out.append({"role": "assistant", "content": safe(answer.content)})
    return out


def stored_history(store: ConversationStore, cid: str) -> list[dict]:
    """A saved conversation as chat messages, answers rebuilt from their recorded steps."""
    history: list[dict] = []
    for message in store.get(cid).messages:
        if message.role == "user":
            history.append({"role": "user", "content": safe(message.content)})
            continue
        d = message.details
        events: list = [Step(s["index"], s["text"], s.get("score"), s.get("weakest", False)) for s in d.get("steps", [])]
        if d.get("votes"):
            events.append(Votes(d["votes"], d.get("answer"), d.get("samples", 0)))
        events.append(Answer(d.get("answer"), message.content, "stop", 0, 0))
        history += render_turn(events, done=True)
    return history


def _details(events: list, model: ServedModel) -> dict:
    votes = next((e for e in events if isinstance(e, Votes)), None)
    answer = next((e for e in events if isinstance(e, Answer)), None)
    return {"model": model.id, "mode": model.mode, "answer": answer.answer if answer else None,
            "steps": [{"index": e.index, "text": e.text, "score": e.score, "weakest": e.weakest}
                      for e in events if isinstance(e, Step)],
            "votes": votes.votes if votes else None, "samples": votes.samples if votes else 0,
            "tokens": answer.completion_tokens if answer else 0}


def _choices(store: ConversationStore) -> list[tuple[str, str]]:
    return [(f"{c.title} ({c.model})", c.id) for c in store.list()]


def build_web(host, names: list[str], store: ConversationStore) -> gr.Blocks:
    """`names`: the reasoner model ids ("domain/mode") the host will serve, known before it has loaded."""
    domains = list(dict.fromkeys(n.split("/", 1)[0] for n in names))
    modes_of = {d: [n.split("/", 1)[1] for n in names if n.split("/", 1)[0] == d] for d in domains}
    first = domains[0] if domains else None

    with gr.Blocks(title="evolve chat") as blocks:
        current = gr.BrowserState(None, storage_key="evolve-conversation")
        with gr.Tab("Reasoner"):
            with gr.Row():
                with gr.Column(scale=1, min_width=220):
                    domain = gr.Dropdown(domains, value=first, label="Domain", elem_id="domain")
                    mode = gr.Dropdown(modes_of.get(first, []), value=(modes_of.get(first) or [None])[0],
                                       label="Mode", elem_id="mode")
                    conversations = gr.Dropdown(_choices(store), value=None, label="Conversations",
                                                elem_id="conversations")
                    new = gr.Button("New conversation", elem_id="new-conversation")
                    with gr.Row():
                        export_md = gr.Button("Export markdown", size="sm")
                        export_json = gr.Button("Export JSON", size="sm")
                    download = gr.File(label="Export", interactive=False, visible=False)
                with gr.Column(scale=4):
                    chatbot = gr.Chatbot(label="Reasoner", elem_id="chatbot", height=560, sanitize_html=True,
                                         allow_tags=False, group_consecutive_messages=False)
                    with gr.Row():
                        box = gr.Textbox(placeholder="Ask a question; put options on their own lines (A) ..., B) ...)",
                                         lines=3, show_label=False, elem_id="question", scale=5)
                        send = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
                    error = gr.Markdown(elem_id="chat-error")

            def pick_domain(name: str):
                choices = modes_of.get(name, [])
                return gr.update(choices=choices, value=choices[0] if choices else None)

            def ask(text: str, history: list, name: str, how: str, cid: str | None) -> Iterator:
                history = list(history or [])
                if host.models is None:
                    yield history, gr.update(), cid, "The models are still loading; ask again in a moment.", gr.update()
                    return
                model = host.models.get(f"{name}/{how}")
                if not text.strip() or model is None:
                    yield history, gr.update(), cid, "Pick a domain and mode, then type a question.", gr.update()
                    return
                if cid is None or not _exists(store, cid):
                    cid = store.create(text, model.id)
                store.append(cid, "user", text)
                history.append({"role": "user", "content": safe(text)})
                yield history, "", cid, "", gr.update(choices=_choices(store), value=cid)
                events: list = []
                cancel = threading.Event()
                try:
                    for event in model.answer(Chat([{"role": "user", "content": text}]), cancel):
                        events.append(event)
                        yield history + render_turn(events, done=False), "", cid, "", gr.update()
                except UserFacingError as err:
                    yield history, text, cid, f"**Could not answer:** {safe(err.message)}", gr.update()
                    return
                finally:
                    cancel.set()
                answer = next((e for e in events if isinstance(e, Answer)), None)
                store.append(cid, "assistant", answer.content if answer else "", _details(events, model))
                yield history + render_turn(events, done=True), "", cid, "", gr.update()

            def open_conversation(cid: str | None):
                if not cid or not _exists(store, cid):
                    return [], None
                return stored_history(store, cid), cid

            def restore(cid: str | None):
                """On page load: the conversation list, and the one this browser had open."""
                history, cid = open_conversation(cid)
                return gr.update(choices=_choices(store), value=cid), history, cid

            def export(cid: str | None, kind: str):
                if not cid or not _exists(store, cid):
                    return gr.update(value=None, visible=False)
                text = store.export_markdown(cid) if kind == "md" else store.export_json(cid)
                path = Path(tempfile.mkdtemp(prefix="evolve-export-")) / f"conversation-{cid}.{kind}"
                path.write_text(text, encoding="utf-8")
                return gr.update(value=str(path), visible=True)

            domain.change(pick_domain, domain, mode)
            outputs = [chatbot, box, current, error, conversations]
            send.click(ask, [box, chatbot, domain, mode, current], outputs, concurrency_limit=None)
            box.submit(ask, [box, chatbot, domain, mode, current], outputs, concurrency_limit=None)
            conversations.input(open_conversation, conversations, [chatbot, current])
            new.click(lambda: ([], None, gr.update(value=None)), None, [chatbot, current, conversations])
            export_md.click(lambda cid: export(cid, "md"), current, download)
            export_json.click(lambda cid: export(cid, "json"), current, download)
            blocks.load(restore, current, [conversations, chatbot, current])
        for tab in plugin_tabs():
            tab(host, store)
    return blocks


def _exists(store: ConversationStore, cid: str) -> bool:
    try:
        store.get(cid)
        return True
    except UserFacingError:
        return False


def plugin_tabs() -> list:
    """Tab builders of the packages that serve models of their own (`evolve.chat` entry points with a
    `web_tab(host, store)`, called inside the page's Blocks)."""
    from importlib.metadata import entry_points

    tabs = []
    for entry in entry_points(group="evolve.chat"):
        plugin = entry.load()
        if hasattr(plugin, "web_tab"):
            tabs.append(plugin.web_tab)
    return tabs


def mount_web(app, host, names: list[str], store: ConversationStore, path: str = "/"):
    """The web chat on the API's app (`/`), sharing its models and process."""
    blocks = build_web(host, names, store)
    blocks.queue(default_concurrency_limit=None)
    return gr.mount_gradio_app(app, blocks, path=path, css=CSS, footer_links=[], ssr_mode=False)
