"""Field sources: dotted paths into a raw row, followed by optional `|transform`s.

`question.stem` walks nested objects; `choices.0.text` indexes lists; `3` is a column of a header-less CSV.
Transforms turn a text value into the part wanted, e.g. GSM8K's `answer|after:####`.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

# Split on "|" only where a known transform follows, so a regex may still contain other text.
_TRANSFORM_SPLIT = re.compile(r"\|(?=(?:after|before|regex):|last_line\b|except_last_line\b|strip\b)")
TRANSFORMS = ("after:MARK", "before:MARK", "regex:PATTERN", "last_line", "except_last_line", "strip")


class MissingField(Exception):
    """The row has nothing at this source; the caller decides whether that is an error."""

    def __init__(self, source: str, available: list[str]):
        close = difflib.get_close_matches(source.split(".")[0], available, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        # Keys are cut short: in a header-less file they are the first row's text, not names.
        shown = ", ".join(key if len(key) <= 30 else key[:27] + "..." for key in available[:12])
        shown += ", ..." if len(available) > 12 else ""
        super().__init__(f"no field '{source}' (the row has: {shown}{hint})")


class TransformError(Exception):
    """A transform cannot apply to this value (mark not found, regex without match, ...)."""


def split_source(source: str) -> tuple[str, list[str]]:
    """("answer", ["after:####"]) from "answer|after:####"."""
    path, *transforms = _TRANSFORM_SPLIT.split(source)
    return path.strip(), transforms


def resolve_path(data: Any, path: str) -> Any:
    """The value at a dotted `path` in `data`; MissingField when any step is absent or None."""
    if isinstance(data, dict) and path in data:  # a literal key containing dots wins
        value = data[path]
        if value is None:
            raise MissingField(path, _keys(data))
        return value
    node = data
    for step in path.split("."):
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and step.lstrip("-").isdigit() and -len(node) <= int(step) < len(node):
            node = node[int(step)]
        else:
            raise MissingField(path, _keys(data))
        if node is None:
            raise MissingField(path, _keys(data))
    return node


def _keys(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [str(key) for key in data]
    if isinstance(data, list):
        return [str(index) for index in range(len(data))]
    return []


def apply_transform(value: Any, transform: str) -> str:
    """One transform on the text of `value`; TransformError when it does not apply."""
    text = value if isinstance(value, str) else str(value)
    name, _, argument = transform.partition(":")
    if name == "after":
        if argument not in text:
            raise TransformError(f"'{argument}' not found in the value")
        return text.rsplit(argument, 1)[1].strip()
    if name == "before":
        if argument not in text:
            raise TransformError(f"'{argument}' not found in the value")
        return text.rsplit(argument, 1)[0].strip()
    if name == "last_line":
        return _lines(text)[-1].strip() if text.strip() else ""
    if name == "except_last_line":
        return "\n".join(_lines(text)[:-1]).strip()
    if name == "strip":
        return text.strip()
    if name == "regex":
        match = re.search(argument, text)
        if match is None:
            raise TransformError(f"regex {argument!r} does not match the value")
        return (match.group(1) if match.groups() else match.group(0)).strip()
    raise TransformError(f"unknown transform '{transform}' (known: {', '.join(TRANSFORMS)})")


def _lines(text: str) -> list[str]:
    # "\n" only: str.splitlines also breaks at U+2028, which is no line break of the file's.
    return [line.removesuffix("\r") for line in text.strip().split("\n")]


def get_field(data: Any, source: str) -> Any:
    """The value for `source` ("path|transform|..."); MissingField or TransformError on failure."""
    path, transforms = split_source(source)
    value = resolve_path(data, path)
    for transform in transforms:
        value = apply_transform(value, transform)
    return value
