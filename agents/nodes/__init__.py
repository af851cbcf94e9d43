"""The graph's nodes, one module per agent. Each `make_*` closes over a `Runtime` and returns the node."""
