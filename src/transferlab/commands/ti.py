"""``transferlab ti``: the Transferability Index of a tuned model against its base.

    transferlab ti --scores scores.csv --base Qwen3-14B-Base --tuned UniReason-RL [--json]
    transferlab ti --store runs.db --base Qwen3-14B-Base --tuned UniReason-RL [--version v2|v1]

With ``--store`` the per-item scores give bootstrap CIs (see :mod:`transferlab.commands.ti_store`).

The CSV has columns ``model, benchmark, score`` (score: accuracy in percent) and optionally
``group`` (math, other or non) for benchmarks the built-in list does not know, or to override it.
For v2, σ_g comes from the deltas of the population of pairs named by ``--pairs`` (default: the
pair compared; the compared pair is always part of it), with ``--ddof`` (default 1), unless
``--sigma`` sets it. With one pair, σ_g is the spread of that pair's own deltas within the group,
which needs at least ddof+1 benchmarks in the group.

The reading (:func:`read_scores_csv`) and the computing (:func:`compute`) are apart, so a
store-backed path can build a :class:`ScoreTable` and call :func:`compute` unchanged.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.groups import GROUPS, Group
from transferlab.errors import ConfigError, DataError
from transferlab.transfer.ti import (
    DEFAULT_DDOF,
    VERSIONS,
    TransferIndex,
    Version,
    population_deltas,
    resolve_groups,
    sigma_from_deltas,
    transfer_index,
)


@dataclass(frozen=True)
class ScoreTable:
    """Scores (percent) by model and benchmark, and group overrides by benchmark."""

    scores: dict[str, dict[str, float]]
    groups: dict[str, Group]


def register(subparsers: Any) -> None:
    """Add the ``ti`` sub-command."""
    p = subparsers.add_parser("ti", help="Transferability Index of a tuned model against its base")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--scores", type=Path, help="CSV with model,benchmark,score[,group]")
    source.add_argument("--store", type=Path, help="a store: per-item scores, so TI gets bootstrap CIs")
    p.add_argument("--base", required=True, help="the base model (CSV name; in a store: study name, key or name)")
    p.add_argument("--tuned", required=True, help="the tuned model (same forms as --base)")
    p.add_argument("--spec", default=None, help="with --store: the study spec (default: the study recorded in the store)")
    p.add_argument("--study", default=None, help="with --store: which recorded study")
    p.add_argument("--resamples", type=int, default=2000, help="with --store: bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="with --store: bootstrap seed")
    p.add_argument("--version", choices=VERSIONS, default="v2", help="TI version (default v2)")
    p.add_argument("--sigma", default=None, help="σ per group in points, e.g. math=12,other=3,non=4 (v2)")
    p.add_argument(
        "--pairs", default=None,
        help="σ population as tuned:base,tuned:base (v2; default: the compared pair only)",
    )
    p.add_argument("--ddof", type=int, default=DEFAULT_DDOF, help="ddof of σ (default 1)")
    p.add_argument(
        "--min-math-gain", type=float, default=None,
        help="below this |math gain| TI is undefined (default 0.02 for v1, 0.25 for v2)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read the CSV, compute TI, print it."""
    if args.version == "v1" and args.sigma:
        raise ConfigError("--sigma applies to --version v2 only", "drop --sigma or use v2")
    if args.store is not None:
        from transferlab.commands.ti_store import run_store

        return run_store(args)
    table = read_scores_csv(args.scores)
    result = compute(
        table, args.base, args.tuned, version=args.version,
        pairs=parse_pairs(args.pairs) if args.pairs else None,
        sigma=parse_sigma(args.sigma) if args.sigma else None,
        ddof=args.ddof, min_math_gain=args.min_math_gain,
    )
    print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) if args.json else format_result(result))
    return 0


def read_scores_csv(path: Path) -> ScoreTable:
    """Load ``model, benchmark, score[, group]`` rows; one-line errors for every malformed input."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
            header = set(rows[0]) if rows else set()
    except OSError as err:
        raise DataError(f"cannot read scores file {str(path)!r}: {err.strerror}", "check the path") from err
    missing = {"model", "benchmark", "score"} - header
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(sorted(missing))}",
            "the CSV needs model,benchmark,score (and optionally group)",
        )
    scores: dict[str, dict[str, float]] = {}
    groups: dict[str, Group] = {}
    for line, row in enumerate(rows, start=2):
        model, bench = (row["model"] or "").strip(), (row["benchmark"] or "").strip()
        if not model or not bench:
            raise DataError(f"{path}:{line}: empty model or benchmark", "fill in both columns")
        score = _score(path, line, row["score"])
        if bench in scores.setdefault(model, {}):
            raise DataError(f"{path}:{line}: second score for {model} on {bench}", "keep one row per pair")
        scores[model][bench] = score
        group = (row.get("group") or "").strip()
        if group:
            if group not in GROUPS:
                raise DataError(f"{path}:{line}: unknown group {group!r}", f"use one of {', '.join(GROUPS)}")
            if groups.get(bench, group) != group:
                raise DataError(f"{path}:{line}: {bench} has two groups", "give each benchmark one group")
            groups[bench] = group  # type: ignore[assignment]
    resolve_groups(sorted({b for s in scores.values() for b in s}), groups)
    return ScoreTable(scores, groups)


def _score(path: Path, line: int, text: str | None) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        raise DataError(f"{path}:{line}: score {text!r} is not a number", "scores are percent") from None
    if not (math.isfinite(value) and 0.0 <= value <= 100.0):
        raise DataError(f"{path}:{line}: score {value} is outside 0-100", "scores are accuracies in percent")
    return value


def parse_sigma(text: str) -> dict[Group, float]:
    """``"math=12,other=3"`` -> ``{"math": 12.0, "other": 3.0}``."""
    out: dict[Group, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        group, _, value = part.partition("=")
        group = group.strip()
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if group not in GROUPS or not (math.isfinite(number) and number > 0):
            raise ConfigError(f"bad --sigma entry {part!r}", "write GROUP=POSITIVE_NUMBER, e.g. math=12.5,other=3")
        out[group] = number  # type: ignore[index]
    return out


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``"a:base,b:base"`` -> ``[("a", "base"), ("b", "base")]`` as (tuned, base)."""
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        tuned, sep, base = part.partition(":")
        if not sep or not tuned.strip() or not base.strip():
            raise ConfigError(f"bad --pairs entry {part!r}", "write TUNED:BASE, comma-separated")
        pairs.append((tuned.strip(), base.strip()))
    return pairs


