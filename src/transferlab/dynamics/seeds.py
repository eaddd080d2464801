"""The seed groups of a study (trainings repeated over seeds, :mod:`transferlab.study.seeds`) read
from the store and put together: deltas and TI with the between-seed spread beside the bootstrap
over items (:func:`~transferlab.transfer.seeds.seed_group_transfer`).

σ (TI v2) is the study's, as :func:`~transferlab.transfer.analysis.analyse_store` sets it (explicit
in the spec, else from its population of pairs), held fixed in every replicate.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from transferlab.dynamics.trajectory import study_items
from transferlab.errors import ConfigError
from transferlab.store import Store
from transferlab.study.run import study_for_store
from transferlab.study.spec import StudySpec
from transferlab.transfer.analysis import analyse_store
from transferlab.transfer.seeds import seed_group_transfer


def analyse_seeds(store: Store, spec: StudySpec, keys: dict[str, str], *, n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    """``{"groups": {seed group: SeedGroupTransfer as a dict, with "base" and "training"}, ...}``
    for every seed group whose base and members the store holds; ``notes`` say which are left out."""
    if not spec.seed_groups:
        raise ConfigError(f"study {spec.name!r} has no seed group", "repeat a training over seeds in the spec: seeds: {0: PATH, 1: PATH}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sigma = analyse_store(store, spec, keys, n_resamples=n_resamples, seed=seed, confidence=confidence, only_pairs=()).sigma
        items = study_items(store, spec, keys)
        groups: dict[str, Any] = {}
        notes = []
        resolved = spec.resolved_groups()
        for name, members in spec.seed_groups.items():
            base = str(members[0].base)
            present = [m for m in members if any((m.name, b) in items for b in spec.benchmarks)]
            if len(present) < len(members) or not any((base, b) in items for b in spec.benchmarks):
                notes.append(f"{name}: {len(present)} of {len(members)} seeds and {'the' if base in keys else 'no'} base in the store; left out")
                continue
            base_items = {b: items[(base, b)] for b in spec.benchmarks if (base, b) in items}
            tuned = {m.name: {b: items[(m.name, b)] for b in base_items if (m.name, b) in items} for m in members}
            result = seed_group_transfer(
                base_items,
                tuned,
                resolved,
                version=spec.ti.version,
                sigma=sigma if spec.ti.version == "v2" else None,
                min_math_gain=spec.ti.min_math_gain,
                confidence=confidence,
                n_resamples=n_resamples,
                seed=seed,
            )
            groups[name] = {"base": base, "training": members[0].training, "seed_numbers": [m.seed for m in members], **result.to_dict()}
    return {"study": spec.name, "sigma": sigma, "groups": groups, "notes": notes, "confidence": confidence, "n_resamples": n_resamples}


def seeds_from_store(store_path: Path, *, spec_path: str | None = None, study: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """:func:`analyse_seeds` of the study recorded in the store (or given by its spec)."""
    with Store(store_path, readonly=True) as store:
        spec, keys = study_for_store(store, spec_path, study)
        return analyse_seeds(store, spec, keys, **kwargs)
