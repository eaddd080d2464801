"""Running a study against a store: every model on every benchmark under the study's settings
(one run per group of benchmarks that share settings, see ``StudySpec.generation_groups``).

:func:`run_study` refuses a store that already holds results of the same model and benchmark
produced under other settings (unless told to allow it). The study and the mapping from its model
names to the store's model keys (``name@revision-or-fingerprint``) are kept in the store's
``studies`` and ``study_models`` tables, so ``ti --store`` and ``report --store`` need no spec.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from transferlab.backends import Backend, BackendOptions, load_backend
from transferlab.errors import ConfigError
from transferlab.spec import GenerationConfig
from transferlab.store import Store
from transferlab.study.spec import StudyModel, StudySpec, load_spec, parse_spec

# --- the store side: recorded studies and the settings check ---------------------------------------


def record_study(store: Store, spec: StudySpec) -> None:
    """Keep the spec (as JSON) in the store under its name."""
    store.record_study(spec.name, spec.to_dict())


def record_model_key(store: Store, spec: StudySpec, model: StudyModel, model_key: str) -> None:
    """Remember which store key a study model name stands for."""
    store.record_study_model(spec.name, model.name, model_key, source=model.source, training=model.training, base=model.base)


def stored_studies(store: Store) -> dict[str, StudySpec]:
    """Every study recorded in the store, by name."""
    return {name: parse_spec(data, where=f"study {name!r} in the store") for name, data in store.studies().items()}


def stored_model_keys(store: Store, study: str) -> dict[str, str]:
    """``{model name: model key}`` of a recorded study (models not yet run are absent)."""
    return store.study_model_keys(study)


def expected_gen_key(benchmark: Any, config: GenerationConfig) -> str:
    """The settings key :func:`transferlab.pipeline.generate.plan_benchmark` gives this benchmark's completions."""
    from transferlab.pipeline.generate import settings_key

    return settings_key(benchmark, config)


def settings_differences(store: Store, model_key: str, benchmarks: Sequence[Any], config: GenerationConfig) -> list[str]:
    """What the store holds for this model on these benchmarks under settings other than ``config``.

    Compares the completions' settings keys (sampling) and the recorded runs' settings (prompt
    rendering too); ``samples`` may differ (sample i is the same completion whatever k is).
    """
    found: list[str] = []
    wanted = {b.name: expected_gen_key(b, config) for b in benchmarks}
    for benchmark, gen_key in store.gen_keys(model_key):
        if benchmark in wanted and gen_key != wanted[benchmark]:
            old = store.gen_settings(gen_key) or {}
            new = store.gen_settings(wanted[benchmark]) or _sampling_of(benchmarks, benchmark, config)
            found.append(f"{model_key} on {benchmark}: completions under other sampling settings ({_diff(old, new)})")
    mine = config.to_dict()
    for run in store.runs():
        if run["model_key"] != model_key or not set(json.loads(run["benchmarks"])) & set(wanted):
            continue
        theirs = json.loads(run["settings"])
        delta = _diff(theirs, mine, ignore=("samples",))
        if delta:
            found.append(f"{model_key}: run {run['run_id']} used other settings ({delta})")
    return list(dict.fromkeys(found))


def _sampling_of(benchmarks: Sequence[Any], name: str, config: GenerationConfig) -> dict[str, Any]:
    from transferlab.pipeline.generate import effective_config

    return effective_config(next(b for b in benchmarks if b.name == name), config).sampling_dict()


def _diff(old: Mapping[str, Any], new: Mapping[str, Any], ignore: Sequence[str] = ()) -> str:
    keys = sorted((set(old) | set(new)) - set(ignore))
    return ", ".join(f"{k}: {old.get(k)!r} there vs {new.get(k)!r} here" for k in keys if old.get(k) != new.get(k))


# --- running ----------------------------------------------------------------------------------------


def predicted_model_key(model: StudyModel) -> str | None:
    """The store key a model will get, when it is known without loading it (local folders, pinned
    hub revisions); None for a hub id without a revision (its commit is known only after loading)."""
    from transferlab.models import model_fingerprint, resolve_model

    if model.path is not None:
        name, folder = resolve_model(model.path)
        tag = model.revision or (model_fingerprint(folder) if folder is not None else None)
        return f"{name}@{tag or 'unversioned'}"
    return f"{model.hf}@{model.revision}" if model.revision else None


def study_backend(model: StudyModel, options: BackendOptions) -> Backend:
    """The backend that runs ``model`` (:func:`transferlab.backends.load_backend`): its local path or
    hub id; for the openai backend, its served name (``hf``, else its study name), its endpoints and
    its tokenizer (``path``, else ``hf``)."""
    if options.kind == "openai":
        return load_backend(model.hf or model.name, options, revision=model.revision, endpoints=model.endpoints, tokenizer=model.path or model.hf)
    return load_backend(model.source, options, revision=model.revision)


