"""Beyond two end points: transfer during training, across seeds, and against drift.

- :mod:`~transferlab.dynamics.checkpoints`: the ``checkpoint-STEP`` folders a training kept;
- :mod:`~transferlab.dynamics.trajectory`: every checkpoint evaluated as a study, then per group and
  step the accuracy, the change against the base, the Holm-corrected paired test and TI, with CIs;
- :mod:`~transferlab.dynamics.drift`: exact token KL and PCA shift of every checkpoint, and their
  rank correlation with TI_non and Δ_non;
- :mod:`~transferlab.dynamics.seeds`: the seed groups of a study, with the between-seed spread
  beside the bootstrap over items.

The pure statistics are in :mod:`transferlab.transfer` (``seeds``, ``correlation``, ``trajectory``);
the figures and report sections in :mod:`transferlab.report.dynamics`. See docs/dynamics.md.
"""

from transferlab.dynamics.checkpoints import Checkpoint, TrainingRun, find_run, find_runs
from transferlab.dynamics.drift import checkpoint_drift, drift_points, drift_transfer
from transferlab.dynamics.seeds import analyse_seeds, seeds_from_store
from transferlab.dynamics.trajectory import analyse_trajectory, evaluate_trajectory, trajectory_spec

__all__ = [
    "Checkpoint",
    "TrainingRun",
    "analyse_seeds",
    "analyse_trajectory",
    "checkpoint_drift",
    "drift_points",
    "drift_transfer",
    "evaluate_trajectory",
    "find_run",
    "find_runs",
    "seeds_from_store",
    "trajectory_spec",
]
