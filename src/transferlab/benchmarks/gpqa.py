"""GPQA-Diamond: 198 graduate-level science questions with four options.

Data: the hub's ``Idavidrein/gpqa`` (gated; config ``gpqa_diamond``, split ``train``), or the
authors' password-protected ``dataset.zip`` in ``<data_dir>/gpqa/``, decrypted in memory only: the
questions are never written out in plain text (the GPQA authors ask for this; the data carries a
canary string).

Options: the correct answer and the three incorrect ones are shuffled with a seed fixed per item
(``random.Random("gpqa:<seed>:<Record ID>")``), so every item has its own order and the correct
letters are spread over A-D. ``shuffle="paper"`` reproduces the study's evalchemy code, which seeds
``random.Random(42)`` anew for every item: the same permutation for all 198 items, so the correct
answer always sits under the same letter. Items shuffled any other way than the default carry the
shuffle in their id (``<Record ID>#paper``), so two orders never share one stored reference.

Prompt styles:

- ``default``: the question, the options one per line ("A) ..."), and "Please reason step by
  step, and put the letter of your final answer (A, B, C or D) within \\boxed{}."
- ``paper``: the study's prompt, "Return your final response within \\boxed{} and only include
  the letter choice (A, B, C, or D) as your final response.\\nProblem: ...\\nOptions: A) ..., B)
  ...\\nAnswer:".

Scoring (scorer ``"choice"``): the letter of the final answer after the thinking (``\\boxed{}``
first, then "answer is X" forms; a placeholder ``\\boxed{X}`` quoted from the prompt and a
"Reference Answer: X" are not the model's answer; in a completion cut off by its token budget only
a boxed letter counts). ``extraction="paper"`` (scorer ``"choice_paper"``) is the study's lenient
regex (evalchemy's ``get_multiple_choice_answer``), the last stand-alone A-D anywhere in the
upper-cased output, read on the whole completion, thinking included, as the study did.
"""

from __future__ import annotations

import csv
import io
import random
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from transferlab.benchmarks.base import load_hub, take
from transferlab.benchmarks.choices import EXTRACTIONS, choice_verdicts, locate_letter, paper_last_letter
from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.items import Item, ScoringContext, Verdict

ZIP_PASSWORD = b"deserted-untie-orchid"  # published in the GPQA README
ZIP_MEMBER = "dataset/gpqa_diamond.csv"
LETTERS = "ABCD"
DEFAULT_INSTRUCTION = "Please reason step by step, and put the letter of your final answer (A, B, C or D) within \\boxed{}."
PAPER_TEMPLATE = (
    "Return your final response within \\boxed{{}} and only include the letter choice (A, B, C, or D) "
    "as your final response.\nProblem: {problem}\nOptions: {options}\nAnswer:"
)
SHUFFLES = ("per_item", "paper")

Row = dict[str, Any]


class SealedText(dict[str, Any]):
    """An item's fields whose ``repr`` hides the text, so a log or a failing test never shows it."""

    def __repr__(self) -> str:
        return f"<GPQA fields {sorted(self)} hidden>"


def read_encrypted_csv(path: Path, member: str = ZIP_MEMBER, password: bytes = ZIP_PASSWORD) -> list[Row]:
    """The rows of one CSV inside the password-protected GPQA zip, decrypted in memory.

    Decryption (ZipCrypto, in pure Python) takes about a second, so the rows of an unchanged file
    are kept in memory for the next call.
    """
    if not path.is_file():
        raise DataError(f"data file {path} not found", "check --data-dir (it must hold gpqa/dataset.zip) or drop it to load from the hub")
    stat = path.stat()
    return [dict(row) for row in _decrypt(str(path.resolve()), stat.st_mtime_ns, stat.st_size, member, password)]


