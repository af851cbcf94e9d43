"""`medcalc`: generated medical calculations with every intermediate quantity known.

Kinds: `dose` (weight-based single dose, then daily and course totals, from pounds at the top level),
`infusion` (mL/h, then drops/min), `dilution` (concentration, then C1V1 = C2V2 and the volume to add),
`bmi`, `bsa` (Mosteller), `convert` (lb <-> kg, mg <-> g <-> mcg) and `crcl` (Cockcroft-Gault).
`level` sets how many steps a question takes (1 to 4, as far as the kind goes); `scale` sets how large
the numbers are (1: small round numbers, 2: everyday, 3: awkward). Each item carries its chain of
true quantities (name, value, unit, and the arithmetic that gives it), from which the step checker
labels a model's steps and the cold start renders gold solutions. Several phrasings per kind.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

KINDS = ("dose", "infusion", "dilution", "bmi", "bsa", "convert", "crcl")


@dataclass(frozen=True)
class Quantity:
    name: str
    value: float
    unit: str
    expr: str  # the arithmetic that gives it, with the numbers it uses ("20 × 5")


@dataclass(frozen=True)
class Item:
    kind: str
    question: str
    chain: tuple[Quantity, ...]
    unit: str  # of the answer
    final: float | None = None  # the answer of an item without a chain (a reasoning-gym task with no expression)

    @property
    def answer(self) -> float:
        return self.chain[-1].value if self.chain else self.final


def r2(value: float) -> float:
    return round(value + 0.0, 2)


def fmt(value: float) -> str:
    """A number as the question and the gold steps write it: no trailing zeros."""
    text = f"{r2(value):.2f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def _pick(rng: random.Random, scale: int, small: list, everyday: list, awkward: list):
    return rng.choice({1: small, 2: everyday}.get(scale, awkward))


def dose(rng: random.Random, level: int, scale: int) -> Item:
    weight = _pick(rng, scale, [10, 20, 30, 40, 50], list(range(8, 95, 2)), list(range(7, 120)))
    per_kg = _pick(rng, scale, [2, 3, 4, 5, 10], [1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 8, 10, 12, 15], [0.5, 1.2, 2.5, 3.3, 4.5, 6.25, 7.5, 12.5])
    times = rng.choice([2, 3, 4])
    days = rng.choice([5, 7, 10])
    drug = rng.choice(["amoxicillin", "gentamicin", "paracetamol", "ibuprofen", "cefalexin", "vancomycin"])
    chain = []
    if level >= 4:
        pounds = r2(weight * 2.2)
        chain.append(Quantity("weight", r2(pounds / 2.2), "kg", f"{fmt(pounds)} / 2.2"))
        weight_text = f"{fmt(pounds)} lb"
    else:
        pounds = None
        weight_text = f"{fmt(weight)} kg"
    kg = chain[-1].value if chain else weight
    chain.append(Quantity("single dose", r2(kg * per_kg), "mg", f"{fmt(kg)} × {fmt(per_kg)}"))
    if level >= 2:
        chain.append(Quantity("daily dose", r2(chain[-1].value * times), "mg", f"{fmt(chain[-1].value)} × {times}"))
    if level >= 3:
        chain.append(Quantity("course total", r2(chain[-1].value * days), "mg", f"{fmt(chain[-1].value)} × {days}"))
    asked = {1: "What is the single dose in mg?", 2: "What is the total daily dose in mg?",
             3: "How many mg does the whole course contain?"}[min(level, 3)]
    schedule = f" given {times} times a day" if level >= 2 else ""
    course = f" for {days} days" if level >= 3 else ""
    question = rng.choice([
        f"A child weighing {weight_text} is prescribed {drug} at {fmt(per_kg)} mg/kg per dose{schedule}{course}. {asked}",
        f"{drug.capitalize()} is dosed at {fmt(per_kg)} mg/kg{schedule}{course}. The patient weighs {weight_text}. {asked}",
        f"The order is {drug} {fmt(per_kg)} mg/kg per dose{schedule}{course} for a patient of {weight_text}. {asked}",
    ])
    return Item("dose", question, tuple(chain), "mg")


def infusion(rng: random.Random, level: int, scale: int) -> Item:
    volume = _pick(rng, scale, [100, 200, 500, 1000], [250, 500, 750, 1000, 1200], [330, 480, 725, 960, 1150])
    hours = _pick(rng, scale, [1, 2, 4, 5], [2, 3, 4, 5, 6, 8, 10], [3, 6, 7, 9, 11])
    factor = rng.choice([10, 15, 20, 60])
    chain = [Quantity("rate", r2(volume / hours), "mL/h", f"{fmt(volume)} / {fmt(hours)}")]
    if level >= 2:
        chain.append(Quantity("drip rate", r2(chain[0].value * factor / 60), "drops/min",
                              f"{fmt(chain[0].value)} × {factor} / 60"))
    asked = "What is the rate in mL/h?" if level < 2 else "How many drops per minute is that?"
    drop = f" with a giving set of {factor} drops/mL" if level >= 2 else ""
    question = rng.choice([
        f"{fmt(volume)} mL of saline must run over {fmt(hours)} hours{drop}. {asked}",
        f"An infusion of {fmt(volume)} mL is to be given over {fmt(hours)} hours{drop}. {asked}",
        f"Give {fmt(volume)} mL of fluid in {fmt(hours)} hours{drop}. {asked}",
    ])
    return Item("infusion", question, tuple(chain), chain[-1].unit)


def dilution(rng: random.Random, level: int, scale: int) -> Item:
    mg = _pick(rng, scale, [100, 200, 500, 1000], [250, 400, 500, 750, 1000], [120, 375, 640, 900])
    ml = _pick(rng, scale, [10, 20, 50, 100], [5, 10, 20, 25, 50], [8, 12, 15, 40])
    chain = [Quantity("concentration", r2(mg / ml), "mg/mL", f"{fmt(mg)} / {fmt(ml)}")]
    target = r2(chain[0].value / rng.choice([2, 4, 5]))
    if level >= 2:
        chain.append(Quantity("final volume", r2(chain[0].value * ml / target), "mL",
                              f"{fmt(chain[0].value)} × {fmt(ml)} / {fmt(target)}"))
    if level >= 3:
        chain.append(Quantity("water to add", r2(chain[-1].value - ml), "mL", f"{fmt(chain[-1].value)} - {fmt(ml)}"))
    asked = {1: "What is the concentration in mg/mL?",
             2: f"To what total volume in mL must it be diluted to reach {fmt(target)} mg/mL?",
             3: f"How many mL of water must be added to reach {fmt(target)} mg/mL?"}[min(level, 3)]
    question = rng.choice([f"A vial holds {fmt(mg)} mg of drug in {fmt(ml)} mL. {asked}",
                           f"{fmt(mg)} mg of a drug is dissolved in {fmt(ml)} mL. {asked}",
                           f"The pharmacy supplies {fmt(ml)} mL of solution containing {fmt(mg)} mg. {asked}"])
    return Item("dilution", question, tuple(chain), chain[-1].unit)


def bmi(rng: random.Random, level: int, scale: int) -> Item:
    cm = _pick(rng, scale, [150, 160, 170, 180, 200], list(range(150, 196, 2)), list(range(147, 203)))
    kg = _pick(rng, scale, [50, 60, 64, 72, 81], list(range(45, 120, 3)), list(range(41, 133)))
    m = r2(cm / 100)
    chain = [Quantity("height", m, "m", f"{fmt(cm)} / 100"), Quantity("height squared", r2(m * m), "m²", f"{fmt(m)} × {fmt(m)}"),
             Quantity("BMI", r2(kg / r2(m * m)), "kg/m²", f"{fmt(kg)} / {fmt(r2(m * m))}")]
    question = rng.choice([f"A patient is {fmt(cm)} cm tall and weighs {fmt(kg)} kg. What is the BMI in kg/m²?",
                           f"Weight {fmt(kg)} kg, height {fmt(cm)} cm. Calculate the body mass index.",
                           f"What body mass index (kg/m²) does a weight of {fmt(kg)} kg at a height of {fmt(cm)} cm give?"])
    return Item("bmi", question, tuple(chain), "kg/m²")


def bsa(rng: random.Random, level: int, scale: int) -> Item:
    cm = _pick(rng, scale, [144, 150, 160, 180], list(range(150, 196, 2)), list(range(147, 203)))
    kg = _pick(rng, scale, [36, 50, 64, 81], list(range(45, 120, 3)), list(range(41, 133)))
    product = cm * kg
    chain = [Quantity("product of height and weight", product, "", f"{fmt(cm)} × {fmt(kg)}"),
             Quantity("quotient", r2(product / 3600), "", f"{fmt(product)} / 3600"),
             Quantity("BSA", r2(math.sqrt(product / 3600)), "m²", f"square root of {fmt(r2(product / 3600))}")]
    question = rng.choice([f"Using the Mosteller formula, what is the body surface area in m² of a patient who is "
                           f"{fmt(cm)} cm tall and weighs {fmt(kg)} kg?",
                           f"Height {fmt(cm)} cm and weight {fmt(kg)} kg. Find the BSA (Mosteller) in m².",
                           f"A patient of {fmt(kg)} kg measures {fmt(cm)} cm. What is the Mosteller body surface area in m²?"])
    return Item("bsa", question, tuple(chain), "m²")


def convert(rng: random.Random, level: int, scale: int) -> Item:
    way = rng.choice(["lb-kg", "kg-lb", "mg-g", "g-mg", "mcg-mg", "mg-mcg"])
    value = _pick(rng, scale, [10, 20, 50, 100, 200], [12, 25, 35, 60, 150, 250, 750], [13, 47, 88, 125, 333, 1250])
    factor, unit_in, unit_out, op = {"lb-kg": (2.2, "lb", "kg", "/"), "kg-lb": (2.2, "kg", "lb", "×"),
                                     "mg-g": (1000, "mg", "g", "/"), "g-mg": (1000, "g", "mg", "×"),
                                     "mcg-mg": (1000, "mcg", "mg", "/"), "mg-mcg": (1000, "mg", "mcg", "×")}[way]
    result = r2(value / factor if op == "/" else value * factor)
    chain = [Quantity(f"amount in {unit_out}", result, unit_out, f"{fmt(value)} {op} {fmt(factor)}")]
    question = rng.choice([f"Convert {fmt(value)} {unit_in} to {unit_out}.", f"How many {unit_out} is {fmt(value)} {unit_in}?",
                           f"Express {fmt(value)} {unit_in} in {unit_out}."])
    return Item("convert", question, tuple(chain), unit_out)


def crcl(rng: random.Random, level: int, scale: int) -> Item:
    age = _pick(rng, scale, [40, 50, 60, 70, 80], list(range(25, 90)), list(range(19, 95)))
    kg = _pick(rng, scale, [50, 60, 70, 80], list(range(45, 110, 5)), list(range(41, 123)))
    creatinine = _pick(rng, scale, [1, 2], [0.8, 1, 1.2, 1.5, 2], [0.7, 0.9, 1.3, 1.7, 2.4])
    female = rng.random() < 0.5 and level >= 2
    chain = [Quantity("age factor", 140 - age, "", f"140 - {age}"),
             Quantity("numerator", (140 - age) * kg, "", f"{140 - age} × {fmt(kg)}"),
             Quantity("denominator", r2(72 * creatinine), "", f"72 × {fmt(creatinine)}"),
             Quantity("clearance", r2((140 - age) * kg / r2(72 * creatinine)), "mL/min",
                      f"{(140 - age) * kg} / {fmt(r2(72 * creatinine))}")]
    if female:
        chain.append(Quantity("clearance (female)", r2(chain[-1].value * 0.85), "mL/min", f"{fmt(chain[-1].value)} × 0.85"))
    sex = "woman" if female else "man"
    question = rng.choice([
        f"A {age}-year-old {sex} weighs {fmt(kg)} kg with a serum creatinine of {fmt(creatinine)} mg/dL. What is the "
        f"creatinine clearance in mL/min by Cockcroft-Gault?",
        f"Estimate the Cockcroft-Gault creatinine clearance (mL/min) of a {sex} aged {age}, {fmt(kg)} kg, creatinine "
        f"{fmt(creatinine)} mg/dL.",
        f"Serum creatinine {fmt(creatinine)} mg/dL, weight {fmt(kg)} kg, age {age}, a {sex}. Calculate the creatinine "
        f"clearance in mL/min (Cockcroft-Gault)."])
    return Item("crcl", question, tuple(chain), "mL/min")


MAKERS = {"dose": dose, "infusion": infusion, "dilution": dilution, "bmi": bmi, "bsa": bsa, "convert": convert,
          "crcl": crcl}


def make(rng: random.Random, kinds: list[str], level: int, scale: int) -> Item:
    return MAKERS[rng.choice(kinds)](rng, level, scale)
