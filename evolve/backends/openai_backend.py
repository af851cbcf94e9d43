"""Any OpenAI-compatible server (vLLM, SGLang, Ollama, llama.cpp server) through `/completions`.

The raw-prompt `/completions` endpoint, not `/chat/completions`: the search continues partial
assistant text, which a chat endpoint would close off with its own template.

Behaviour worth knowing:
  * requests run concurrently (at most `max_concurrency` in flight), each retried with exponential
    back-off on connection errors, 429 and 5xx (`max_retries` times); a timeout is not retried (a
    stalled server would multiply the wait) and raises BackendError, as does any other 4xx;
  * a server that returns fewer than `n` choices is asked again for the rest (with a derived seed,
    so seeded follow-ups do not repeat the first choices);
  * finish reasons: "length" as is; "stop" becomes "stop" when the server names the stop string
    (vLLM's `stop_reason`), "eos" when it says none matched; servers that do not say get "stop"
    if the request had stop strings, else "eos";
  * per-choice token counts are `usage.completion_tokens` split evenly over the choices of one
    response (remainder to the first ones), since servers only report the total.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from evolve.backends.base import Completion, FinishReason, GenerationRequest, GeneratorStats, apply_stop_rule
from evolve.backends.scripted import render_tagged_chat
from evolve.errors import BackendError

__all__ = ["OpenAIGenerator", "render_chatml", "split_tokens"]

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# Seeds for follow-up requests (when a server returned too few choices) step by a large odd number.
_FOLLOW_UP_SEED_STEP = 1_000_003


def render_chatml(messages: Sequence[dict[str, str]]) -> str:
    """The ChatML rendering most open chat models use, ending where the assistant reply begins."""
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


def split_tokens(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal counts, larger ones first (sums to `total`)."""
    if parts <= 0:
        return []
    base, remainder = divmod(max(0, total), parts)
    return [base + (1 if index < remainder else 0) for index in range(parts)]


def _finish_reason(choice: dict[str, Any], had_stop: bool) -> FinishReason:
    reason = choice.get("finish_reason")
    if reason == "length":
        return "length"
    if "stop_reason" in choice:
        # vLLM: a string is the stop string that matched; None (or a token id) is end of sequence.
        return "stop" if isinstance(choice["stop_reason"], str) else "eos"
    return "stop" if had_stop else "eos"


class OpenAIGenerator:
    """A `Generator` that sends each request to an OpenAI-compatible `/completions` endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        name: str | None = None,
        api_key: str | None = None,
        max_concurrency: int = 8,
        max_retries: int = 3,
        timeout_s: float = 120.0,
        backoff_s: float = 0.5,
        tokenizer: str | None = None,
    ):
        import httpx

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = name or f"openai:{self.base_url}#{model}"
        self.stats = GeneratorStats()
        self.max_concurrency = max(1, max_concurrency)
        self.max_retries = max(0, max_retries)
        self.backoff_s = backoff_s
        self._tokenizer_spec = tokenizer
        self._tokenizer: Any = None
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            headers={"Authorization": f"Bearer {key}"},
            limits=httpx.Limits(max_connections=self.max_concurrency),
        )

    @property
    def max_n(self) -> int | None:
        return None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAIGenerator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- prompts ----------------------------------------------------------------------------------

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        if self._tokenizer_spec is None:
            return render_chatml(messages)
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self._tokenizer_spec)
        if not getattr(self._tokenizer, "chat_template", None):
            return render_tagged_chat(messages)
        return self._tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

    # -- generation -------------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        started = time.perf_counter()
        if not requests:
            return []
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(requests))) as pool:
            outcomes = list(pool.map(self._complete, requests))
        results = [completions for completions, _ in outcomes]
        stats = self.stats
        stats.calls += 1
        stats.requests += len(requests)
        stats.completions += sum(len(r) for r in results)
        stats.generated_tokens += sum(c.num_tokens for r in results for c in r)
        stats.prompt_tokens += sum(prompt_tokens for _, prompt_tokens in outcomes)
        stats.seconds += time.perf_counter() - started
        return results

    def _complete(self, request: GenerationRequest) -> tuple[list[Completion], int]:
        """All `request.n` completions of one request (several HTTP calls if the server returns fewer)."""
        completions: list[Completion] = []
        prompt_tokens = 0
        round_index = 0
        while len(completions) < request.n:
            missing = request.n - len(completions)
            seed = None if request.seed is None else request.seed + round_index * _FOLLOW_UP_SEED_STEP
            body = self._body(request, missing, seed)
            payload = self._post("/completions", body)
            choices = sorted(payload.get("choices") or [], key=lambda c: c.get("index", 0))[:missing]
            if not choices:
                raise BackendError(
                    "the server returned no choices",
                    where=f"{self.base_url}/completions",
                    fix="check the server log; the model may have failed to generate",
                )
            usage = payload.get("usage") or {}
            # With several rounds, the prompt is counted once: it is the same prompt.
            prompt_tokens = prompt_tokens or int(usage.get("prompt_tokens") or 0)
            counts = split_tokens(int(usage.get("completion_tokens") or 0), len(choices))
            for choice, count in zip(choices, counts):
                completion = Completion(str(choice.get("text") or ""), count, _finish_reason(choice, bool(request.stop)))
                completions.append(apply_stop_rule(completion, request.stop_rule))
            round_index += 1
        return completions, prompt_tokens

    def _body(self, request: GenerationRequest, n: int, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt,
            "n": n,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if seed is not None:
            body["seed"] = seed
        return body

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        url = f"{self.base_url}{path}"
        last_problem = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self._client.post(url, json=body)
            except httpx.TimeoutException as err:
                raise BackendError(
                    f"no answer within the timeout ({type(err).__name__})",
                    where=url,
                    fix="raise timeout_s, lower max_new_tokens or the batch size, or check the server's load",
                ) from err
            except httpx.TransportError as err:  # refused, reset, DNS: the server may be starting
                last_problem = f"{type(err).__name__}: {err}"
                continue
            if response.status_code in _RETRY_STATUS:
                last_problem = f"HTTP {response.status_code}: {_server_message(response)}"
                continue
            if response.status_code >= 400:
                raise BackendError(
                    f"the server rejected the request: HTTP {response.status_code}: {_server_message(response)}",
                    where=url,
                    fix="check the model name and sampling parameters the server accepts",
                )
            try:
                return response.json()
            except ValueError as err:
                raise BackendError(
                    f"the server's answer is not JSON: {response.text[:200]!r}",
                    where=url,
                    fix="point the spec at the OpenAI-compatible base URL (usually ending in /v1)",
                ) from err
        raise BackendError(
            f"gave up after {self.max_retries + 1} attempts; last: {last_problem}",
            where=url,
            fix="check that the server is running and reachable, or raise max_retries",
        )


def _server_message(response: Any) -> str:
    """The error message an OpenAI-style server put in its body, else the body's start."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:300].strip()
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if data.get("message"):
            return str(data["message"])
        if data.get("detail"):
            return str(data["detail"])
    return str(data)[:300]
