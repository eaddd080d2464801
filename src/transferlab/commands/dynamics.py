"""``transferlab trajectory | seeds``: transfer during training, and across training seeds.

    transferlab train sft --base B --data sft.jsonl --out ckpt/sft --save-every 50
    transferlab trajectory --checkpoints ckpt/sft --checkpoints ckpt/grpo --benchmarks math500,gpqa_diamond \\
        --store runs.db --out trajectory/          # trajectory.json, drift/, report/index.html
    transferlab seeds --store runs.db [--study NAME] [--json]

``trajectory`` evaluates every checkpoint through the store (resumable: a checkpoint is keyed by
its weights), then writes the per-group accuracy, Δ, the Holm-corrected paired test and TI of every
step, the first step each group fell significantly below the base, and with ``--drift-n N`` the
exact token KL and PCA shift of every checkpoint with their rank correlation to TI_non.
``seeds`` reads a study with seed groups (``seeds:`` in the spec) and prints the between-seed
spread beside the bootstrap over items. See docs/dynamics.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from transferlab.commands.common import (
    add_generation_args,
    add_model_args,
    backend_options,
    generation_config,
    non_negative_int,
    positive_float,
    positive_int,
)
from transferlab.errors import ConfigError
from transferlab.groups import Group


def cmd_trajectory(args: argparse.Namespace) -> int:
    from transferlab.dynamics import analyse_trajectory, checkpoint_drift, drift_points, drift_transfer, evaluate_trajectory, find_runs, trajectory_spec
    from transferlab.dynamics.checkpoints import common_base
    from transferlab.io import resolve_data_dir, write_json_atomic
    from transferlab.report.build import build_report
    from transferlab.report.dynamics import drift_transfer_section, first_drop_table, trajectory_section
    from transferlab.store import Store
    from transferlab.study.run import study_for_store
    from transferlab.transfer.analysis import analyse_store

    if args.backend == "openai":
        raise ConfigError("checkpoints are local folders, not served models", "use --backend hf or vllm")
    runs = find_runs(args.checkpoints)
    data_dir = resolve_data_dir(args.data_dir)
    spec = trajectory_spec(
        runs,
        common_base(runs, args.base),
        [b.strip() for b in args.benchmarks.split(",") if b.strip()],
        name=args.name,
        generation=generation_config(args).to_dict(),
        backend=dataclasses.asdict(backend_options(args)),
        limit=args.limit,
        data_dir=None if data_dir is None else str(data_dir),
        sigma=_sigma(args.sigma),
    )
    store_path = Path(args.store)
    evaluate_trajectory(spec, store_path, show_progress=False if args.quiet else None, argv=sys.argv)
    with Store(store_path, readonly=True) as store:
        _, keys = study_for_store(store, name=spec.name)
        analysis = analyse_store(store, spec, keys, n_resamples=args.resamples, seed=args.bootstrap_seed)
    trajectory = analyse_trajectory(store_path, spec, runs, n_resamples=args.resamples, seed=args.bootstrap_seed, alpha=args.alpha, analysis=analysis)
    print(first_drop_table(trajectory).to_markdown())
    if args.out is None:
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "trajectory.json", trajectory)
    sections = [trajectory_section(trajectory)]
    if args.drift_n:
        drift = checkpoint_drift(spec, store_path, out / "drift", n=args.drift_n, batch_size=args.batch_size, device=args.device, dtype=args.dtype)
        points = drift_points(trajectory, drift)
        correlations = drift_transfer(points, n_resamples=args.resamples, seed=args.bootstrap_seed)
        write_json_atomic(out / "drift_transfer.json", {"points": points, "correlations": correlations, "n": args.drift_n})
        sections.append(drift_transfer_section(points, correlations, trajectory["confidence"], args.drift_n))
    index = build_report(analysis, out / "report", extra_sections=sections)
    print(f"wrote {out / 'trajectory.json'} and {index}", file=sys.stderr)
    return 0


def _sigma(text: str | None) -> dict[Group, float] | None:
    if not text:
        return None
    from transferlab.commands.ti import parse_sigma

    return parse_sigma(text)


def cmd_seeds(args: argparse.Namespace) -> int:
    from transferlab.dynamics import seeds_from_store
    from transferlab.report.dynamics import seeds_tables

    result = seeds_from_store(Path(args.store), spec_path=args.spec, study=args.study, n_resamples=args.resamples, seed=args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for table in seeds_tables(result):
        print(table.to_markdown() + "\n")
    for note in result["notes"]:
        print(f"note: {note}", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``trajectory`` and ``seeds`` commands."""
    p = subparsers.add_parser("trajectory", help="evaluate every checkpoint of a training and draw transfer against the training step")
    p.add_argument("--checkpoints", action="append", required=True, metavar="DIR", help="a training's --out folder with checkpoint-STEP folders (repeatable)")
    p.add_argument("--benchmarks", required=True, help="comma-separated names, e.g. math500,gpqa_diamond,ifeval")
    p.add_argument("--store", required=True, help="the SQLite store (created if missing; rerun to resume)")
    p.add_argument("--base", default=None, help="the base the checkpoints are compared with (default: the one the training record names)")
    p.add_argument("--name", default="trajectory", help="the study name in the store (default trajectory)")
    p.add_argument("--out", default=None, help="write trajectory.json, drift/ and report/index.html here")
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N items of each benchmark")
    p.add_argument("--data-dir", default=None, help="read benchmarks from a folder laid out like shared/data instead of the hub")
    p.add_argument(
        "--drift-n", type=non_negative_int, default=0, metavar="N", help="with --out: exact token KL and PCA shift of every checkpoint on the first N items"
    )
    p.add_argument("--sigma", default=None, help="TI v2's σ per group in points, e.g. math=12,other=3,non=4 (default: from the finished models)")
    p.add_argument("--alpha", type=positive_float, default=0.05, help="family-wise error rate of the drop test per run and group (default 0.05)")
    p.add_argument("--resamples", type=positive_int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstraps and tests")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_model_args(p)
    add_generation_args(p)
    p.set_defaults(func=cmd_trajectory)

    s = subparsers.add_parser("seeds", help="a study's trainings repeated over seeds: between-seed spread beside the bootstrap over items")
    s.add_argument("--store", required=True, help="the store the study ran into")
    s.add_argument("--spec", default=None, help="the study spec (default: the study recorded in the store)")
    s.add_argument("--study", default=None, help="which recorded study, when the store holds several")
    s.add_argument("--json", action="store_true", help="print JSON instead of tables")
    s.add_argument("--resamples", type=positive_int, default=2000, help="bootstrap resamples (default 2000)")
    s.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    s.set_defaults(func=cmd_seeds)


def main(argv: list[str] | None = None) -> int:
    """``python -m transferlab.commands.dynamics trajectory ...``."""
    from transferlab.commands.common import module_main

    args = list(sys.argv[1:] if argv is None else argv)
    return module_main(register, args[0], args[1:]) if args else 2


if __name__ == "__main__":
    sys.exit(main())
