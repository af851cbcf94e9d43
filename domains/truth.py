"""Step truth: whether a step of a model's solution is right, wrong or neutral, against the question's
chain of true quantities (`Question.meta["truth"]`, from a generated domain).

- wrong: an arithmetic claim "a op b = c" that is false, a stated answer that is not the gold one, or a
  new number that is none of the chain's quantities, the question's numbers or a known constant;
- correct: the step states (or computes correctly) a quantity of the chain, and claims nothing false;
- neutral: the step only restates the question or says nothing numeric.

A pure function of texts and numbers; bench/RESULTS.md gives its precision on hand-checked steps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

from domains.answers import answer_spans, extract_number

Label = Literal["correct", "wrong", "neutral"]
LABELS: tuple[Label, ...] = ("correct", "wrong", "neutral")

# Numbers a calculation may use that the question does not state (unit factors, formula constants).
CONSTANTS = (2.2, 60, 100, 1000, 3600, 72, 140, 0.85, 24, 10, 1, 2)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?")
_OPS = r"[+\-−×x*/÷]"
# "a op b (op c ...) = result": a claim a checker can evaluate. The operands are plain numbers.
_CLAIM = re.compile(rf"((?:-?\d+(?:\.\d+)?\s*{_OPS}\s*)+-?\d+(?:\.\d+)?)\s*=\s*(-?\d+(?:,\d{{3}})*(?:\.\d+)?)")


def numbers_in(text: str) -> list[float]:
    return [float(m.group(0).replace(",", "")) for m in _NUMBER.finditer(text)]


def close(a: float, b: float, rel: float = 0.01, abs_: float = 0.011) -> bool:
    return abs(a - b) <= max(abs_, rel * abs(b))


def evaluate(expression: str) -> float | None:
    """The value of "a op b op c" with × x * / ÷ + - and the usual precedence; None when malformed."""
    cleaned = re.sub(r"(?<=\d)\s*[x×]\s*(?=-?\d)", " * ", expression).replace("÷", "/").replace("−", "-")
    if not re.fullmatch(r"[\d\s.+\-*/]+", cleaned):
        return None
    try:
        value = eval(cleaned, {"__builtins__": {}}, {})  # noqa: S307 - digits and + - * / only (checked above)
    except (SyntaxError, ZeroDivisionError, TypeError):
        return None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def false_claims(step: str) -> list[str]:
    """The arithmetic claims of a step that do not hold."""
    wrong = []
    for match in _CLAIM.finditer(step):
        value = evaluate(match.group(1))
        stated = float(match.group(2).replace(",", ""))
        if value is not None and not close(stated, value):
            wrong.append(match.group(0))
    return wrong


def label_step(step: str, truth: Sequence[dict], question: str, answer: float) -> Label:
    """The label of one step (see the module doc)."""
    if false_claims(step):
        return "wrong"
    spans = answer_spans(step)
    if spans:
        stated = extract_number(spans[-1])
        if stated is not None:
            return "correct" if close(float(stated), answer) else "wrong"
    given = numbers_in(question)
    chain = [float(q["value"]) for q in truth]
    new = [n for n in numbers_in(step) if not any(close(n, g, rel=0, abs_=1e-9) for g in given)]
    if not new:
        return "neutral"
    if any(any(close(n, c) for c in chain) for n in new):
        return "correct" if all(_explained(n, chain, given) for n in new) else "wrong"
    return "neutral" if all(_explained(n, chain, given) for n in new) else "wrong"


def _explained(number: float, chain: Sequence[float], given: Sequence[float]) -> bool:
    """A number a correct solution may write: a chain quantity, a question number, or a constant."""
    return (any(close(number, c) for c in chain) or any(close(number, g, rel=0, abs_=1e-9) for g in given)
            or any(close(number, k, rel=0, abs_=1e-9) for k in CONSTANTS))


def label_steps(steps: Sequence[str], truth: Sequence[dict], question: str, answer: float) -> list[Label]:
    return [label_step(step, truth, question, answer) for step in steps]


def first_error(labels: Sequence[Label]) -> int | None:
    """Index of the first wrong step (ProcessBench's target), None when no step is wrong."""
    return next((i for i, label in enumerate(labels) if label == "wrong"), None)
