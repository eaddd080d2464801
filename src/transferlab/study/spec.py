"""A study: model pairs (tuned <- base), benchmarks and their groups, generation settings.

    transferlab study run configs/paper-controlled.yaml --store runs.db

The spec is YAML (see ``configs/``)::

    name: tiny
    models:
      - {name: base, path: models/base}                      # or hf: org/name, revision: ...
      - {name: rl, path: models/rl, base: base, training: RL}
      - {name: sft, hf: org/sft, base: base, training: SFT, thinking_parser: think}   # optional, per model
    benchmarks: [math500, gsm8k, aime24, aime25]
    groups: {aime24: other}          # optional: override a benchmark's group
    generation: {temperature: 0.0, max_new_tokens: 2048}    # one GenerationConfig for every model
    generation_overrides:            # optional: a benchmark's own settings, on top of generation
      aime24: {temperature: 0.7, samples: 10, max_new_tokens: 32768}
    backend: {kind: hf, dtype: auto, batch_size: 16}
    ti: {version: v2, ddof: 1, population: [rl], sigma: {math: 12.0}}

Paths are relative to the spec file. This module parses and validates specs (every value's type
too: a problem is one :class:`~transferlab.errors.ConfigError` line naming the file and the key);
:mod:`transferlab.study.run` runs them against a store.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from transferlab.backends import BackendOptions
from transferlab.errors import ConfigError
from transferlab.groups import BENCHMARK_GROUPS, GROUPS, Group
from transferlab.io import read_text
from transferlab.options import API_KINDS, BACKEND_KINDS, DTYPES, THINKING_REQUESTS, TI_VERSIONS, TRAINING_METHODS, ThinkingRequest, TIVersion
from transferlab.spec import GenerationConfig
from transferlab.study.seeds import SEED_KEYS, check_seed_groups, expand_seeds, seed_fields

_TOP_KEYS: Final[frozenset[str]] = frozenset(
    {"name", "description", "models", "benchmarks", "groups", "generation", "generation_overrides", "backend", "ti", "data_dir", "limit"}
)
_MODEL_KEYS: Final[frozenset[str]] = frozenset({"name", "hf", "path", "revision", "training", "base", "note", "endpoints", "thinking_parser", *SEED_KEYS})


@dataclass(frozen=True)
class StudyModel:
    """One model of a study: where its weights are (``hf`` id or local ``path``), its hub revision,
    how it was trained (RL, SFT, other; ``base`` for a checkpoint others are compared with), and the
    name of the model it was tuned from. ``thinking_parser``: how this model's completions are split
    into thinking and answer (None: the generation settings' ``thinking_parser``, ``auto`` by default)."""

    name: str
    hf: str | None = None
    path: str | None = None
    revision: str | None = None
    training: str = "base"
    base: str | None = None
    endpoints: tuple[str, ...] = ()  # the servers of this model (backend kind openai)
    thinking_parser: ThinkingRequest | None = None
    seed_group: str | None = None  # the training this model repeats with another seed (see study/seeds.py)
    seed: int | None = None

    @property
    def source(self) -> str:
        """What the backend loads: the local path or the hub id."""
        return self.path if self.path is not None else str(self.hf)

    @property
    def is_tuned(self) -> bool:
        """True when the model is compared against a base."""
        return self.base is not None


@dataclass(frozen=True)
class TISettings:
    """How TI is computed. ``population``: names of the tuned models whose deltas give σ_g
    (None: every tuned model of the study); ``sigma``: σ_g in points set explicitly per group."""

    version: TIVersion = "v2"
    ddof: int = 1
    population: tuple[str, ...] | None = None
    sigma: dict[Group, float] = field(default_factory=dict)
    min_math_gain: float | None = None


@dataclass(frozen=True)
class StudySpec:
    """A whole study; build it with :func:`load_spec` or :func:`parse_spec`."""

    name: str
    models: tuple[StudyModel, ...]
    benchmarks: tuple[str, ...]
    groups: dict[str, Group]
    generation: GenerationConfig
    backend: BackendOptions = BackendOptions()
    ti: TISettings = TISettings()
    data_dir: str | None = None
    limit: int | None = None
    description: str = ""
    generation_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    own_benchmarks: dict[str, str] = field(default_factory=dict)  # benchmarks of your own: stored name -> its YAML file

    def generation_for(self, benchmark: str) -> GenerationConfig:
        """The settings ``benchmark`` is generated with: ``generation`` and the benchmark's overrides."""
        extra = self.generation_overrides.get(benchmark)
        return GenerationConfig.from_dict({**self.generation.to_dict(), **extra}) if extra else self.generation

    def generation_groups(self) -> list[tuple[GenerationConfig, list[str]]]:
        """The study's benchmarks grouped by their settings, in spec order."""
        groups: dict[str, tuple[GenerationConfig, list[str]]] = {}
        for b in self.benchmarks:
            config = self.generation_for(b)
            groups.setdefault(json.dumps(config.to_dict(), sort_keys=True), (config, []))[1].append(b)
        return list(groups.values())

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """``(tuned, base)`` names, in spec order."""
        return [(m.name, m.base) for m in self.models if m.base is not None]

    @property
    def seed_groups(self) -> dict[str, tuple[StudyModel, ...]]:
        """``{seed group: its models in spec order}``: trainings repeated over seeds (see :mod:`transferlab.study.seeds`)."""
        out: dict[str, tuple[StudyModel, ...]] = {}
        for m in self.models:
            if m.seed_group is not None:
                out[m.seed_group] = out.get(m.seed_group, ()) + (m,)
        return out

    def model(self, name: str) -> StudyModel:
        """The model called ``name``."""
        for m in self.models:
            if m.name == name:
                return m
        raise ConfigError(f"no model {name!r} in study {self.name!r}", f"use one of {', '.join(m.name for m in self.models)}")

    def benchmark(self, name: str) -> Any:
        """The benchmark object of one of the study's benchmarks (a YAML one read from its file)."""
        from transferlab.benchmarks import get_benchmark
        from transferlab.benchmarks.custom import load_definition

        if name in self.own_benchmarks:
            found = load_definition(Path(self.own_benchmarks[name]))
            if found.name != name:
                raise ConfigError(
                    f"{self.own_benchmarks[name]} changed since the study was recorded ({name} is now {found.name})", "run the study with its spec again"
                )
            return found
        return get_benchmark(name)

    def group_of(self, benchmark: str) -> Group:
        """The benchmark's group in this study (the override, else the built-in group)."""
        return self.groups.get(benchmark) or BENCHMARK_GROUPS[benchmark]

    def resolved_groups(self) -> dict[str, Group]:
        """Every benchmark of the study with its group."""
        return {b: self.group_of(b) for b in self.benchmarks}

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-ready; :func:`parse_spec` reads it back."""
        ti = asdict(self.ti)
        ti["population"] = list(self.ti.population) if self.ti.population is not None else None
        return {
            "name": self.name,
            "description": self.description,
            "models": [{k: v for k, v in asdict(m).items() if v is not None and v != ()} for m in self.models],
            "benchmarks": [self.own_benchmarks.get(b, b) for b in self.benchmarks],
            "groups": {b: g for b, g in self.groups.items() if b not in self.own_benchmarks},
            "generation": self.generation.to_dict(),
            "generation_overrides": {b: dict(o) for b, o in self.generation_overrides.items()},
            "backend": asdict(self.backend),
            "ti": ti,
            "data_dir": self.data_dir,
            "limit": self.limit,
        }


# --- YAML in, validation -------------------------------------------------------------------------


def load_spec(path: str | Path) -> StudySpec:
    """Read and check a YAML study spec; local model paths and ``data_dir`` are taken relative to it."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(read_text(path, what="study spec"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path} is not valid YAML{where}", "fix the syntax (indentation, colons, quotes)") from err
    return parse_spec(data, base_dir=path.parent, where=str(path))


