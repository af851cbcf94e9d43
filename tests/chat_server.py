"""A chat server on scripted models, for the tests that need a real one on loopback (also as a child
process that a test can kill -9). The model answers every agents prompt (agents.fakes) and every
step-format question (it adds "What is A + B?" right); a question that mentions "xss" gets an answer
full of HTML that must not run.

    python tests/chat_server.py --port 8123 --home /tmp/chat [--delay 0.2] [--api-key KEY]
"""

from __future__ import annotations

import argparse
import os
import re
import zlib
from pathlib import Path

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def respond(request, index: int) -> str:
    from agents.fakes import agents_respond

    tail = request.prompt[-600:]
    if "xss" in tail.lower() and request.prompt.rstrip().endswith("Step 1:"):
        return f" The option {XSS} looks right.\n\nStep 2: The answer is A."
    addition = re.findall(r"What is (\d+) \+ (\d+)\?", tail)
    if addition and request.prompt.rstrip().endswith("Step 1:"):
        a, b = map(int, addition[-1])
        return f" {a} + {b} = {a + b}.\n\nStep 2: The answer is {a + b}."
    return agents_respond(request, index)


class HashScorer:
    """A PRM stand-in: each step's score is a fixed function of its text, in [0.05, 0.95]."""

    def score(self, question, trajectories):
        return [[round(0.05 + (zlib.crc32(step.encode()) % 91) / 100, 2) for step in t] for t in trajectories]


def make_models(delay: float = 0.0):
    import time

    from evolve.backends.scripted import ScriptedGenerator

    def slow(request, index):
        if delay and index == 0:
            time.sleep(delay)
        return respond(request, index)

    return ScriptedGenerator(slow, name="scripted-chat"), HashScorer()


def build(home: Path, *, delay: float = 0.0, api_key: str | None = None, settings: list[str] | None = None):
    """(app, host, ids) of a server on `science` (mcq) and `medcalc` (numeric) with the scripted models."""
    from evolve.cli.serve_cmd import build_server_app
    from evolve.config import load_config

    os.environ["EVOLVE_HOME"] = str(home)
    cfg = load_config(None, ["data.domain=science", "agents.budget=4", "agents.samples=2",
                             f"serve.conversations={home / 'conversations.sqlite'}", *(settings or [])])
    generator, scorer = make_models(delay)
    return build_server_app(cfg, ["science", "medcalc"], None, None, {"base": "scripted"}, api_key=api_key,
                            generator=generator, scorer=scorer)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--api-key")
    args = parser.parse_args()
    app, host, _ids = build(args.home, delay=args.delay, api_key=args.api_key)
    host.start()
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
