"""transferlab: does getting better at math make a language model better at everything else?

Public API (small on purpose; the modules behind it are private to the project):

- :mod:`transferlab.spec` — generation settings (frozen dataclasses).
- :mod:`transferlab.store` — the crash-safe SQLite store of completions and scores.
- :mod:`transferlab.benchmarks` — the benchmark registry (``get_benchmark``).
- :mod:`transferlab.backends` — model backends (``load_backend``).
- :mod:`transferlab.scoring` — thinking split and answer scorers.
- :mod:`transferlab.metrics` — accuracy, avg@k, pass@k, bootstrap confidence intervals.
"""

__version__ = "0.1.0"
