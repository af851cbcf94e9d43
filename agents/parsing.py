"""Lenient readers for model output. None means "could not read it"; callers repair once, then record."""

from __future__ import annotations

import json
import re
from typing import Any

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.IGNORECASE | re.DOTALL)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_CHOICE = re.compile(r"\b(?:better|winner|choice|answer|prefer(?:red)?|verdict)\b[^0-9]{0,20}([12])\b", re.IGNORECASE)
_HYP_CHOICE = re.compile(r"\b(?:hypothesis|answer|solution|candidate|option)\s*#?\s*([12])\b", re.IGNORECASE)
_SCORE = re.compile(r"\b(?:score|rating)\b\D{0,10}(\d+(?:\.\d+)?)", re.IGNORECASE)
_SPACE = re.compile(r"\s+")

# Fragments of reply templates that older prompts showed (and that a small model repeats from any
# prompt that still shows them): a reply holding one is a copy of the format, not a judgement.
# "score 1.0" used to be read from '{"score": 1-5, ...' this way.
TEMPLATE_FRAGMENTS = ("1-5", '"sound" or "flawed"', "1 or 2", "<letter>", '"..."')


def strip_think(text: str) -> str:
    """Drop `<think>...</think>` blocks (and an unclosed trailing one): they are never the answer."""
    return _THINK.sub("", text or "").strip()


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def _example_phrases(example: str) -> list[str]:
    """The worked example's own sentences: its string values of at least `COPIED_PHRASE` characters."""
    data = parse_json(example)
    values = data.values() if isinstance(data, dict) else data if isinstance(data, list) else []
    return [_squash(v) for v in values if isinstance(v, str) and len(v) >= COPIED_PHRASE]


COPIED_PHRASE = 20  # shorter values ("sound", "correct") are words any reply may use


def template_echo(text: str, example: str | None = None) -> str | None:
    """Why `text` is a copy of the prompt rather than a reply, or None when it is not: it holds a
    template fragment ("1-5", '"sound" or "flawed"', ...), it is the worked `example` verbatim
    (whitespace and case aside), or it repeats one of the example's sentences (a copied comment with
    another score is still a copy)."""
    found = next((f for f in TEMPLATE_FRAGMENTS if f in text), None)
    if found is not None:
        return f"repeats the prompt's template ({found})"
    if example is None:
        return None
    squashed = _squash(strip_think(text))
    if squashed == _squash(example) or any(p in squashed for p in _example_phrases(example)):
        return "repeats the prompt's worked example"
    return None


def parse_json(text: str) -> Any | None:
    """The first JSON object or list in `text`: inside a code fence or bare, trailing commas and single
    quotes tolerated. None when nothing parses."""
    text = strip_think(text)
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for chunk in candidates:
        for opener, closer in (("{", "}"), ("[", "]")):
            start = chunk.find(opener)
            end = chunk.rfind(closer)
            if start < 0 or end <= start:
                continue
            body = chunk[start:end + 1]
            for attempt in (body, re.sub(r",\s*([}\]])", r"\1", body).replace("'", '"')):
                try:
                    return json.loads(attempt)
                except ValueError:
                    continue
    return None


def parse_choice(text: str, example: str | None = None) -> str | None:
    """"1" or "2": which of two shown hypotheses the judge prefers. JSON `{"better": 1}` first, then
    phrases such as "Better: 2" or "Hypothesis 1 is better", then a reply that is just a digit. A reply
    that repeats the template or the worked `example` is None (see `template_echo`)."""
    text = strip_think(text)
    if template_echo(text, example):
        return None
    data = parse_json(text)
    if isinstance(data, dict):
        for key in ("better", "winner", "choice", "preferred"):
            value = str(data.get(key, "")).strip()
            if value in ("1", "2"):
                return value
    for pattern in (_CHOICE, _HYP_CHOICE):
        found = {m.group(1) for m in pattern.finditer(text)}
        if len(found) == 1:
            return found.pop()
    bare = text.strip().strip(".*()[] ")
    return bare if bare in ("1", "2") else None


def parse_review(text: str, example: str | None = None) -> dict | None:
    """`{"score": one to five, "verdict": str, "comments": str}` from JSON or "Score: 4" prose; None if no
    score, or when the reply repeats the template or the worked `example` (see `template_echo`)."""
    text = strip_think(text)
    if template_echo(text, example):
        return None
    data = parse_json(text)
    score = None
    if isinstance(data, dict):
        score = _to_score(data.get("score", data.get("rating")))
        if score is not None:
            return {"score": score, "verdict": str(data.get("verdict", "")).strip()[:200],
                    "comments": str(data.get("comments", data.get("critique", ""))).strip()[:600]}
    match = _SCORE.search(text)
    if match:
        score = _to_score(match.group(1))
    if score is None:
        return None
    return {"score": score, "verdict": "", "comments": text[:600]}


def _to_score(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 1.0 <= number <= 5.0 else None


def parse_list(text: str, limit: int = 8, example: str | None = None) -> list[str] | None:
    """A list of short strings: a JSON list, `{"items": [...]}`-like, or numbered / bulleted lines; None
    for a reply that repeats the worked `example`."""
    text = strip_think(text)
    if template_echo(text, example):
        return None
    data = parse_json(text)
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if isinstance(data, list):
        items = [str(x).strip() for x in data if str(x).strip()]
        return items[:limit] or None
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in text.splitlines()
             if re.match(r"^\s*(?:[-*•]|\d+[.)])\s+\S", line)]
    return lines[:limit] or None


def parse_yes_no(text: str) -> bool | None:
    """True for a reply that starts with yes/holds/valid, False for no/fails/invalid; else None."""
    words = re.findall(r"[a-z]+", strip_think(text).lower())[:6]
    for word in words:
        if word in ("yes", "holds", "valid", "true", "correct"):
            return True
        if word in ("no", "fails", "invalid", "false", "incorrect"):
            return False
    return None
