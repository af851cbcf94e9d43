"""Evaluation of the inference modes: accuracy with Wilson intervals, tokens, time, per-question records.

`evaluate(...)` lives in `evolve.eval.evaluate`; the pure statistics in `evolve.eval.stats`.
"""
