"""`arith`: sums and differences of a few numbers, left to right, each partial result known."""

from __future__ import annotations

import random

from domains.generators.medcalc import Item, Quantity, fmt


def make(rng: random.Random, terms: int, high: int, minus: bool) -> Item:
    numbers = [rng.randint(1, high) for _ in range(terms)]
    ops = [rng.choice("+-") if minus else "+" for _ in range(terms - 1)]
    chain, total = [], numbers[0]
    for op, number in zip(ops, numbers[1:]):
        before, total = total, total + number if op == "+" else total - number
        chain.append(Quantity("sum" if op == "+" else "difference", total, "", f"{fmt(before)} {op} {number}"))
    expression = " ".join([str(numbers[0]), *[f"{op} {n}" for op, n in zip(ops, numbers[1:])]])
    question = rng.choice([f"What is {expression}?", f"Calculate {expression}.", f"Work out {expression}."])
    return Item("arith", question, tuple(chain), "")
