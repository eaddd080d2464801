"""``transferlab merge`` and ``transferlab migrate``: stores written on several machines joined into
one; an older store migrated in place and compacted. See docs/store.md."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_merge(args: argparse.Namespace) -> int:
    from transferlab.store import merge_stores

    for s in merge_stores(args.stores, args.into, allow_mixed_settings=args.allow_mixed_settings):
        differing = f", {s.differing} completions with other texts than the target's left as the target had them" if s.differing else ""
        print(f"{s.source}: {s.completions} completions, {s.scores} verdicts, {s.runs} runs added{differing}", file=sys.stderr)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from transferlab.store import vacuum

    before, after = vacuum(args.store)
    print(f"{args.store}: schema up to date; {before / 2**20:.1f} MiB before, {after / 2**20:.1f} MiB after compaction", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``merge`` and ``migrate`` commands."""
    p = subparsers.add_parser("merge", help="join stores written on several machines into one (idempotent)")
    p.add_argument("stores", nargs="+", help="the stores to merge (read, never changed)")
    p.add_argument("--into", required=True, help="the store to merge into (created if missing)")
    p.add_argument(
        "--allow-mixed-settings",
        action="store_true",
        help="merge even where a model and benchmark were evaluated under other settings in another store (both kept apart)",
    )
    p.set_defaults(func=cmd_merge)

    p = subparsers.add_parser("migrate", help="bring a store written by an older transferlab to this schema, then compact the file")
    p.add_argument("store")
    p.set_defaults(func=cmd_migrate)
