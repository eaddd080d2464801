"""Continuous batching for the Hugging Face backend.

The decode batch is kept full: when a row finishes, the next waiting prompt is prefilled and takes
its place while the other rows keep decoding (each row holds its own sequence in a
:class:`~transferlab.backends.ragged.RaggedCache`). On a CPU, and on a GPU at small batch, a decoding
step costs about the same whatever the number of rows (the weights are read once per step), so the
number of steps, not the number of rows, sets the time: a full batch makes every step count.

- The k samples of a prompt share one prefill: its keys and values are copied into k rows.
- Each row samples from its own seeded stream at its own step index, so samples do not depend on
  which rows share the batch, on the batch size, or on resume.
- When nothing waits, finished rows are dropped (the buffers are compacted) instead of refilled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from transferlab.backends.base import Completion, PromptJob, SampleSlot
from transferlab.backends.ragged import RaggedCache
from transferlab.backends.sampling import select_tokens
from transferlab.spec import GenerationConfig


@dataclass
class Row:
    """One live completion: its slot, prompt length, tokens so far and cached length (tokens)."""

    slot: SampleSlot
    prompt_len: int
    length: int
    tokens: list[int] = field(default_factory=list)


@dataclass
class Pending:
    """A prompt whose sample slots wait for free rows."""

    ids: list[int]
    slots: deque[SampleSlot]


Finisher = Callable[[Row, int, int], str | None]  # (row, token, step) -> finish reason or None


class ContinuousDecoder:
    """Decode ``jobs`` with at most ``rows`` live rows, refilling rows as they finish.

    Args:
        backend: the :class:`~transferlab.backends.hf.HFBackend` (model, pad id, device, helpers).
        config: sampling settings.
        finish: decides after each token whether a row ends (``"stop"``/``"length"``) or goes on.
        complete: turns a finished row into a :class:`Completion`.
    """

    def __init__(self, backend: Any, config: GenerationConfig, finish: Finisher, complete: Callable[[Row, str], Completion]) -> None:
        self.b = backend
        self.config = config
        self.finish = finish
        self.complete = complete
        self.model = backend.hf_model
        self.cache = RaggedCache(self._num_layers(), backend.batch_size)
        self.rows: list[Row | None] = [None] * backend.batch_size
        eager = getattr(self.model.config, "_attn_implementation", "sdpa") == "eager"
        self.mask_dtype = self.model.dtype if eager else None

    def _num_layers(self) -> int:
        config = self.model.config.get_text_config(decoder=True) if hasattr(self.model.config, "get_text_config") else self.model.config
        return int(config.num_hidden_layers)

    def run(self, jobs: Sequence[PromptJob], encoded: Sequence[list[int]]) -> Iterator[list[tuple[SampleSlot, Completion]]]:
        """Generate every slot; yields the completions that finished at each step."""
        waiting = deque(Pending(list(encoded[i]), deque(jobs[i].slots)) for i in sorted(range(len(jobs)), key=lambda i: -len(encoded[i])))
        while True:
            finished: list[tuple[SampleSlot, Completion]] = []
            while waiting and any(r is None for r in self.rows):
                finished += self._refill(waiting)  # rows whose first token ends them are refilled again
            self._compact()
            if finished:
                yield finished
            if not self.rows:
                return
            done = self._decode_step()
            if done:
                yield done

    # -- prefill ------------------------------------------------------------------------------
    def _refill(self, waiting: deque[Pending]) -> list[tuple[SampleSlot, Completion]]:
        """Prefill waiting prompts into the free rows (one batched forward); sample their first tokens."""
        free = [r for r, row in enumerate(self.rows) if row is None]
        batch: list[tuple[Pending, list[SampleSlot]]] = []
        room = len(free)
        while waiting and room:
            pending = waiting[0]
            taken = [pending.slots.popleft() for _ in range(min(room, len(pending.slots)))]
            batch.append((pending, taken))
            room -= len(taken)
            if not pending.slots:
                waiting.popleft()
        prompts = [p.ids for p, _ in batch]
        ids, mask = self.b._left_pad(prompts)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        from transformers import DynamicCache

        dyn = DynamicCache(config=self.model.config)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1, **{self.b._cache_arg: dyn})
        width = ids.shape[1]
        placed: list[int] = []
        rows_logits: list[int] = []
        free_iter = iter(free)
        for j, (pending, slots) in enumerate(batch):
            n = len(pending.ids)
            per_layer = [(layer.keys[j, :, width - n :, :], layer.values[j, :, width - n :, :]) for layer in dyn.layers]
            for slot in slots:
                r = next(free_iter)
                self.cache.put(r, per_layer)
                self.rows[r] = Row(slot, n, n)
                placed.append(r)
                rows_logits.append(j)
        logits = out.logits[:, -1, :][torch.tensor(rows_logits, device=out.logits.device)]
        return self._advance(placed, logits)

    def _compact(self) -> None:
        """Drop the free rows from the cache buffers."""
        keep = [r for r, row in enumerate(self.rows) if row is not None]
        if len(keep) == len(self.rows):
            return
        self.cache.select_rows(torch.tensor(keep, device=self.b.device, dtype=torch.long))
        self.rows = [self.rows[r] for r in keep]

    # -- decoding -----------------------------------------------------------------------------
    def _decode_step(self) -> list[tuple[SampleSlot, Completion]]:
        """Feed every row its last token; sample the next one."""
        rows = [r for r in self.rows if r is not None]
        lengths = torch.tensor([r.length for r in rows], device=self.b.device)
        tokens = torch.tensor([r.tokens[-1] for r in rows], device=self.b.device)
        mask = self.cache.plan_step(lengths)
        if self.mask_dtype is not None:
            mask = torch.zeros(mask.shape, dtype=self.mask_dtype, device=mask.device).masked_fill(~mask, torch.finfo(self.mask_dtype).min)
        out = self.model(input_ids=tokens.unsqueeze(-1), attention_mask=mask, position_ids=lengths.unsqueeze(-1), use_cache=True, **{self.b._cache_arg: self.cache})
        for r in rows:
            r.length += 1
        return self._advance(list(range(len(self.rows))), out.logits[:, -1, :])

    def _advance(self, row_ids: list[int], logits: torch.Tensor) -> list[tuple[SampleSlot, Completion]]:
        """Sample one token for each of ``row_ids`` (logits in that order); finish the rows that end."""
        rows = [self.rows[r] for r in row_ids]
        steps = [len(row.tokens) for row in rows]  # type: ignore[union-attr]
        picked = select_tokens(logits, temperature=self.config.temperature, top_p=self.config.top_p, seeds=[row.slot.seed for row in rows], step=steps)  # type: ignore[union-attr]
        finished = []
        for r, row, token, step in zip(row_ids, rows, picked.tolist(), steps):
            assert row is not None
            reason = self.finish(row, token, step)
            if reason is not None:
                finished.append((row.slot, self.complete(row, reason)))
                self.rows[r] = None
        return finished
