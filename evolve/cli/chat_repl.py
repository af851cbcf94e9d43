"""`evolve chat --terminal`: a chat in the terminal, on local models or on a running server (`--url`).

Both kinds of session answer with the same `ChatEvent`s, so one renderer shows them: each step with
its PRM score (green, amber or red; the weakest marked), the votes, then the answer. Commands:
/mode NAME, /domain NAME, /clear, /help and /quit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape

from evolve.chat.models import Chat
from evolve.chat.turns import Answer, ChatEvent, Step, Thought, Votes
from evolve.errors import ConfigError, UserFacingError

HELP = "/mode NAME, /domain NAME, /clear (forget the conversation), /help, /quit"


@dataclass
class Session:
    """What the REPL talks to: model ids "domain/mode", the current pick, and how to ask."""

    ids: list[str]
    ask: Callable[[str, list[dict]], Iterator[ChatEvent]]  # (model id, messages) -> events
    domain: str
    mode: str
    history: list[dict] = field(default_factory=list)

    @property
    def model(self) -> str:
        return f"{self.domain}/{self.mode}"

    def modes(self) -> list[str]:
        return [i.split("/", 1)[1] for i in self.ids if i.split("/", 1)[0] == self.domain]

    def domains(self) -> list[str]:
        return list(dict.fromkeys(i.split("/", 1)[0] for i in self.ids))


def _first(ids: list[str], mode: str) -> tuple[str, str]:
    reasoners = [i for i in ids if not i.startswith("agents/")]
    if not reasoners:
        raise ConfigError("the server offers no reasoner model", where="--url", fix="check the server's /v1/models")
    pick = next((i for i in reasoners if i.split("/", 1)[1] == mode), reasoners[0])
    domain, chosen = pick.split("/", 1)
    return domain, chosen


def local_session(cfg, names, policy_dir, prm_dir, sources, *, mode: str) -> Session:
    from evolve.chat.loading import load_context, served_models

    table = served_models(load_context(cfg, names, policy=policy_dir, prm=prm_dir, sources=sources))

    def ask(model_id: str, messages: list[dict]) -> Iterator[ChatEvent]:
        cancel = threading.Event()
        try:
            yield from table[model_id].answer(Chat(messages), cancel)
        finally:
            cancel.set()

    ids = [i for i in table if not i.startswith("agents/")]
    return Session(ids, ask, *_first(ids, mode))


def remote_session(url: str, api_key: str | None, mode: str) -> Session:
    """A session on `evolve serve` at `url`, read back from its streamed chat completions."""
    import httpx

    base = url.rstrip("/").removesuffix("/v1") + "/v1"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        listed = httpx.get(f"{base}/models", headers=headers, timeout=30)
    except httpx.HTTPError as err:
        raise ConfigError(f"cannot reach {base}: {err}", where="--url", fix="start `evolve serve` first, or fix the URL") from None
    if listed.status_code != 200:
        raise ConfigError(f"{base}/models answered {listed.status_code}: {_message(listed.text)}", where="--url",
                          fix="pass --api-key KEY if the server needs one")
    ids = [m["id"] for m in listed.json()["data"] if not m["id"].startswith("agents/")]

    def ask(model_id: str, messages: list[dict]) -> Iterator[ChatEvent]:
        body = {"model": model_id, "messages": messages, "stream": True}
        with httpx.stream("POST", f"{base}/chat/completions", json=body, headers=headers, timeout=None) as response:
            if response.status_code != 200:
                raise ConfigError(_message(response.read().decode()), where=model_id, fix="see the server's log")
            yield from events_from_sse(response.iter_lines())

    return Session(ids, ask, *_first(ids, mode))


def events_from_sse(lines) -> Iterator[ChatEvent]:
    """`ChatEvent`s back from the server's SSE lines (its `step`, `votes`, reasoning and content deltas)."""
    content = ""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        payload = json.loads(data)
        if "error" in payload:
            raise ConfigError(payload["error"]["message"], where="server", fix="see the server's log")
        for choice in payload.get("choices", []):
            delta = choice.get("delta") or {}
            if "step" in delta:
                s = delta["step"]
                yield Step(s["index"], s["text"], s.get("score"), s.get("weakest", False))
            elif "votes" in delta:
                yield Votes(delta["votes"], None, 0)
            elif delta.get("reasoning"):
                yield Thought(delta["reasoning"].removeprefix("… ").strip())
            content += delta.get("content") or ""
            if choice.get("finish_reason"):
                yield Answer(None, content, choice["finish_reason"], 0, 0)


def _message(text: str) -> str:
    try:
        return json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return text[:200]


def render(event: ChatEvent, console: Console) -> None:
    if isinstance(event, Thought):
        console.print(f"[dim]… {escape(event.text)}[/]")
    elif isinstance(event, Step):
        badge = ""
        if event.score is not None:
            colour = "green" if event.score >= 0.7 else "yellow" if event.score >= 0.4 else "red"
            badge = f" [{colour}]\\[PRM {event.score:.2f}][/]" + (" [magenta]weakest[/]" if event.weakest else "")
        console.print(f"[bold]Step {event.index}[/]{badge}: {escape(event.text)}")
    elif isinstance(event, Votes):
        console.print("votes: " + ", ".join(f"{escape(str(a))} {v:.3g}" for a, v in event.votes.items()))
    elif isinstance(event, Answer):
        console.print(f"[bold cyan]{escape(event.content)}[/]")


def repl(session: Session, *, read: Callable[[str], str] = input, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"chatting with [bold]{session.model}[/]; {HELP}")
    while True:
        try:
            line = read(f"{session.model}> ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not line:
            continue
        if line.startswith("/"):
            if not _command(session, line, console):
                return
            continue
        session.history.append({"role": "user", "content": line})
        reply = ""
        try:
            for event in session.ask(session.model, list(session.history)):
                render(event, console)
                if isinstance(event, Answer):
                    reply = event.content
        except UserFacingError as err:
            console.print(f"[red]{escape(err.one_line())}[/]")
            session.history.pop()
            continue
        except KeyboardInterrupt:
            console.print("[yellow]stopped[/]")
            session.history.pop()
            continue
        session.history.append({"role": "assistant", "content": reply})


def _command(session: Session, line: str, console: Console) -> bool:
    """Runs one /command; False means quit."""
    name, _, arg = line.partition(" ")
    arg = arg.strip()
    if name in ("/quit", "/exit"):
        return False
    if name == "/clear":
        session.history.clear()
        console.print("conversation cleared")
    elif name == "/mode":
        if arg not in session.modes():
            console.print(f"[red]modes of {session.domain}: {', '.join(session.modes())}[/]")
        else:
            session.mode = arg
            console.print(f"mode {arg}")
    elif name == "/domain":
        if arg not in session.domains():
            console.print(f"[red]domains: {', '.join(session.domains())}[/]")
        else:
            session.domain = arg
            if session.mode not in session.modes():
                session.mode = session.modes()[0]
            console.print(f"domain {arg} ({session.mode})")
    else:
        console.print(HELP)
    return True
