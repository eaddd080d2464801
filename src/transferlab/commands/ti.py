"""``transferlab ti``: the Transferability Index of a tuned model against its base.

    transferlab ti --scores scores.csv --base Qwen3-14B-Base --tuned UniReason-RL [--json]
    transferlab ti --store runs.db --base Qwen3-14B-Base --tuned UniReason-RL [--version v2|v1]

With ``--store`` the per-item scores give bootstrap CIs (see :mod:`transferlab.transfer.from_store`).

The CSV has columns ``model, benchmark, score`` (score: accuracy in percent) and optionally
``group`` (math, other or non) for benchmarks the built-in list does not know, or to override it.
For v2, σ_g comes from the deltas of the population of pairs named by ``--pairs`` (default: the
pair compared; the compared pair is always part of it), with ``--ddof`` (default 1), unless
``--sigma`` sets it. With one pair, one σ is shared by every group (the spread of all the pair's
deltas), which cancels out of TI: see :mod:`transferlab.transfer.sigma` and docs/ti.md.
``--paper-scoring`` and ``--math-grader`` (with ``--store``) count the verdicts ``results`` would.

The computing is in :mod:`transferlab.transfer.scores` and :mod:`transferlab.transfer.from_store`;
this module parses the options and prints.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from transferlab.commands.common import add_scorer_choice_args, non_negative_float, non_negative_int, positive_int, scorer_choice
from transferlab.errors import ConfigError, DataError
from transferlab.groups import GROUPS, Group
from transferlab.options import TI_VERSIONS
from transferlab.transfer.analysis import DeltaRow, TIRow
from transferlab.transfer.sigma import DEFAULT_DDOF
from transferlab.transfer.ti import TRANSFER_GROUPS, TransferIndex


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
    p.add_argument("--resamples", type=positive_int, default=2000, help="with --store: bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="with --store: bootstrap seed")
    p.add_argument("--version", choices=TI_VERSIONS, default="v2", help="TI version (default v2)")
    p.add_argument("--sigma", default=None, help="σ per group in points, e.g. math=12,other=3,non=4 (v2)")
    p.add_argument(
        "--pairs",
        default=None,
        help="σ population as tuned:base,tuned:base (v2; default: the compared pair only)",
    )
    p.add_argument("--ddof", type=non_negative_int, default=DEFAULT_DDOF, help="ddof of σ (default 1)")
    p.add_argument(
        "--min-math-gain",
        type=non_negative_float,
        default=None,
        help="below this |math gain| TI is undefined (default 0.02 for v1, 0.25 for v2)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_scorer_choice_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute TI from the CSV or the store, print it."""
    if args.version == "v1" and args.sigma:
        raise ConfigError("--sigma applies to --version v2 only", "drop --sigma or use v2")
    pairs = parse_pairs(args.pairs) if args.pairs else None
    sigma = parse_sigma(args.sigma) if args.sigma else None
    if args.store is not None:
        from transferlab.store import Store
        from transferlab.transfer.from_store import ti_from_store

        with Store(args.store, readonly=True) as store:
            row, deltas = ti_from_store(
                store,
                args.base,
                args.tuned,
                spec_path=args.spec,
                study=args.study,
                version=args.version,
                sigma=sigma,
                pairs=pairs,
                ddof=args.ddof,
                min_math_gain=args.min_math_gain,
                n_resamples=args.resamples,
                seed=args.seed,
                scoring=scorer_choice(args),
            )
        print_store_result(row, deltas, args.json)
        return 0
    refuse_scorer_choice_without_store(args)
    from transferlab.transfer.scores import read_scores_csv, ti_from_scores

    result = ti_from_scores(
        read_scores_csv(args.scores), args.base, args.tuned, version=args.version, pairs=pairs, sigma=sigma, ddof=args.ddof, min_math_gain=args.min_math_gain
    )
    print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) if args.json else format_result(result))
    return 0


def refuse_scorer_choice_without_store(args: argparse.Namespace) -> None:
    """``--paper-scoring`` and ``--math-grader`` choose stored verdicts: a CSV of scores has none."""
    if args.paper_scoring or args.math_grader != "transferlab":
        raise ConfigError("--paper-scoring and --math-grader choose verdicts in a store; a CSV of scores holds none", "use them with --store")


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
        out[group] = number
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
    lines.append(f"status: {result.status}" + (f" ({result.reason})" if result.reason else ""))
    lines.extend(f"note: {n}" for n in result.notes)
    return "\n".join(lines)


def _num(value: float | None, fmt: str = ".4f") -> str:
    return "—" if value is None or not math.isfinite(value) else format(value, fmt)


def _row(cells: list[str]) -> str:
    return "  ".join(c.ljust(14) if i == 0 else c.rjust(9) for i, c in enumerate(cells)).rstrip()


def print_store_result(row: TIRow, deltas: list[DeltaRow], as_json: bool) -> None:
    """TI with its intervals and each benchmark's delta with its CI, as JSON or text; the one status
    is the point's (judged with the math gain's interval, so an undefined TI prints no number)."""
    if row.point is None:
        raise DataError(f"TI {row.version} could not be computed: {row.error}")
    if as_json:
        data = row.point.to_dict()
        data["ti_ci"] = {g: list(ci) if ci else None for g, ci in row.ci.items()}
        data["delta_ci"] = {d.benchmark: [d.low, d.high] for d in deltas}
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    print(format_result(row.point))
    print("")
    for d in deltas:
        print(f"Δ {d.benchmark:<14} {d.delta:+7.2f}  95% CI [{d.low:+.2f}, {d.high:+.2f}]" + (f"  p={d.p_value:.3g}" if d.p_value is not None else ""))
    if row.point.math_gain_ci is not None:
        low, high = row.point.math_gain_ci
        print(f"{row.point.gain_name}_math 95% CI: [{low:.4f}, {high:.4f}]")
    for g in TRANSFER_GROUPS:
        ci = row.ci.get(g)
        print(f"TI_{g} 95% CI: " + (f"[{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "— (undefined)"))
