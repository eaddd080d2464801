"""Latent-space drift, the model-running part: texts from benchmarks, pooled hidden states per layer.

Two poolings:

- ``masked`` (default): right padding, mean over the real tokens only. With causal attention the
  real tokens never see the padding, so a text's features do not depend on its batch.
- ``paper``: the paper's script: left padding, every text of a benchmark in one batch, the
  attention mask passed but the mean taken over every position (padding included), texts cut to
  ``max_tokens`` (128 in the paper).

The hidden states of every layer come from ``output_hidden_states`` (embeddings first). The last
entry of HF Llama/Qwen models is taken after the final norm, so it is on another scale than the
rest: report per layer, not only the average.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from transferlab.benchmarks import get_benchmark
from transferlab.drift.latent import masked_mean_pool
from transferlab.errors import ConfigError, DataError
from transferlab.items import Item
from transferlab.options import POOLINGS, Pooling

PAPER_MAX_TOKENS = 128
QUESTION_FIELDS = ("question", "prompt", "problem", "story", "context", "text")


def item_text(item: Item) -> str:
    """The raw text of an item: its question, a blank line, its reference answer (no chat template)."""
    question = next((item.fields[k] for k in QUESTION_FIELDS if isinstance(item.fields.get(k), str)), None)
    if question is None:
        raise DataError(f"item {item.id} has no question text among {', '.join(QUESTION_FIELDS)}", "choose benchmarks whose items have a question field")
    reference = item.reference
    if isinstance(reference, (list, tuple)):
        reference = " ".join(str(r) for r in reference)
    elif isinstance(reference, dict):
        reference = " ".join(str(v) for v in reference.values())
    return f"{question}\n\n{reference}" if reference not in (None, "") else question


def benchmark_texts(name: str, data_dir: Any, n: int) -> list[str]:
    """The first ``n`` items of benchmark ``name`` as raw texts (see :func:`item_text`)."""
    return [item_text(i) for i in get_benchmark(name).load(data_dir, limit=n)]


def _pad_id(tokenizer: Any, model: Any) -> int:
    for candidate in (tokenizer.pad_token_id, getattr(model.config, "pad_token_id", None), tokenizer.eos_token_id):
        if isinstance(candidate, int):
            return candidate
    return 0


def _pad(rows: Sequence[Sequence[int]], pad_id: int, side: str) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        span = slice(width - len(r), width) if side == "left" else slice(0, len(r))
        ids[i, span] = torch.tensor(list(r), dtype=torch.long)
        mask[i, span] = 1
    return ids, mask


@torch.inference_mode()
def pooled_hidden_states(
    model: Any, tokenizer: Any, texts: Sequence[str], *, pooling: Pooling = "masked", max_tokens: int | None = None, batch_size: int = 8
) -> list[np.ndarray]:
    """Mean-pooled hidden states of every layer: a list of ``num_layers + 1`` arrays [N, D] float32.

    ``max_tokens`` cuts each text to its first tokens (None: whole texts). ``pooling`` is
    ``"masked"`` or ``"paper"`` (see the module docstring); ``"paper"`` runs all texts in one batch.
    """
    if pooling not in POOLINGS:
        raise ConfigError(f"unknown pooling {pooling!r}", f"choose {' or '.join(POOLINGS)}")
    if not texts:
        raise DataError("no texts to run through the models", "check --benchmarks and --n")
    encoded = tokenizer(list(texts), add_special_tokens=True)["input_ids"]
    encoded = [list(e[:max_tokens]) if max_tokens else list(e) for e in encoded]
    if any(len(e) == 0 for e in encoded):
        raise DataError("a text has no tokens", "drop empty items from the benchmark")
    device = next(model.parameters()).device
    pad_id = _pad_id(tokenizer, model)
    size = len(encoded) if pooling == "paper" else max(1, batch_size)
    layers: list[list[np.ndarray]] = []
    for start in range(0, len(encoded), size):
        ids, mask = _pad(encoded[start : start + size], pad_id, "left" if pooling == "paper" else "right")
        ids, mask = ids.to(device), mask.to(device)
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False, logits_to_keep=1)
        pool_mask = None if pooling == "paper" else mask
        pooled = [masked_mean_pool(h, pool_mask).cpu().numpy() for h in out.hidden_states]
        if not layers:
            layers = [[] for _ in pooled]
        for bucket, array in zip(layers, pooled):
            bucket.append(array)
    return [np.concatenate(chunks, axis=0) for chunks in layers]
