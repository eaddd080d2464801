"""Evaluation: benchmarks -> items -> prompts -> backend -> store, resumable at any point.

Every completion is committed the moment the backend yields it. Before generating, the keys already
in the store are skipped, so a killed run resumes where it stopped and never generates a stored
completion twice. The missing ones are claimed a batch at a time through the store's leases
(:mod:`~transferlab.pipeline.share`), so several ``eval`` processes on one store split the work.
"""

from __future__ import annotations

import json
import platform
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import cast

from transferlab.backends.base import Backend, PromptJob, SampleSlot, sample_seed
from transferlab.benchmarks.base import Benchmark, LoglikelihoodBenchmark
from transferlab.items import Item
from transferlab.pipeline.share import DEFAULT_CLAIM, DEFAULT_LEASE_S, LeaseKeeper, worker_name
from transferlab.progress import progress_bar
from transferlab.spec import GenerationConfig
from transferlab.store import CompletionRecord, Store, completion_key, sha

# Log-likelihood benchmarks do not sample: one fixed settings key, whatever the sampling options.
LOGLIKELIHOOD_KEY = sha("loglikelihood-v1")
LOGLIKELIHOOD_CHUNK = 32  # items scored and committed together

VERSIONED_PACKAGES = ("transferlab", "torch", "transformers", "math-verify", "trl", "vllm", "datasets")


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape results (recorded with every run)."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass
class BenchmarkPlan:
    """What one benchmark needs: its items, rendered prompts and the missing sample slots."""

    benchmark: Benchmark
    config: GenerationConfig
    items: list[Item]
    jobs: list[PromptJob] = field(default_factory=list)
    total: int = 0
    stored: int = 0
    meta: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (item id, prompt hash)
    loglikelihood: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # (key, requests) still missing

    def missing(self) -> list[str]:
        """The keys still to generate, in order."""
        return [k for k, _ in self.loglikelihood] + [s.key for job in self.jobs for s in job.slots]

    def only(self, keys: set[str]) -> BenchmarkPlan:
        """This plan restricted to ``keys`` (a claimed batch)."""
        jobs = [PromptJob(j.prompt, tuple(s for s in j.slots if s.key in keys)) for j in self.jobs]
        return replace(self, jobs=[j for j in jobs if j.slots], loglikelihood=[(k, r) for k, r in self.loglikelihood if k in keys])


def is_loglikelihood(benchmark: Benchmark) -> bool:
    """True for benchmarks scored by option log-likelihoods instead of generated text."""
    return getattr(benchmark, "mode", "generate") == "loglikelihood"


@dataclass(frozen=True)
class EvalSummary:
    """How many completions were asked for, already stored, and newly generated."""

    run_id: str
    model_key: str
    requested: int
    reused: int
    generated: int
    by_others: int = 0  # generated meanwhile by other workers sharing the store


def effective_config(benchmark: Benchmark, config: GenerationConfig) -> GenerationConfig:
    """The settings a benchmark's completions are generated with: the study's plus its stop strings."""
    return replace(config, stop=tuple(dict.fromkeys(config.stop + benchmark.stop(config.prompt_style))))


def settings_key(benchmark: Benchmark, config: GenerationConfig) -> str:
    """The settings key (``gen_key``) of a benchmark's stored completions under ``config``."""
    return LOGLIKELIHOOD_KEY if is_loglikelihood(benchmark) else effective_config(benchmark, config).key()


def load_items(benchmarks: Sequence[Benchmark], data_dir: Path | None, limit: int | None) -> dict[str, list[Item]]:
    """Every benchmark's items (the first ``limit``), by name: read before a model is loaded, so a
    data error stops a command before it spends minutes loading weights."""
    return {b.name: b.load(data_dir, limit) for b in benchmarks}


