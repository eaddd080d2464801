"""wordcount: how many words a sentence has. A complete transferlab benchmark plugin.

transferlab finds it through the entry point in pyproject.toml
(``[project.entry-points."transferlab.benchmarks"] wordcount = "transferlab_wordcount:WordCount"``):
the object named there is a benchmark, a list of them, or a function returning either. This one is
a class, called with no arguments.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from transferlab.items import Item, ScoringContext, Verdict


@dataclass(frozen=True)
class WordCount:
    """The benchmark protocol: name, group, hf_id, prompt_styles, scorer, mode; load, messages, stop, score."""

    name: str = "wordcount"
    group: str = "non"  # math, other, non, or a group of your own (shown by `results`, left out of TI)
    hf_id: str = ""  # no hub copy: the data ships with the package
    prompt_styles: tuple[str, ...] = ("default",)
    scorer: str = "wordcount"  # the name its verdicts are stored under
    mode: str = "generate"  # or "loglikelihood" (then also loglikelihood_requests)

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The items; the reference is what `score` needs (the store keeps it, so rescoring needs no data)."""
        text = resources.files(__package__).joinpath("sentences.jsonl").read_text(encoding="utf-8")
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        items = [Item(r["id"], {"sentence": r["sentence"]}, len(r["sentence"].split())) for r in rows]
        return items if limit is None else items[:limit]

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """The chat messages of one item."""
        return [{"role": "user", "content": f"How many words are in this sentence? {item.fields['sentence']}\nAnswer with a number."}]

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """No stop strings."""
        return ()

    def score(self, items: list[Item], answers: list[str], context: ScoringContext) -> list[Verdict]:
        """1 when the last number of the answer is the word count (thinking is already removed)."""
        verdicts = []
        for item, answer in zip(items, answers):
            numbers = re.findall(r"-?\d+", answer)
            if not numbers:
                verdicts.append(Verdict(0.0, None, "no_answer"))
            else:
                verdicts.append(Verdict(float(int(numbers[-1]) == item.reference), numbers[-1]))
        return verdicts
