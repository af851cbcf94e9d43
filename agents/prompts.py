"""Every prompt the agents send, as functions returning chat messages. No parsing here."""

from __future__ import annotations

from collections.abc import Sequence

STRATEGIES = {
    "grounding": "Ground it: keep the idea but check every claim against established facts and make it feasible.",
    "combination": "Combine the strongest parts of these hypotheses into one new, coherent hypothesis.",
    "simplification": "Simplify: reach the same kind of conclusion with fewer, clearer, easier-to-check steps.",
    "out-of-box": "Think out of the box: take a different angle from these hypotheses, then reason it through.",
}

JSON_REPAIR = "Reply again with only the JSON object, nothing else."

# Worked examples with concrete values. A small model copies whatever reply format it is shown, so a
# placeholder such as "1-5" or "<letter>" comes back verbatim; a filled-in example comes back as a
# well-formed reply, and a reply that repeats the example word for word is caught as a copy
# (`agents.parsing.copies_example`). The examples are about ice, far from any domain's questions.
EXAMPLE_GOAL = "Why does ice float on water?"
EXAMPLE_HYPOTHESIS = ("Step 1: Ice is heavier than water.\nStep 2: Heavy things float.\n"
                      "Answer: ice floats because it is heavy.")
EXAMPLE_REVIEW = ('{"score": 2, "verdict": "flawed", "comments": "Step 1 is wrong: ice is less dense than '
                  'liquid water, and that is why it floats."}')
EXAMPLE_PLAN = ('{"preferences": ["a physical mechanism"], "attributes": ["density"], '
                '"constraints": ["agrees with measurements"], "criteria": ["correct", "testable"]}')
EXAMPLE_VERDICT = '{"better": 2, "reason": "hypothesis 2 gives the density argument"}'
EXAMPLE_ASSUMPTIONS = '["ice is less dense than water", "denser things sink"]'


def _with_critique(system: str, critique: str | None) -> str:
    if not critique:
        return system
    return f"{system}\n\nLessons from earlier reviews (take them into account):\n{critique}"


def plan(goal: str, domain_description: str) -> list[dict]:
    return [
        {"role": "system", "content": "You turn a research goal into a plan. Reply with one JSON object with the "
                                      "keys preferences, attributes, constraints, criteria (each a list of short "
                                      "strings)."},
        {"role": "user", "content": f"Domain: physics\nGoal: {EXAMPLE_GOAL}"},
        {"role": "assistant", "content": EXAMPLE_PLAN},
        {"role": "user", "content": f"Domain: {domain_description}\nGoal: {goal}"},
    ]


def open_hypothesis(goal: str, plan_: dict, critique: str | None, seed_idea: str | None, turn: int,
                    transcript: Sequence[str]) -> list[dict]:
    """One turn of the simulated debate that produces an open-ended hypothesis; the last turn writes it."""
    criteria = "; ".join(plan_.get("criteria") or []) or "plausible, novel, testable"
    system = _with_critique(f"You are a panel of scientists debating a research goal. Criteria: {criteria}.", critique)
    lines = [f"Research goal: {goal}"]
    if seed_idea:
        lines.append(f"A scientist suggests starting from: {seed_idea}")
    if transcript:
        lines.append("Debate so far:\n" + "\n".join(transcript))
    lines.append("Write the final hypothesis in one paragraph." if turn < 0 else
                 ("Expert A: propose a hypothesis." if turn % 2 == 0 else "Expert B: criticise and improve it."))
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(lines)}]


def review(goal: str, text: str, critique: str | None) -> list[dict]:
    """A worked review as a prior chat turn, then the hypothesis to review."""
    system = _with_critique("You review scientific hypotheses and answers. Reply with one JSON object with a "
                            "score from one (wrong) to five (correct and well argued), a verdict (sound or flawed) "
                            "and comments naming the main weakness.", critique)
    return [{"role": "system", "content": system},
            {"role": "user", "content": f"Goal: {EXAMPLE_GOAL}\n\nHypothesis:\n{EXAMPLE_HYPOTHESIS}"},
            {"role": "assistant", "content": EXAMPLE_REVIEW},
            {"role": "user", "content": f"Goal: {goal}\n\nHypothesis:\n{text}"}]


