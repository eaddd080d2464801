"""``transferlab demo``: the whole study in the mini-world (see :mod:`transferlab.demo.run`)."""

from transferlab.demo.run import FULL, PHASES, QUICK, DemoBudget, DemoPaths, presets, run_demo

__all__ = ["FULL", "PHASES", "QUICK", "DemoBudget", "DemoPaths", "presets", "run_demo"]
