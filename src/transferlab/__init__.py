"""transferlab: does getting better at math make a language model better at everything else?

The public API, in the order of the pipeline (each name's module documents it):

- settings and the store: :class:`GenerationConfig` (:mod:`transferlab.spec`), :class:`Store`
  (:mod:`transferlab.store`), the choices of :mod:`transferlab.options`;
- models and benchmarks: :func:`load_backend` with :class:`BackendOptions`
  (:mod:`transferlab.backends`), :func:`get_benchmark` (:mod:`transferlab.benchmarks`);
- evaluation: :func:`evaluate`, :func:`run_eval`, :func:`score_store`, :func:`results`
  (:mod:`transferlab.pipeline`);
- studies: :func:`load_spec`, :func:`run_study` (:mod:`transferlab.study`);
- transfer: :func:`transfer_index`, :func:`ti_bootstrap`, :func:`paired_bootstrap_delta`,
  :func:`analyse_store` (:mod:`transferlab.transfer`);
- errors a user can act on: :class:`TransferlabError` and its kinds (:mod:`transferlab.errors`).

Drift (:mod:`transferlab.drift`), fine-tuning (:mod:`transferlab.train`), the report
(:mod:`transferlab.report`), the mini-world (:mod:`transferlab.world`) and the demo
(:mod:`transferlab.demo`) load heavier libraries and are imported from their packages.
"""

from transferlab.backends import BackendOptions, load_backend
from transferlab.benchmarks import get_benchmark
from transferlab.errors import ConfigError, DataError, ModelError, StoreError, TransferlabError
from transferlab.pipeline import evaluate, results, run_eval, score_store
from transferlab.spec import GenerationConfig
from transferlab.store import Store
from transferlab.study import load_spec, run_study
from transferlab.transfer import analyse_store, paired_bootstrap_delta, ti_bootstrap, transfer_index

__version__ = "0.1.0"

__all__ = [
    "BackendOptions",
    "ConfigError",
    "DataError",
    "GenerationConfig",
    "ModelError",
    "Store",
    "StoreError",
    "TransferlabError",
    "__version__",
    "analyse_store",
    "evaluate",
    "get_benchmark",
    "load_backend",
    "load_spec",
    "paired_bootstrap_delta",
    "results",
    "run_eval",
    "run_study",
    "score_store",
    "ti_bootstrap",
    "transfer_index",
]
