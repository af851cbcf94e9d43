"""MedS3-style step-level MCTS.

The algorithm (`maths`, `tree`, `mcts`) is pure: it imports no model and no prompt. `task` turns
its abstract work into prompts and parses completions back; `scheduler` batches the work of many
trees into shared backend calls; `records` and `render` persist and draw the trees.
"""
