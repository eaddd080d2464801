"""Does the math gain carry over? The Transferability Index, its intervals, and what the report computes.

- :mod:`~transferlab.transfer.ti`: TI v1 and v2 as pure functions, and the one rule for an undefined TI;
- :mod:`~transferlab.transfer.sigma`: σ_g from a population of pairs, and its default for one pair;
- :mod:`~transferlab.transfer.stats`: paired bootstrap deltas, the sign-flip test, CIs for TI;
- :mod:`~transferlab.transfer.analysis`: every number of the report from the store (with CIs) or
  from outside scores (points);
- :mod:`~transferlab.transfer.scores`: TI from a CSV of scores;
- :mod:`~transferlab.transfer.from_store`: TI with CIs from the per-item scores in a store.
"""

from transferlab.transfer.analysis import StudyAnalysis, analyse_store
from transferlab.transfer.scores import analyse_scores
from transferlab.transfer.sigma import population_sigma, study_sigma
from transferlab.transfer.stats import paired_bootstrap_delta, paired_permutation_test, ti_bootstrap
from transferlab.transfer.ti import TransferIndex, transfer_index

__all__ = [
    "StudyAnalysis",
    "TransferIndex",
    "analyse_scores",
    "analyse_store",
    "paired_bootstrap_delta",
    "paired_permutation_test",
    "population_sigma",
    "study_sigma",
    "ti_bootstrap",
    "transfer_index",
]
