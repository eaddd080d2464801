"""A ragged KV cache for continuous batching: each row of the batch holds its own sequence.

Row ``r`` keeps its keys and values in slots ``[0, lengths[r])`` of a preallocated buffer of shape
``(rows, kv_heads, capacity, head_dim)`` per layer. A decoding step writes each row's new key at
its own length (in place, no concatenation) and attends over the first ``width = max(lengths) + 1``
slots through a boolean mask ``(rows, 1, 1, width)`` that hides each row's unused slots. A finished
row can therefore be refilled with a new prompt while the others keep decoding.

The capacity grows in blocks of :data:`BLOCK` slots, so the buffer is copied once per block rather
than once per token (the cost of transformers' ``DynamicCache``, which concatenates every step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers.cache_utils import Cache, CacheLayerMixin

BLOCK = 256  # slots added to the capacity at a time


class RaggedLayer(CacheLayerMixin):
    """One layer's buffers; the positions to write are set by the owning :class:`RaggedCache`."""

    is_sliding = False

    def __init__(self, owner: RaggedCache) -> None:
        super().__init__()
        self.owner = owner

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        """Allocate the buffers from the first keys seen: ``(rows, kv_heads, capacity, head_dim)``."""
        rows, heads, _, dim = key_states.shape
        shape = (self.owner.rows, heads, self.owner.capacity, dim)
        self.keys = key_states.new_zeros(shape)
        self.values = value_states.new_zeros((shape[0], shape[1], shape[2], value_states.shape[-1]))
        self.device = key_states.device
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Write one new token per row at its own slot; return the first ``width`` slots of every row.

        ``key_states``: ``(rows, kv_heads, 1, head_dim)``.
        """
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        self._fit(self.owner.capacity)
        rows, slots = self.owner.write_rows, self.owner.write_slots
        self.keys[rows, :, slots, :] = key_states[:, :, 0, :]
        self.values[rows, :, slots, :] = value_states[:, :, 0, :]
        width = self.owner.width
        return self.keys[:, :, :width, :], self.values[:, :, :width, :]

    def _fit(self, capacity: int) -> None:
        """Grow the buffers to ``capacity`` slots (copying what they hold)."""
        if self.keys.shape[2] >= capacity:
            return
        for name in ("keys", "values"):
            old = getattr(self, name)
            new = old.new_zeros((old.shape[0], old.shape[1], capacity, old.shape[3]))
            new[:, :, : old.shape[2], :] = old
            setattr(self, name, new)

    def put(self, row: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Place a prefilled sequence into ``row``: ``keys`` ``(kv_heads, length, head_dim)``."""
        if not self.is_initialized:
            self.lazy_initialization(keys.unsqueeze(0), values.unsqueeze(0))
        self._fit(self.owner.capacity)
        n = keys.shape[1]
        self.keys[row, :, :n, :] = keys
        self.values[row, :, :n, :] = values

    def select_rows(self, index: torch.Tensor) -> None:
        """Keep only the rows in ``index`` (in that order)."""
        if self.is_initialized:
            self.keys = self.keys.index_select(0, index)
            self.values = self.values.index_select(0, index)

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.owner.width, 0

    def get_seq_length(self) -> int:
        return self.owner.width - 1

    def get_max_length(self) -> int:
        return -1


class RaggedCache(Cache):
    """The cache object handed to the model's forward during a ragged decoding step.

    Args:
        num_layers: decoder layers of the model.
        rows: batch rows the buffers hold.

    Before each forward, :meth:`plan_step` fixes which slot each row writes and the attended width.
    """

    def __init__(self, num_layers: int, rows: int) -> None:
        self.rows = rows
        self.capacity = BLOCK
        self.width = 1
        self.write_rows = torch.arange(rows)
        self.write_slots = torch.zeros(rows, dtype=torch.long)
        super().__init__(layers=[RaggedLayer(self) for _ in range(num_layers)])

    def plan_step(self, lengths: torch.Tensor) -> torch.Tensor:
        """Set up a step where row ``r`` writes slot ``lengths[r]``; returns the attention mask.

        Returns a boolean mask ``(rows, 1, 1, width)``: row ``r`` sees slots ``[0, lengths[r]]``.
        """
        self.width = int(lengths.max()) + 1
        self._reserve(self.width)
        self.write_rows = torch.arange(lengths.shape[0], device=lengths.device)
        self.write_slots = lengths
        slots = torch.arange(self.width, device=lengths.device)
        return (slots.unsqueeze(0) <= lengths.unsqueeze(1))[:, None, None, :]

    def _reserve(self, slots: int) -> None:
        """Raise the capacity, in whole blocks, so that it exceeds ``slots`` (the layers grow on their next write)."""
        if slots > self.capacity:
            self.capacity = (slots // BLOCK + 1) * BLOCK

    def put(self, row: int, per_layer: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Place one prefilled sequence (per layer ``(kv_heads, length, head_dim)`` keys and values) in ``row``."""
        self._reserve(per_layer[0][0].shape[1] + 1)
        for layer, (k, v) in zip(self.layers, per_layer):
            layer.put(row, k, v)  # type: ignore[attr-defined]

    def select_rows(self, index: torch.Tensor) -> None:
        """Keep only the rows in ``index`` (compaction when no prompt waits to refill them)."""
        self.rows = int(index.shape[0])
        for layer in self.layers:
            layer.select_rows(index)  # type: ignore[attr-defined]


def supports_ragged(model: Any) -> bool:
    """True when the model can decode with :class:`RaggedCache`: full attention only, SDPA or eager.

    Sliding-window, linear-attention and hybrid models, and attention kernels that take no 4D mask
    (flash-attention), use the plain batched loop instead.
    """
    config = model.config.get_text_config(decoder=True) if hasattr(model.config, "get_text_config") else model.config
    types = getattr(config, "layer_types", None)
    if types is not None and any(t != "full_attention" for t in types):
        return False
    if getattr(config, "use_sliding_window", False) and getattr(config, "sliding_window", None):
        return False
    if getattr(config, "is_encoder_decoder", False):
        return False
    return getattr(config, "_attn_implementation", None) in ("sdpa", "eager")
