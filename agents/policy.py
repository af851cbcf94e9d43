"""The supervisor's pure decisions: run statistics, the next action, and reading a goal."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agents.elo import top_rising, topk_stable
from agents.errors import GoalError
from agents.state import active
from domains import Domain, Question
from domains.answers import ANSWER_TYPES
from evolve.config import AgentsConfig

_OPTION = re.compile(r"^\s*\(?([A-J])[).:]\s+(.+?)\s*$")


@dataclass(frozen=True)
class Stats:
    step: int
    attempted: int  # generation tasks issued so far (failures included)
    active: int
    unreviewed: int
    min_played: int
    matches: int
    stable: bool
    rising: bool
    last_actions: tuple[str, ...]
    generation_score: float | None  # mean match score of generated hypotheses, None before any match
    evolution_score: float | None
    steps_since_meta: int
    reviews: int


def match_score(records: list[dict]) -> float | None:
    """(wins + draws / 2) / matches over a group of hypotheses; None when none of them played."""
    played = sum(r["matches"] for r in records)
    if not played:
        return None
    return (sum(r["wins"] for r in records) + 0.5 * sum(r["draws"] for r in records)) / played


def run_stats(state: dict, cfg: AgentsConfig) -> Stats:
    live = active(state)
    # A continued run asked for more steps: the rounds before it, which had settled, must not stop it at once.
    since = state.get("history_from", 0)
    history = [snap["ratings"] for snap in state.get("elo_history") or [] if snap["step"] >= since]
    actions = state.get("actions") or []
    return Stats(
        step=state.get("step", 0),
        attempted=sum(a.get("tasks", 0) for a in actions if a["action"] == "generate"),
        active=len(live),
        unreviewed=sum(1 for h in live if not h.get("reviewed")),
        min_played=min((h["matches"] for h in live), default=0),
        matches=len(state.get("matches") or []),
        stable=topk_stable(history, cfg.top_k, cfg.stable_window, cfg.stable_tolerance),
        rising=top_rising(history, cfg.top_k),
        last_actions=tuple(a["action"] for a in actions[-2:]),
        generation_score=match_score([h for h in live if not h["origin"].startswith("evolution")]),
        evolution_score=match_score([h for h in live if h["origin"].startswith("evolution")]),
        steps_since_meta=state.get("step", 0) - state.get("critique_step", 0),
        reviews=len(state.get("reviews") or []),
    )


def explore(s: Stats) -> tuple[str, str]:
    """Generate or evolve, whichever has been winning more; evolution gets tried before it is judged."""
    if s.active == 0:
        return "generate", "nothing to evolve"
    if s.evolution_score is None or s.generation_score is None or s.evolution_score >= s.generation_score:
        return "evolve", "evolution wins at least as often as generation"
    return "generate", "generation wins more often than evolution"


def decide(s: Stats, cfg: AgentsConfig) -> tuple[str, str]:
    """(action, reason) from the run statistics. Order matters: budget, then missing work, then stopping."""
    if s.step >= cfg.budget:
        return "final", "budget spent"
    if s.attempted < cfg.initial_hypotheses:
        return "generate", "initial hypotheses"
    if s.unreviewed:
        return "review", f"{s.unreviewed} hypotheses await review"
    if s.active < 2:
        return "generate", "too few hypotheses to rank"
    if s.min_played < cfg.min_matches:
        return "rank", "some hypotheses have played too few matches"
    if s.stable:
        return "final", "top-k Elo is stable"
    last = s.last_actions[-1] if s.last_actions else ""
    if s.steps_since_meta >= cfg.meta_review_every and s.reviews and last != "meta_review":
        return "meta_review", "time to collect recurring critique"
    if cfg.budget - s.step <= 2:  # a new hypothesis now could not be reviewed and ranked before the end
        return "rank", "too little budget left for new hypotheses"
    if last == "rank":
        if s.rising or s.last_actions == ("rank", "rank"):
            return explore(s)
        return "rank", "top Elo has stopped rising; settle the order"
    if last == "meta_review":
        return explore(s)
    return "rank", "new results to rank"


def default_plan(goal: str, domain: Domain) -> dict:
    return {"preferences": [], "attributes": [], "constraints": [],
            "criteria": ["correct", "well reasoned", "testable"], "domain": domain.name, "goal": goal}


def clean_plan(data: object, goal: str, domain: Domain) -> dict | None:
    """A model's plan JSON with its lists kept and the rest defaulted; None when it is not an object."""
    if not isinstance(data, dict):
        return None
    plan = default_plan(goal, domain)
    for key in ("preferences", "attributes", "constraints", "criteria"):
        value = data.get(key)
        if isinstance(value, list):
            plan[key] = [str(v)[:200] for v in value][:6]
        elif isinstance(value, str) and value.strip():
            plan[key] = [value.strip()[:200]]
    return plan


def split_options(goal: str) -> tuple[str, dict[str, str]]:
    """(the question, {letter: option text}) of a goal: an option is a line of its own that starts
    with a letter and ")", "." or ":" ("A) Mars"); the question is what comes before the first one."""
    options: dict[str, str] = {}
    stem: list[str] = []
    for line in goal.splitlines():
        match = _OPTION.match(line)
        if match:
            options[match.group(1)] = match.group(2)
        elif not options:
            stem.append(line)
    return "\n".join(stem).strip(), options


def goal_question(goal: str, domain: Domain) -> Question | None:
    """A goal a domain can verify: an mcq goal with lettered option lines, or any yesno / numeric goal.
    Open goals (and text domains) return None and get open-ended hypotheses."""
    verifiable = ANSWER_TYPES[domain.answer_type].goal
    if verifiable == "always":
        return Question(id="goal", question=goal.strip(), answer="")
    if verifiable == "never":
        return None
    stem, options = split_options(goal)
    if len(options) < 2 or not stem:
        return None
    return Question(id="goal", question=stem, answer="", options=options)


def check_goal(goal: str, domain: Domain) -> Question | None:
    """`goal_question`, but a multiple-choice domain refuses a goal it cannot read as a question with
    options: such a goal used to become an open-ended debate the domain's verifier never sees."""
    question = goal_question(goal, domain)
    if question is not None or ANSWER_TYPES[domain.answer_type].goal != "with-options":
        return question
    stem, options = split_options(goal)
    found = ("no question before the options" if options and not stem else
             f"{len(options) or 'no'} lettered option line{'' if len(options) == 1 else 's'}")
    raise GoalError(f"domain '{domain.name}' is multiple choice, but the goal has {found}", where="GOAL",
                    fix='put the question first, then each option on a new line of its own: "A) Mars", then '
                        '"B) Jupiter" on the next line, and so on (at least two); an open research goal needs a '
                        "domain whose answer_type is text")
