"""The OpenAI-compatible API on loopback, driven by the `openai` SDK and raw HTTP."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

openai = pytest.importorskip("openai")

from evolve.chat.models import ServedModel  # noqa: E402
from evolve.chat.turns import Answer, Step  # noqa: E402
from evolve.config import ServeConfig  # noqa: E402
from evolve.serve.app import Host, create_app  # noqa: E402
from tests.chat_server import build  # noqa: E402
from tests.serve_helpers import live, wait_healthy  # noqa: E402

QUESTION = "Which planet is the largest?\nA) Mars\nB) Jupiter\nC) Venus\nD) Earth"
KEY = "sk-test-123"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app, host, _ids = build(tmp_path_factory.mktemp("serve"), api_key=KEY, settings=["serve.max_body_bytes=4096"])
    host.start()
    with live(app) as base:
        wait_healthy(base)
        yield base


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=f"{server}/v1", api_key=KEY, max_retries=0)


def test_models_list_one_id_per_domain_and_mode_plus_the_agents(client):
    ids = [m.id for m in client.models.list().data]
    assert ids == ["science/cot", "science/sc", "science/pvs", "science/bon-min", "science/beam", "science/mcts",
                   "medcalc/cot", "medcalc/sc", "medcalc/pvs", "medcalc/bon-min", "medcalc/beam", "medcalc/mcts",
                   "agents/science", "agents/medcalc"]


def test_a_completion_has_the_answer_in_content_and_scored_steps_under_both_reasoning_names(client):
    reply = client.chat.completions.create(model="science/cot", messages=[{"role": "user", "content": QUESTION}])
    message = reply.choices[0].message
    extra = message.model_extra
    # the scripted model looks at one option first and answers with it (agents.fakes, seed 0 -> "A")
    assert message.content == "The answer is A) Mars."
    assert extra["reasoning"] == extra["reasoning_content"]
    steps = extra["steps"]
    assert [s["text"] for s in steps] == ["Look at option A first.", "Check the other options against it.",
                                          "The answer is A."]
    assert all(0.05 <= s["score"] <= 0.95 for s in steps)
    assert sum(s["weakest"] for s in steps) == 1
    assert extra["reasoning"].startswith("Step 1: Look at option A first. [PRM ")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens == 19  # whitespace words of the scripted solution, "Step k:" included
    assert reply.usage.prompt_tokens > 50
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streaming_sends_steps_then_the_answer_under_both_reasoning_names(client):
    stream = client.chat.completions.create(model="science/pvs", messages=[{"role": "user", "content": QUESTION}],
                                            stream=True, stream_options={"include_usage": True},
                                            extra_body={"samples": 4})
    reasoning, reasoning_content, content, finish, usage = "", "", "", None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta.model_extra or {}
            reasoning += delta.get("reasoning") or ""
            reasoning_content += delta.get("reasoning_content") or ""
            content += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert reasoning == reasoning_content
    assert reasoning.count("… sample ") == 4
    assert "votes over 4 samples" in reasoning
    assert "[PRM " in reasoning
    assert content.startswith("The answer is ")
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens > 0


def test_n_returns_that_many_choices_and_seed_makes_them_reproducible(client):
    ask = dict(model="science/sc", messages=[{"role": "user", "content": QUESTION}], n=3, seed=7, temperature=1.0,
               extra_body={"samples": 2})
    first, second = client.chat.completions.create(**ask), client.chat.completions.create(**ask)
    assert [c.index for c in first.choices] == [0, 1, 2]
    assert [c.message.content for c in first.choices] == [c.message.content for c in second.choices]


def test_stop_and_max_tokens_are_honoured(client):
    cut = client.chat.completions.create(model="science/cot", messages=[{"role": "user", "content": QUESTION}],
                                         max_tokens=3)
    assert cut.usage.completion_tokens == 3
    assert cut.choices[0].finish_reason == "length"
    stopped = client.chat.completions.create(model="science/cot", messages=[{"role": "user", "content": QUESTION}],
                                             stop=["other"])
    texts = [s["text"] for s in stopped.choices[0].message.model_extra["steps"]]
    assert texts == ["Look at option A first.", "Check the"]


def test_a_bad_key_is_401(server):
    bad = openai.OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        bad.models.list()
    assert err.value.status_code == 401
    assert err.value.body["code"] == "invalid_api_key"


def test_an_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="../../etc/passwd", messages=[{"role": "user", "content": QUESTION}])
    assert err.value.body["code"] == "model_not_found"
    assert "science/cot" in err.value.body["message"]


def test_an_oversized_body_is_413(client):
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="science/cot", messages=[{"role": "user", "content": "x" * 5000}])
    assert err.value.status_code == 413
    assert err.value.body["code"] == "request_too_large"


@pytest.mark.parametrize("body, param", [
    ({"messages": [{"role": "user", "content": "Which planet?"}]}, "messages"),  # mcq domain, no options
    ({"messages": [{"role": "user", "content": QUESTION}], "beam_widht": 2}, "beam_widht"),
    ({"messages": [{"role": "user", "content": QUESTION}], "temperature": -1}, "temperature"),
    ({"messages": [{"role": "user", "content": QUESTION}], "max_tokens": 10**6}, "max_tokens"),
    ({"messages": [{"role": "user", "content": QUESTION}], "n": 99}, "n"),
    ({"messages": [{"role": "user", "content": QUESTION}], "samples": 0}, "samples"),
])
def test_bad_requests_are_400_naming_the_field(server, body, param):
    response = httpx.post(f"{server}/v1/chat/completions", json={"model": "science/sc", **body},
                          headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_health_and_metrics(server, client):
    client.chat.completions.create(model="medcalc/cot", messages=[{"role": "user", "content": "What is 2 + 3?"}])
    assert httpx.get(f"{server}/health").json()["status"] == "ok"
    assert httpx.get(f"{server}/metrics").status_code == 401  # the metrics are behind the key too
    metrics = httpx.get(f"{server}/metrics", headers={"Authorization": f"Bearer {KEY}"}).json()
    assert metrics["requests"] >= 1
    assert metrics["responses_by_status"]["200"] >= 1
    assert metrics["latency_s"]["p50"] > 0
    assert metrics["queue_depth"] == 0


def _slow_model(release: threading.Event, started: threading.Event) -> ServedModel:
    def answer(chat, cancel):
        started.set()
        while not release.is_set() and not cancel.is_set():
            time.sleep(0.01)
        yield Step(1, "done")
        yield Answer("A", "The answer is A.", "stop", 1, 1)

    return ServedModel("slow/cot", "waits for the test", answer)


def test_a_full_queue_is_429_and_a_loading_server_503():
    release, started = threading.Event(), threading.Event()
    host = Host.loaded({"slow/cot": _slow_model(release, started)})
    app = create_app(host, ServeConfig(max_active=1, max_queue=1))
    with live(app) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="none", max_retries=0)
        ask = {"model": "slow/cot", "messages": [{"role": "user", "content": "q"}]}
        first = threading.Thread(target=lambda: client.chat.completions.create(**ask))
        first.start()
        assert started.wait(10)
        with pytest.raises(openai.RateLimitError) as err:
            client.chat.completions.create(**ask)
        assert err.value.body["code"] == "queue_full"
        release.set()
        first.join(10)
        assert client.chat.completions.create(**ask).choices[0].message.content == "The answer is A."
    gate = threading.Event()
    loading = Host(lambda: (gate.wait(30), {})[1]).start()
    with live(create_app(loading, ServeConfig())) as base:
        assert httpx.get(f"{base}/health").status_code == 503
        response = httpx.post(f"{base}/v1/chat/completions", json={"model": "x", "messages": [{"role": "user", "content": "q"}]})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "model_loading"
        gate.set()


def test_a_client_that_disconnects_cancels_its_answer():
    cancelled = threading.Event()
    started = threading.Event()

    def answer(chat, cancel):
        started.set()
        for i in range(1, 1000):
            if cancel.is_set():
                cancelled.set()
                return
            yield Step(i, f"step {i}")
            time.sleep(0.05)
        yield Answer("A", "done", "stop", 1, 1)

    app = create_app(Host.loaded({"long/cot": ServedModel("long/cot", "long", answer)}), ServeConfig())
    with live(app) as base:
        with httpx.stream("POST", f"{base}/v1/chat/completions", timeout=30,
                          json={"model": "long/cot", "stream": True, "messages": [{"role": "user", "content": "q"}]}) as r:
            for line in r.iter_lines():
                if '"step"' in line:
                    break  # leave after the first step: the connection closes
        assert cancelled.wait(10)
        deadline = time.time() + 10
        while app.state.engine.admitted and time.time() < deadline:
            time.sleep(0.05)
        assert app.state.engine.admitted == 0
