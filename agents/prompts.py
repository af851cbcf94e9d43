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


def _with_critique(system: str, critique: str | None) -> str:
    if not critique:
        return system
    return f"{system}\n\nLessons from earlier reviews (take them into account):\n{critique}"


def plan(goal: str, domain_description: str) -> list[dict]:
    return [
        {"role": "system", "content": "You turn a research goal into a plan. Reply with one JSON object with the "
                                      "keys preferences, attributes, constraints, criteria (each a list of short strings)."},
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
    system = _with_critique("You review scientific hypotheses and answers. Reply with one JSON object: "
                            '{"score": 1-5, "verdict": "sound" or "flawed", "comments": "the main weakness"}.', critique)
    return [{"role": "system", "content": system}, {"role": "user", "content": f"Goal: {goal}\n\nHypothesis:\n{text}"}]


def assumptions(goal: str, text: str) -> list[dict]:
    return [
        {"role": "system", "content": "List the assumptions a hypothesis rests on, as a JSON list of short strings."},
        {"role": "user", "content": f"Goal: {goal}\n\nHypothesis:\n{text}"},
    ]


def check_assumption(goal: str, assumption: str) -> list[dict]:
    return [
        {"role": "system", "content": "Check one assumption. Start your reply with Yes if it holds, No if not."},
        {"role": "user", "content": f"Goal: {goal}\n\nAssumption: {assumption}"},
    ]


def judge(goal: str, first: str, second: str, critique: str | None, transcript: Sequence[str] = ()) -> list[dict]:
    system = _with_critique("You compare two answers to the same goal and pick the better one: the one more "
                            'likely correct and better reasoned. Reply with JSON: {"better": 1 or 2, "reason": "..."}.',
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


def overview(goal: str, leaders: Sequence[str]) -> list[dict]:
    return [
        {"role": "system", "content": "Write a short research overview: the best hypotheses, why they lead, "
                                      "and what to test next."},
        {"role": "user", "content": f"Goal: {goal}\n\n" + "\n\n".join(leaders)},
    ]