def _refuse(differences: list[str]) -> None:
    if differences:
        more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
        raise ConfigError(
            f"the store already holds results under other settings: {differences[0]}{more}",
            "use another --store, or pass --allow-mixed-settings to add these settings beside them (each table then uses the study's settings only)",
        )


def _free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def run_study(
    spec: StudySpec,
    store: Store,
    *,
    only: Sequence[str] | None = None,
    allow_mixed_settings: bool = False,
    limit: int | None = None,
    data_dir: Path | None = None,
    show_progress: bool | None = None,
    argv: Sequence[str] | None = None,
) -> list[Any]:
    """Evaluate (then score) every model of ``spec`` on every benchmark, with the spec's settings.

    ``only`` restricts to some model names; ``limit``/``data_dir`` override the spec's. The data is
    read first (every benchmark, once); then, before loading anything, models whose store key is
    known are checked against the store; the others are checked right after loading. Returns the :class:`~transferlab.pipeline.generate.EvalSummary` of each model.
    """
    from transferlab.benchmarks import get_benchmark
    from transferlab.pipeline.generate import load_items
    from transferlab.pipeline.score import LazyScoringContext

    models = [spec.model(n) for n in only] if only else list(spec.models)
    data_dir = data_dir if data_dir is not None else (Path(spec.data_dir) if spec.data_dir else None)
    limit = limit if limit is not None else spec.limit
    items = load_items([get_benchmark(b) for b in spec.benchmarks], data_dir, limit)  # data errors before any model is looked at
    if not allow_mixed_settings:
        for m in models:
            key = predicted_model_key(m)
            if key is not None:
                _refuse(study_settings_differences(store, key, spec))
    record_study(store, spec)
    summaries = []
    with LazyScoringContext() as scoring:  # one math worker pool for every model
        for m in models:
            summaries.append(
                _run_model(spec, m, store, scoring, allow_mixed_settings, data_dir=data_dir, limit=limit, argv=argv, show_progress=show_progress, items=items)
            )
    return summaries


def study_settings_differences(store: Store, model_key: str, spec: StudySpec) -> list[str]:
    """:func:`settings_differences` for every group of the study's benchmarks that share settings."""
    from transferlab.benchmarks import REGISTRY

    found: list[str] = []
    for config, names in spec.generation_groups():
        found += settings_differences(store, model_key, [REGISTRY[b] for b in names if b in REGISTRY], config)
    return list(dict.fromkeys(found))


def _run_model(spec: StudySpec, m: StudyModel, store: Store, scoring: Any, allow_mixed_settings: bool, **kwargs: Any) -> Any:
    """Load one model, check the store, generate what is missing (one run per group of benchmarks
    sharing settings), free the model, score."""
    from transferlab.benchmarks import get_benchmark
    from transferlab.pipeline.generate import EvalSummary, run_eval
    from transferlab.pipeline.score import score_store

    backend = study_backend(m, spec.backend)
    key = backend.model.key
    if not allow_mixed_settings:
        _refuse(study_settings_differences(store, key, spec))
    record_model_key(store, spec, m, key)
    groups = spec.generation_groups()
    summaries = [run_eval(backend, [get_benchmark(b) for b in names], config, store, **kwargs) for config, names in groups]
    del backend
    _free_memory()
    for config, names in groups:
        score_store(
            store,
            model_key=key,
            benchmarks=names,
            thinking_parser=m.thinking_parser or config.thinking_parser,  # the model's own parser first
            only_unscored=True,
            context=scoring,
            show_progress=kwargs.get("show_progress"),
        )
    return EvalSummary(
        ",".join(s.run_id for s in summaries), key, sum(s.requested for s in summaries), sum(s.reused for s in summaries), sum(s.generated for s in summaries)
    )


def study_for_store(store: Store, spec_path: str | Path | None = None, name: str | None = None) -> tuple[StudySpec, dict[str, str]]:
    """The study to read from ``store`` and ``{model name: model key}`` of its models found there.

    ``spec_path`` wins; else the study called ``name``; else the store's only study. Models the
    store has no mapping for are looked up by their predicted key (local folders, pinned revisions).
    """
    if spec_path is not None:
        spec = load_spec(spec_path)
    else:
        studies = stored_studies(store)
        if not studies:
            raise ConfigError(f"the store {store.path} holds no study", "run `transferlab study run SPEC` or pass --spec")
        if name is None and len(studies) > 1:
            raise ConfigError(f"the store holds {len(studies)} studies ({', '.join(studies)})", "pick one with --study NAME")
        if name is not None and name not in studies:
            raise ConfigError(f"no study {name!r} in the store", f"use one of {', '.join(studies)}")
        spec = studies[name] if name is not None else next(iter(studies.values()))
    keys = stored_model_keys(store, spec.name)
    known = {r["model_key"] for r in store.models()}
    for m in spec.models:
        if m.name not in keys:
            key = predicted_model_key(m) if m.path is None or Path(m.path).exists() else None
            if key is not None and key in known:
                keys[m.name] = key
    return spec, keys
