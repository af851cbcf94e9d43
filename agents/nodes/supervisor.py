"""Supervisor: plans the goal, applies the inbox, picks the next action and its tasks; `route` fans
the tasks out with `Send`."""

from __future__ import annotations

from langgraph.types import Send

from agents import inbox, prompts
from agents.elo import top_k
from agents.nodes.metareview import leaderboard
from agents.nodes.ranking import score_unscored
from agents.pairing import choose_pairs
from agents.parsing import parse_json
from agents.policy import clean_plan, decide, default_plan, run_stats
from agents.runtime import Runtime
from agents.state import active, merge_records, new_hypothesis

EVOLVE_ORDER = ("grounding", "combination", "simplification", "out-of-box")


def make_plan(rt: Runtime, state: dict) -> tuple[dict, list[dict], int]:
    goal = state.get("goal", "")
    if rt.config.plan_tokens == 0:
        return default_plan(goal, rt.domain), [], 0
    reply = rt.model.ask(prompts.plan(goal, rt.domain.description or rt.domain.name),
                         lambda t: clean_plan(parse_json(t), goal, rt.domain), key="plan",
                         max_tokens=rt.config.plan_tokens, repair=prompts.JSON_REPAIR)
    if reply.value is None:
        fail = {"id": "fail-plan", "node": "supervisor", "task": "plan", "reason": "unreadable plan; defaults used"}
        return default_plan(goal, rt.domain), [fail], reply.tokens
    return reply.value, [], reply.tokens


def apply_inbox(rt: Runtime, state: dict) -> dict:
    """Pins, rejects, added hypotheses and notes posted since the last step, as a state patch."""
    entries = inbox.read_since(rt.inbox, state.get("inbox_cursor", 0)) if rt.inbox else []
    if not entries:
        return {}
    hyps = state.get("hypotheses") or {}
    patch: dict[str, dict] = {}
    feedback, failures = [], []
    notes = []
    for e in entries:
        fid = f"fb-{e['entry']:04d}"
        feedback.append({"id": fid, "kind": e["kind"], "text": e["text"], "target": e["target"],
                         "step": state.get("step", 0)})
        if e["kind"] in ("pin", "reject"):
            if e["target"] not in hyps and e["target"] not in patch:
                failures.append({"id": f"fail-{fid}", "node": "supervisor", "task": fid,
                                 "reason": f"no hypothesis '{e['target']}' to {e['kind']}"})
                continue
            patch.setdefault(e["target"], {}).update({"pinned": True} if e["kind"] == "pin" else {"status": "rejected"})
        elif e["kind"] == "add":
            hid = f"U{e['entry']:03d}"
            answer = rt.domain.extract_answer(e["text"]) if state.get("question") else None
            patch[hid] = new_hypothesis(hid, e["text"], answer=answer, origin="user", step=state.get("step", 0))
        else:
            notes.append(e["text"])
    out: dict = {"inbox_cursor": entries[-1]["entry"], "feedback": feedback, "hypotheses": patch, "failures": failures}
    if notes:  # a person's note steers the very next prompts, not only after the next meta-review
        critique = state.get("critique") or ""
        out["critique"] = (critique + "\n" if critique else "") + "Scientist feedback:\n" + "\n".join(f"- {n}" for n in notes)
    return out


def _merged(state: dict, patch: dict) -> dict:
    from agents.state import append_unique

    view = dict(state)
    view["hypotheses"] = merge_records(state.get("hypotheses"), patch.get("hypotheses"))
    view["feedback"] = append_unique(state.get("feedback"), patch.get("feedback"))
    if "critique" in patch:
        view["critique"] = patch["critique"]
    return view


