"""Arithmetic drills: a pretraining-only source of single operations (never a benchmark).

The base meets every operation that the math families' worked steps use, one at a time, as a
question and its one-line result, the way a pretraining corpus holds times tables:
``Compute 24-2.`` -> ``24-2=22``; ``Divide 47 by 5.`` -> ``47=5*9+2``. A drill never holds a
whole math problem: which operations a story or an equation asks for, and in which order, is left
to the math families themselves. Operands span the ranges of the teacher's steps
(:mod:`transferlab.world.tasks_math`): a one-digit number added to or taken from a number up to
45, a number up to 10 times 2 or 3, the one-digit times table, exact quotients up to 18 by 2 to 4,
and the remainders of numbers up to 50 by 2 to 6: about 1,300 facts in all.
"""

from __future__ import annotations

import random


def drill(rng: random.Random) -> tuple[str, str]:
    """One drill: (question, response)."""
    kind = rng.choices(("add", "sub", "mul", "div", "divmod"), weights=(3, 3, 1, 1, 1))[0]
    if kind == "add":
        a, b = rng.randint(0, 45), rng.randint(1, 9)
        return f"Compute {a}+{b}.", f"{a}+{b}={a + b}"
    if kind == "sub":
        a = rng.randint(1, 45)
        b = rng.randint(1, min(a, 9))
        return f"Compute {a}-{b}.", f"{a}-{b}={a - b}"
    if kind == "mul":
        a, k = (rng.randint(1, 10), rng.randint(2, 3)) if rng.random() < 0.5 else (rng.randint(2, 9), rng.randint(2, 9))
        return f"Compute {a}*{k}.", f"{a}*{k}={a * k}"
    if kind == "div":
        d, q = rng.randint(2, 4), rng.randint(1, 18)
        return f"Compute {d * q}/{d}.", f"{d * q}/{d}={q}"
    n, d = rng.randint(10, 50), rng.randint(2, 6)
    q, r = divmod(n, d)
    return f"Divide {n} by {d}.", f"{n}={d}*{q}+{r}"
