r"""`build_graph`: the co-scientist loop as one LangGraph `StateGraph`.

    supervisor --route--> generate* --> proximity --> supervisor
                     \--> evolve*   --> proximity
                     \--> reflect*  -----------------> supervisor
                     \--> match*    --> elo ---------> supervisor
                     \--> meta_review ---------------> supervisor
                     \--> final_report --> END
(* fanned out in parallel with `Send`)
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agents.llm import Model
from agents.nodes.evolution import make_evolve
from agents.nodes.generation import make_generate
from agents.nodes.metareview import make_final_report, make_meta_review
from agents.nodes.proximity import make_proximity
from agents.nodes.ranking import make_elo, make_match
from agents.nodes.reflection import make_reflect
from agents.nodes.supervisor import make_supervisor, route
from agents.runtime import Runtime, reasoner_config
from agents.state import AgentState
from evolve.api import Reasoner
from evolve.backends.batching import BatchingGenerator
from evolve.config import AgentsConfig, Config


def build_graph(generator, domain, checkpointer=None, *, config: AgentsConfig | None = None, scorer=None,
                inbox=None, batch_window: float = 0.05, base: Config | None = None):
    """The compiled graph. `generator` is any evolve Generator; `scorer` an optional StepScorer (PRM);
    `inbox` the path of the steering inbox; `checkpointer` e.g. a SqliteSaver for durable runs; `base`
    the config whose eval settings (stop rule, step budget) the hypotheses' reasoner starts from."""
    cfg = config or AgentsConfig()
    # An already batching generator (shared by several graphs, as in bench/) is used as it is: a second
    # layer would let only one request per graph into each shared batch.
    batching = generator if isinstance(generator, BatchingGenerator) else BatchingGenerator(generator, batch_window)
    reasoner = Reasoner(reasoner_config(cfg, base, with_prm=scorer is not None), domain, batching, scorer)
    rt = Runtime(model=Model(batching, seed=cfg.seed), reasoner=reasoner, config=cfg, inbox=inbox)
    graph = StateGraph(AgentState)
    graph.add_node("supervisor", make_supervisor(rt))
    graph.add_node("generate", make_generate(rt))
    graph.add_node("evolve", make_evolve(rt))
    graph.add_node("reflect", make_reflect(rt))
    graph.add_node("match", make_match(rt))
    graph.add_node("elo", make_elo())
    graph.add_node("proximity", make_proximity(rt))
    graph.add_node("meta_review", make_meta_review(rt))
    graph.add_node("final_report", make_final_report(rt))
    graph.add_edge(START, "supervisor")
    graph.add_conditional_edges("supervisor", route,
                                ["generate", "evolve", "reflect", "match", "meta_review", "final_report", "supervisor"])
    graph.add_edge("generate", "proximity")
    graph.add_edge("evolve", "proximity")
    graph.add_edge("proximity", "supervisor")
    graph.add_edge("reflect", "supervisor")
    graph.add_edge("match", "elo")
    graph.add_edge("elo", "supervisor")
    graph.add_edge("meta_review", "supervisor")
    graph.add_edge("final_report", END)
    return graph.compile(checkpointer=checkpointer)


def recursion_limit(config: AgentsConfig) -> int:
    """Supersteps a run may take: at most three per supervisor step, plus the report."""
    return 4 * config.budget + 10