def plan_benchmark(
    backend: Backend,
    store: Store,
    benchmark: Benchmark,
    config: GenerationConfig,
    *,
    data_dir: Path | None,
    limit: int | None,
    items: Sequence[Item] | None = None,
) -> BenchmarkPlan:
    """Load (unless ``items`` are given), render and key one benchmark's prompts; find the completions still missing."""
    if is_loglikelihood(benchmark):
        return plan_loglikelihood(store, benchmark, config, model_key=backend.model.key, data_dir=data_dir, limit=limit, items=items)
    config = effective_config(benchmark, config)
    items = list(items) if items is not None else benchmark.load(data_dir, limit)
    store.add_items(benchmark.name, items)
    prompts = [backend.render(benchmark.messages(item, config.prompt_style), config) for item in items]
    hashes = store.add_prompts(prompts)
    plan = BenchmarkPlan(benchmark, config, items)
    gen_key = config.key()
    store.add_gen_config(gen_key, config.sampling_dict())
    per_item: list[list[SampleSlot]] = []
    for item, prompt in zip(items, prompts):
        h = hashes[prompt]
        slots = []
        for k in range(config.samples):
            key = completion_key(backend.model.key, benchmark.name, item.id, h, gen_key, k)
            slots.append(SampleSlot(key, k, sample_seed(config.seed, h, k)))
            plan.meta[key] = (item.id, h)
        per_item.append(slots)
    existing = store.existing_keys(plan.meta)
    plan.total, plan.stored = len(plan.meta), len(existing)
    for prompt, slots in zip(prompts, per_item):
        missing = tuple(s for s in slots if s.key not in existing)
        if missing:
            plan.jobs.append(PromptJob(prompt, missing))
    return plan


def plan_loglikelihood(
    store: Store,
    benchmark: Benchmark,
    config: GenerationConfig,
    *,
    model_key: str,
    data_dir: Path | None,
    limit: int | None,
    items: Sequence[Item] | None = None,
) -> BenchmarkPlan:
    """Key one log-likelihood benchmark: one stored "completion" per item holding its options' scores.

    The stored prompt is the JSON list of (context, continuation) requests, so the key covers
    exactly what was scored; the sampling settings do not apply.
    """
    items = list(items) if items is not None else benchmark.load(data_dir, limit)
    store.add_items(benchmark.name, items)
    scored = cast(LoglikelihoodBenchmark, benchmark)  # mode "loglikelihood" (is_loglikelihood)
    requests = [scored.loglikelihood_requests(item, config.prompt_style) for item in items]
    texts = [json.dumps(r, ensure_ascii=False) for r in requests]
    hashes = store.add_prompts(texts)
    store.add_gen_config(LOGLIKELIHOOD_KEY, {"mode": "loglikelihood", "version": 1})
    plan = BenchmarkPlan(benchmark, config, items)
    for item, text, reqs in zip(items, texts, requests):
        key = completion_key(model_key, benchmark.name, item.id, hashes[text], LOGLIKELIHOOD_KEY, 0)
        plan.meta[key] = (item.id, hashes[text])
        plan.loglikelihood.append((key, reqs))
    existing = store.existing_keys(plan.meta)
    plan.total, plan.stored = len(plan.meta), len(existing)
    plan.loglikelihood = [(k, r) for k, r in plan.loglikelihood if k not in existing]
    return plan


def _loglikelihood_records(backend: Backend, plan: BenchmarkPlan, model_key: str, run_id: str) -> Iterator[list[CompletionRecord]]:
    """Score the missing items in chunks; yields the records of each chunk as it is done."""
    for start in range(0, len(plan.loglikelihood), LOGLIKELIHOOD_CHUNK):
        chunk = plan.loglikelihood[start : start + LOGLIKELIHOOD_CHUNK]
        flat = [pair for _, reqs in chunk for pair in reqs]
        results = iter(backend.loglikelihood(flat))
        records = []
        for key, reqs in chunk:
            scored = [next(results) for _ in reqs]
            text = json.dumps(
                {
                    "logprob": [r.logprob for r in scored],
                    "n_tokens": [r.n_tokens for r in scored],
                    "is_greedy": [r.is_greedy for r in scored],
                    "chars": [len(c) for _, c in reqs],
                }
            )
            item_id, prompt_hash = plan.meta[key]
            records.append(
                CompletionRecord(
                    key=key,
                    model_key=model_key,
                    benchmark=plan.benchmark.name,
                    item_id=item_id,
                    prompt_hash=prompt_hash,
                    gen_key=LOGLIKELIHOOD_KEY,
                    seed=0,
                    sample_index=0,
                    text=text,
                    finish_reason="loglikelihood",
                    prompt_tokens=None,
                    completion_tokens=sum(r.n_tokens for r in scored),
                    run_id=run_id,
                )
            )
        yield records


