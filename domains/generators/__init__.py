"""Domains declared by a generator instead of a file (`evolve domains add NAME --generate KIND`).

`GENERATORS` is the one table of generator kinds: their parameters (with defaults and help) and how
one item is made. `rg:<dataset>` draws from reasoning-gym (an optional extra). Every item carries
its chain of true intermediate quantities in `Question.meta["truth"]`, which the step checker
(`domains.truth`) and the cold start's gold solutions (`gold_steps`) read. Splits come from disjoint
random streams (one per split and seed) and never share a question.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from domains.answers import ANSWER_PHRASE
from domains.errors import DomainSpecError
from domains.generators import arith, medcalc
from domains.generators.medcalc import Item, Quantity, fmt
from domains.question import Question

RG_PREFIX = "rg:"


@dataclass(frozen=True)
class Param:
    kind: type
    default: Any
    help: str
    low: int | None = None  # the smallest value it takes, if bounded
    high: int | None = None  # the largest
    choices: tuple[str, ...] = ()  # a comma list whose every item must be one of these


@dataclass(frozen=True)
class GeneratorKind:
    help: str
    params: dict[str, Param]
    make: Callable[[random.Random, dict[str, Any]], Item]
    system: str = "You are a careful clinician and calculator. Work the problem out step by step, one calculation per step."


def _medcalc(rng: random.Random, p: dict[str, Any]) -> Item:
    kinds = [k.strip() for k in str(p["kinds"]).split(",") if k.strip()]
    return medcalc.make(rng, kinds, p["level"], p["scale"])


GENERATORS: dict[str, GeneratorKind] = {
    "medcalc": GeneratorKind(
        "medical calculations with every intermediate known: " + ", ".join(medcalc.KINDS),
        {"kinds": Param(str, "dose", f"comma list of {', '.join(medcalc.KINDS)}", choices=medcalc.KINDS),
         "level": Param(int, 1, "steps a question takes (1-4, as far as the kind goes)", low=1, high=4),
         "scale": Param(int, 1, "1: small round numbers, 2: everyday, 3: awkward", low=1, high=3)},
        _medcalc),
    "arith": GeneratorKind(
        "sums (and with minus=true differences) of a few numbers, each partial result known",
        {"terms": Param(int, 2, "how many numbers (at least 2)", low=2), "high": Param(int, 30, "largest number", low=1),
         "minus": Param(bool, False, "also subtract")},
        lambda rng, p: arith.make(rng, p["terms"], p["high"], p["minus"]),
        system="You are a careful calculator. Work the problem out step by step, one calculation per step."),
}


@dataclass
class GeneratorSpecData:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


def check_kind(kind: str) -> None:
    if kind.startswith(RG_PREFIX):
        if importlib.util.find_spec("reasoning_gym") is None:
            raise DomainSpecError(f"--generate {kind} needs the reasoning-gym package, which is not installed",
                                  where="--generate", fix="install it with: pip install '.[gym]'")
        return
    if kind not in GENERATORS:
        raise DomainSpecError(f"unknown generator '{kind}'", where="--generate",
                              fix=f"use one of: {', '.join(GENERATORS)}, or rg:<dataset> (reasoning-gym)")


def resolve_params(kind: str, given: dict[str, str]) -> dict[str, Any]:
    """The generator's parameters: the defaults, with `given` (strings from --set) parsed to their types."""
    check_kind(kind)
    if kind.startswith(RG_PREFIX):
        return {key: _parse_loose(value) for key, value in given.items()}  # reasoning-gym checks its own
    spec = GENERATORS[kind].params
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise DomainSpecError(f"generator '{kind}' has no parameter '{unknown[0]}'", where="--set",
                              fix="its parameters: " + "; ".join(f"{k} ({p.help}, default {p.default})" for k, p in spec.items()))
    values = {name: param.default for name, param in spec.items()}
    for key, raw in given.items():
        values[key] = _parse_typed(kind, key, raw, spec[key].kind)
        _check_value(kind, key, values[key], spec[key])
    return values


