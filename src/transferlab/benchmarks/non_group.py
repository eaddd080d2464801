"""The non-reasoning group: CoQA, IFEval, HaluEval, MC-TACO (registered here).

``mctaco`` is scored by option log-likelihoods, as in the study; ``mctaco_gen`` asks the same rows
by generation, for chat and reasoning models.
"""

from __future__ import annotations

from transferlab.benchmarks.base import Benchmark
from transferlab.benchmarks.coqa import CoQA
from transferlab.benchmarks.halueval import HaluEval
from transferlab.benchmarks.ifeval import IFEval
from transferlab.benchmarks.mctaco import MCTaco

NON_BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        CoQA(),
        IFEval(),
        HaluEval(),
        MCTaco(),
        MCTaco(name="mctaco_gen", mode="generate"),
    )
}