@lru_cache(maxsize=4)
def _decrypt(path: str, mtime_ns: int, size: int, member: str, password: bytes) -> tuple[Row, ...]:
    try:
        with zipfile.ZipFile(path) as archive:
            raw = archive.read(member, pwd=password)
    except KeyError as err:
        raise DataError(f"{path} has no member {member}", "use the GPQA authors' dataset.zip") from err
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError) as err:
        raise DataError(f"cannot decrypt {member} in {path} ({err})", "use the GPQA authors' dataset.zip and its published password") from err
    return tuple(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def shuffled_options(row: Row, *, shuffle: str = "per_item", seed: int = 0) -> tuple[list[str], str]:
    """The four options in their shuffled order and the correct letter.

    ``per_item``: ``random.Random(f"gpqa:{seed}:{record_id}")``, a fixed order per item that
    does not depend on the other items or on the order they are loaded in. ``paper``: the study's
    ``random.Random(42)`` per item (one permutation for all items).
    """
    correct = row["Correct Answer"].strip()
    options = [correct] + [row[f"Incorrect Answer {k}"].strip() for k in (1, 2, 3)]
    if shuffle == "per_item":
        rng = random.Random(f"gpqa:{seed}:{row['Record ID']}")
    elif shuffle == "paper":
        rng = random.Random(42)
    else:
        raise DataError(f"unknown GPQA shuffle {shuffle!r}", f"use one of {', '.join(SHUFFLES)}")
    order = list(range(4))
    rng.shuffle(order)
    shuffled = [options[i] for i in order]
    return shuffled, LETTERS[order.index(0)]


@dataclass(frozen=True)
class GPQADiamond:
    """GPQA-Diamond (see the module docstring for data, shuffling, prompts and scoring)."""

    shuffle: str = "per_item"
    seed: int = 0
    extraction: str = "final"  # "final" | "paper"
    name: str = "gpqa_diamond"
    group: Group = "other"
    hf_id: str = "Idavidrein/gpqa"
    hf_config: str = "gpqa_diamond"
    hf_split: str = "train"
    local_path: str = "gpqa/dataset.zip"
    prompt_styles: tuple[str, ...] = ("default", "paper")
    mode: str = "generate"
    scorer: str = field(default="choice", init=False)  # "choice_paper" with extraction="paper"

    def __post_init__(self) -> None:
        if self.shuffle not in SHUFFLES or self.extraction not in EXTRACTIONS:
            raise DataError(
                f"GPQA has no shuffle {self.shuffle!r} or extraction {self.extraction!r}", f"use shuffle in {SHUFFLES} and extraction in {EXTRACTIONS}"
            )
        object.__setattr__(self, "scorer", "choice" if self.extraction == "final" else "choice_paper")

    @property
    def raw_completion(self) -> bool:
        """The study's scorer reads the whole completion, thinking included."""
        return self.extraction == "paper"

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The 198 items, options shuffled, from the encrypted zip or the hub."""
        if data_dir is not None:
            rows = read_encrypted_csv(Path(data_dir) / self.local_path)
        else:
            rows = load_hub(self.hf_id, config=self.hf_config, split=self.hf_split)
        if not rows:
            raise DataError("no GPQA-Diamond rows found", "check the data file or the dataset id")
        return take([self._item(row, i) for i, row in enumerate(rows)], limit)

    def _item(self, row: Row, index: int) -> Item:
        try:
            options, gold = shuffled_options(row, shuffle=self.shuffle, seed=self.seed)
            record = str(row["Record ID"])
        except KeyError as err:
            raise DataError(f"GPQA row {index + 1} lacks the field {err}", "check that the file is GPQA's published CSV") from err
        default_order = self.shuffle == "per_item" and self.seed == 0
        item_id = record if default_order else f"{record}#{self.shuffle}{self.seed if self.shuffle == 'per_item' else ''}"
        meta = {"domain": row.get("High-level domain"), "subdomain": row.get("Subdomain"), "shuffle": self.shuffle, "seed": self.seed}
        return Item(item_id, SealedText(question=row["Question"].strip(), options=options), gold, meta)

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """One user message in the requested style."""
        question, options = item.fields["question"], item.fields["options"]
        if style == "default":
            listed = "\n".join(f"{letter}) {text}" for letter, text in zip(LETTERS, options))
            content = f"{question}\n\n{listed}\n\n{DEFAULT_INSTRUCTION}"
        elif style == "paper":
            joined = ", ".join(f"{letter}) {text}" for letter, text in zip(LETTERS, options))
            content = PAPER_TEMPLATE.format(problem=question, options=joined)
        else:
            raise DataError(f"{self.name} has no prompt style {style!r}", f"use one of {', '.join(self.prompt_styles)}")
        return [{"role": "user", "content": content}]

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """No stop strings: the answer follows the reasoning."""
        return ()

    def reference_for_options(self, item: Item, options: Sequence[Any]) -> str:
        """The gold letter of ``item`` with its options listed as ``options`` (the order another harness
        used): the letter of the one option whose text is the item's correct answer (compared without
        case, spacing, a leading "A)" label or lm-eval's bracketed tags)."""
        if len(options) != len(LETTERS):
            raise DataError(f"GPQA item {item.id} was given {len(options)} options", f"list its {len(LETTERS)} options in the order they were shown")
        correct = _option_key(item.fields["options"][LETTERS.index(str(item.reference))])
        found = [k for k, option in enumerate(options) if _option_key(str(option)) == correct]
        if len(found) != 1:
            raise DataError(
                f"GPQA item {item.id}: {'none' if not found else 'several'} of the options given is its correct answer",
                "give the options' texts as the harness showed them, or the gold letter in --gold-field",
            )
        return LETTERS[found[0]]

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """1 when the extracted letter is the correct one."""
        extract = locate_letter if self.extraction == "final" else paper_last_letter
        return choice_verdicts(answers, [str(i.reference) for i in items], lambda a: extract(a, LETTERS))


def _option_key(text: str) -> str:
    """An option's text compared loosely: a leading "A)" / "(A)" / "A." label, lm-eval's bracketed
    tags (``[title]``), case and spacing do not count."""
    text = re.sub(r"^\s*\(?[A-D][).:]\s+", "", text)
    text = re.sub(r"\[.*?\]", " ", text)
    return " ".join(text.lower().split())