def compute(
    table: ScoreTable,
    base: str,
    tuned: str,
    *,
    version: Version = "v2",
    pairs: list[tuple[str, str]] | None = None,
    sigma: dict[Group, float] | None = None,
    ddof: int = DEFAULT_DDOF,
    min_math_gain: float | None = None,
) -> TransferIndex:
    """TI of ``tuned`` against ``base`` on the benchmarks both have, σ from the population."""
    known = ", ".join(sorted(table.scores))
    for name, role in ((base, "base"), (tuned, "tuned")):
        if name not in table.scores:
            raise DataError(f"{role} model {name!r} is not in the scores", f"models in the file: {known}")
    common = sorted(set(table.scores[base]) & set(table.scores[tuned]))
    dropped = sorted(set(table.scores[base]) ^ set(table.scores[tuned]))
    base_scores = {b: table.scores[base][b] for b in common}
    tuned_scores = {b: table.scores[tuned][b] for b in common}
    sigma_used, source = None, None
    if version == "v2":
        sigma_used, source = _study_sigma(table, base, tuned, common, pairs, sigma or {}, ddof)
    result = transfer_index(
        base_scores, tuned_scores, table.groups, version=version, sigma=sigma_used,
        min_math_gain=min_math_gain, base_model=base, tuned_model=tuned, sigma_source=source,
    )
    if dropped:
        note = f"left out (scored for only one of the two models): {', '.join(dropped)}"
        result = dataclasses.replace(result, notes=result.notes + (note,))
    return result


def _study_sigma(
    table: ScoreTable,
    base: str,
    tuned: str,
    common: list[str],
    pairs: list[tuple[str, str]] | None,
    explicit: dict[Group, float],
    ddof: int,
) -> tuple[dict[Group, float], str]:
    population = list(pairs or [])
    if (tuned, base) not in population:
        population.insert(0, (tuned, base))
    deltas = population_deltas(table.scores, population, table.groups)
    present = set(resolve_groups(common, table.groups).values())
    needed = {g: d for g, d in deltas.items() if g in present and g not in explicit}
    sigma = {**sigma_from_deltas(needed, ddof=ddof), **explicit}
    parts = []
    if needed:
        counts = ", ".join(f"{g}: {len(needed[g])}" for g in GROUPS if g in needed)
        parts.append(f"deltas of {len(population)} pair(s) ({counts}), ddof={ddof}")
    if explicit:
        parts.append(f"given for {', '.join(explicit)}")
    return sigma, "; ".join(parts)


def format_result(result: TransferIndex) -> str:
    """A readable table: per benchmark, per group, TI, status."""
    v2 = result.version == "v2"
    lines = [f"TI {result.version}: {result.tuned_model} vs base {result.base_model}"]
    if v2 and result.sigma:
        sig = ", ".join(f"{g}={result.sigma[g]:.4g}" for g in GROUPS if g in result.sigma)
        lines.append(f"σ (points): {sig}  [{result.sigma_source}]")
    extra = ["δ", "s", "ŵ"] if v2 else ["rel.gain"]
    lines.append(_row(["benchmark", "group", "base", "tuned", "Δ", *extra]))
    for b in result.benchmarks:
        cells = [b.benchmark, b.group, f"{b.base:.2f}", f"{b.tuned:.2f}", f"{b.delta:+.2f}"]
        if v2:
            cells += [_num(b.normalized_delta), _num(b.signed_root), _num(b.weight)]
        else:
            cells += [_num(b.relative_gain)]
        lines.append(_row(cells))
    lines.append("")
    lines.append(_row(["group", result.gain_name, "TI (%)"]))
    for g in GROUPS:
        ti = "—" if g == "math" else _num(result.ti.get(g), ".2f")
        lines.append(_row([g, _num(result.group_gain.get(g)), ti]))
    lines.append(f"status: {result.status}")
    lines.extend(f"note: {n}" for n in result.notes)
    return "\n".join(lines)


def _num(value: float | None, fmt: str = ".4f") -> str:
    return "—" if value is None or not math.isfinite(value) else format(value, fmt)


def _row(cells: list[str]) -> str:
    return "  ".join(c.ljust(14) if i == 0 else c.rjust(9) for i, c in enumerate(cells)).rstrip()
