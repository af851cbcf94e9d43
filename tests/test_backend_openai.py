"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (a fake model behind it)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from evolve.backends.base import Completion, GenerationRequest
from evolve.backends.openai_backend import OpenAIGenerator, render_chatml, split_tokens
from evolve.errors import BackendError

Behaviour = Callable[[dict[str, Any], int], tuple[int, dict[str, Any]]]


class FakeServer:
    """An OpenAI-style `/v1/completions` whose answers come from `behaviour(body, call_number)`."""

    def __init__(self, behaviour: Behaviour):
        self.bodies: list[dict[str, Any]] = []
        self.behaviour = behaviour
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.bodies.append(body)
                status, payload = server.behaviour(body, len(server.bodies))
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (the timeout test): nothing left to answer

            def log_message(self, *_args: Any) -> None:  # keep test output quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def echo_model(body: dict[str, Any], _call: int) -> tuple[int, dict[str, Any]]:
    """Choice i continues with 'sample i of <prompt>'; honours `stop` the way vLLM reports it."""
    choices = []
    for index in range(body["n"]):
        text = f"sample {index} of {body['prompt']}\nStep 2 more"
        stop_reason = None
        for stop in body.get("stop", []):
            if stop in text:
                text, stop_reason = text[: text.index(stop)], stop
        choices.append({"index": index, "text": text, "finish_reason": "stop", "stop_reason": stop_reason})
    usage = {"prompt_tokens": len(body["prompt"].split()), "completion_tokens": 5 * body["n"] + 1}
    return 200, {"choices": choices, "usage": usage}


def test_n_stop_and_token_counts():
    with FakeServer(echo_model) as server:
        generator = OpenAIGenerator(server.url, "tiny", max_concurrency=2)
        results = generator.generate(
            [GenerationRequest("p q", n=3, stop=("\nStep",), seed=4), GenerationRequest("r", n=1, max_new_tokens=9)]
        )
    assert results[0] == [
        Completion("sample 0 of p q", 6, "stop"),
        Completion("sample 1 of p q", 5, "stop"),
        Completion("sample 2 of p q", 5, "stop"),
    ]
    assert results[1] == [Completion("sample 0 of r\nStep 2 more", 6, "eos")]
    first = next(body for body in server.bodies if body["prompt"] == "p q")
    assert first == {
        "model": "tiny", "prompt": "p q", "n": 3, "max_tokens": 256, "temperature": 0.7, "top_p": 1.0,
        "stop": ["\nStep"], "seed": 4,
    }
    stats = generator.stats
    assert (stats.calls, stats.requests, stats.completions, stats.generated_tokens, stats.prompt_tokens) == (
        1, 2, 4, 22, 3,
    )


def test_fewer_choices_than_n_are_topped_up_with_a_new_seed():
    def one_at_a_time(body: dict[str, Any], call: int) -> tuple[int, dict[str, Any]]:
        choice = {"index": 0, "text": f"c{call}", "finish_reason": "length"}
        return 200, {"choices": [choice], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}

    with FakeServer(one_at_a_time) as server:
        [completions] = OpenAIGenerator(server.url, "m").generate([GenerationRequest("x", n=3, seed=10)])
    assert completions == [Completion("c1", 2, "length"), Completion("c2", 2, "length"), Completion("c3", 2, "length")]
    assert [(b["n"], b["seed"]) for b in server.bodies] == [(3, 10), (2, 1_000_013), (1, 2_000_016)]


def test_retries_after_503_then_succeeds():
    def flaky(body: dict[str, Any], call: int) -> tuple[int, dict[str, Any]]:
        if call <= 2:
            return 503, {"error": {"message": "warming up"}}
        return echo_model(body, call)

    with FakeServer(flaky) as server:
        generator = OpenAIGenerator(server.url, "m", max_retries=3, backoff_s=0.01)
        [[completion]] = generator.generate([GenerationRequest("x")])
    assert completion.text.startswith("sample 0 of x") and len(server.bodies) == 3


def test_gives_up_after_max_retries_with_the_last_error():
    with FakeServer(lambda body, call: (429, {"error": {"message": "slow down"}})) as server:
        generator = OpenAIGenerator(server.url, "m", max_retries=2, backoff_s=0.01)
        with pytest.raises(BackendError, match="gave up after 3 attempts; last: HTTP 429: slow down"):
            generator.generate([GenerationRequest("x")])
    assert len(server.bodies) == 3


def test_client_error_carries_the_server_message_and_is_not_retried():
    with FakeServer(lambda body, call: (400, {"error": {"message": "max_tokens is too large"}})) as server, \
            pytest.raises(BackendError, match="HTTP 400: max_tokens is too large"):
        OpenAIGenerator(server.url, "m", max_retries=3, backoff_s=0.01).generate([GenerationRequest("x")])
    assert len(server.bodies) == 1


def test_timeout_raises_backend_error():
    def stall(body: dict[str, Any], call: int) -> tuple[int, dict[str, Any]]:
        time.sleep(1.0)
        return echo_model(body, call)

    with FakeServer(stall) as server:
        generator = OpenAIGenerator(server.url, "m", timeout_s=0.2)
        started = time.perf_counter()
        with pytest.raises(BackendError, match="timeout"):
            generator.generate([GenerationRequest("x")])
    assert time.perf_counter() - started < 1.0


def test_connection_refused_is_retried_then_reported():
    generator = OpenAIGenerator("http://127.0.0.1:9/v1", "m", max_retries=1, backoff_s=0.01)
    with pytest.raises(BackendError, match="gave up after 2 attempts; last: ConnectError"):
        generator.generate([GenerationRequest("x")])


def test_render_chat_defaults_to_chatml_and_can_use_a_local_tokenizer(tiny_model_dir):
    messages = [{"role": "user", "content": "Hi"}]
    assert render_chatml(messages) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    generator = OpenAIGenerator("http://127.0.0.1:9/v1", "m", tokenizer=str(tiny_model_dir))
    assert generator.render_chat(messages) == render_chatml(messages)  # the tiny model's template is ChatML


def test_split_tokens():
    assert split_tokens(11, 3) == [4, 4, 3]
    assert split_tokens(0, 2) == [0, 0]
    assert sum(split_tokens(1000, 7)) == 1000
