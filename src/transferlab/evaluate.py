"""Evaluation: benchmarks -> items -> prompts -> backend -> store, resumable at any point.

Every completion is committed the moment the backend yields it. Before generating, the keys already
in the store are skipped, so a killed run resumes where it stopped and never generates a stored
completion twice.
"""

from __future__ import annotations

import platform
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

from transferlab.backends.base import Backend, PromptJob, SampleSlot, sample_seed
from transferlab.benchmarks.base import Benchmark, Item
from transferlab.progress import progress_bar
from transferlab.spec import GenerationConfig
from transferlab.store import CompletionRecord, Store, completion_key

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


@dataclass(frozen=True)
class EvalSummary:
    """How many completions were asked for, already stored, and newly generated."""

    run_id: str
    model_key: str
    requested: int
    reused: int
    generated: int


def plan_benchmark(backend: Backend, store: Store, benchmark: Benchmark, config: GenerationConfig, *, data_dir: Path | None, limit: int | None) -> BenchmarkPlan:
    """Load, render and key one benchmark's prompts; find the completions still missing."""
    config = replace(config, stop=tuple(dict.fromkeys(config.stop + benchmark.stop(config.prompt_style))))
    items = benchmark.load(data_dir, limit)
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
) -> EvalSummary:
    """Generate every missing completion of ``benchmarks`` for ``backend``'s model into ``store``."""
    run_id = uuid.uuid4().hex[:12]
    model_key = store.add_model(backend.model)
    store.add_run(run_id, model_key, [b.name for b in benchmarks], config.to_dict(), library_versions(), argv if argv is not None else sys.argv)
    plans = [plan_benchmark(backend, store, b, config, data_dir=data_dir, limit=limit) for b in benchmarks]
    requested = sum(p.total for p in plans)
    reused = sum(p.stored for p in plans)
    generated = 0
    with progress_bar("completions", enabled=show_progress) as progress:
        for plan in plans:
            task = progress.add_task(plan.benchmark.name, total=plan.total, completed=plan.stored)
            gen_key = plan.config.key()
            for finished in backend.generate(plan.jobs, plan.config):
                records = []
                for slot, completion in finished:
                    item_id, prompt_hash = plan.meta[slot.key]
                    records.append(
                        CompletionRecord(
                            key=slot.key, model_key=model_key, benchmark=plan.benchmark.name, item_id=item_id,
                            prompt_hash=prompt_hash, gen_key=gen_key, seed=slot.seed, sample_index=slot.sample_index,
                            text=completion.text if completion.thinking is None else f"<think>{completion.thinking}</think>{completion.text}",
                            finish_reason=completion.finish_reason, prompt_tokens=completion.prompt_tokens,
                            completion_tokens=completion.completion_tokens, run_id=run_id,
                        )
                    )
                generated += store.add_completions(records)
                progress.advance(task, len(records))
    return EvalSummary(run_id, model_key, requested, reused, generated)