def _generated_records(backend: Backend, plan: BenchmarkPlan, model_key: str, run_id: str) -> Iterator[list[CompletionRecord]]:
    """Generate the missing samples; yields the records of each group of finished completions."""
    gen_key = plan.config.key()
    for finished in backend.generate(plan.jobs, plan.config):
        records = []
        for slot, completion in finished:
            item_id, prompt_hash = plan.meta[slot.key]
            records.append(
                CompletionRecord(
                    key=slot.key,
                    model_key=model_key,
                    benchmark=plan.benchmark.name,
                    item_id=item_id,
                    prompt_hash=prompt_hash,
                    gen_key=gen_key,
                    seed=slot.seed,
                    sample_index=slot.sample_index,
                    text=completion.text if completion.thinking is None else f"<think>{completion.thinking}</think>{completion.text}",
                    finish_reason=completion.finish_reason,
                    prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens,
                    run_id=run_id,
                    token_ids=completion.token_ids if completion.thinking is None else None,
                )
            )
        yield records


def remember_definitions(store: Store, benchmarks: Sequence[Benchmark]) -> None:
    """Keep the definitions of the benchmarks of your own among ``benchmarks`` in the store."""
    from transferlab.benchmarks import definition_of

    for b in benchmarks:
        definition = definition_of(b)
        if definition is not None:
            store.add_benchmark_definition(b.name, definition)


def run_eval(
    backend: Backend,
    benchmarks: Sequence[Benchmark],
    config: GenerationConfig,
    store: Store,
    *,
    data_dir: Path | None = None,
    limit: int | None = None,
    argv: Sequence[str] | None = None,
    show_progress: bool | None = None,
    items: Mapping[str, Sequence[Item]] | None = None,
    claim: int = DEFAULT_CLAIM,
    lease_s: float = DEFAULT_LEASE_S,
) -> EvalSummary:
    """Generate every missing completion of ``benchmarks`` for ``backend``'s model into ``store``,
    claiming ``claim`` at a time (leases of ``lease_s`` seconds) so other workers can share the work;
    ``items``: the benchmarks' items already loaded (:func:`load_items`), by name."""
    run_id = uuid.uuid4().hex[:12]
    model_key = store.add_model(backend.model)
    store.add_run(run_id, model_key, [b.name for b in benchmarks], config.to_dict(), library_versions(), argv if argv is not None else sys.argv)
    remember_definitions(store, benchmarks)
    plans = [plan_benchmark(backend, store, b, config, data_dir=data_dir, limit=limit, items=(items or {}).get(b.name)) for b in benchmarks]
    requested = sum(p.total for p in plans)
    reused = sum(p.stored for p in plans)
    generated = 0
    with progress_bar("completions", enabled=show_progress) as progress, LeaseKeeper(store, worker_name(run_id), lease_s) as keeper:
        tasks = [progress.add_task(plan.benchmark.name, total=plan.total, completed=plan.stored) for plan in plans]
        for index, keys in keeper.batches([plan.missing() for plan in plans], claim):
            plan = plans[index]
            produce = _loglikelihood_records if is_loglikelihood(plan.benchmark) else _generated_records
            for records in produce(backend, plan.only(set(keys)), model_key, run_id):
                generated += store.add_completions(records)
                progress.advance(tasks[index], len(records))
    by_others = len(store.existing_keys(k for plan in plans for k in plan.missing())) - generated
    return EvalSummary(run_id, model_key, requested, reused, generated, max(0, by_others))
