"""Why it transfers: latent-space and token-space drift between a base and a tuned model.

- :mod:`~transferlab.drift.latent` (pure): masked mean pooling, per-layer PCA shift, linear CKA.
- :mod:`~transferlab.drift.hidden`: benchmark texts and pooled hidden states from HF models.
- :mod:`~transferlab.drift.tokens` (pure): ranks, URIAL shares, sampled and exact KL, rank shift,
  shares by position, top shifted tokens.
- :mod:`~transferlab.drift.token_scoring`: base and tuned score prompt + answer in batched
  forward passes, reduced at once to per-token summaries (HF), or through vLLM prompt log-probs.
- :mod:`~transferlab.drift.figures`: the PNGs.

``transferlab drift latent|tokens`` writes one JSON per (pair, benchmark) into its ``--out``
folder: ``latent__<pair>__<benchmark>.json`` and ``tokens__<pair>__<benchmark>.json``, each with
``kind``, ``base``, ``tuned``, ``pair``, ``benchmark``, ``settings`` and ``result``.
:func:`load_drift_results` reads them back for the study report's drift section.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DRIFT_KINDS = ("latent", "tokens")


def load_drift_results(folder: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Every drift JSON in ``folder``, by kind (``{"latent": [...], "tokens": [...]}``; empty lists if none)."""
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in DRIFT_KINDS}
    folder = Path(folder)
    if not folder.is_dir():
        return found
    for kind in DRIFT_KINDS:
        for path in sorted(folder.glob(f"{kind}__*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("kind") == kind:
                found[kind].append(data)
    return found


__all__ = ["DRIFT_KINDS", "load_drift_results"]
