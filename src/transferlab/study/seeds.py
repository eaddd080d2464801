"""Trainings repeated over seeds, in a study spec.

Two ways to write them, read into the same models: one entry with ``seeds`` (a mapping from each
seed to its model: a local path, or ``{hf: ..., revision: ...}``)::

    - {name: sft, base: base, training: SFT, seeds: {0: models/sft, 1: models/sft-seed1, 2: models/sft-seed2}}

is read as three tuned models ``sft-seed0``, ``sft-seed1``, ``sft-seed2``, each with
``seed_group: sft`` and its ``seed``: exactly what writing them one by one gives::

    - {name: sft-seed0, path: models/sft, base: base, training: SFT, seed_group: sft, seed: 0}

(the form a study recorded in a store is written back in). Every model of a seed group is an
ordinary tuned model of the study (its own pair, its own TI); the analyses of
:mod:`transferlab.transfer.seeds` put the members of a group together. The members of a group share
their base and training method, and each has its own seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

from transferlab.errors import ConfigError

SEED_KEYS: Final[tuple[str, ...]] = ("seeds", "seed_group", "seed")
"""The model keys of a spec that concern seeds: ``seeds`` (the compact form), ``seed_group`` and ``seed``."""


class SeededModel(Protocol):
    """What :func:`check_seed_groups` reads of a study model."""

    @property
    def name(self) -> str: ...
    @property
    def base(self) -> str | None: ...
    @property
    def training(self) -> str: ...
    @property
    def seed_group(self) -> str | None: ...
    @property
    def seed(self) -> int | None: ...


def _seed_number(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise ConfigError(f"{where}: seed {value!r} is not a whole number of 0 or more", "write seeds: {0: PATH, 1: PATH}")
    return int(value)


def expand_seeds(raw: Sequence[Any], where: str) -> list[Any]:
    """The model entries with every ``seeds`` entry expanded into one entry per seed (others as they are)."""
    out: list[Any] = []
    for entry in raw:
        if not isinstance(entry, Mapping) or "seeds" not in entry:
            out.append(entry)
            continue
        name = str(entry.get("name") or "")
        if not name:
            raise ConfigError(f"{where}: a model with seeds needs a name", "write '- name: NAME' with seeds: {0: PATH, 1: PATH}")
        here = f"{where}: model {name!r}"
        clash = sorted(k for k in ("hf", "path", "revision", "seed", "seed_group") if k in entry)
        if clash:
            raise ConfigError(f"{here} has seeds and {', '.join(clash)}", "give each seed's model under seeds: {SEED: PATH or {hf: ID}}")
        seeds = entry["seeds"]
        if not isinstance(seeds, Mapping) or not seeds:
            raise ConfigError(f"{here}: seeds must map each seed to its model", "write seeds: {0: models/sft, 1: models/sft-seed1}")
        common = {k: v for k, v in entry.items() if k not in ("seeds", "name")}
        for seed, model in seeds.items():
            number = _seed_number(seed, here)
            where_model = model if isinstance(model, Mapping) else {"path": model} if isinstance(model, str) else None
            if where_model is None:
                raise ConfigError(f"{here}: seed {number} has {model!r}, not a path or a mapping with hf:", "write 0: models/sft or 0: {hf: org/name}")
            out.append({**common, **where_model, "name": f"{name}-seed{number}", "seed_group": name, "seed": number})
    return out


def seed_fields(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``{"seed_group": ..., "seed": ...}`` of one (expanded) entry: both or neither."""
    group, seed = entry.get("seed_group"), entry.get("seed")
    if (group is None) != (seed is None):
        raise ConfigError(f"{where}: model {entry.get('name')!r} needs both seed_group and seed, or neither", "write seed_group: NAME and seed: N")
    if group is None:
        return {}
    return {"seed_group": str(group), "seed": _seed_number(seed, f"{where}: model {entry.get('name')!r}")}


def check_seed_groups(models: Sequence[SeededModel], where: str) -> None:
    """Every seed group: tuned models of one base and training method, each with its own seed."""
    groups: dict[str, list[SeededModel]] = {}
    for m in models:
        if m.seed_group is not None:
            groups.setdefault(m.seed_group, []).append(m)
    for name, members in groups.items():
        if any(m.base is None for m in members):
            raise ConfigError(f"{where}: seed group {name!r} has a model without a base", "a seed group repeats a training: give each member its base")
        for attr in ("base", "training"):
            values = sorted({str(getattr(m, attr)) for m in members})
            if len(values) > 1:
                raise ConfigError(f"{where}: seed group {name!r} mixes {attr} {', '.join(values)}", f"the seeds of one training share their {attr}")
        seeds = [m.seed for m in members]
        twice = sorted({s for s in seeds if seeds.count(s) > 1 and s is not None})
        if twice:
            raise ConfigError(f"{where}: seed group {name!r} has seed {twice[0]} twice", "give each member its own seed")
