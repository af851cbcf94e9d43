"""The models a chat front end can talk to: one id per domain and mode ("medqa/pvs"), plus whatever
packages that build on evolve add through the `evolve.chat` entry point (the agents add
"agents/<domain>"). Ids map only to what was loaded: a request names an id, never a path.

A served model answers a chat (`Chat`: the messages and the request's knobs) with `ChatEvent`s. The
reasoner answers the last user message as one question, pasted options and all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from domains.pasted import pasted_question
from evolve.api import Reasoner
from evolve.chat.turns import ChatEvent, answer_events
from evolve.errors import EvolveError
from evolve.infer.modes import MODES

# The request fields that set a mode's own knobs (extra body fields of a chat completion), and the
# eval key each one sets: "samples" is N of sc, pvs and bon-*, since OpenAI's `n` counts choices.
KNOBS: dict[str, str] = {"samples": "n", "beam_width": "beam_width", "beam_expansions": "beam_expansions",
                         "max_steps": "max_steps", "step_tokens": "step_tokens", "mcts_iterations": "mcts_iterations",
                         "mcts_children": "mcts_children", "top_p": "top_p"}


class ChatRequestError(EvolveError):
    """A request the model cannot answer as asked (a bad knob, no question): HTTP 400."""

    def __init__(self, message: str, *, param: str | None = None, fix: str = ""):
        super().__init__(message, where=param or "request", fix=fix)
        self.param = param


@dataclass
class Chat:
    """What one chat request asks: its messages and its sampling settings."""

    messages: list[dict[str, str]]
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    knobs: dict[str, Any] = field(default_factory=dict)  # KNOBS names -> values

    def last_user_message(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return str(message.get("content") or "")
        raise ChatRequestError("the messages hold no user message", param="messages",
                               fix='end the messages with {"role": "user", "content": "your question"}')


@dataclass
class ServedModel:
    id: str
    description: str
    answer: Callable[[Chat, threading.Event], Iterator[ChatEvent]]
    owned_by: str = "evolve"
    domain: str | None = None
    mode: str | None = None
    details: dict = field(default_factory=dict)  # what /v1/models shows about it (prm, policy, round)


def reasoner_model(model_id: str, reasoner: Reasoner, mode: str, details: dict | None = None) -> ServedModel:
    def answer(chat: Chat, cancel: threading.Event) -> Iterator[ChatEvent]:
        question, problem = pasted_question(chat.last_user_message(), reasoner.domain.answer_type)
        if problem is not None:
            raise ChatRequestError(problem, param="messages")
        yield from answer_events(request_reasoner(reasoner, chat), question, mode, cancel=cancel)

    return ServedModel(model_id, f"{reasoner.domain.name} with {mode}: {MODES[mode].help}", answer,
                       domain=reasoner.domain.name, mode=mode, details=details or {})


def request_reasoner(reasoner: Reasoner, chat: Chat) -> Reasoner:
    """The reasoner under one request's settings, or a 400 that names the bad field."""
    from pydantic import ValidationError

    overrides: dict[str, Any] = {}
    for name, value in (("temperature", chat.temperature), ("max_tokens", chat.max_tokens), ("seed", chat.seed)):
        if value is not None:
            overrides[name] = value
    if chat.stop:
        overrides["stop"] = list(chat.stop)
    for name, value in chat.knobs.items():
        overrides[KNOBS[name]] = value
    try:
        return reasoner.with_eval(**overrides)
    except ValidationError as err:
        first = err.errors()[0]
        key = str(first["loc"][-1]) if first.get("loc") else "request"
        name = next((k for k, v in KNOBS.items() if v == key), key)
        raise ChatRequestError(f"bad value for {name}: {first['msg']}", param=name) from None


def reasoner_models(reasoners: dict[str, Reasoner], modes: list[str], details: dict | None = None) -> dict[str, ServedModel]:
    """`domain/mode` for every loaded domain and every mode it can run (PRM modes only with a PRM)."""
    table: dict[str, ServedModel] = {}
    for domain, reasoner in reasoners.items():
        for mode in modes:
            if MODES[mode].needs_prm and reasoner.scorer is None:
                continue
            table[f"{domain}/{mode}"] = reasoner_model(f"{domain}/{mode}", reasoner, mode, details)
    return table


def plugin_models(context: Any) -> dict[str, ServedModel]:
    """Models that other packages serve (entry point group `evolve.chat`, each a `models(context)`)."""
    from importlib.metadata import entry_points

    table: dict[str, ServedModel] = {}
    for entry in entry_points(group="evolve.chat"):
        plugin = entry.load()
        table.update(plugin.models(context))
    return table


@dataclass
class ChatContext:
    """What a chat front end loaded, for the plugins that serve models of their own on it."""

    config: Any  # evolve.config.Config
    reasoners: dict[str, Reasoner]  # by domain name; they share one (batching) generator and one PRM
    policy: str | None = None
    prm: str | None = None
    home: Any = None  # Path: where the chat keeps its files (conversations, agent runs)
    sources: dict = field(default_factory=dict)  # what was loaded from where, for /v1/models and /health


def reasoner_ids(domains: list[str], modes: list[str], has_prm: bool) -> list[str]:
    """The `domain/mode` ids `reasoner_models` will serve, known before any model loads."""
    return [f"{d}/{m}" for d in domains for m in modes if has_prm or not MODES[m].needs_prm]
