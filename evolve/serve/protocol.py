"""The OpenAI Chat Completions wire format: the request we accept and the JSON we answer with.

Steps travel in the reasoning field under both names clients read today: `reasoning` (vLLM, Ollama)
and `reasoning_content` (SGLang, the DeepSeek API). Each step also comes as a structured `step`
(index, text, PRM score, weakest) for clients that want the scores as numbers.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evolve.chat.models import KNOBS, Chat, ChatRequestError
from evolve.chat.turns import Answer, ChatEvent, Step, Thought, Votes, step_line, votes_line

# OpenAI fields a client may send that do not change how we answer; anything else unknown is a 400.
TOLERATED = frozenset({"user", "frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs",
                       "metadata", "store", "parallel_tool_calls", "service_tier", "reasoning_effort"})


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    n: int = Field(1, ge=1)
    temperature: float | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream_options: dict[str, Any] | None = None


def parse_request(body: dict, *, max_tokens: int, max_n: int, max_samples: int) -> tuple[ChatCompletionRequest, Chat]:
    """The request and the `Chat` it asks for, or a ChatRequestError that names the field."""
    try:
        request = ChatCompletionRequest.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise ChatRequestError(f"{field}: {first['msg']}", param=field) from None
    extras = dict(request.model_extra or {})
    unknown = sorted(set(extras) - set(KNOBS) - TOLERATED)
    if unknown:
        raise ChatRequestError(f"unknown field '{unknown[0]}'", param=unknown[0],
                               fix=f"the mode knobs are: {', '.join(KNOBS)}")
    tokens = request.max_completion_tokens or request.max_tokens
    if tokens is not None and tokens > max_tokens:
        raise ChatRequestError(f"max_tokens {tokens} is above this server's limit of {max_tokens}", param="max_tokens")
    if request.n > max_n:
        raise ChatRequestError(f"n {request.n} is above this server's limit of {max_n}", param="n")
    knobs = {k: v for k, v in extras.items() if k in KNOBS}
    for name, value in knobs.items():
        if name != "top_p" and isinstance(value, int) and value > max_samples:
            raise ChatRequestError(f"{name} {value} is above this server's limit of {max_samples}", param=name)
    stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    chat = Chat([{"role": m.role, "content": m.text()} for m in request.messages], request.temperature, tokens,
                request.seed, stop, knobs)
    return request, chat


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def event_delta(event: ChatEvent) -> dict | None:
    """The `delta` of one streamed chunk for an event (None for the Answer, which closes the choice)."""
    if isinstance(event, Step):
        line = step_line(event) + "\n"
        return {"reasoning": line, "reasoning_content": line,
                "step": {"index": event.index, "text": event.text, "score": event.score, "weakest": event.weakest}}
    if isinstance(event, Thought):
        line = f"… {event.text}\n"
        return {"reasoning": line, "reasoning_content": line}
    if isinstance(event, Votes):
        line = votes_line(event) + "\n"
        return {"reasoning": line, "reasoning_content": line, "votes": event.votes}
    return None


def chunk(cid: str, model: str, created: int, index: int, delta: dict, finish: str | None = None) -> dict:
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}


def usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def choice_message(events: list[ChatEvent]) -> tuple[dict, Answer]:
    """A whole (non-streamed) choice's message from its events."""
    answer = next(e for e in events if isinstance(e, Answer))
    reasoning = "".join((event_delta(e) or {}).get("reasoning", "") for e in events)
    steps = [{"index": e.index, "text": e.text, "score": e.score, "weakest": e.weakest}
             for e in events if isinstance(e, Step)]
    votes = next((e.votes for e in events if isinstance(e, Votes)), None)
    message = {"role": "assistant", "content": answer.content, "reasoning": reasoning, "reasoning_content": reasoning,
               "steps": steps, "answer": answer.answer}
    if votes is not None:
        message["votes"] = votes
    return message, answer


def now() -> int:
    return int(time.time())


def error_body(message: str, kind: str, *, code: str | None = None, param: str | None = None) -> dict:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
