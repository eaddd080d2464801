"""``transferlab demo``: the whole study in the mini-world (see :mod:`transferlab.demo.run`).

- :mod:`~transferlab.demo.plan`: budgets, output folders, presets, the run's state;
- :mod:`~transferlab.demo.phases`: the seven phases, an explicit list;
- :mod:`~transferlab.demo.data`: math-only SFT data and GRPO prompts from the world;
- :mod:`~transferlab.demo.study`: the study spec built in code, TI with CIs, both drift analyses;
- :mod:`~transferlab.demo.report`: the report with the demo's own section;
- :mod:`~transferlab.demo.progress`: the one progress display.
"""

from transferlab.demo.plan import FULL, QUICK, DemoBudget, DemoPaths, presets
from transferlab.demo.run import run_demo

__all__ = ["FULL", "QUICK", "DemoBudget", "DemoPaths", "presets", "run_demo"]
