"""The "other reasoning" group of the mini-world: planning, tracing, deduction, domain facts.

- ``world_plan`` (ACPBench): can one walk from one room to another through one-way doors? (yes/no)
- ``world_trace`` (LiveCodeBench): what does a three-to-five line program print? (an integer)
- ``world_deduce`` (GPQA): which statement follows from chained "All X are Y" premises? (A-D)
- ``world_fact`` (HeadQA): which organ does a (made-up) drug treat? (A-D) The facts are a fixed
  table drawn once from ``FACT_SEED``, the same for every split and every seed.
"""

from __future__ import annotations

import random

from transferlab.world.families import Task, options_block, place_correct

ROOMS = ("hall", "den", "attic", "barn", "cave", "dock", "loft", "shed", "yard", "cellar")
PSEUDO = ("bim", "tal", "vop", "zek", "mur", "lun", "pex", "dax", "wug", "fep", "kib", "sor")
CREATURES = ("Rex", "Max", "Pip", "Zed", "Bo", "Kit")
ORGANS = ("heart", "lung", "liver", "kidney", "skin", "eye", "bone", "blood")
FACT_SEED = 1234
N_DRUGS = 40


def _reachable(edges: list[tuple[str, str]], start: str) -> set[str]:
    """Rooms reachable from ``start`` in one or more moves."""
    seen: set[str] = set()
    frontier = [start]
    while frontier:
        here = frontier.pop()
        for a, b in edges:
            if a == here and b not in seen:
                seen.add(b)
                frontier.append(b)
    return seen


def plan(rng: random.Random) -> Task:
    """Reachability through one-way doors; the label (yes/no) is drawn first, so it is balanced."""
    label = rng.choice(("yes", "no"))
    while True:
        rooms = rng.sample(ROOMS, 5)
        edges = list(dict.fromkeys((a, b) for a, b in (rng.sample(rooms, 2) for _ in range(4))))  # ordered: no hash-seed dependence
        pairs = [(s, t) for s in rooms for t in rooms if s != t and (t in _reachable(edges, s)) == (label == "yes")]
        if pairs:
            break
    start, goal = rng.choice(pairs)
    doors = ", ".join(f"{a}->{b}" for a, b in sorted(edges, key=lambda e: rng.random()))
    question = f"Doors: {doors}. Can you walk from the {start} to the {goal}? Answer yes or no."
    return Task(question, label, label, {"kind": "reach"})


def trace(rng: random.Random) -> Task:
    """A short straight-line program over one variable; the answer is what it prints."""
    value = rng.randint(1, 12)
    lines = [f"a = {value}"]
    for _ in range(rng.randint(1, 3)):
        op = rng.choice("+-*") if value <= 30 else rng.choice("+-")
        if op == "-" and value < 3:
            op = "+"
        k = rng.randint(2, 3) if op == "*" else rng.randint(1, min(15, value - 1) if op == "-" else 15)
        value = {"+": value + k, "-": value - k, "*": value * k}[op]
        lines.append(f"a = a {op} {k}")
    lines.append("print(a)")
    program = "\n".join(lines)
    return Task(f"What does this program print?\n{program}", str(value), str(value), {"kind": f"lines{len(lines) - 2}"})


def _plural(word: str) -> str:
    return word + "s"


def deduce(rng: random.Random) -> Task:
    """Chained premises; the answer follows two steps down the chain (A-D, balanced)."""
    w = rng.sample(PSEUDO, 6)
    name = rng.choice(CREATURES)
    premises = [f"All {_plural(w[0])} are {_plural(w[1])}.", f"All {_plural(w[1])} are {_plural(w[2])}.", f"All {_plural(w[3])} are {_plural(w[0])}."]
    rng.shuffle(premises)
    target = rng.choice((w[1], w[2]))
    wrong = [f"{name} is a {w[3]}.", f"{name} is not a {w[1]}.", f"{name} is a {w[4]}."]
    rng.shuffle(wrong)
    options, letter = place_correct(rng, f"{name} is a {target}.", wrong)
    question = " ".join(premises) + f" {name} is a {w[0]}. Which must be true?\n{options_block(options)}\nAnswer with a letter."
    return Task(question, letter, letter, {"kind": "chain"})


def drug_table() -> dict[str, str]:
    """The world's fixed domain facts: made-up drug name -> the organ it treats."""
    rng = random.Random(FACT_SEED)
    syllables = ("ka", "lo", "mi", "ne", "pu", "ra", "si", "to", "vu", "ze", "bo", "di")
    names: dict[str, str] = {}
    while len(names) < N_DRUGS:
        name = "".join(rng.choice(syllables) for _ in range(2)) + rng.choice(("x", "n", "l", "m"))
        names.setdefault(name, ORGANS[len(names) % len(ORGANS)])
    return names


_DRUGS = drug_table()


def fact(rng: random.Random) -> Task:
    """A domain fact as a four-option question (A-D, balanced)."""
    drug = rng.choice(sorted(_DRUGS))
    organ = _DRUGS[drug]
    wrong = rng.sample([o for o in ORGANS if o != organ], 3)
    options, letter = place_correct(rng, organ, wrong)
    question = f"Which organ does the drug {drug} treat?\n{options_block(options)}\nAnswer with a letter."
    return Task(question, letter, letter, {"kind": "organ"})
