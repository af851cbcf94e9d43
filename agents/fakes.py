"""A scripted stand-in for a model that answers every agents prompt, for tests and offline demos.

Replies depend only on the prompt and the request seed, never on timing, so a run is reproducible.
`delay` slows each backend call down, which lets a test kill a run in the middle.
"""

from __future__ import annotations

import time
import zlib

from evolve.backends.scripted import ScriptedGenerator


def _pick(request, index: int, options: list[str]) -> str:
    return options[zlib.crc32(f"{request.seed}:{index}".encode()) % len(options)]


def agents_respond(request, index: int) -> str:
    prompt = request.prompt
    tail = prompt[-400:]
    if "Step 0:" in tail and tail.rstrip().endswith("Step 1:"):
        letter = _pick(request, index, ["A", "B", "C", "D"])
        return (f" Look at option {letter} first.\n\nStep 2: Check the other options against it.\n\n"
                f"Step 3: The answer is {letter}.")
    if "turn a research goal into a plan" in prompt:
        return '{"preferences": ["simple"], "attributes": [], "constraints": [], "criteria": ["correct"]}'
    if prompt.endswith('{"better": '):
        return _pick(request, index, ['1, "reason": "clearer"}', '2, "reason": "fewer gaps"}', "1}", "2}"])
    if prompt.endswith('{"score": '):
        return _pick(request, index, ['4, "verdict": "sound", "comments": "step two is thin"}',
                                      '2, "verdict": "flawed", "comments": "ignores option C"}'])
    if "pick the better one" in prompt:
        return _pick(request, index, ['{"better": 1, "reason": "clearer"}', '{"better": 2, "reason": "fewer gaps"}',
                                      "Hypothesis 1 is better."])
    if "review scientific hypotheses" in prompt:
        return _pick(request, index, ['{"score": 4, "verdict": "sound", "comments": "step two is thin"}',
                                      '{"score": 2, "verdict": "flawed", "comments": "ignores option C"}'])
    if "Summarise the recurring weaknesses" in prompt:
        return "- justify each elimination\n- state the answer once"
    if "research overview" in prompt:
        return "The leading hypotheses agree on the main mechanism."
    if "debate" in prompt.lower():
        return "My hypothesis covers more of the evidence."
    return "A hypothesis: " + _pick(request, index, ["gut microbes", "sleep timing", "protein folding"]) + " matters."


def agents_generator(delay: float = 0.0) -> ScriptedGenerator:
    def respond(request, index):
        if delay and index == 0:
            time.sleep(delay)
        return agents_respond(request, index)

    return ScriptedGenerator(respond, name="scripted-agents")
