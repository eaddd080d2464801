"""The mini-world's task families: generators with exact verifiers, and their train/test splits.

A family generates :class:`Task` s from a ``random.Random``; each task becomes a benchmark
:class:`~transferlab.benchmarks.base.Item` whose ``reference`` and ``meta`` hold everything its
verifier needs (the scoring pipeline rebuilds items from those two alone).

Splits: an item belongs to the TEST split when a hash of its question text falls in the first
``TEST_SHARE`` of the hash space, else to TRAIN. The two splits are disjoint by construction,
whatever the seeds and sizes asked for.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.items import Item

TEST_SHARE = 0.1  # share of the question space that is held out for testing
TEST_SEED = 8_000  # the seed of the held-out test items
DEFAULT_TEST_SIZE = 250  # items per family in the default test split


@dataclass(frozen=True)
class Task:
    """One generated question.

    Attributes:
        question: the prompt text (also the split key).
        reference: the gold answer (``str``; a list of ``str`` for multi-part math).
        response: the pretraining target (a direct answer, no worked steps).
        meta: what the verifier and the teacher need (``kind``, ``steps``, constraints...).
    """

    question: str
    reference: Any
    response: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Family:
    """A procedurally generated task family mirroring one of the paper's benchmarks.

    Attributes:
        name: the benchmark name (``world_*``).
        group: the paper's group: ``math``, ``other`` or ``non``.
        mirrors: the benchmark it stands in for.
        generate: draws one :class:`Task` from an RNG.
        check: the exact verifier ``(reference, meta, answer) -> (score in [0, 1], extracted)``
            (for math, a fast exact check; the benchmark scores math through the project's scorer).
        label_of: the label whose balance is measured (yes/no, letter), or None.
    """

    name: str
    group: Group
    mirrors: str
    generate: Callable[[random.Random], Task]
    check: Callable[[Any, dict[str, Any], str], tuple[float, str | None]]
    label_of: Callable[[Task], str] | None = None


def is_test_question(question: str) -> bool:
    """Whether a question text belongs to the held-out TEST split (a fixed hash partition)."""
    digest = hashlib.sha256(question.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") < TEST_SHARE * 2**64


def to_item(family: Family, task: Task) -> Item:
    """The benchmark item of a task: id = a hash of the question."""
    item_id = hashlib.sha256(task.question.encode("utf-8")).hexdigest()[:12]
    meta = {"family": family.name, **task.meta, "response": task.response}
    return Item(item_id, {"question": task.question}, task.reference, meta)


def _draw(family: Family, n: int, rng: random.Random, *, test: bool, unique: bool) -> list[Task]:
    """``n`` tasks of one split; ``unique`` drops repeated questions (test items)."""
    out: list[Task] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 200 * n + 10_000:
            raise DataError(f"{family.name}: could not draw {n} distinct items", "ask for fewer items")
        task = family.generate(rng)
        if is_test_question(task.question) != test or (unique and task.question in seen):
            continue
        seen.add(task.question)
        out.append(task)
    return out


def family_tasks(family: Family, n: int, seed: int, *, test: bool) -> list[Task]:
    """Tasks of one split, deterministic for (family, n, seed); test tasks are distinct."""
    rng = random.Random(f"{family.name}/{'test' if test else 'train'}/{seed}")
    return _draw(family, n, rng, test=test, unique=test)


# --- shared verifier helpers -----------------------------------------------------------------

_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` in ``text`` (None when there is none)."""
    found = _BOXED.findall(text)
    return found[-1].strip() if found else None


def clean_answer(text: str) -> str:
    """A short answer normalised: boxed content if any, lower case, outer punctuation removed."""
    boxed = last_boxed(text)
    text = boxed if boxed is not None else text
    return text.strip().strip(".!").strip().lower()


def check_math(reference: Any, meta: dict[str, Any], answer: str) -> tuple[float, str | None]:
    """Fast exact check of a math answer: the last boxed content, as a multiset of integers."""
    got = last_boxed(answer)
    if got is None:
        return 0.0, None
    gold = sorted(reference) if isinstance(reference, list) else [reference]
    parts = sorted(p.strip().removeprefix("x=").strip() for p in got.split(","))
    same = parts == gold or (len(parts) != len(gold) and set(parts) == set(gold))
    return (1.0 if same else 0.0), got


def check_exact(reference: Any, meta: dict[str, Any], answer: str) -> tuple[float, str | None]:
    """Exact match of the normalised answer with the reference."""
    got = clean_answer(answer)
    return (1.0 if got == str(reference).lower() else 0.0), got or None


_LETTER = re.compile(r"^\(?([a-d])\)?(?:\W|$)")


def check_letter(reference: Any, meta: dict[str, Any], answer: str) -> tuple[float, str | None]:
    """A multiple-choice letter A-D at the start of the normalised answer."""
    match = _LETTER.match(clean_answer(answer))
    if not match:
        return 0.0, None
    letter = match.group(1).upper()
    return (1.0 if letter == reference else 0.0), letter


def check_yes_no(reference: Any, meta: dict[str, Any], answer: str) -> tuple[float, str | None]:
    """A yes/no judgement: the first word of the normalised answer."""
    words = re.findall(r"[a-z]+", clean_answer(answer))
    if not words or words[0] not in ("yes", "no"):
        return 0.0, None
    return (1.0 if words[0] == reference else 0.0), words[0]


def options_block(options: list[str]) -> str:
    """Options rendered as ``A) ...`` lines."""
    return "\n".join(f"{'ABCD'[i]}) {o}" for i, o in enumerate(options))


def place_correct(rng: random.Random, correct: str, wrong: list[str]) -> tuple[list[str], str]:
    """Four options with the correct one at a uniformly drawn position; returns (options, letter)."""
    position = rng.randrange(4)
    options = list(wrong[:3])
    options.insert(position, correct)
    return options, "ABCD"[position]
