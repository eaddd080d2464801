"""The report's drift section: latent (PCA shift, CKA) and token (URIAL shares, KL, ranks) drift.

Built from the JSON files ``transferlab drift latent|tokens`` writes
(:func:`transferlab.drift.load_drift_results`); absent when there are none.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from transferlab.report.html import Section
from transferlab.report.tables import Table


def _f(value: Any, fmt: str = ".3f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(float(value), fmt)


def latent_table(results: list[dict[str, Any]]) -> Table:
    """One row per (pair, benchmark): the paper's layer-averaged distance, mean |PC1 shift|, CKA."""
    rows = tuple(
        (r["pair"], r["benchmark"], _f(r["result"].get("paper_distance")), _f(r["result"].get("mean_abs_pc1_shift")), _f(r["result"].get("mean_cka")))
        for r in results
    )
    return Table(
        "Latent drift (hidden states of every layer, PCA fitted on the base)",
        ("pair", "benchmark", "paper distance", "mean |PC1 shift|", "mean linear CKA"),
        rows,
        note="paper distance: between the base's and the tuned model's (PC1 change, PC2 mean) averaged over layers; the per-layer curves are in the drift folder",
    )


def token_table(results: list[dict[str, Any]]) -> Table:
    """One row per (pair, benchmark): URIAL shares by base rank, sampled and exact KL, rank shift."""
    rows = []
    for r in results:
        res, shares = r["result"], r["result"].get("urial_shares", {})
        rows.append(
            (
                r["pair"],
                r["benchmark"],
                str(res.get("answer_tokens", "-")),
                _f(shares.get("unshifted"), ".1%"),
                _f(shares.get("marginal"), ".1%"),
                _f(shares.get("shifted"), ".1%"),
                _f(res.get("sampled_kl")),
                _f(res.get("exact_kl")),
                _f(res.get("rank_shift")),
            )
        )
    return Table(
        "Token drift (the tuned model's greedy answers scored by both models)",
        ("pair", "benchmark", "answer tokens", "unshifted", "marginal", "shifted", "sampled KL", "exact KL", "rank shift"),
        tuple(rows),
        note="shares by the base model's rank of each answer token: 1 unshifted, 2-3 marginal, >3 shifted; sampled KL is the paper's estimate, exact KL sums over the whole vocabulary",
    )


def drift_section(folder: str | Path) -> Section | None:
    """The drift section from the JSON files in ``folder``; None when it holds none."""
    from transferlab.drift import load_drift_results

    found = load_drift_results(folder)
    tables = ([latent_table(found["latent"])] if found["latent"] else []) + ([token_table(found["tokens"])] if found["tokens"] else [])
    if not tables:
        return None
    intro = f"From {html.escape(str(folder))} (transferlab drift latent|tokens)."
    return Section(
        "Why: latent and token drift", f"<p>{intro}</p>" + "".join(t.to_html() for t in tables), intro + "\n\n" + "\n\n".join(t.to_markdown() for t in tables)
    )
