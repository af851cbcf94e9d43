"""Knobs of one agents run. Small defaults: the loop must be usable with a 135M model on a CPU."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AgentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget: int = Field(12, ge=1, description="supervisor steps before the final report")
    initial_hypotheses: int = Field(4, ge=1, description="hypotheses made before the first tournament")
    generate_per_step: int = Field(2, ge=1, description="hypotheses one generate action adds")
    evolve_per_step: int = Field(2, ge=1, description="evolutions one evolve action makes (one strategy each)")
    matches_per_step: int = Field(4, ge=1, description="pairs one rank action plays")
    min_matches: int = Field(2, ge=0, description="matches each active hypothesis plays before evolving starts")
    top_k: int = Field(3, ge=1, description="size of the leaderboard head used for stability and debates")
    stable_window: int = Field(2, ge=1, description="rank rounds the top-k must hold still to stop")
    stable_tolerance: float = Field(8.0, ge=0, description="largest Elo move of a top-k hypothesis that counts as still")
    meta_review_every: int = Field(4, ge=1, description="supervisor steps between meta-reviews")
    debate_turns: int = Field(2, ge=0, description="argument turns before a debate's verdict (0: no debates)")
    deep_verify: bool = Field(False, description="split each hypothesis into assumptions and check each")
    judge: Literal["llm", "prm"] = Field(
        "llm", description="who judges a match: the model in both orders, or (with a PRM) the weakest-step PRM score")
    prm_margin: float = Field(0.02, ge=0, description="with judge=prm, a smaller gap in weakest-step score is a draw")
    samples: int = Field(4, ge=1, description="samples per hypothesis for P-VS when a PRM is given")
    hypothesis_tokens: int = Field(256, ge=8, description="max new tokens of a hypothesis")
    review_tokens: int = Field(96, ge=4, description="max new tokens of a review")
    judge_tokens: int = Field(24, ge=2, description="max new tokens of a judgement")
    debate_tokens: int = Field(96, ge=4, description="max new tokens of one debate turn")
    temperature: float = Field(0.8, ge=0, description="sampling temperature of generation and evolution")
    duplicate_threshold: float = Field(0.92, gt=0, le=1, description="TF-IDF cosine above which a newer hypothesis is a duplicate")
    edge_threshold: float = Field(0.3, ge=0, le=1, description="cosine above which the proximity graph links two hypotheses")
    seed: int = Field(0, description="base seed; each request's seed derives from it and the record id")
    plan_tokens: int = Field(96, ge=0, description="max new tokens of the goal's plan (0: the default plan, no model call)")
    overview_tokens: int = Field(256, ge=0, description="max new tokens of the final overview's summary (0: none)")