def parse_spec(data: Any, *, base_dir: Path | None = None, where: str = "study spec") -> StudySpec:
    """Build a :class:`StudySpec` from a mapping; every problem is one :class:`ConfigError` line."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping with name, models, benchmarks, generation", "see configs/tiny.yaml")
    _no_unknown(data, _TOP_KEYS, where)
    for key in ("name", "models", "benchmarks"):
        if not data.get(key):
            raise ConfigError(f"{where}: {key!r} is missing or empty", "see configs/tiny.yaml for a complete spec")
    name, description, data_dir = (_text(data.get(k), k, where) for k in ("name", "description", "data_dir"))
    models = _parse_models(data["models"], base_dir, where)
    benchmarks, own, own_groups = _parse_benchmarks(data["benchmarks"], where, base_dir)
    groups = {**own_groups, **_parse_groups(data.get("groups") or {}, benchmarks, where, own_groups)}
    generation = _section(data, "generation", where)
    try:
        config = GenerationConfig.from_dict(generation)
    except ConfigError as err:
        raise ConfigError(f"{where}: generation: {err}") from err
    overrides = _parse_overrides(_section(data, "generation_overrides", where), config, benchmarks, where)
    backend = _parse_backend(_section(data, "backend", where), where)
    ti = _parse_ti(_section(data, "ti", where), models, where)
    if data_dir is not None and base_dir is not None:
        data_dir = str((base_dir / data_dir).resolve())
    limit = data.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"{where}: limit must be a positive integer, got {limit!r}", "drop it to use every item")
    return StudySpec(
        name=str(name),
        models=models,
        benchmarks=benchmarks,
        groups=groups,
        generation=config,
        backend=backend,
        ti=ti,
        data_dir=data_dir,
        limit=limit,
        own_benchmarks=own,
        description=description or "",
        generation_overrides=overrides,
    )


def _parse_overrides(data: Mapping[str, Any], config: GenerationConfig, benchmarks: Sequence[str], where: str) -> dict[str, dict[str, Any]]:
    """``{benchmark: {setting: value}}``, each benchmark one of the study's, each setting valid."""
    known = set(config.to_dict())
    overrides: dict[str, dict[str, Any]] = {}
    for name, values in data.items():
        if name not in benchmarks:
            raise ConfigError(
                f"{where}: generation_overrides names {name!r}, which is not one of the study's benchmarks", f"use one of {', '.join(benchmarks)}"
            )
        if not isinstance(values, Mapping) or not values:
            raise ConfigError(
                f"{where}: generation_overrides.{name} must be a non-empty mapping of settings", f"write {name}: {{temperature: 0.7, samples: 10}}"
            )
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"{where}: generation_overrides.{name} has unknown setting(s) {', '.join(map(str, unknown))}", f"use only {', '.join(sorted(known))}"
            )
        try:
            GenerationConfig.from_dict({**config.to_dict(), **values})
        except ConfigError as err:
            raise ConfigError(f"{where}: bad generation_overrides.{name}: {err}") from err
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: bad generation_overrides.{name} ({err})", "check the types of the values") from err
        overrides[str(name)] = dict(values)
    return overrides


