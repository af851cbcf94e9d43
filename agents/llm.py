"""How the agents talk to any `Generator`: seeded requests and one repair retry.

`Send` workers run in threads; `evolve.backends.batching.BatchingGenerator` merges their concurrent
calls into one batched backend call (see `agents.graph.build_graph`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.parsing import strip_think
from evolve.backends.base import Completion, GenerationRequest, StopRule


def seed_for(base: int, key: str) -> int:
    """A request seed from the run seed and a record id: re-running a task asks for the same samples."""
    return (base * 1_000_003 + zlib.crc32(key.encode())) % (2 ** 31)


@dataclass
class Reply:
    value: Any  # the parsed value, None when even the repair failed
    text: str  # the last raw reply, think blocks stripped
    tokens: int
    repaired: bool = False


class Model:
    def __init__(self, generator, seed: int = 0):
        self.generator = generator
        self.seed = seed

    def requests(self, messages: list[dict], *, key: str, max_tokens: int, temperature: float = 0.0, n: int = 1,
                 prefix: str = "", stop_rule: StopRule | None = None) -> list[GenerationRequest]:
        prompt = self.generator.render_chat(messages) + prefix
        limit = self.generator.max_n or n
        out, index = [], 0
        while index < n:  # a backend with a small max_n gets several requests with distinct seeds
            take = min(limit, n - index)
            out.append(GenerationRequest(prompt=prompt, n=take, max_new_tokens=max_tokens, temperature=temperature,
                                         top_p=0.95, seed=seed_for(self.seed, f"{key}#{index}"), stop_rule=stop_rule))
            index += take
        return out

    def sample(self, messages: list[dict], *, key: str, max_tokens: int, temperature: float = 0.0, n: int = 1,
               prefix: str = "", stop_rule: StopRule | None = None) -> list[Completion]:
        reqs = self.requests(messages, key=key, max_tokens=max_tokens, temperature=temperature, n=n, prefix=prefix,
                             stop_rule=stop_rule)
        return [c for group in self.generator.generate(reqs) for c in group]

    def ask(self, messages: list[dict], parse: Callable[[str], Any], *, key: str, max_tokens: int,
            repair: str, temperature: float = 0.0, prefix: str = "") -> Reply:
        """One reply parsed leniently; if it does not parse, one repair turn at temperature 0.
        `prefix` starts the assistant's reply (e.g. '{"better": '), which keeps small models in format."""
        first = self.sample(messages, key=key, max_tokens=max_tokens, temperature=temperature, prefix=prefix)[0]
        text = strip_think(prefix + first.text)
        value = parse(text)
        if value is not None:
            return Reply(value, text, first.num_tokens)
        retry = [*messages, {"role": "assistant", "content": text}, {"role": "user", "content": repair}]
        second = self.sample(retry, key=key + "/repair", max_tokens=max_tokens, prefix=prefix)[0]
        text2 = strip_think(prefix + second.text)
        return Reply(parse(text2), text2, first.num_tokens + second.num_tokens, repaired=True)

    def ask_many(self, items: list[tuple[list[dict], str]], parse: Callable[[str], Any], *, max_tokens: int,
                 repair: str, prefix: str = "") -> list[Reply]:
        """`ask` for several prompts with one backend call per round (first tries, then repairs)."""
        reqs = [self.requests(m, key=k, max_tokens=max_tokens, prefix=prefix)[0] for m, k in items]
        firsts = [group[0] for group in self.generator.generate(reqs)]
        replies = []
        for completion in firsts:
            text = strip_think(prefix + completion.text)
            replies.append(Reply(parse(text), text, completion.num_tokens))
        bad = [i for i, r in enumerate(replies) if r.value is None]
        if bad:
            retry = [self.requests([*items[i][0], {"role": "assistant", "content": replies[i].text},
                                    {"role": "user", "content": repair}], key=items[i][1] + "/repair",
                                   max_tokens=max_tokens, prefix=prefix)[0] for i in bad]
            for i, group in zip(bad, self.generator.generate(retry)):
                text = strip_think(prefix + group[0].text)
                replies[i] = Reply(parse(text), text, replies[i].tokens + group[0].num_tokens, repaired=True)
        return replies
