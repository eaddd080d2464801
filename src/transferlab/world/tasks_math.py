"""The math group of the mini-world: four families with exact answers and worked steps.

Numbers stay small (one-digit operands, every intermediate value at most 30, remainders of
numbers up to 50) so that the single operations form a table of about a thousand facts, which a
1M-parameter model learns in pretraining (with sums up to 99 it learnt multiplication by 2 or 3,
a table of 150 facts, and not addition, a table of 3,000); items take one to three steps. A
direct answer (what pretraining teaches) is often right for one-step items and rarely for
multi-step ones, which need the worked steps of the teacher (``meta["steps"]``, one ``a op b = c`` per line).

- ``world_arith`` (GSM8K): a short story of one to three operations on a count of objects.
- ``world_numtheory`` (AIME): remainders, digit sums, counting multiples.
- ``world_equation`` (MATH): linear equations in one or two steps.
- ``world_multipart`` (OlympiadBench): two answers, given together in one ``\\boxed{a, b}``.
"""

from __future__ import annotations

import random

from transferlab.world.families import Task

NAMES = ("Ann", "Ben", "Cal", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Joe", "Kim", "Lea")
OBJECTS = ("pens", "apples", "books", "cards", "eggs", "coins", "cups", "shells", "stamps", "beads")
MAX_VALUE = 30  # the largest value any step of a story reaches


def reference_text(reference: object) -> str:
    """A world reference as the one string written in ``\\boxed{}`` and given to the math scorer.

    A multi-part reference (a list, e.g. ``["9", "14"]``) becomes ``"9, 14"``: the scorer splits a
    reference on top-level commas into the parts that must all be given, so the string and the
    list are graded alike (``str(["9", "14"])``, ``"['9', '14']"``, would match no answer).
    """
    if isinstance(reference, (list, tuple)):
        return ", ".join(str(part) for part in reference)
    return str(reference)


def _boxed(answer: str | list[str]) -> str:
    return "\\boxed{" + reference_text(answer) + "}"


def _task(question: str, answer: str | list[str], steps: list[str], kind: str) -> Task:
    return Task(question, answer, _boxed(answer), {"kind": kind, "steps": steps})


def _n_steps(rng: random.Random) -> int:
    return rng.choices((1, 2, 3), weights=(0.4, 0.35, 0.25))[0]


def _arith_op(rng: random.Random, name: str, obj: str, value: int) -> tuple[str, str, int]:
    """One story step on ``value``: (sentence, worked step, new value)."""
    kind = rng.choice(("add", "sub", "mul")) if value <= MAX_VALUE // 3 else rng.choice(("add", "sub"))
    if kind == "sub" and value < 3:
        kind = "add"
    if kind == "add" and value > MAX_VALUE - 9:
        kind = "sub"
    if kind == "add":
        b = rng.randint(1, 9)
        return f"{name} buys {b} more.", f"{value}+{b}={value + b}", value + b
    if kind == "sub":
        b = rng.randint(1, min(9, value - 1))
        return f"{name} gives away {b}.", f"{value}-{b}={value - b}", value - b
    k = rng.randint(2, 3)
    return f"{name} makes them {k} times as many.", f"{value}*{k}={value * k}", value * k


def arith(rng: random.Random) -> Task:
    """A GSM8K-like story: a start count and one to three operations on it."""
    name, obj = rng.choice(NAMES), rng.choice(OBJECTS)
    value = rng.randint(2, 9)
    sentences, steps = [f"{name} has {value} {obj}."], []
    for _ in range(_n_steps(rng)):
        sentence, step, value = _arith_op(rng, name, obj, value)
        sentences.append(sentence)
        steps.append(step)
    question = " ".join(sentences) + f" How many {obj} does {name} have now?"
    return _task(question, str(value), steps, f"arith{len(steps)}")


def numtheory(rng: random.Random) -> Task:
    """An AIME-like number problem: a remainder, a digit sum or a count of multiples."""
    kind = rng.choice(("remainder", "digitsum", "multiples"))
    if kind == "digitsum":
        n = rng.randint(10, 999)
        digits = [int(c) for c in str(n)]
        steps = [f"{digits[0]}+{digits[1]}={digits[0] + digits[1]}"] + ([f"{digits[0] + digits[1]}+{digits[2]}={sum(digits)}"] if n > 99 else [])
        form = rng.choice(("What is the sum of the digits of {n}?", "Find the digit sum of {n}.", "Add up the digits of {n}."))
        return _task(form.format(n=n), str(sum(digits)), steps, kind)
    n, d = rng.randint(10, 50), rng.randint(2, 6)
    q, r = divmod(n, d)
    steps = [f"{n}={d}*{q}+{r}"]
    if kind == "remainder":
        form = rng.choice(("What is the remainder when {n} is divided by {d}?", "Find the remainder of {n} divided by {d}.", "What is {n} mod {d}?"))
        return _task(form.format(n=n, d=d), str(r), steps, kind)
    form = rng.choice(
        (
            "How many multiples of {d} are there from 1 to {n}?",
            "Count the multiples of {d} from 1 to {n}.",
            "How many numbers from 1 to {n} are divisible by {d}?",
        )
    )
    return _task(form.format(n=n, d=d), str(q), steps, kind)


def equation(rng: random.Random) -> Task:
    """A MATH-like linear equation in x, solved in one or two steps."""
    x, a, b = rng.randint(1, 9), rng.randint(2, 4), rng.randint(1, 9)
    form = rng.choice(("x+b", "x-b", "ax", "ax+b", "ax-b", "a(x+b)"))
    if form in ("x-b", "ax-b"):  # keep the right-hand side positive
        b = rng.randint(1, max(1, (x if form == "x-b" else a * x) - 1))
    if form == "x+b":
        eq, steps = f"x + {b} = {x + b}", [f"{x + b}-{b}={x}"]
    elif form == "x-b":
        eq, steps = f"x - {b} = {x - b}", [f"{x - b}+{b}={x}"]
    elif form == "ax":
        eq, steps = f"{a}x = {a * x}", [f"{a * x}/{a}={x}"]
    elif form == "ax+b":
        eq, steps = f"{a}x + {b} = {a * x + b}", [f"{a * x + b}-{b}={a * x}", f"{a * x}/{a}={x}"]
    elif form == "ax-b":
        eq, steps = f"{a}x - {b} = {a * x - b}", [f"{a * x - b}+{b}={a * x}", f"{a * x}/{a}={x}"]
    else:
        eq, steps = f"{a}(x + {b}) = {a * (x + b)}", [f"{a * (x + b)}/{a}={x + b}", f"{x + b}-{b}={x}"]
    return _task(rng.choice(("Solve for x: {eq}.", "Find x if {eq}.", "What is x if {eq}?", "Given {eq}, find x.")).format(eq=eq), str(x), steps, form)


def _part(rng: random.Random) -> tuple[str, str, int]:
    """One small calculation: (text, worked step, value)."""
    op = rng.choice("+-*")
    if op == "*":
        p, q = rng.randint(2, 9), rng.randint(2, 9)
        return f"{p}*{q}", f"{p}*{q}={p * q}", p * q
    p, q = rng.randint(2, 21), rng.randint(1, 9)
    if op == "-":
        p, q = max(p, q), min(p, q)
        return f"{p}-{q}", f"{p}-{q}={p - q}", p - q
    return f"{p}+{q}", f"{p}+{q}={p + q}", p + q


def multipart(rng: random.Random) -> Task:
    """An olympiad-style problem with two answers (given in any order, as OlympiadBench's sets)."""
    kind = rng.choice(("parts", "system", "sumprod"))
    if kind == "parts":
        (t1, s1, v1), (t2, s2, v2) = _part(rng), _part(rng)
        return _task(f"Find (a) {t1} and (b) {t2}.", [str(v1), str(v2)], [s1, s2], kind)
    if kind == "system":
        b = rng.randint(1, 9)
        a = b + rng.randint(1, 9)
        s, d = a + b, a - b
        steps = [f"{s}+{d}={2 * a}", f"{2 * a}/2={a}", f"{s}-{a}={b}"]
        return _task(f"Find a and b if a+b={s} and a-b={d}.", [str(a), str(b)], steps, kind)
    p, q = rng.randint(2, 9), rng.randint(2, 9)
    steps = [f"{p}+{q}={p + q}", f"{p}*{q}={p * q}"]
    answer = [str(p + q), str(p * q)]
    return _task(f"Find the sum and the product of {p} and {q}.", answer, steps, kind)
