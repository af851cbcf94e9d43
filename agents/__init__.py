"""Co-scientist style multi-agent loop (LangGraph). Built in a later issue; see README."""

__all__: list[str] = []
AGENTS_PACKAGE = "evolve-reasoner"
