"""The OpenAI-compatible HTTP API: `/v1/models`, `/v1/chat/completions` (streamed or not), `/health`
and `/metrics`, with OpenAI-shaped errors: 400 bad request, 401 bad key, 404 unknown model, 413 too
large, 429 queue full, 503 still loading, 504 timed out.

    app = create_app(Host(load), config.serve, api_key="...")
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from evolve.chat.models import ChatRequestError, ServedModel
from evolve.chat.turns import Answer, Step, Thought
from evolve.config import ServeConfig
from evolve.serve.engine import Busy, Engine, RequestTimeout
from evolve.serve.metrics import Metrics
from evolve.serve.protocol import (
    choice_message,
    chunk,
    completion_id,
    error_body,
    event_delta,
    now,
    parse_request,
    usage,
)

log = logging.getLogger("evolve.serve")


class Host:
    """The served models, loaded once in the background: until they are, requests get 503.

    `load` returns the `ChatContext` (None where nothing else needs it) and the table of models."""

    def __init__(self, load: Callable[[], tuple[Any, dict[str, ServedModel]]]):
        self._load = load
        self.context: Any = None
        self.models: dict[str, ServedModel] | None = None
        self.error: str | None = None
        self.ready = threading.Event()
        self._closers: list[Callable[[], None]] = []

    def on_close(self, stop: Callable[[], None]) -> None:
        """`stop` runs when the server shuts down: work a chat tab left going in the background (an agents
        run) stops there, at a checkpoint, instead of under the interpreter's exit."""
        if stop not in self._closers:
            self._closers.append(stop)

    def close(self) -> None:
        for stop in self._closers:
            try:
                stop()
            except Exception as err:  # one failing closer must not keep the others from running
                log.error("while shutting down: %s: %s", type(err).__name__, err)

    def start(self) -> Host:
        def run() -> None:
            try:
                self.context, self.models = self._load()
            except Exception as err:  # shown by /health and every request, instead of a dead server
                from evolve.errors import UserFacingError

                self.error = err.one_line() if isinstance(err, UserFacingError) else f"{type(err).__name__}: {err}"
                log.error("loading failed: %s", self.error)
            finally:
                self.ready.set()

        threading.Thread(target=run, name="load-models", daemon=True).start()
        return self

    @classmethod
    def loaded(cls, models: dict[str, ServedModel], context: Any = None) -> Host:
        host = cls(lambda: (context, models))
        host.context, host.models = context, models
        host.ready.set()
        return host


