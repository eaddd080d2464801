"""A ragged KV cache for continuous batching: each row of the batch holds its own sequence.

Row ``r`` keeps its keys and values in slots ``[0, lengths[r])`` of a preallocated buffer of shape
``(rows, kv_heads, capacity, head_dim)`` per layer. A decoding step writes each row's new key at
its own length (in place, no concatenation) and attends over the first ``width = max(lengths) + 1``
slots through a boolean mask ``(rows, 1, 1, width)`` that hides each row's unused slots. A
speculative verify step writes ``q`` tokens per row at once (mask ``(rows, 1, q, width)``, causal
among them); slots written beyond a row's accepted length are simply overwritten later. A finished
row can therefore be refilled with a new prompt while the others keep decoding.

The capacity grows in blocks of :data:`BLOCK` slots, so the buffer is copied once per block rather
than once per token (the cost of transformers' ``DynamicCache``, which concatenates every step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from transformers.cache_utils import Cache, CacheLayerMixin

BLOCK = 256  # slots added to the capacity at a time


class RaggedLayer(CacheLayerMixin):
    """One layer's buffers; the positions to write are set by the owning :class:`RaggedCache`."""

    is_sliding = False
    keys: torch.Tensor  # allocated by lazy_initialization before any use
    values: torch.Tensor

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
        """Write ``q`` new tokens per row at its own slots; return the first ``width`` slots of every row.

        ``key_states``: ``(rows, kv_heads, q, head_dim)``; row ``r``'s token ``i`` goes to slot
        ``lengths[r] + i`` (as set by :meth:`RaggedCache.plan_step`).
        """
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        self._fit(self.owner.capacity)
        rows, slots = self.owner.write_rows, self.owner.write_slots
        if key_states.shape[2] == 1:
            self.keys[rows, :, slots, :] = key_states[:, :, 0, :]
            self.values[rows, :, slots, :] = value_states[:, :, 0, :]
        else:  # (rows, heads, q, dim) -> (rows * q, heads, dim), row-major like write_rows/write_slots
            self.keys[rows, :, slots, :] = key_states.transpose(1, 2).reshape(-1, key_states.shape[1], key_states.shape[3])
            self.values[rows, :, slots, :] = value_states.transpose(1, 2).reshape(-1, value_states.shape[1], value_states.shape[3])
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
        self.packed_index: torch.Tensor | None = None
        super().__init__(layers=[RaggedLayer(self) for _ in range(num_layers)])

    def plan_step(self, lengths: torch.Tensor, q: int = 1, counts: torch.Tensor | None = None) -> torch.Tensor:
        """Set up a step where row ``r`` writes ``q`` tokens at slots ``lengths[r] .. lengths[r] + q - 1``.

        Returns the boolean attention mask ``(rows, 1, q, width)`` with ``width = max(lengths) + q``:
        query ``i`` of row ``r`` sees slots ``[0, lengths[r] + i]`` (causal among the new tokens).

        ``counts`` (``(rows,)``, each in ``1..q``): a packed step, whose forward takes the rows' tokens
        one after another as a single sequence (row ``r`` brings ``counts[r]``); only those are written,
        and ``packed_index`` maps each packed token to its place ``r * q + i`` in the ``(rows, q)`` grid.
        """
        self.width = int(lengths.max()) + q
        self._reserve(self.width)
        rows = lengths.shape[0]
        if q == 1:
            self.write_rows = torch.arange(rows, device=lengths.device)
            self.write_slots = lengths
            last = lengths.unsqueeze(1)  # (rows, 1)
        else:
            self.write_rows = torch.arange(rows, device=lengths.device).repeat_interleave(q)
            last = lengths.unsqueeze(1) + torch.arange(q, device=lengths.device)  # (rows, q)
            self.write_slots = last.reshape(-1)
        if counts is not None:
            self.packed_index = (torch.arange(q, device=lengths.device) < counts.unsqueeze(1)).reshape(-1).nonzero().squeeze(1)
            self.write_rows, self.write_slots = self.write_rows[self.packed_index], self.write_slots[self.packed_index]
        slots = torch.arange(self.width, device=lengths.device)
        return (slots.view(1, 1, -1) <= last.unsqueeze(-1)).unsqueeze(1)

    def _reserve(self, slots: int) -> None:
        """Raise the capacity, in whole blocks, so that it exceeds ``slots`` (the layers grow on their next write)."""
        if slots > self.capacity:
            self.capacity = (slots // BLOCK + 1) * BLOCK

    @property
    def ragged_layers(self) -> list[RaggedLayer]:
        """The layers, as the :class:`RaggedLayer` s this cache made them."""
        return cast(list[RaggedLayer], self.layers)

    def put(self, row: int, per_layer: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Place one prefilled sequence (per layer ``(kv_heads, length, head_dim)`` keys and values) in ``row``."""
        self._reserve(per_layer[0][0].shape[1] + 1)
        for layer, (k, v) in zip(self.ragged_layers, per_layer):
            layer.put(row, k, v)

    def select_rows(self, index: torch.Tensor) -> None:
        """Keep only the rows in ``index`` (compaction when no prompt waits to refill them)."""
        self.rows = int(index.shape[0])
        for layer in self.ragged_layers:
            layer.select_rows(index)


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


PACKED_SDPA = "transferlab_packed_gqa_sdpa"


def packed_gqa_sdpa(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor,
    dropout: float = 0.0,
    scaling: float | None = None,
    packed_index: torch.Tensor | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """SDPA for a multi-token ragged step that folds each key/value head's query heads into its queries.

    transformers' SDPA path does this only for one query token; with ``q > 1`` (a speculative verify
    step) and a mask it copies every key and value ``num_key_value_groups`` times, which costs more
    than the attention itself. ``query`` ``(rows, heads, q, head_dim)`` becomes
    ``(rows, kv_heads, groups * q, head_dim)`` and the mask ``(rows, 1, q, width)`` is repeated to match.
    Returns ``(rows, q, heads, head_dim)`` as transformers' attention functions do.

    With ``packed_index`` (see :meth:`RaggedCache.plan_step`) the query is one packed sequence
    ``(1, heads, tokens, head_dim)``: it is spread onto the ``(rows, q)`` grid of the mask for the
    attention and gathered back, returning ``(1, tokens, heads, head_dim)``.
    """
    if packed_index is not None:
        rows, q = attention_mask.shape[0], attention_mask.shape[2]
        grid = query.new_zeros((rows * q, query.shape[1], query.shape[3]))
        grid[packed_index] = query[0].transpose(0, 1)
        out, _ = packed_gqa_sdpa(module, grid.view(rows, q, query.shape[1], query.shape[3]).transpose(1, 2), key, value, attention_mask, scaling=scaling)
        return out.reshape(rows * q, out.shape[2], out.shape[3])[packed_index].unsqueeze(0), None
    groups = int(getattr(module, "num_key_value_groups", 1))
    rows, heads, q, dim = query.shape
    if groups > 1:
        query = query.reshape(rows, heads // groups, groups * q, dim)
        if attention_mask is not None and attention_mask.shape[2] == q and q > 1:
            attention_mask = attention_mask.repeat(1, 1, groups, 1)
    out = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, scale=scaling)
    return out.reshape(rows, heads, q, out.shape[-1]).transpose(1, 2).contiguous(), None


def register_packed_sdpa() -> str:
    """Register :func:`packed_gqa_sdpa` with transformers' attention functions (once); returns its name."""
    from transformers import AttentionInterface

    AttentionInterface.register(PACKED_SDPA, packed_gqa_sdpa)
    return PACKED_SDPA
