"""The other-reasoning group: GPQA-Diamond, LiveCodeBench, ACPBench, HeadQA (registered here).

Each entry is the study's setting (GPQA options shuffled per item, LiveCodeBench release_v2,
ACPBench's 7 MCQ tasks on the dev files, HeadQA by log-likelihood); variants are the same classes
with other arguments (``GPQADiamond(extraction="paper")``, ``LiveCodeBench(release="release_v5",
start_date="2024-08-01")``, ``ACPBench(kind="bool", split="test")``).
"""

from __future__ import annotations

from transferlab.benchmarks.acpbench import ACPBench
from transferlab.benchmarks.base import Benchmark
from transferlab.benchmarks.gpqa import GPQADiamond
from transferlab.benchmarks.headqa import HeadQA, HeadQAGen
from transferlab.benchmarks.livecodebench import LiveCodeBench

OTHER_BENCHMARKS: dict[str, Benchmark] = {
    b.name: b for b in (GPQADiamond(), LiveCodeBench(), ACPBench(), HeadQA(), HeadQAGen())
}
