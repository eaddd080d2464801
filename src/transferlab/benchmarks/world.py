"""The twelve world families as registered benchmarks (the Benchmark protocol of benchmarks.base).

Each loads its held-out TEST split (generated, deterministic, disjoint from every training item),
renders the question as one user message, and scores with the family's exact verifier; the math
families score through the project's one math scorer (``context.math_pool()``, answers in
``\\boxed{}``), as every math benchmark and the GRPO reward do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from transferlab.errors import DataError
from transferlab.groups import Group
from transferlab.items import Item, ScoringContext, Verdict
from transferlab.scoring.math import MathTask
from transferlab.world.catalog import FAMILIES, test_items
from transferlab.world.families import DEFAULT_TEST_SIZE
from transferlab.world.tasks_non import format_constraints


@dataclass(frozen=True)
class WorldBenchmark:
    """A world family as a benchmark (mode ``generate``, one prompt style ``default``)."""

    name: str
    group: Group
    scorer: str
    hf_id: str = "generated:transferlab.world"
    prompt_styles: tuple[str, ...] = ("default",)
    mode: str = "generate"

    def load(self, data_dir: Path | None = None, limit: int | None = None) -> list[Item]:
        """The TEST items (``limit`` of them, default 250); ``data_dir`` is not used (generated data)."""
        return test_items(self.name, DEFAULT_TEST_SIZE if limit is None else max(1, limit))

    def messages(self, item: Item, style: str = "default") -> list[dict[str, str]]:
        """The question as one user message (what pretraining, SFT and GRPO prompts use too)."""
        if style not in self.prompt_styles:
            raise DataError(f"{self.name} has no prompt style {style!r}", "use the default prompt style")
        return [{"role": "user", "content": item.fields["question"]}]

    def stop(self, style: str = "default") -> tuple[str, ...]:
        """No stop strings: the model ends its turn with ``<|im_end|>``."""
        return ()

    def score(self, items: Sequence[Item], answers: Sequence[str], context: ScoringContext) -> list[Verdict]:
        """Exact verdicts; math through the shared math scorer, the others in process."""
        if self.group == "math":
            return context.math_pool().verdicts([MathTask(response=a, gold=i.reference, style="boxed") for i, a in zip(items, answers)])
        family = FAMILIES[self.name]
        out = []
        for item, answer in zip(items, answers):
            score, extracted = family.check(item.reference, item.meta, answer)
            details = format_constraints(item.meta, answer.strip()) if self.name == "world_format" else None
            out.append(Verdict(score, extracted, "ok" if extracted is not None else "no_answer", details))
        return out


WORLD_BENCHMARKS: dict[str, WorldBenchmark] = {
    name: WorldBenchmark(name, family.group, "math" if family.group == "math" else f"world-{name.removeprefix('world_')}") for name, family in FAMILIES.items()
}
