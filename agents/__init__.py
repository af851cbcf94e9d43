"""Co-scientist style multi-agent loop on LangGraph: generation, reflection, an Elo tournament,
evolution, proximity and meta-review, steered through an inbox and checkpointed to SQLite.

Entry points: `agents.graph.build_graph`, `agents.run.execute`, and the `evolve agents` commands
(`agents.cli`). This module imports nothing heavy, so `import agents` stays cheap.
"""

__all__: list[str] = []
AGENTS_PACKAGE = "evolve-reasoner"
