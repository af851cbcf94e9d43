"""Self-evolving domain reasoner: MedS3-style step-level MCTS over pluggable domains.

Importing this package is cheap: backends, torch and the CLI load lazily.
"""

__version__ = "0.1.0"
