"""Token-space drift, the pure part: ranks, URIAL shares, KL, rank shift, positions, top tokens.

The tuned model answers a prompt greedily; base and tuned then score the same prompt + answer. For
every answer token ``x_t`` we keep a :class:`TokenSummary` row: its id, its log-probability (nats)
and its rank (1 = argmax) under each model, and the exact per-position KL(tuned || base) over the
whole vocabulary. Everything below is computed from those rows, never from the logits again.

Names follow the paper (section 4 of PAPER.md):

- URIAL categories by base rank: ``unshifted`` (rank 1), ``marginal`` (2-3), ``shifted`` (> 3).
- ``sampled_kl``: the paper's "KL", the mean over a sample's answer tokens of
  ``log p_tuned(x_t) - log p_base(x_t)``, then the mean over samples. A Monte Carlo estimate of
  KL(tuned || base) because the answers are the tuned model's own (greedy) outputs. Signed: the
  paper's script reports its absolute value and adds 1e-10 to each probability; we do neither.
- ``exact_kl``: ``sum_v p_tuned(v) (log p_tuned(v) - log p_base(v))`` at every answer position,
  averaged over tokens in a sample, then over samples (named apart from the sampled estimate).
- ``rank_shift``: the mean base rank of the tuned model's tokens, minus one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

URIAL_CATEGORIES = ("unshifted", "marginal", "shifted")
RELATIVE_BINS = 10  # answer deciles


@dataclass(frozen=True)
class TokenSummary:
    """Per-answer-token summaries of one sample (every array has one entry per answer token).

    Attributes:
        token_ids: int64 ids of the answer tokens.
        logprob_base, logprob_tuned: float32 log-probabilities (nats) of each token.
        rank_base, rank_tuned: int64 ranks (1 = argmax) of each token.
        kl_exact: float32 KL(tuned || base) over the vocabulary at each position (NaN where the
            backend only returns the realised token's log-probability, e.g. vLLM).
    """

    token_ids: np.ndarray
    logprob_base: np.ndarray
    logprob_tuned: np.ndarray
    rank_base: np.ndarray
    rank_tuned: np.ndarray
    kl_exact: np.ndarray

    def __len__(self) -> int:
        return int(self.token_ids.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (bytes): linear in answer tokens, independent of the vocabulary."""
        return sum(a.nbytes for a in (self.token_ids, self.logprob_base, self.logprob_tuned, self.rank_base, self.rank_tuned, self.kl_exact))


# -- from logits (torch, batched: no per-token Python loop) ------------------------------------
def token_ranks(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Rank (1 = argmax) of ``targets`` in ``logits``: 1 + how many entries are strictly larger.

    Shapes: ``logits`` [..., V], ``targets`` [...] (int64) -> [...] int64. A token tied with the
    maximum has rank 1.
    """
    chosen = logits.gather(-1, targets.unsqueeze(-1))
    return (logits > chosen).sum(-1) + 1


def token_logprobs(logprobs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The log-probabilities of ``targets``: [..., V] log-softmax and [...] ids -> [...]."""
    return logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def exact_kl(logprobs_tuned: torch.Tensor, logprobs_base: torch.Tensor) -> torch.Tensor:
    """KL(tuned || base) in nats at every position: two [..., V] log-softmaxes -> [...]."""
    return (logprobs_tuned.exp() * (logprobs_tuned - logprobs_base)).sum(-1).clamp(min=0.0)


# -- from summaries (numpy) --------------------------------------------------------------------
def urial_category(base_ranks: np.ndarray) -> np.ndarray:
    """URIAL's category index per token: 0 unshifted (rank 1), 1 marginal (2-3), 2 shifted (> 3)."""
    ranks = np.asarray(base_ranks)
    return np.where(ranks <= 1, 0, np.where(ranks <= 3, 1, 2))


def urial_shares(base_ranks: np.ndarray) -> dict[str, float]:
    """Shares (0-1) of unshifted, marginal and shifted tokens; NaN for no tokens."""
    cats = urial_category(base_ranks)
    if cats.size == 0:
        return {name: float("nan") for name in URIAL_CATEGORIES}
    counts = np.bincount(cats, minlength=3)
    return {name: float(c / cats.size) for name, c in zip(URIAL_CATEGORIES, counts)}


def sampled_kl(samples: Sequence[TokenSummary]) -> float:
    """The paper's KL: mean over tokens of ``log p_tuned - log p_base`` per sample, then over samples."""
    per_sample = [float(np.mean(s.logprob_tuned.astype(np.float64) - s.logprob_base)) for s in samples if len(s)]
    return float(np.mean(per_sample)) if per_sample else float("nan")


def mean_exact_kl(samples: Sequence[TokenSummary]) -> float:
    """Exact KL(tuned || base): mean over a sample's positions, then over samples (NaN if unknown)."""
    per_sample = [float(np.mean(s.kl_exact.astype(np.float64))) for s in samples if len(s)]
    return float(np.mean(per_sample)) if per_sample else float("nan")


def rank_shift(base_ranks: np.ndarray) -> float:
    """Token rank shift: the mean base rank of the tuned model's tokens, minus one."""
    ranks = np.asarray(base_ranks, dtype=np.float64)
    return float(ranks.mean() - 1.0) if ranks.size else float("nan")


def absolute_bin_edges(max_len: int) -> list[int]:
    """Left edges of the log2 position bins 0, 1, 2-3, 4-7, ... covering ``max_len`` tokens."""
    edges, edge = [0], 1
    while edge < max_len:
        edges.append(edge)
        edge *= 2
    return edges


def position_shares(samples: Sequence[TokenSummary]) -> dict[str, Any]:
    """URIAL shares and mean exact KL by position in the answer.

    ``relative``: by answer decile (position / length, 10 bins). ``absolute``: by token index in
    log2 bins (0, 1, 2-3, 4-7, ...). Each bin: ``label``, ``tokens`` and the three shares.
    """
    lengths = [len(s) for s in samples if len(s)]
    if not lengths:
        return {"relative": [], "absolute": []}
    pos = np.concatenate([np.arange(n) for n in lengths])
    rel = np.concatenate([np.floor(np.arange(n) * RELATIVE_BINS / n) for n in lengths]).astype(int)
    ranks = np.concatenate([s.rank_base for s in samples if len(s)])
    kl = np.concatenate([s.kl_exact for s in samples if len(s)])
    edges = absolute_bin_edges(max(lengths))
    absolute = np.searchsorted(edges, pos, side="right") - 1
    labels_rel = [f"{10 * b}-{10 * (b + 1)}%" for b in range(RELATIVE_BINS)]
    labels_abs = [str(e) if e < 2 else f"{e}-{2 * e - 1}" for e in edges]
    return {"relative": _binned(rel, labels_rel, ranks, kl), "absolute": _binned(absolute, labels_abs, ranks, kl)}


def _binned(bins: np.ndarray, labels: list[str], ranks: np.ndarray, kl: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for b, label in enumerate(labels):
        sel = bins == b
        if not sel.any():
            continue
        kl_bin = kl[sel]
        rows.append(
            {
                "label": label,
                "tokens": int(sel.sum()),
                **urial_shares(ranks[sel]),
                "exact_kl": float(np.mean(kl_bin)) if not np.isnan(kl_bin).all() else float("nan"),
            }
        )
    return rows


def top_shifted_tokens(token_ids: np.ndarray, base_ranks: np.ndarray, k: int = 30, decode: Callable[[int], str] | None = None) -> list[dict[str, Any]]:
    """The ``k`` tokens most often shifted (base rank > 3), with counts.

    Each row: ``token_id``, ``token`` (``decode(id)`` or the id as text), ``shifted`` (times
    shifted), ``occurrences`` (times in the answers) and ``shifted_share``. Ties by id.
    """
    ids = np.asarray(token_ids, dtype=np.int64)
    if ids.size == 0:
        return []
    shifted = urial_category(base_ranks) == 2
    size = int(ids.max()) + 1
    counts = np.bincount(ids[shifted], minlength=size)
    occurrences = np.bincount(ids, minlength=size)
    order = np.lexsort((np.arange(size), -counts))
    rows = []
    for token_id in order[:k]:
        if counts[token_id] == 0:
            break
        rows.append(
            {
                "token_id": int(token_id),
                "token": decode(int(token_id)) if decode else str(token_id),
                "shifted": int(counts[token_id]),
                "occurrences": int(occurrences[token_id]),
                "shifted_share": float(counts[token_id] / occurrences[token_id]),
            }
        )
    return rows


def summarize(samples: Sequence[TokenSummary], *, top_k: int = 30, decode: Callable[[int], str] | None = None) -> dict[str, Any]:
    """Every token-drift measure over a benchmark's samples, JSON-ready."""
    kept = [s for s in samples if len(s)]
    if kept:
        ids = np.concatenate([s.token_ids for s in kept])
        ranks_base = np.concatenate([s.rank_base for s in kept])
        ranks_tuned = np.concatenate([s.rank_tuned for s in kept])
    else:
        ids = ranks_base = ranks_tuned = np.zeros(0, dtype=np.int64)
    return {
        "samples": len(kept),
        "answer_tokens": int(ids.size),
        "urial_shares": urial_shares(ranks_base),
        "sampled_kl": sampled_kl(kept),
        "exact_kl": mean_exact_kl(kept),
        "rank_shift": rank_shift(ranks_base),
        "tuned_rank_shift": rank_shift(ranks_tuned),
        "tuned_top1_share": float(np.mean(ranks_tuned == 1)) if ranks_tuned.size else float("nan"),
        "by_position": position_shares(kept),
        "top_shifted_tokens": top_shifted_tokens(ids, ranks_base, top_k, decode),
    }