def _check_value(kind: str, key: str, value: Any, param: Param) -> None:
    """Bounds and choices, so that a bad value is a one-line error here and not a crash in the generator."""
    if param.choices:
        picked = [item.strip() for item in str(value).split(",") if item.strip()]
        unknown = [item for item in picked if item not in param.choices]
        if not picked or unknown:
            raise DomainSpecError(f"generator '{kind}': {key}={value!r} " + (f"has no '{unknown[0]}'" if unknown else "is empty"),
                                  where="--set", fix=f"use a comma list of: {', '.join(param.choices)}")
    low, high = param.low, param.high
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            bounds = f"{low} to {high}"
        else:
            bounds = f"at least {low}" if high is None else f"at most {high}"
        raise DomainSpecError(f"generator '{kind}': {key}={value} is out of range", where="--set", fix=f"use {bounds}")


def _parse_typed(kind: str, key: str, raw: Any, wanted: type) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        if wanted is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1", "yes")
        return wanted(raw)
    except ValueError:
        raise DomainSpecError(f"generator '{kind}': {key}={raw!r} is not a {wanted.__name__}", where="--set",
                              fix=f"give {key} a {wanted.__name__}") from None


def _parse_loose(raw: str) -> Any:
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(raw.lower(), raw)


def stream_seed(seed: int, split: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{split}".encode()).digest()[:4], "big")


def items(kind: str, params: dict[str, Any], split: str, seed: int, size: int, *, avoid: set[str]) -> list[tuple[str, Item]]:
    """`size` items of the split's stream whose question text is in no earlier split (`avoid`, updated)."""
    if kind.startswith(RG_PREFIX):
        return _gym_items(kind[len(RG_PREFIX):], params, split, seed, size, avoid)
    rng = random.Random(stream_seed(seed, split))
    out: list[tuple[str, Item]] = []
    tries = 0
    while len(out) < size:
        item = GENERATORS[kind].make(rng, params)
        tries += 1
        if tries > 50 * size + 100:
            raise DomainSpecError(f"generator '{kind}' with {params} yields only {len(out)} distinct questions for "
                                  f"the {split} split", where="--size", fix="ask for fewer questions, or raise scale/level")
        if item.question in avoid:
            continue
        avoid.add(item.question)
        out.append((f"{split}-{len(out):05d}", item))
    return out


def _gym_items(name: str, params: dict, split: str, seed: int, size: int, avoid: set[str]) -> list[tuple[str, Item]]:
    import reasoning_gym

    _check_gym_params(name, params)
    try:
        dataset = reasoning_gym.create_dataset(name, size=size * 2 + 10, seed=stream_seed(seed, split), **params)
    except Exception as err:  # a bad parameter value: reasoning-gym's own message
        raise DomainSpecError(f"reasoning-gym cannot make '{name}': {str(err).splitlines()[0]}", where="--generate",
                              fix="check the dataset name and its parameters in the reasoning-gym docs") from None
    out = []
    for entry in dataset:
        if entry["question"] in avoid:
            continue
        avoid.add(entry["question"])
        out.append((f"{split}-{len(out):05d}", _gym_item(name, entry)))
        if len(out) == size:
            break
    return out


def _check_gym_params(name: str, params: dict) -> None:
    """reasoning-gym's own table of datasets and their config fields, read so that an unknown name or
    parameter is named with the valid ones."""
    import dataclasses

    from reasoning_gym.factory import DATASETS

    if name not in DATASETS:
        numeric = [n for n in ("chain_sum", "basic_arithmetic", "products", "gsm_symbolic", "simple_equations") if n in DATASETS]
        raise DomainSpecError(f"reasoning-gym has no dataset '{name}'", where="--generate",
                              fix=f"use rg:<dataset> with a numeric one, e.g. {', '.join(numeric)}")
    config_class = DATASETS[name][1]
    if not dataclasses.is_dataclass(config_class):
        return  # reasoning-gym's own error then names the problem
    fields = [f.name for f in dataclasses.fields(config_class) if f.name not in ("seed", "size")]
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise DomainSpecError(f"reasoning-gym '{name}' has no parameter '{unknown[0]}'", where="--set",
                              fix=f"its parameters: {', '.join(fields)}")


def _gym_item(name: str, entry: dict) -> Item:
    from domains.numbers import parse_number

    answer = parse_number(str(entry["answer"]))
    if answer is None:
        raise DomainSpecError(f"reasoning-gym '{name}' answers are not numbers ('{entry['answer']}')", where="--generate",
                              fix="use a dataset with numeric answers (chain_sum, basic_arithmetic, products, gsm_symbolic)")
    chain = _expression_chain(str(entry.get("metadata", {}).get("expression", "")))
    if chain and abs(chain[-1].value - answer) > 1e-6 * max(1.0, abs(answer)):
        chain = []  # no known intermediate values: the answer is checked, the steps are not (no step truth)
    return Item(f"rg:{name}", entry["question"], tuple(chain), "", final=answer)


_OPERATIONS = {ast.Add: ("+", "sum", float.__add__), ast.Sub: ("-", "difference", float.__sub__),
               ast.Mult: ("*", "product", float.__mul__), ast.Div: ("/", "quotient", float.__truediv__)}


def _expression_chain(expression: str) -> list[Quantity]:
    """One partial result per operation of an arithmetic expression, in the order it is worked out (the
    usual precedence and parentheses: "3 + 4 * 2" -> 8, 11); [] for anything that is not + - * / on numbers."""
    chain: list[Quantity] = []

    def work(node: ast.expr) -> float:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = work(node.operand)
            if isinstance(node.op, ast.UAdd):
                return value
            if not isinstance(node.operand, ast.Constant):  # "-(7 + 5)": the negated value is a step of its own
                chain.append(Quantity("negation", -value, "", f"-({_operand(value)})"))
            return -value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATIONS:
            symbol, name, apply = _OPERATIONS[type(node.op)]
            left, right = work(node.left), work(node.right)
            value = apply(left, right)
            chain.append(Quantity(name, value, "", f"{_operand(left)} {symbol} {_operand(right)}"))
            return value
        raise ValueError(ast.dump(node))

    try:
        work(ast.parse(expression.replace("×", "*").replace("÷", "/").replace("−", "-"), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return []
    return chain


def _operand(value: float) -> str:
    """A number as an expression writes it: exact (no rounding to 2 decimals), integers without ".0"."""
    return str(int(value)) if value.is_integer() else repr(value)


def to_question(name: str, key: str, item: Item, params: dict[str, Any]) -> Question:
    return Question(id=f"{name}-{key}", question=item.question, answer=fmt(item.answer),
                    meta={"kind": item.kind, **{k: v for k, v in params.items() if k in ("level", "scale", "terms")},
                          "unit": item.unit, "truth": [asdict(q) for q in item.chain]})


TEMPLATES = (
    "The {name} is {expr} = {value}{unit}.",
    "{expr} = {value}{unit}, so the {name} is {value}{unit}.",
    "We compute the {name}: {expr} = {value}{unit}.",
)


def gold_steps(truth: list[dict], rng: random.Random | None = None) -> list[str]:
    """A correct step-format solution from a truth chain: one calculation per step (phrasing chosen by
    `rng`, the first phrasing without one), then the answer sentence."""
    steps = []
    for quantity in truth:
        template = TEMPLATES[rng.randrange(len(TEMPLATES))] if rng else TEMPLATES[0]
        unit = f" {quantity['unit']}" if quantity["unit"] else ""
        steps.append(template.format(name=quantity["name"], expr=quantity["expr"], value=fmt(quantity["value"]), unit=unit))
    return [*steps, f"{ANSWER_PHRASE} {fmt(truth[-1]['value'])}."]


def generate(name: str, kind: str, params: dict[str, Any], seed: int, sizes: dict[str, int]) -> dict[str, list[Question]]:
    """The split -> questions of a generated domain. Test is drawn first, then dev, then search, each
    from its own stream and never repeating a question of an earlier split; "example" (the worked example
    shown to the model) and "cold" (the cold start's questions) are drawn before all of them."""
    avoid: set[str] = set()
    out = {}
    for split in ("example", "cold", "test", "dev", "search"):
        if sizes.get(split):
            out[split] = [to_question(name, key, item, params) for key, item in
                          items(kind, params, split, seed, sizes[split], avoid=avoid)]
    return out
