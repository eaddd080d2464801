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
- Greedy decoding speculates by prompt lookup (:mod:`transferlab.backends.lookup`): each row with a
  draft is fed ``[last token, d1..dk]`` in one step; the argmax at each position verifies the
  drafts, and the row emits the confirmed prefix plus one bonus token. The tokens are exactly those
  of one-token greedy steps; only the number of steps falls. Sampling never speculates.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from transferlab.backends.base import Completion, PromptJob, SampleSlot
from transferlab.backends.lookup import accepted_prefix, lookup_draft
from transferlab.backends.ragged import RaggedCache, register_packed_sdpa
from transferlab.backends.sampling import select_tokens
from transferlab.spec import GenerationConfig


@dataclass
class Row:
    """One live completion: its slot, prompt length, tokens so far, cached length (tokens), prompt ids."""

    slot: SampleSlot
    prompt_len: int
    length: int
    tokens: list[int] = field(default_factory=list)
    prompt: list[int] = field(default_factory=list)
    draft_len: int = 2  # tokens its next lookup draft may have (grows while drafts are accepted whole)


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

    Speculation (greedy only) drafts up to ``backend.lookup_tokens`` tokens per row (0: off); a
    row's draft length starts at 2, grows by one after a draft accepted whole and shrinks by one
    (not below 1) after a rejection.
    ``stats`` counts ``steps`` (decoding forwards), ``row_steps`` (rows over those steps),
    ``verify_steps`` (steps that checked drafts),
    ``drafted`` and ``accepted`` draft tokens, and ``cut``: rows that ended before all the tokens a
    verify step confirmed for them were emitted (a stop or the budget inside an accepted draft).
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
        self.lookup = int(getattr(backend, "lookup_tokens", 0)) if config.temperature == 0 else 0
        self.packed = register_packed_sdpa() if self.lookup and not eager else None  # SDPA for q > 1 tokens per row
        self.stats = {"steps": 0, "verify_steps": 0, "row_steps": 0, "drafted": 0, "accepted": 0, "cut": 0}

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
        ids, mask = self.b.left_pad(prompts)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        from transformers import DynamicCache

        dyn = DynamicCache(config=self.model.config)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1, **{self.b.cache_arg: dyn})
        width = ids.shape[1]
        prefilled: list[Any] = dyn.layers  # DynamicLayer s: their keys and values are set by the forward pass
        placed: list[int] = []
        rows_logits: list[int] = []
        free_iter = iter(free)
        for j, (pending, slots) in enumerate(batch):
            n = len(pending.ids)
            per_layer = [(layer.keys[j, :, width - n :, :], layer.values[j, :, width - n :, :]) for layer in prefilled]
            for slot in slots:
                r = next(free_iter)
                self.cache.put(r, per_layer)
                self.rows[r] = Row(slot, n, n, prompt=pending.ids, draft_len=min(2, self.lookup))
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
    def _forward(self, tokens: torch.Tensor, lengths: torch.Tensor, counts: list[int] | None = None) -> torch.Tensor:
        """Feed row ``r`` the ``q`` tokens ``tokens[r]`` at positions ``lengths[r]..``; returns logits ``(rows, q, vocab)``.

        ``counts`` (packed step, SDPA only): row ``r`` brings only its first ``counts[r]`` tokens, fed
        as one sequence; returns their logits ``(1, sum(counts), vocab)`` in that order.
        """
        q = tokens.shape[1]
        extra: dict[str, Any] = {}
        if counts is not None:
            mask = self.cache.plan_step(lengths, q, torch.tensor(counts, device=lengths.device))
            extra["packed_index"] = self.cache.packed_index
            tokens = tokens.reshape(1, -1)[:, self.cache.packed_index]
        else:
            mask = self.cache.plan_step(lengths, q)
        if self.mask_dtype is not None:
            mask = torch.zeros(mask.shape, dtype=self.mask_dtype, device=mask.device).masked_fill(~mask, torch.finfo(self.mask_dtype).min)
        positions = lengths.unsqueeze(-1) + torch.arange(q, device=lengths.device)
        if counts is not None:
            positions = positions.reshape(1, -1)[:, self.cache.packed_index]
        config, impl = self.model.config, self.model.config._attn_implementation
        if q > 1 and self.packed:
            config._attn_implementation = self.packed
        try:
            out = self.model(input_ids=tokens, attention_mask=mask, position_ids=positions, use_cache=True, **{self.b.cache_arg: self.cache}, **extra)
        finally:
            config._attn_implementation = impl
        self.stats["steps"] += 1
        self.stats["row_steps"] += int(lengths.shape[0])
        return out.logits

    def _decode_step(self) -> list[tuple[SampleSlot, Completion]]:
        """Feed every row its last token (and its draft, if any); select the next token(s)."""
        rows = [r for r in self.rows if r is not None]
        drafts = [self._draft(r) for r in rows] if self.lookup else []
        if any(drafts):
            return self._verify_step(rows, drafts)
        lengths = torch.tensor([r.length for r in rows], device=self.b.device)
        tokens = torch.tensor([r.tokens[-1] for r in rows], device=self.b.device)
        logits = self._forward(tokens.unsqueeze(-1), lengths)
        for r in rows:
            r.length += 1
        return self._advance(list(range(len(self.rows))), logits[:, -1, :])

    def _draft(self, row: Row) -> list[int]:
        """The row's lookup draft, no longer than its remaining token budget allows (bonus token included)."""
        room = min(row.draft_len, self.config.max_new_tokens - len(row.tokens) - 1)
        return lookup_draft(row.prompt + row.tokens, room) if room > 0 else []

    def _verify_step(self, rows: list[Row], drafts: list[list[int]]) -> list[tuple[SampleSlot, Completion]]:
        """Feed each row ``[last token, draft]``; emit the confirmed tokens.

        With SDPA the rows' tokens are packed into one sequence (a step costs about its number of
        tokens); with eager attention they are padded to the longest draft (the padding's results
        are ignored).

        Row ``r`` writes ``1 + len(draft)`` keys from slot ``length``; it keeps ``1 + accepted`` of
        them (the rest lie beyond its length, hidden, and are overwritten later). Every emitted token
        goes through ``finish`` in order, and a row that ends emits nothing more.
        """
        q = 1 + max(len(d) for d in drafts)
        fed = [[r.tokens[-1], *d] + [r.tokens[-1]] * (q - 1 - len(d)) for r, d in zip(rows, drafts)]
        lengths = torch.tensor([r.length for r in rows], device=self.b.device)
        if self.packed:  # only the real tokens: the cost of a step grows with the tokens fed
            counts = [1 + len(d) for d in drafts]
            flat = self._forward(torch.tensor(fed, device=self.b.device), lengths, counts)[0].argmax(dim=-1).tolist()
            starts = [sum(counts[:i]) for i in range(len(counts))]
            greedy = [flat[s : s + c] for s, c in zip(starts, counts)]
        else:
            greedy = self._forward(torch.tensor(fed, device=self.b.device), lengths).argmax(dim=-1).tolist()
        self.stats["verify_steps"] += 1
        finished = []
        for i, (row, draft, chain) in enumerate(zip(rows, drafts, greedy)):
            accepted = accepted_prefix(draft, chain)
            self.stats["drafted"] += len(draft)
            self.stats["accepted"] += accepted
            row.length += 1 + accepted
            if draft:  # as transformers' assisted decoding: longer drafts while they pay, shorter when not
                row.draft_len = min(row.draft_len + 1, self.lookup) if accepted == len(draft) else max(1, row.draft_len - 1)
            emitted = [*draft[:accepted], chain[accepted]]
            for j, token in enumerate(emitted):
                reason = self.finish(row, token, len(row.tokens))
                if reason is not None:
                    self.stats["cut"] += j + 1 < len(emitted)
                    finished.append((row.slot, self.complete(row, reason)))
                    self.rows[i] = None
                    break
        return finished

    def _advance(self, row_ids: list[int], logits: torch.Tensor) -> list[tuple[SampleSlot, Completion]]:
        """Sample one token for each of ``row_ids`` (logits in that order); finish the rows that end."""
        rows: list[Row] = []
        for r in row_ids:
            row = self.rows[r]
            assert row is not None  # every row asked for is decoding
            rows.append(row)
        steps = [len(row.tokens) for row in rows]
        picked = select_tokens(logits, temperature=self.config.temperature, top_p=self.config.top_p, seeds=[row.slot.seed for row in rows], step=steps)
        finished = []
        for r, row, token, step in zip(row_ids, rows, picked.tolist(), steps):
            reason = self.finish(row, token, step)
            if reason is not None:
                finished.append((row.slot, self.complete(row, reason)))
                self.rows[r] = None
        return finished
