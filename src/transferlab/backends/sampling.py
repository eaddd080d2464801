"""Token selection with a per-completion random stream (pure tensor functions).

Each row of a batch carries its own 63-bit seed. The uniform number that picks its next token is a
hash of (seed, step), so a completion's samples do not depend on which other rows share its batch,
on batch size, or on whether the run was resumed: the seed really reaches the sampler.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

_MASK64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    """One step of the SplitMix64 mixer on a Python int (returns a 64-bit int)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def row_uniforms(seeds: Sequence[int], step: int | Sequence[int]) -> torch.Tensor:
    """One uniform in [0, 1) per row for decoding step ``step`` (one for all rows, or one per row); shape ``(rows,)``, float64."""
    steps = [step] * len(seeds) if isinstance(step, int) else list(step)
    values = [splitmix64(splitmix64(seed) ^ s) >> 11 for seed, s in zip(seeds, steps, strict=True)]  # 53 random bits
    return torch.tensor(values, dtype=torch.float64) / float(1 << 53)


def select_tokens(logits: torch.Tensor, *, temperature: float, top_p: float, seeds: Sequence[int], step: int | Sequence[int]) -> torch.Tensor:
    """Pick the next token of every row.

    Args:
        logits: ``(rows, vocab)`` next-token logits.
        temperature: 0 for greedy (argmax), else the softmax temperature.
        top_p: nucleus mass to keep (1.0 keeps all tokens).
        seeds: one seed per row.
        step: the index of the token being generated (0 for the first new token), for all rows or per row.

    Returns:
        ``(rows,)`` int64 token ids.
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        before = sorted_probs.cumsum(dim=-1) - sorted_probs
        sorted_probs = sorted_probs.masked_fill(before >= top_p, 0.0)  # always keeps the top token
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    cdf = probs.double().cumsum(dim=-1)
    u = row_uniforms(seeds, step).to(cdf.device) * cdf[:, -1]
    picked = torch.searchsorted(cdf, u.unsqueeze(-1), right=True).squeeze(-1)
    picked = picked.clamp_(max=probs.shape[-1] - 1)
    # A token of zero mass can only be hit through rounding at the very top of the CDF: step back.
    zero = probs.gather(-1, picked.unsqueeze(-1)).squeeze(-1) == 0
    if bool(zero.any()):
        picked = torch.where(zero, probs.argmax(dim=-1), picked)
    return picked
