"""Parsing and formatting numbers as people and models write them.

Accepted: "1,000" (comma thousands), "$18" / "€5" / "£3" (currency dropped), "18.0", ".5", "1/2" (fraction),
"-3" and the Unicode minus, "2.5e3", LaTeX "\\frac{1}{2}", "\\boxed{7}", "1{,}000".
Percent: "50%" parses as 50, the number as written; it is NOT divided by 100. Word problems that ask for
"what percent" expect 50, and a gold answer of 0.5 for a percentage question would itself be written "0.5".
"""

from __future__ import annotations

import math
import re

# One number token. Comma grouping needs exact 3-digit groups so "3, 4" stays two numbers.
_NUMBER = re.compile(
    r"""
    (?P<sign>[-+\u2212])?\s*
    [$\u20ac\u00a3]?\s*
    (?P<sign2>[-\u2212])?
    (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
    (?P<exp>[eE][-+]?\d+)?
    (?:\s*/\s*(?P<den>\d+(?:\.\d+)?))?
    (?P<pct>\s*%)?
    """,
    re.VERBOSE,
)

_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_LATEX_BOXED = re.compile(r"\\boxed\s*\{([^{}]*)\}")


def _strip_latex(text: str) -> str:
    text = _LATEX_BOXED.sub(r"\1", text)
    text = _LATEX_FRAC.sub(r"\1/\2", text)
    # "1{,}000" is LaTeX for a thousands comma; "\$" is an escaped dollar; "\!" and "\," are spacing.
    return text.replace("{,}", ",").replace("\\$", "$").replace("\\!", "").replace("\\,", "")


def _value(match: re.Match[str]) -> float | None:
    value = float(match["num"].replace(",", "") + (match["exp"] or ""))
    if match["den"] is not None:
        denominator = float(match["den"])
        if denominator == 0:
            return None
        value /= denominator
    if (match["sign"] in ("-", "\u2212")) != (match["sign2"] in ("-", "\u2212")):
        value = -value
    return value


def parse_number(text: str) -> float | None:
    """The number `text` is, or None when it is anything more or less than one number.

    Surrounding whitespace, markdown emphasis, `$...$` math delimiters and a final period are ignored.
    """
    cleaned = _strip_latex(text).strip().strip("*_` ")
    cleaned = cleaned.removesuffix(".").strip()
    if cleaned.count("$") == 2 and cleaned.startswith("$") and cleaned.endswith("$"):
        cleaned = cleaned[1:-1].strip()
    match = _NUMBER.fullmatch(cleaned)
    return _value(match) if match else None


def first_number(text: str) -> float | None:
    """The first number written anywhere in `text` ("18 dollars." -> 18.0), or None."""
    match = _NUMBER.search(_strip_latex(text))
    return _value(match) if match else None


def format_number(value: float) -> str:
    """Canonical string for a number: integers without ".0", others as Python's shortest repr."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def numbers_match(predicted: float, gold: float, *, abs_tol: float, rel_tol: float) -> bool:
    """True when `predicted` is within abs_tol, or within rel_tol relative to `gold`."""
    return abs(predicted - gold) <= max(abs_tol, rel_tol * abs(gold))