def _text(value: Any, key: str, where: str) -> str | None:
    """A scalar setting as text (a YAML number reads as one, e.g. a revision); None stays None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"{where}: {key} must be text, got {value!r}", f"write {key}: followed by one value")


def _number(value: Any, key: str, where: str, *, integer: bool, minimum: float, example: str) -> Any:
    """A finite number (an integer when ``integer``) of at least ``minimum``."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value < minimum:
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{where}: {key} must be {what} of at least {minimum:g}, got {value!r}", f"write e.g. {key}: {example}")
    return value


def _no_unknown(data: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}", f"use only {', '.join(sorted(known))}")


def _section(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {key!r} must be a mapping", f"write {key}: {{...}}")
    return dict(value)


def _parse_models(raw: Any, base_dir: Path | None, where: str) -> tuple[StudyModel, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'models' must be a list", "write one '- name: ...' entry per model")
    models: list[StudyModel] = []
    for i, entry in enumerate(expand_seeds(raw, where)):
        models.append(replace(_parse_model(entry, i, base_dir, where), **seed_fields(entry, where)))
    names = [m.name for m in models]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{where}: model name(s) {', '.join(dupes)} appear twice", "give every model its own name")
    for m in models:
        if m.base is not None and m.base not in names:
            raise ConfigError(f"{where}: model {m.name!r} names base {m.base!r}, which is not in the study", f"add it or use one of {', '.join(names)}")
        if m.base == m.name:
            raise ConfigError(f"{where}: model {m.name!r} is its own base", "name the checkpoint it was tuned from")
    if not any(m.base for m in models):
        raise ConfigError(f"{where}: no model names a base, so there is no pair to compare", "add 'base: NAME' to each tuned model")
    check_seed_groups(models, where)
    return tuple(models)


def _parse_model(entry: Any, index: int, base_dir: Path | None, where: str) -> StudyModel:
    if not isinstance(entry, Mapping) or not entry.get("name"):
        raise ConfigError(f"{where}: model #{index + 1} needs a name", "write '- name: NAME' with hf: or path:")
    name = str(_text(entry["name"], "name", f"{where}: model #{index + 1}"))
    _no_unknown(entry, _MODEL_KEYS, f"{where}: model {name!r}")
    hf, path, revision, base = (_text(entry.get(k), k, f"{where}: model {name!r}") for k in ("hf", "path", "revision", "base"))
    if (hf is None) == (path is None):
        raise ConfigError(f"{where}: model {name!r} needs exactly one of hf: (a hub id) or path: (a folder)", "keep one of the two")
    if hf is not None and (str(hf).count("/") != 1 or str(hf).startswith(("/", "."))):
        raise ConfigError(f"{where}: model {name!r} has hf: {hf!r}, not a hub id like org/name", "use path: for a local folder")
    if path is not None and base_dir is not None:
        path = str((base_dir / path).resolve())
    training = _training(entry.get("training"), tuned=base is not None, name=name, where=where)
    endpoints = entry.get("endpoints") or ()
    if isinstance(endpoints, str) or not all(isinstance(e, str) for e in endpoints):
        raise ConfigError(f"{where}: model {name!r} has endpoints {endpoints!r}, not a list of URLs", "write endpoints: [http://127.0.0.1:8000/v1]")
    parser = entry.get("thinking_parser")
    if parser is not None and parser not in THINKING_REQUESTS:
        raise ConfigError(f"{where}: model {name!r} has thinking_parser {parser!r}", f"use one of {', '.join(THINKING_REQUESTS)}")
    return StudyModel(name=name, hf=hf, path=path, revision=revision, training=training, base=base, endpoints=tuple(endpoints), thinking_parser=parser)


def _training(value: Any, *, tuned: bool, name: str, where: str) -> str:
    if value is None:
        return "other" if tuned else "base"
    canon = {t.lower(): t for t in TRAINING_METHODS}.get(str(value).lower())
    if canon is None:
        raise ConfigError(f"{where}: model {name!r} has training {value!r}", f"use one of {', '.join(TRAINING_METHODS)}")
    if tuned and canon == "base":
        raise ConfigError(f"{where}: model {name!r} names a base but has training 'base'", "use RL, SFT or other")
    return canon


def _parse_benchmarks(raw: Any, where: str, base_dir: Path | None) -> tuple[tuple[str, ...], dict[str, str], dict[str, Group]]:
    """Benchmark names, and the benchmarks of your own among them: ``{stored name: YAML path}`` and
    their groups. A YAML path is taken relative to the spec; a benchmark of your own needs the
    group math, other or non in a study (TI is computed per group)."""
    from transferlab.benchmarks import REGISTRY
    from transferlab.benchmarks.custom import is_definition_path, load_definitions

    if not isinstance(raw, (list, str)) or not all(isinstance(b, str) for b in raw):
        raise ConfigError(f"{where}: benchmarks must be a list of names, got {raw!r}", "write benchmarks: [math500, gsm8k]")
    entries = [str(b).strip() for b in (raw if isinstance(raw, list) else raw.split(","))]
    known = set(BENCHMARK_GROUPS) | set(REGISTRY)
    names: list[str] = []
    own: dict[str, str] = {}
    own_groups: dict[str, Group] = {}
    unknown = []
    for entry in entries:
        path = Path(entry) if base_dir is None or Path(entry).is_absolute() else base_dir / entry
        if entry.endswith((".yaml", ".yml")) or (entry not in known and is_definition_path(str(path))):
            for b in load_definitions(str(path)):
                if b.group not in GROUPS:
                    raise ConfigError(f"{where}: {b.name} has the group {b.group!r}", f"a study's benchmarks need one of {', '.join(GROUPS)} (TI is per group)")
                names.append(b.name)
                own[b.name] = str(Path(b.definition_path or path).resolve())
                own_groups[b.name] = b.group  # a Group: checked just above
        elif entry in known:
            names.append(entry)
        else:
            unknown.append(entry)
    if unknown:
        raise ConfigError(f"{where}: unknown benchmark(s) {', '.join(unknown)}", f"choose from {', '.join(sorted(known))}, or give path/to/task.yaml")
    dupes = sorted({b for b in names if names.count(b) > 1})
    if dupes:
        raise ConfigError(f"{where}: benchmark(s) {', '.join(dupes)} listed twice", "list each benchmark once")
    return tuple(names), own, own_groups


def _parse_groups(raw: Any, benchmarks: Sequence[str], where: str, own: Mapping[str, Group] | None = None) -> dict[str, Group]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: 'groups' must map benchmark names to math, other or non", "write groups: {aime24: other}")
    groups: dict[str, Group] = {}
    for bench, group in raw.items():
        if bench not in benchmarks:
            raise ConfigError(f"{where}: groups names {bench!r}, which is not among the benchmarks", "add it to benchmarks or drop it from groups")
        if group not in GROUPS:
            raise ConfigError(f"{where}: benchmark {bench!r} has group {group!r}", f"use one of {', '.join(GROUPS)}")
        groups[str(bench)] = group
    resolved = {b: groups.get(b) or (own or {}).get(b) or BENCHMARK_GROUPS.get(b) for b in benchmarks}
    if "math" not in resolved.values():
        raise ConfigError(f"{where}: no math benchmark", "TI is relative to the math gain: add one (e.g. math500)")
    return groups


def _parse_backend(raw: dict[str, Any], where: str) -> BackendOptions:
    _no_unknown(
        raw,
        frozenset({"kind", "device", "dtype", "batch_size", "tensor_parallel", "data_parallel", "max_model_len", "api", "concurrency", "request_timeout"}),
        f"{where}: backend",
    )
    options = BackendOptions(**raw)
    if options.kind not in BACKEND_KINDS:
        raise ConfigError(f"{where}: unknown backend {options.kind!r}", f"use one of {', '.join(BACKEND_KINDS)}")
    if options.dtype not in DTYPES:
        raise ConfigError(f"{where}: unknown dtype {options.dtype!r}", f"use {', '.join(DTYPES[:-1])} or {DTYPES[-1]}")
    if options.api not in API_KINDS:
        raise ConfigError(f"{where}: unknown api {options.api!r}", f"use {' or '.join(API_KINDS)}")
    _text(options.device, "backend.device", where)
    for key in ("batch_size", "tensor_parallel", "data_parallel", "concurrency"):
        _number(getattr(options, key), f"backend.{key}", where, integer=True, minimum=1, example="1")
    if options.max_model_len is not None:
        _number(options.max_model_len, "backend.max_model_len", where, integer=True, minimum=1, example="4096")
    _number(options.request_timeout, "backend.request_timeout", where, integer=False, minimum=1e-3, example="3600")
    return options


def _parse_ti(raw: dict[str, Any], models: Sequence[StudyModel], where: str) -> TISettings:
    _no_unknown(raw, frozenset({"version", "ddof", "population", "sigma", "min_math_gain"}), f"{where}: ti")
    version = _text(raw.get("version", "v2"), "ti.version", where)
    if version not in TI_VERSIONS:
        raise ConfigError(f"{where}: unknown TI version {version!r}", f"use {' or '.join(TI_VERSIONS)}")
    ddof = _number(raw.get("ddof", 1), "ti.ddof", where, integer=True, minimum=0, example="1")
    tuned = [m.name for m in models if m.is_tuned]
    population = raw.get("population")
    if population is not None:
        if not isinstance(population, list) or not all(isinstance(p, str) for p in population):
            raise ConfigError(f"{where}: ti.population must be a list of tuned model names, got {population!r}", f"write e.g. population: [{', '.join(tuned)}]")
        population = tuple(population)
        bad = [p for p in population if p not in tuned]
        if bad:
            raise ConfigError(f"{where}: ti.population names {', '.join(bad)}, not tuned models of the study", f"use names from {', '.join(tuned)}")
    sigma: dict[Group, float] = {}
    raw_sigma = raw.get("sigma") or {}
    if not isinstance(raw_sigma, Mapping):
        raise ConfigError(f"{where}: ti.sigma must map groups to σ in points, got {raw_sigma!r}", "write e.g. sigma: {math: 12.5, other: 3}")
    for group, value in raw_sigma.items():
        if group not in GROUPS or isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{where}: ti.sigma {group}: {value!r} is not a positive σ for math, other or non", "write e.g. sigma: {math: 12.5}")
        sigma[group] = float(value)
    mmg = raw.get("min_math_gain")
    if mmg is not None:
        mmg = float(_number(mmg, "ti.min_math_gain", where, integer=False, minimum=0, example="0.25"))
    return TISettings(version=version, ddof=ddof, population=population, sigma=sigma, min_math_gain=mmg)
