"""``transferlab report``: the study report, from the store or from a CSV of scores.

    transferlab report --store runs.db --out report/ [--spec configs/X.yaml] [--study NAME]
    transferlab report --scores scores.csv --pairs rl:base,sft:base --out report/ [--spec X.yaml]

Writes ``OUT/index.html`` (self-contained: figures embedded), ``OUT/report.md`` and
``OUT/figures/*.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from transferlab.errors import ConfigError
from transferlab.store import Store


def cmd_report(args: argparse.Namespace) -> int:
    from transferlab.report.build import build_report

    if args.store:
        from transferlab.study.run import study_for_store
        from transferlab.transfer.analysis import analyse_store

        with Store(args.store, readonly=True) as store:
            spec, keys = study_for_store(store, args.spec, args.study)
            analysis = analyse_store(store, spec, keys, n_resamples=args.resamples, seed=args.seed)
    else:
        analysis = _from_csv(args)
    extra = []
    if args.drift:
        from transferlab.report.drift import drift_section

        section = drift_section(args.drift)
        if section is None:
            raise ConfigError(f"no drift results in {args.drift}", "point --drift at the --out folder of `transferlab drift latent|tokens`")
        extra.append(section)
    index = build_report(analysis, Path(args.out), extra_sections=extra)
    print(f"wrote {index} and {index.parent / 'report.md'}", file=sys.stderr)
    return 0


def _from_csv(args: argparse.Namespace) -> Any:
    from transferlab.commands.ti import parse_pairs, parse_sigma
    from transferlab.study.spec import load_spec
    from transferlab.transfer.scores import analyse_scores_csv

    return analyse_scores_csv(
        Path(args.scores),
        pairs=parse_pairs(args.pairs) if args.pairs else [],
        sigma=parse_sigma(args.sigma) if args.sigma else None,
        spec=load_spec(args.spec) if args.spec else None,
    )


def register(subparsers: Any) -> None:
    """Add the ``report`` command."""
    p = subparsers.add_parser("report", help="write the study report (HTML + Markdown + PNG figures)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--store", help="the store a study ran into")
    src.add_argument("--scores", help="a CSV of model,benchmark,score[,group] instead of a store")
    p.add_argument("--out", required=True, help="the report folder (created if missing)")
    p.add_argument("--spec", default=None, help="the study spec (default: the study recorded in the store)")
    p.add_argument("--study", default=None, help="which recorded study, when the store holds several")
    p.add_argument("--pairs", default=None, help="with --scores: TUNED:BASE,... to compare")
    p.add_argument("--sigma", default=None, help="with --scores: σ per group in points, e.g. math=12,other=3")
    p.add_argument("--drift", default=None, help="a folder of `transferlab drift` results to add as the drift section")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.set_defaults(func=cmd_report)