def assumptions(goal: str, text: str) -> list[dict]:
    return [
        {"role": "system", "content": "List the assumptions a hypothesis rests on, as a JSON list of short strings, "
                                      f"for example {EXAMPLE_ASSUMPTIONS} for a hypothesis about floating ice."},
        {"role": "user", "content": f"Goal: {goal}\n\nHypothesis:\n{text}"},
    ]


def check_assumption(goal: str, assumption: str) -> list[dict]:
    return [
        {"role": "system", "content": "Check one assumption. Start your reply with Yes if it holds, No if not."},
        {"role": "user", "content": f"Goal: {goal}\n\nAssumption: {assumption}"},
    ]


def judge(goal: str, first: str, second: str, critique: str | None, transcript: Sequence[str] = ()) -> list[dict]:
    system = _with_critique("You compare two answers to the same goal and pick the better one: the one more "
                            "likely correct and better reasoned. Reply with one JSON object that names the better "
                            f"hypothesis by its number and gives a short reason, for example {EXAMPLE_VERDICT}.",
                            critique)
    body = f"Goal: {goal}\n\nHypothesis 1:\n{first}\n\nHypothesis 2:\n{second}"
    if transcript:
        body += "\n\nDebate:\n" + "\n".join(transcript)
    return [{"role": "system", "content": system}, {"role": "user", "content": body}]


def debate_turn(goal: str, first: str, second: str, transcript: Sequence[str], side: int) -> list[dict]:
    return [
        {"role": "system", "content": f"You are expert {side} in a debate. Argue in two sentences why hypothesis "
                                      f"{side} is better, answering the other expert."},
        {"role": "user", "content": f"Goal: {goal}\n\nHypothesis 1:\n{first}\n\nHypothesis 2:\n{second}\n\n"
                                    + ("Debate so far:\n" + "\n".join(transcript) if transcript else "")},
    ]


def evolve_open(goal: str, strategy: str, parents: Sequence[str], critique: str | None) -> list[dict]:
    system = _with_critique("You improve research hypotheses. Write one new hypothesis in one paragraph.", critique)
    shown = "\n\n".join(f"Hypothesis {i + 1}:\n{text}" for i, text in enumerate(parents))
    return [{"role": "system", "content": system},
            {"role": "user", "content": f"Goal: {goal}\n\n{shown}\n\n{STRATEGIES[strategy]}"}]


def evolve_hint(strategy: str, parents: Sequence[str]) -> str:
    """Appended to a verifiable question: earlier attempts and how to depart from them."""
    shown = "\n\n".join(f"Earlier attempt {i + 1}:\n{text}" for i, text in enumerate(parents))
    return f"{shown}\n\n{STRATEGIES[strategy]} Write a new solution."


def meta_review(goal: str, notes: Sequence[str]) -> list[dict]:
    return [
        {"role": "system", "content": "Summarise the recurring weaknesses in these reviews and debates as at most "
                                      "three short bullet points of advice for the next attempts."},
        {"role": "user", "content": f"Goal: {goal}\n\n" + "\n".join(f"- {n}" for n in notes)},
    ]


def overview(goal: str, leaders: Sequence[str], answer: str | None = None) -> list[dict]:
    """`answer`: the top hypothesis's answer on a verifiable goal, which the overview must not contradict."""
    lead = f"\n\nThe top hypothesis answers {answer}." if answer else ""
    return [
        {"role": "system", "content": "Write a short research overview: the best hypotheses, why they lead, "
                                      "and what to test next."},
        {"role": "user", "content": f"Goal: {goal}{lead}\n\n" + "\n\n".join(leaders)},
    ]
