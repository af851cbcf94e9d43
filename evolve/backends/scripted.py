"""A deterministic fake backend for tests: the caller scripts each continuation.

`respond(request, sample_index)` returns the full continuation the "model" would write; the
backend then applies `stop` and `max_new_tokens` itself, the way a real backend would, so the
output depends only on (request, sample index) and never on how requests were batched.

Token accounting: one token = one whitespace-separated word; a stop string costs no tokens.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence

from evolve.backends.base import Completion, FinishReason, GenerationRequest, GeneratorStats, StopRule, row_listener

__all__ = ["SCRIPTS", "ScriptedGenerator", "apply_stop_and_budget", "hashed_policy", "render_tagged_chat"]

Respond = Callable[[GenerationRequest, int], str]

_WORD = re.compile(r"\S+")


def _count_words(text: str) -> int:
    return len(_WORD.findall(text))


def _cut_after_words(text: str, budget: int) -> str:
    """`text` up to the end of its `budget`-th word (keeps the original whitespace between words)."""
    if budget <= 0:
        return ""
    for index, match in enumerate(_WORD.finditer(text), start=1):
        if index == budget:
            return text[: match.end()]
    return text


def apply_stop_and_budget(text: str, stop: Sequence[str], max_new_tokens: int,
                          stop_rule: StopRule | None = None) -> Completion:
    """What a model that "wants" to write `text` returns under `stop`, `stop_rule` and `max_new_tokens`.

    The budget runs out before a stop string (or the rule's end) is reached if the text before it has
    more words than the budget; then the result is cut at the budget with finish reason "length".
    """
    stop_at = min((pos for pos in (text.find(s) for s in stop if s) if pos >= 0), default=-1)
    if stop_rule is not None:
        # Monotone rules see the whole text as a backend would have seen it grow, so one call suffices.
        end = stop_rule(text)
        if end is not None and (stop_at < 0 or end < stop_at):
            stop_at = end
    before_stop = text if stop_at < 0 else text[:stop_at]
    words = _count_words(before_stop)
    if words > max_new_tokens:
        return Completion(_cut_after_words(before_stop, max_new_tokens), max_new_tokens, "length")
    reason: FinishReason = "eos" if stop_at < 0 else "stop"
    return Completion(before_stop, words, reason)


def render_tagged_chat(messages: Sequence[dict[str, str]]) -> str:
    """`<|role|>\\ncontent\\n` per message, then `<|assistant|>\\n` where the reply begins."""
    parts = [f"<|{m['role']}|>\n{m['content']}\n" for m in messages]
    return "".join(parts) + "<|assistant|>\n"


def hashed_policy(request: GenerationRequest, index: int) -> str:
    """A deterministic 'policy' for multiple-choice domains: its text depends only on the prompt, the seed
    and the sample index, so a search's trees are the same however requests are batched or dealt out."""
    h = int.from_bytes(hashlib.blake2b(f"{request.prompt}|{request.seed}|{index}".encode(), digest_size=4).digest(), "big")
    if request.stop:  # a Reason step
        if h % 7 == 0:
            return f" The answer is {'ABCDE'[h % 5]}.\nStep 9: more"
        return f" clue {h % 97} points somewhere.\n\nStep 99: next"
    return f" thinking {h % 13}.\n\nStep 5: so. The answer is {'ABCD'[h % 4]}.\nextra"


def faulty_policy(request: GenerationRequest, index: int) -> str:
    """`hashed_policy`, except that a prompt with CRASH kills the whole process and one with FAULT raises:
    the questions that fault-handling tests (and users trying `--workers`) plant in a data file."""
    if "CRASH" in request.prompt:
        import os

        os._exit(17)
    if "FAULT" in request.prompt:
        raise RuntimeError("the scripted model met FAULT in its prompt")
    return hashed_policy(request, index)


# What `scripted:<name>` model specs run (see spec.py); reachable from a config, so from Ray workers too.
SCRIPTS: dict[str, Respond] = {"hash": hashed_policy, "faulty": faulty_policy}


class ScriptedGenerator:
    """A `Generator` whose continuations come from a function; records batch sizes for tests."""

    def __init__(self, respond: Respond, name: str = "scripted", max_n: int | None = None, latency: float = 0.0):
        """`latency`: seconds every `generate` call sleeps, like a remote engine (scaling benchmarks)."""
        self.name = name
        self.latency = latency
        self.stats = GeneratorStats()
        self.batch_sizes: list[int] = []
        self._respond = respond
        self._max_n = max_n

    @classmethod
    def cycle(cls, texts: Sequence[str], name: str = "scripted", max_n: int | None = None) -> ScriptedGenerator:
        """Sample `i` of every request continues with `texts[i % len(texts)]`."""
        if not texts:
            raise ValueError("ScriptedGenerator.cycle needs at least one text")
        frozen = tuple(texts)
        return cls(lambda _request, index: frozen[index % len(frozen)], name=name, max_n=max_n)

    @classmethod
    def constant(cls, text: str, name: str = "scripted") -> ScriptedGenerator:
        """Every sample of every request continues with `text`."""
        return cls(lambda _request, _index: text, name=name)

    @property
    def max_n(self) -> int | None:
        return self._max_n

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        started = time.perf_counter()
        if self.latency:
            time.sleep(self.latency)
        results: list[list[Completion]] = []
        listener, rows, total_rows, tokens = row_listener(), 0, sum(r.n for r in requests), 0
        for request in requests:
            if self._max_n is not None and request.n > self._max_n:
                raise ValueError(f"request asks for n={request.n} but this generator allows at most {self._max_n}")
            completions = [
                apply_stop_and_budget(self._respond(request, index), request.stop, request.max_new_tokens,
                                      request.stop_rule)
                for index in range(request.n)
            ]
            results.append(completions)
            self.stats.prompt_tokens += _count_words(request.prompt)
            self.stats.completions += len(completions)
            self.stats.generated_tokens += sum(c.num_tokens for c in completions)
            rows, tokens = rows + len(completions), tokens + sum(c.num_tokens for c in completions)
            if listener is not None and rows < total_rows:  # as the hf decode loop does: rows finished so far
                listener(rows, total_rows, tokens)
        self.batch_sizes.append(len(requests))
        self.stats.calls += 1
        self.stats.requests += len(requests)
        self.stats.seconds += time.perf_counter() - started
        return results

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        return render_tagged_chat(messages)
