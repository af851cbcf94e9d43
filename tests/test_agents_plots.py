"""The export's PNGs say what happened: the share of decisive matches, the similarity threshold."""

from __future__ import annotations

from agents.plots import decisive_share, draw_note, elo_caption, plot_elo, plot_proximity, proximity_caption
from agents.state import new_hypothesis

PNG = b"\x89PNG\r\n\x1a\n"


def matches(*outcomes: str, reason: str = "both orders agree") -> list[dict]:
    return [{"id": f"M{i:03d}", "a": "a", "b": "b", "outcome": o, "reason": reason} for i, o in enumerate(outcomes)]


def test_decisive_share_and_elo_caption_exact():
    played = matches("a", "draw", "b", "a", "draw", "b")
    assert decisive_share(played) == (4, 6)
    assert elo_caption(played) == "4 of 6 matches decisive"
    assert elo_caption(matches("a")) == "1 of 1 match decisive"
    assert elo_caption(matches("draw", "draw", "draw")) == "all 3 matches drawn: no rating moved"
    assert elo_caption([]) == "no matches played yet"


def test_draw_note_names_the_commonest_reason_only_when_all_were_draws():
    bias = "the judge picked whichever was shown as 1 in both orders (position bias)"
    drawn = matches("draw", "draw", reason=bias) + matches("draw", reason="the judge's reply was unreadable in both orders")
    assert draw_note(drawn) == f"every match was a draw; most often (2 of 3): {bias}"
    assert draw_note(drawn + matches("a")) is None and draw_note([]) is None


def test_proximity_caption_shows_the_threshold_and_the_closest_pair():
    pairs = [["a", "b", 0.12], ["a", "c", 0.21], ["b", "c", 0.05]]
    assert proximity_caption([], pairs, 0.3) == "no pair above threshold 0.30 (closest: a and c at 0.21)"
    assert proximity_caption([], [], 0.3) == "no pair above threshold 0.30"
    assert proximity_caption([["a", "c", 0.41]], pairs, 0.3) == "1 pair linked: TF-IDF cosine >= 0.30"


def small_state(outcomes=("draw", "draw", "draw")) -> dict:
    hyps = {h: new_hypothesis(h, f"text {h}", answer=ans) for h, ans in (("H000-0", "D"), ("H000-1", "B"),
                                                                         ("H002-0", None), ("E004-0", "D"))}
    history = [{"id": f"elo-{s:04d}", "step": s, "ratings": {h: 1200.0 for h in hyps}} for s in (2, 3, 5)]
    return {"hypotheses": hyps, "matches": matches(*outcomes, reason="the judge's reply was unreadable in both orders"),
            "elo_history": history,
            "proximity": {"pairs": [["E004-0", "H000-0", 0.55], ["H000-0", "H000-1", 0.1]],
                          "edges": [["E004-0", "H000-0", 0.55]], "communities": [["E004-0", "H000-0"], ["H000-1"],
                                                                                   ["H002-0"]]}}


def test_both_pngs_render_from_a_small_state(tmp_path):
    state = small_state()
    plot_elo(state, tmp_path / "elo.png")
    plot_proximity(state, tmp_path / "proximity.png", 0.3)
    plot_proximity(state, tmp_path / "none-linked.png", 0.9)  # the one edge is under this threshold
    plot_elo({}, tmp_path / "empty-elo.png")
    plot_proximity({}, tmp_path / "empty-proximity.png", 0.3)
    for name in ("elo.png", "proximity.png", "none-linked.png", "empty-elo.png", "empty-proximity.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG, name
