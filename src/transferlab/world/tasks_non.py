"""The non-reasoning group of the mini-world: formatting, reading, support, temporal plausibility.

- ``world_format`` (IFEval): verifiable formatting instructions (repeat a word n times with a
  separator and a letter case; spell a word with dashes), checked constraint by constraint.
- ``world_read`` (CoQA): a three-sentence passage, maybe an earlier turn, a one-word answer.
- ``world_support`` (HaluEval): is a proposed answer supported by the passage? (yes/no, balanced)
- ``world_time`` (MC-TACO): is a duration plausible for an everyday event? (yes/no, balanced)
"""

from __future__ import annotations

import random
from typing import Any

from transferlab.world.families import Task
from transferlab.world.tasks_math import NAMES

WORDS = (
    "cat",
    "dog",
    "sun",
    "tree",
    "book",
    "fish",
    "lamp",
    "rain",
    "star",
    "milk",
    "door",
    "bird",
    "cake",
    "ship",
    "moon",
    "frog",
    "king",
    "road",
    "song",
    "wind",
    "gold",
    "salt",
    "leaf",
    "boat",
    "hill",
    "coat",
    "bell",
    "nest",
)
SEPARATORS = {"commas": ", ", "spaces": " ", "dashes": "-"}
COLORS = ("red", "blue", "green", "black", "white", "pink", "brown", "gray")
THINGS = ("cup", "hat", "bag", "box", "ball", "kite", "lamp", "sock")
UNITS = ("seconds", "minutes", "hours", "days", "months", "years")
EVENTS = {
    "blinks": 0,
    "sneezes": 0,
    "claps once": 0,
    "opens a door": 0,
    "brushes their teeth": 1,
    "takes a shower": 1,
    "boils an egg": 1,
    "eats breakfast": 1,
    "watches a film": 2,
    "sleeps at night": 2,
    "drives to another city": 2,
    "plays a football match": 2,
    "goes on a camping trip": 3,
    "recovers from a cold": 3,
    "paints the house": 3,
    "visits their aunt": 3,
    "builds a house": 4,
    "trains for a marathon": 4,
    "grows a garden": 4,
    "writes a novel": 4,
    "studies at university": 5,
    "learns a new language": 5,
    "grows an oak tree": 5,
    "saves for a car": 5,
}


def format_task(rng: random.Random) -> Task:
    """A formatting instruction whose output is fully determined and checked constraint by constraint."""
    word = rng.choice(WORDS)
    if rng.random() < 0.2:
        response = "-".join(word)
        return Task(f"Spell the word {word} with dashes between the letters.", response, response, {"kind": "spell", "word": word})
    sep_name, upper = rng.choice(sorted(SEPARATORS)), rng.random() < 0.5
    case = "capital" if upper else "small"
    if rng.random() < 0.5:
        words = [word] * rng.randint(2, 5)
        task = f"Write the word {word} {len(words)} times"
    else:
        words = rng.sample(WORDS, rng.randint(2, 3))
        task = "Write the words " + " and ".join(words)
    response = SEPARATORS[sep_name].join(w.upper() if upper else w for w in words)
    question = f"{task}, separated by {sep_name}, in {case} letters."
    meta = {"kind": "repeat" if len(set(words)) == 1 else "list", "words": words, "sep": SEPARATORS[sep_name], "upper": upper}
    return Task(question, response, response, meta)


def check_format(reference: Any, meta: dict[str, Any], answer: str) -> tuple[float, str | None]:
    """IFEval-style strict check: every constraint of the instruction holds."""
    results = format_constraints(meta, answer.strip())
    return (1.0 if all(results.values()) else 0.0), answer.strip() or None


def format_constraints(meta: dict[str, Any], answer: str) -> dict[str, bool]:
    """Each instruction's verdict on ``answer`` (IFEval's instruction-level results)."""
    if meta["kind"] == "spell":
        return {"spelled": answer.lower() == "-".join(meta["word"]), "dashes": "-" in answer}
    sep = meta["sep"]
    pieces = [p.strip() for p in answer.split(sep.strip() or " ")]
    words = meta["words"]
    return {
        "words": [p.lower() for p in pieces] == words,
        "separator": answer == sep.join(pieces),
        "case": all(p == (p.upper() if meta["upper"] else p.lower()) for p in pieces),
    }


def _passage(rng: random.Random) -> tuple[str, list[tuple[str, str, str]]]:
    """Three people, each with a coloured thing: (text, [(name, color, thing)])."""
    names, colors, things = rng.sample(NAMES, 3), rng.sample(COLORS, 3), rng.sample(THINGS, 3)
    facts = list(zip(names, colors, things))
    return " ".join(f"{n} has a {c} {t}." for n, c, t in facts), facts


def _question(rng: random.Random, fact: tuple[str, str, str]) -> tuple[str, str]:
    name, color, thing = fact
    kind = rng.choice(("color", "who", "what"))
    if kind == "color":
        return f"What color is {name}'s {thing}?", color
    if kind == "who":
        return f"Who has the {color} {thing}?", name
    return f"What thing does {name} have?", thing


def read(rng: random.Random) -> Task:
    """Conversational reading: maybe one earlier turn with its answer, then the scored question."""
    text, facts = _passage(rng)
    turns = []
    if rng.random() < 0.5:
        q, a = _question(rng, rng.choice(facts))
        turns.append(f"Q: {q}\nA: {a}")
    q, a = _question(rng, rng.choice(facts))
    turns.append(f"Q: {q}\nA:")
    question = text + "\n" + "\n".join(turns) + "\nAnswer in one word."
    return Task(question, a.lower(), a, {"kind": "turns" + str(len(turns))})


def _wrong_value(rng: random.Random, right: str) -> str:
    for pool in (COLORS, NAMES, THINGS):
        if right in pool:
            return rng.choice([v for v in pool if v != right])
    raise ValueError(right)


def support(rng: random.Random) -> Task:
    """Is a proposed answer supported by the passage? The label is drawn first (balanced)."""
    text, facts = _passage(rng)
    q, a = _question(rng, rng.choice(facts))
    label = rng.choice(("yes", "no"))
    shown = a if label == "yes" else _wrong_value(rng, a)
    question = f"{text}\nQuestion: {q}\nProposed answer: {shown}\nIs the answer supported by the passage? Answer yes or no."
    return Task(question, label, label, {"kind": "support"})


def time_task(rng: random.Random) -> Task:
    """Is this duration plausible for the event? Implausible units are two or more scales away."""
    event = rng.choice(sorted(EVENTS))
    scale = EVENTS[event]
    label = rng.choice(("yes", "no"))
    if label == "yes":
        unit = UNITS[scale]
    else:
        unit = UNITS[rng.choice([s for s in range(len(UNITS)) if abs(s - scale) >= 2])]
    name = rng.choice(NAMES)
    question = f"{name} {event}. It takes {rng.randint(2, 9)} {unit}. Is this duration plausible? Answer yes or no."
    return Task(question, label, label, {"kind": "duration"})
