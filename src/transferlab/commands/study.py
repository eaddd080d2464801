"""``transferlab study run SPEC``: every model of a study on every benchmark, same settings.

    transferlab study run configs/paper-controlled.yaml --store runs.db
    transferlab study show configs/paper-audit.yaml          # check a spec, list its pairs

``run`` refuses a store that already holds results of the same model and benchmark produced
under other settings; ``--allow-mixed-settings`` adds the study's settings beside them (the
study's tables and TI then read its own settings only, and the report lists the others).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from transferlab.commands.common import positive_int
from transferlab.io import resolve_data_dir
from transferlab.store import Store


def cmd_run(args: argparse.Namespace) -> int:
    from transferlab.study.run import run_study
    from transferlab.study.spec import load_spec

    spec = load_spec(args.spec)
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    with Store(args.store) as store:
        summaries = run_study(
            spec,
            store,
            only=only,
            allow_mixed_settings=args.allow_mixed_settings,
            limit=args.limit,
            data_dir=resolve_data_dir(args.data_dir),
            show_progress=False if args.quiet else None,
            argv=sys.argv,
        )
    for s in summaries:
        print(f"{s.model_key}: {s.requested} completions asked, {s.reused} already stored, {s.generated} generated", file=sys.stderr)
    print(f"study {spec.name}: {len(summaries)} models done; next: transferlab report --store {args.store} --out report/", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from transferlab.study.spec import load_spec

    spec = load_spec(args.spec)
    groups = spec.resolved_groups()
    print(f"study {spec.name}: {len(spec.models)} models, {len(spec.pairs)} pairs")
    for tuned, base in spec.pairs:
        print(f"  {tuned} <- {base} ({spec.model(tuned).training})")
    print("benchmarks: " + ", ".join(f"{b} ({groups[b]})" for b in spec.benchmarks))
    print("generation: " + ", ".join(f"{k}={v}" for k, v in spec.generation.to_dict().items()))
    for benchmark, values in spec.generation_overrides.items():
        print(f"  {benchmark}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    return 0


def register(subparsers: Any) -> None:
    """Add the ``study`` command with its ``run`` and ``show`` sub-commands."""
    p = subparsers.add_parser("study", help="run a study spec: every model on every benchmark, same settings")
    sub = p.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    r = sub.add_parser("run", help="evaluate and score every model of a spec into a store")
    r.add_argument("spec", help="the study spec (YAML), e.g. configs/tiny.yaml")
    r.add_argument("--store", required=True, help="the SQLite store (created if missing)")
    r.add_argument("--only", default=None, help="only these models (comma-separated names from the spec)")
    r.add_argument("--limit", type=positive_int, default=None, help="only the first N items of each benchmark (overrides the spec)")
    r.add_argument("--data-dir", default=None, help="read benchmarks from a folder laid out like shared/data (overrides the spec)")
    r.add_argument("--allow-mixed-settings", action="store_true", help="run even where the store holds results under other settings")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=cmd_run)
    s = sub.add_parser("show", help="check a spec and list its pairs, benchmarks and settings")
    s.add_argument("spec")
    s.set_defaults(func=cmd_show)