class APIError(Exception):
    def __init__(self, status: int, message: str, kind: str, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.kind, self.code, self.param = status, kind, code, param

    def response(self) -> JSONResponse:
        return JSONResponse(error_body(str(self), self.kind, code=self.code, param=self.param), status_code=self.status)


def create_app(host: Host, config: ServeConfig, *, api_key: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        try:
            yield
        finally:
            await asyncio.to_thread(host.close)

    app = FastAPI(title="evolve", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    engine = Engine(config)
    metrics = Metrics()
    app.state.engine, app.state.metrics, app.state.host = engine, metrics, host

    @app.exception_handler(APIError)
    async def _api_error(_request: Request, err: APIError) -> JSONResponse:
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        return APIError(400, str(err.errors()[0].get("msg", "bad request")), "invalid_request_error").response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status_code)
        return APIError(err.status_code, str(err.detail), "invalid_request_error", code).response()

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        path = request.url.path
        if path.startswith("/v1/") or path == "/metrics":
            if api_key is not None and not _key_ok(request, api_key):
                return APIError(401, "invalid or missing API key: send it as 'Authorization: Bearer KEY'",
                                "invalid_request_error", "invalid_api_key").response()
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > config.max_body_bytes:
                return APIError(413, f"the request body is {length} bytes; this server takes at most "
                                     f"{config.max_body_bytes} (serve.max_body_bytes)", "invalid_request_error",
                                "request_too_large").response()
        return await call_next(request)

    def models() -> dict[str, ServedModel]:
        if host.error is not None:
            raise APIError(503, f"the models failed to load: {host.error}", "server_error", "model_load_failed")
        if host.models is None:
            raise APIError(503, "the models are still loading; retry in a moment", "server_error", "model_loading")
        return host.models

    @app.get("/health")
    async def health() -> JSONResponse:
        state = "error" if host.error else ("ok" if host.models is not None else "loading")
        body = {"status": state, "models": len(host.models or {}), "active": engine.active,
                "queue_depth": engine.waiting, "error": host.error}
        return JSONResponse(body, status_code=200 if state == "ok" else 503)

    @app.get("/metrics")
    async def metrics_route() -> dict:
        return metrics.snapshot(active=engine.active, waiting=engine.waiting)

    @app.get("/v1/models")
    async def list_models() -> dict:
        return {"object": "list", "data": [_model_card(m) for m in models().values()]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str) -> dict:
        return _model_card(_lookup(models(), model_id))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        started = time.perf_counter()
        raw = await request.body()
        if len(raw) > config.max_body_bytes:  # a chunked body has no content-length to check up front
            raise APIError(413, f"the request body is over {config.max_body_bytes} bytes (serve.max_body_bytes)",
                           "invalid_request_error", "request_too_large")
        try:
            body = json.loads(raw)
        except ValueError:
            raise APIError(400, "the body is not JSON", "invalid_request_error") from None
        if not isinstance(body, dict):
            raise APIError(400, "the body must be a JSON object", "invalid_request_error")
        try:
            req, chat = parse_request(body, max_tokens=config.max_tokens, max_n=config.max_n,
                                      max_samples=config.max_samples)
        except ChatRequestError as err:
            metrics.record(400, 0.0)
            raise APIError(400, _said(err), "invalid_request_error", param=err.param) from None
        model = _lookup(models(), req.model)
        try:
            tickets = engine.admit(_client(request), req.n)
        except Busy as err:
            metrics.record(429, 0.0)
            raise APIError(429, str(err), "rate_limit_error", "queue_full") from None
        chats = [chat] if req.n == 1 else [replace(chat, seed=(chat.seed or 0) + i) for i in range(req.n)]  # one seed per choice
        streams = [engine.events(model, c, t) for c, t in zip(chats, tickets)]
        cid, created = completion_id(), now()
        if req.stream:
            include_usage = bool((req.stream_options or {}).get("include_usage"))
            return EventSourceResponse(_stream(streams, tickets, engine, metrics, model.id, cid, created, started,
                                               include_usage), ping=15, sep="\n")
        return await _complete(streams, tickets, engine, metrics, model.id, cid, created, started)

    return app


def _key_ok(request: Request, api_key: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _lookup(table: dict[str, ServedModel], model_id: str) -> ServedModel:
    if model_id not in table:
        shown = ", ".join(list(table)[:12])
        raise APIError(404, f"the model '{model_id}' does not exist; this server has: {shown}",
                       "invalid_request_error", "model_not_found", "model")
    return table[model_id]


def _model_card(model: ServedModel) -> dict:
    return {"id": model.id, "object": "model", "created": 0, "owned_by": model.owned_by,
            "description": model.description, "domain": model.domain, "mode": model.mode, **model.details}


def _said(err) -> str:
    """A user-facing error's message and fix, without the CLI's `where:` prefix."""
    return f"{err.message} (fix: {err.fix})" if err.fix else err.message


def _failure(err: BaseException) -> APIError:
    if isinstance(err, RequestTimeout):
        return APIError(504, str(err), "timeout", "request_timeout")
    if isinstance(err, ChatRequestError):
        return APIError(400, _said(err), "invalid_request_error", param=err.param)
    from evolve.errors import UserFacingError

    if isinstance(err, UserFacingError):
        return APIError(400, _said(err), "invalid_request_error")
    log.exception("answer failed", exc_info=err)
    return APIError(500, f"the answer failed: {type(err).__name__}: {err}", "server_error")


async def _complete(streams, tickets, engine: Engine, metrics: Metrics, model_id: str, cid: str, created: int,
                    started: float) -> JSONResponse:
    async def collect(stream) -> list:
        return [event async for event in stream]

    try:
        results = await asyncio.gather(*(collect(s) for s in streams))
    except BaseException as err:
        for ticket in tickets:
            engine.release(ticket)
        failure = _failure(err) if isinstance(err, Exception) else APIError(499, "cancelled", "cancelled")
        metrics.record(failure.status, time.perf_counter() - started)
        raise failure from None
    choices, prompt, completion = [], 0, 0
    for index, events in enumerate(results):
        message, answer = choice_message(events)
        choices.append({"index": index, "message": message, "logprobs": None, "finish_reason": answer.finish_reason})
        prompt = answer.prompt_tokens  # one prompt, however many choices
        completion += answer.completion_tokens
    metrics.record(200, time.perf_counter() - started, prompt_tokens=prompt, completion_tokens=completion)
    return JSONResponse({"id": cid, "object": "chat.completion", "created": created, "model": model_id,
                         "choices": choices, "usage": usage(prompt, completion)})


async def _stream(streams, tickets, engine: Engine, metrics: Metrics, model_id: str, cid: str, created: int,
                  started: float, include_usage: bool):
    """SSE `data:` lines of chat.completion.chunk objects, the choices interleaved as their events come."""
    merged: asyncio.Queue = asyncio.Queue()

    async def pump(index: int, stream) -> None:
        try:
            async for event in stream:
                await merged.put((index, event, None))
            await merged.put((index, None, None))
        except Exception as err:
            await merged.put((index, None, err))

    tasks = [asyncio.create_task(pump(i, s)) for i, s in enumerate(streams)]
    first_step: float | None = None
    prompt, completion, open_choices = 0, 0, len(streams)
    status = 200
    try:
        for index in range(len(streams)):
            yield json.dumps(chunk(cid, model_id, created, index, {"role": "assistant", "content": ""}))
        while open_choices:
            index, event, err = await merged.get()
            if err is not None:
                failure = _failure(err)
                status = failure.status
                yield json.dumps(error_body(str(failure), failure.kind, code=failure.code, param=failure.param))
                return
            if event is None:
                open_choices -= 1
                continue
            if first_step is None and isinstance(event, Step | Thought):
                first_step = time.perf_counter() - started
            delta = event_delta(event)
            if delta is not None:
                yield json.dumps(chunk(cid, model_id, created, index, delta))
            if isinstance(event, Answer):
                prompt, completion = event.prompt_tokens, completion + event.completion_tokens
                yield json.dumps(chunk(cid, model_id, created, index, {"content": event.content}))
                yield json.dumps(chunk(cid, model_id, created, index, {}, event.finish_reason))
        if include_usage:
            yield json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model_id,
                              "choices": [], "usage": usage(prompt, completion)})
        yield "[DONE]"
    except asyncio.CancelledError:  # the client went away: its answers are cancelled in `finally`
        status = 499
        raise
    finally:
        for task in tasks:
            task.cancel()
        for ticket in tickets:
            engine.release(ticket)
        metrics.record(status, time.perf_counter() - started, prompt_tokens=prompt, completion_tokens=completion,
                       first_step=first_step)


def run_server(app: Any, host: str, port: int, *, log_level: str = "info") -> None:
    """uvicorn on `host:port` until Ctrl-C."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=True)