def build_tasks(rt: Runtime, state: dict, action: str) -> list[dict]:
    cfg, step = rt.config, state.get("step", 0)
    live = active(state)
    if action == "generate":
        done = sum(a.get("tasks", 0) for a in state.get("actions") or [] if a["action"] == "generate")
        ideas = list(state.get("seed_ideas") or [])
        count = max(cfg.initial_hypotheses - done, cfg.generate_per_step) if done < cfg.initial_hypotheses \
            else cfg.generate_per_step
        return [{"id": f"H{step:03d}-{i}", "step": step, "seed_idea": ideas[done + i] if done + i < len(ideas) else None}
                for i in range(count)]
    if action == "review":
        return [{"id": f"R-{h['id']}", "step": step, "hypothesis": h} for h in live if not h.get("reviewed")]
    if action == "rank":
        return rank_tasks(rt, state, live, step)
    if action == "evolve":
        leaders = leaderboard(state, max(2, cfg.top_k))
        tasks = []
        for i in range(cfg.evolve_per_step):
            strategy = EVOLVE_ORDER[(step + i) % len(EVOLVE_ORDER)]
            if strategy == "combination" and len(leaders) >= 2:
                parents = leaders[:2]
            else:
                parents = [leaders[i % len(leaders)]]
            tasks.append({"id": f"E{step:03d}-{i}", "step": step, "strategy": strategy, "parents": parents})
        return tasks
    return []


def rank_tasks(rt: Runtime, state: dict, live: list[dict], step: int) -> list[dict]:
    cfg = rt.config
    by_id = {h["id"]: h for h in live}
    sims = {(a, b) if a < b else (b, a): s for a, b, s in (state.get("proximity") or {}).get("pairs", [])}
    met: dict[tuple[str, str], int] = {}
    for m in state.get("matches") or []:
        key = tuple(sorted((m["a"], m["b"])))
        met[key] = met.get(key, 0) + 1
    pairs = choose_pairs(list(by_id), {h: r["matches"] for h, r in by_id.items()}, sims, met,
                         {h: r.get("answer") for h, r in by_id.items()}, cfg.matches_per_step)
    head = set(top_k({h: r["elo"] for h, r in by_id.items()}, cfg.top_k))
    return [{"id": f"M{step:03d}-{i:02d}", "step": step, "a": by_id[a], "b": by_id[b],
             "debate": cfg.debate_turns > 0 and a in head and b in head and min(by_id[a]["matches"], by_id[b]["matches"]) > 0}
            for i, (a, b) in enumerate(pairs)]


def make_supervisor(rt: Runtime):
    def supervisor(state: dict) -> dict:
        out: dict = {}
        if not state.get("plan"):
            plan, failures, tokens = make_plan(rt, state)
            out.update(plan=plan, failures=failures, tokens=tokens)
        steer = apply_inbox(rt, state)
        if steer:
            out["failures"] = out.get("failures", []) + steer.pop("failures")
            out.update(steer)
        view = _merged(state, out)
        action, reason = decide(run_stats(view, rt.config), rt.config)
        if action == "rank":
            # Every hypothesis with steps gets its PRM scores before it plays, so a PRM judge never
            # falls back for want of scores it could have had (a greedy repair leaves none).
            scored = score_unscored(rt, view)
            if scored:
                out["hypotheses"] = merge_records(out.get("hypotheses"), scored)
                view = _merged(state, out)
        tasks = build_tasks(rt, view, action) if action != "final" else []
        step = state.get("step", 0)
        out.update(step=step + 1, next_action=action, tasks=tasks, stop_reason=reason if action == "final" else "",
                   actions=[{"id": f"A{step:04d}", "step": step, "action": action, "reason": reason, "tasks": len(tasks)}])
        return out

    return supervisor


WORKER = {"generate": "generate", "review": "reflect", "rank": "match", "evolve": "evolve"}


def route(state: dict):
    """Pure: the supervisor's tasks as `Send`s to the action's worker, or the next single node."""
    action = state.get("next_action")
    if action == "final":
        return "final_report"
    if action == "meta_review":
        return "meta_review"
    tasks = state.get("tasks") or []
    if not tasks:
        return "supervisor"
    shared = {k: state.get(k) for k in ("goal", "question", "plan", "critique")}
    return [Send(WORKER[action], {**shared, "task": t}) for t in tasks]
