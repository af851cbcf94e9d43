"""Step truth: whether a step of a model's solution is right, wrong or neutral, against the question's
chain of true quantities (`Question.meta["truth"]`, from a generated domain).

- wrong: an arithmetic claim "a op b = c" that is false, a stated answer that is not the gold one, a
  named quantity of the chain stated with another value ("the sum is 34", "the total daily dose is
  50 mg" when it is 200), or a new number that is none of the chain's quantities, the question's
  numbers or a known constant;
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


_STATED = re.compile(r"(?:\bis|=|:)\s*(-?\d+(?:,\d{3})*(?:\.\d+)?)\s*([A-Za-zµ%/]+)?")


def misnamed(step: str, truth: Sequence[dict], question: str = "") -> list[str]:
    """The chain quantities a step names and states with a value none of that name has. The stated
    value is the last "is N" / "= N" / ": N" before the next named quantity; a value in another unit
    that the question states ("the weight is 154 lb" when the chain's weight is in kg) is a
    restatement, not a claim."""
    names = sorted({q["name"] for q in truth}, key=len, reverse=True)
    if not names:
        return []
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in names), re.IGNORECASE)
    found = list(pattern.finditer(step))
    wrong = []
    for i, match in enumerate(found):
        segment = step[match.end():found[i + 1].start() if i + 1 < len(found) else len(step)]
        stated = list(_STATED.finditer(segment))
        if not stated:
            continue
        value, unit = float(stated[-1].group(1).replace(",", "")), stated[-1].group(2)
        same = [q for q in truth if q["name"].lower() == match.group(0).lower()]
        if unit and all(q.get("unit") and unit != q["unit"] for q in same) and re.search(
                rf"(?<![\d.]){re.escape(stated[-1].group(1))}\s*{re.escape(unit)}", question):
            continue
        if not any(close(value, float(q["value"])) for q in same):
            wrong.append(f"{match.group(0)} = {stated[-1].group(1)}")
    return wrong


def claim_results(step: str) -> list[float]:
    """The stated results of a step's arithmetic claims ("a op b = c" -> c)."""
    return [float(m.group(2).replace(",", "")) for m in _CLAIM.finditer(step)]


def label_step(step: str, truth: Sequence[dict], question: str, answer: float) -> Label:
    """The label of one step (see the module doc)."""
    if false_claims(step) or misnamed(step, truth, question):
        return "wrong"
    spans = answer_spans(step)
    if spans:
        stated = extract_number(spans[-1])
        if stated is not None:
            return "correct" if close(float(stated), answer) else "wrong"
    given = numbers_in(question)
    chain = [float(q["value"]) for q in truth]
    if any(any(close(r, c) for c in chain) for r in claim_results(step)):  # "14 + 3 = 17": 17 a chain value
        return "correct" if all(_explained(n, chain, given) for n in numbers_in(step)) else "wrong"
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
