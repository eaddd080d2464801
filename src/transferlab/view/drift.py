"""Token drift for the viewer: which answers a ``drift tokens`` folder coloured, read on demand.

``transferlab drift tokens --out DIR`` writes per (pair, benchmark) a summary JSON
(``tokens__<pair>__<benchmark>.json``, read with :func:`transferlab.drift.load_drift_results`)
and, since the viewer, the per-token rows of every answer (``....samples.jsonl``: completion key,
item, token pieces, rank under the base and under the tuned model). Only an index (completion key
-> file and byte offset) is kept in memory; a row is read when its item is shown. Folders written
before the per-token rows existed still give their summaries, and the page says why nothing is
coloured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transferlab.drift.tokens import URIAL_CATEGORIES, urial_category

TOP_TOKENS = 12  # most shifted tokens listed under a coloured answer


@dataclass
class DriftIndex:
    """The drift results of one folder: summaries by (tuned key, benchmark), rows by completion key."""

    folder: Path | None = None
    summaries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    offsets: dict[str, tuple[Path, int]] = field(default_factory=dict)
    without_rows: list[str] = field(default_factory=list)  # summary files that have no per-token rows

    @classmethod
    def load(cls, folder: str | Path | None) -> DriftIndex:
        """Index ``folder`` (None: no drift)."""
        from transferlab.drift import load_drift_results

        index = cls(Path(folder) if folder else None)
        if index.folder is None:
            return index
        for data in load_drift_results(index.folder)["tokens"]:
            index.summaries[(data["tuned"], data["benchmark"])] = data
        for path in sorted(index.folder.glob("tokens__*__*.samples.jsonl")):
            with path.open("rb") as f:
                offset = f.tell()
                for line in iter(f.readline, b""):
                    key = json.loads(line).get("key")
                    if key:
                        index.offsets[key] = (path, offset)
                    offset = f.tell()
        have = {p.name.removesuffix(".samples.jsonl") for p in index.folder.glob("tokens__*.samples.jsonl")}
        index.without_rows = sorted(p.stem for p in index.folder.glob("tokens__*.json") if p.stem not in have)
        return index

    def summary(self, tuned_key: str, benchmark: str) -> dict[str, Any] | None:
        """The summary JSON of (tuned model, benchmark), if any."""
        return self.summaries.get((tuned_key, benchmark))

    def coloured(self, completion_key: str) -> dict[str, Any] | None:
        """The answer's tokens with their URIAL category, and its most shifted tokens; None if absent."""
        found = self.offsets.get(completion_key)
        if found is None:
            return None
        path, offset = found
        with path.open("rb") as f:
            f.seek(offset)
            row = json.loads(f.readline())
        return colour_row(row)


def colour_row(row: dict[str, Any]) -> dict[str, Any]:
    """Tokens as (piece, category name, base rank, tuned rank), URIAL shares and the top shifted."""
    ranks = row["rank_base"]
    cats = urial_category(ranks).tolist() if ranks else []
    tokens = [(piece, URIAL_CATEGORIES[c], r, t) for piece, c, r, t in zip(row["tokens"], cats, ranks, row["rank_tuned"])]
    counts = {name: sum(1 for t in tokens if t[1] == name) for name in URIAL_CATEGORIES}
    order = sorted(range(len(tokens)), key=lambda i: (-tokens[i][2], i))
    top = [
        {"position": i, "token": tokens[i][0], "rank_base": tokens[i][2], "rank_tuned": tokens[i][3]} for i in order[:TOP_TOKENS] if tokens[i][1] == "shifted"
    ]
    return {"tokens": tokens, "counts": counts, "total": len(tokens), "top": top, "base": row.get("base"), "tuned": row.get("tuned")}
