"""``transferlab report``: the study report, from the store or from a CSV of scores.

    transferlab report --store runs.db --out report/ [--spec configs/X.yaml] [--study NAME]
    transferlab report --store runs.db --base A --tuned B --out report/   # any store, no study needed
    transferlab report --scores scores.csv --pairs rl:base,sft:base --out report/ [--spec X.yaml]

Writes ``OUT/index.html`` (self-contained: figures embedded), ``OUT/report.md`` and
``OUT/figures/*.png``. A store with one model and no study gives a results-only report. ``--sigma``
sets σ (TI v2) on every path; ``--paper-scoring`` and ``--math-grader`` count the verdicts
``results`` would (see :func:`transferlab.transfer.from_store.store_analysis`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from transferlab.commands.common import add_scorer_choice_args, positive_int, scorer_choice
from transferlab.commands.ti import parse_sigma, refuse_scorer_choice_without_store
from transferlab.errors import ConfigError
from transferlab.store import Store


def cmd_report(args: argparse.Namespace) -> int:
    from transferlab.report.build import build_report

    if args.store:
        from transferlab.transfer.from_store import store_analysis

        if args.pairs:
            raise ConfigError("--pairs names the pairs of a --scores CSV", "with --store name the pair with --base BASE --tuned TUNED")
        with Store(args.store, readonly=True) as store:
            analysis = store_analysis(
                store,
                base=args.base,
                tuned=args.tuned,
                spec_path=args.spec,
                study=args.study,
                sigma=parse_sigma(args.sigma) if args.sigma else None,
                n_resamples=args.resamples,
                seed=args.seed,
                scoring=scorer_choice(args),
            )
    else:
        refuse_scorer_choice_without_store(args)
        if args.base or args.tuned:
            raise ConfigError("--base and --tuned name a pair in a --store", "with --scores name the pairs with --pairs TUNED:BASE,...")
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
    from transferlab.commands.ti import parse_pairs
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
    p.add_argument("--base", default=None, help="with --store: the base model of the pair (study name, key or name; no study needed)")
    p.add_argument("--tuned", default=None, help="with --store: the tuned model of the pair (same forms as --base)")
    p.add_argument("--pairs", default=None, help="with --scores: TUNED:BASE,... to compare")
    p.add_argument("--sigma", default=None, help="σ per group in points for TI v2, e.g. math=12,other=3,non=4 (default: from the pairs; see docs/ti.md)")
    p.add_argument("--drift", default=None, help="a folder of `transferlab drift` results to add as the drift section")
    p.add_argument("--resamples", type=positive_int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    add_scorer_choice_args(p)
    p.set_defaults(func=cmd_report)
