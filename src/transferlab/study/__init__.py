"""A study: model pairs, benchmarks and their groups, generation settings, run against a store.

- :mod:`~transferlab.study.spec`: the YAML spec, parsed and validated (:class:`StudySpec`);
- :mod:`~transferlab.study.run`: every model on every benchmark under the spec's settings;
- :mod:`~transferlab.study.paper`: the paper's public model pairs, as a start for a spec.
"""

from transferlab.study.run import run_study, study_for_store
from transferlab.study.spec import StudyModel, StudySpec, TISettings, load_spec, parse_spec

__all__ = ["StudyModel", "StudySpec", "TISettings", "load_spec", "parse_spec", "run_study", "study_for_store"]
