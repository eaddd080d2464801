"""Token-space drift, the model-running part: base and tuned score prompt + answer, batched.

Alignment of the answer tokens. Where the store kept the token ids the model generated (the Hugging
Face backend keeps them, see :class:`Answer`), the answer is exactly those ids after the prompt's
ids, encoded the way generation encoded it (chat-template prompts without added special tokens, raw
prompts with them). Otherwise (answers from a server, or cut by a stop string) prompt + answer
text is re-tokenized, and the answer tokens are found by comparing token ids, never string
offsets: tokenize the prompt alone and prompt + answer; the answer starts at the first position
where the two id sequences differ (at the end of the prompt when nothing merged). A tokenizer that
merges the prompt's last token with the answer's first thus makes the merged token the first
answer token, and every answer token is kept; a text whose re-tokenization differs from the ids
the model generated is scored as re-tokenized.

Scoring. Samples are sorted by length and batched (left padding, explicit position ids). On a CPU
the default batch is one sample: a forward pass over one unpadded sample is already a large,
efficient matrix product there, while a padded batch of unequal samples pays for its padding and
for masked attention (measured in ``benchmarks/drift.py``: 8-sample batches took 1.7x as long as
single samples for SmolLM2-135M). On a GPU, batches of 8 fill the device. Each
model runs one forward pass per batch keeping only the logits of the answer positions
(``logits_to_keep``); those are reduced at once, in position chunks, to per-token summaries (the
realised token's log-probability and rank under each model and the exact KL over the vocabulary)
and dropped. Memory is one batch's logits, whatever the number of samples.

vLLM. :func:`vllm_token_pass` gets the same log-probabilities and ranks from the vLLM backend's prompt
log-probabilities, selecting the realised token by its id (never "the first entry of the dict");
vLLM returns only the top entries of each position, so the exact KL is NaN there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from transferlab.drift.tokens import TokenSummary, exact_kl, token_logprobs, token_ranks

Row = tuple[list[int], int]  # (ids of prompt + answer, index of the first answer token)


@dataclass(frozen=True)
class Answer:
    """A prompt and the tuned model's answer to it: its text, the ids it generated if known, and
    where it is stored (completion key and item id, when it came from the store)."""

    prompt: str
    text: str
    token_ids: tuple[int, ...] | None = None
    key: str | None = None
    item_id: str | None = None


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading ids ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if diff.size else n


def answer_span(tokenizer: Any, prompt: str, answer: str, *, add_special_tokens: bool) -> Row:
    """``(ids of prompt + answer, start)``: the answer tokens are ``ids[start:]`` (see the module doc).

    ``start`` is at least 1: the first token of a text has no prediction to score.
    """
    prompt_ids = list(tokenizer(prompt, add_special_tokens=add_special_tokens)["input_ids"])
    whole = list(tokenizer(prompt + answer, add_special_tokens=add_special_tokens)["input_ids"])
    return whole, max(1, common_prefix_length(prompt_ids, whole))


def answer_row(tokenizer: Any, answer: Answer | tuple[str, str], *, add_special_tokens: bool) -> Row:
    """``(ids, start)`` for one answer: its generated ids after the prompt's when known, else
    :func:`answer_span` of the re-tokenized text."""
    if isinstance(answer, Answer) and answer.token_ids is not None:
        prompt_ids = list(tokenizer(answer.prompt, add_special_tokens=add_special_tokens)["input_ids"])
        return prompt_ids + list(answer.token_ids), max(1, len(prompt_ids))
    prompt, text = (answer.prompt, answer.text) if isinstance(answer, Answer) else answer
    return answer_span(tokenizer, prompt, text, add_special_tokens=add_special_tokens)


def plan_batches(rows: Sequence[Row], *, batch_size: int, max_positions: int) -> list[list[int]]:
    """Indices of ``rows`` grouped into batches: longest first, at most ``batch_size`` rows and
    ``rows x longest answer <= max_positions`` kept logit positions per batch (always >= 1 row)."""
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i][0]))
    batches: list[list[int]] = []
    current: list[int] = []
    widest = 0
    for i in order:
        n = len(rows[i][0]) - rows[i][1]
        if n <= 0:
            continue
        if current and (len(current) + 1 > batch_size or (len(current) + 1) * max(widest, n) > max_positions):
            batches.append(current)
            current, widest = [], 0
        current.append(i)
        widest = max(widest, n)
    if current:
        batches.append(current)
    return batches


def _left_pad(rows: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(list(r), dtype=torch.long)
        mask[i, width - len(r) :] = 1
    return ids.to(device), mask.to(device)


def _answer_logits(model: Any, ids: torch.Tensor, mask: torch.Tensor, keep: int) -> torch.Tensor:
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False, logits_to_keep=keep).logits


@torch.inference_mode()
def score_batch(base: Any, tuned: Any, rows: Sequence[Row], *, pad_id: int, chunk_positions: int = 1024) -> list[TokenSummary]:
    """Per-token summaries of one batch: one forward pass of each model, reduced in chunks of about
    ``chunk_positions`` (rows x positions) so the float32 temporaries stay small.

    Inputs are ``ids[:-1]`` (left padded); the last ``n_i = len(ids) - start`` kept positions of
    row ``i`` predict its answer tokens. Vocabularies of different sizes (padded embedding rows)
    are cut to the smaller one.
    """
    device = next(base.parameters()).device
    n_answer = [len(ids) - start for ids, start in rows]
    keep = max(n_answer)
    ids, mask = _left_pad([r[0][:-1] for r in rows], pad_id, device)
    targets = torch.zeros((len(rows), keep), dtype=torch.long)
    for i, ((row_ids, start), n) in enumerate(zip(rows, n_answer)):
        targets[i, keep - n :] = torch.tensor(row_ids[start:], dtype=torch.long)
    targets = targets.to(device)
    logits_base = _answer_logits(base, ids, mask, keep)
    logits_tuned = _answer_logits(tuned, ids.to(next(tuned.parameters()).device), mask.to(next(tuned.parameters()).device), keep).to(device)
    vocab = min(logits_base.shape[-1], logits_tuned.shape[-1])
    parts: list[list[torch.Tensor]] = [[] for _ in range(5)]
    step = max(1, chunk_positions // len(rows))
    for c in range(0, keep, step):
        lb = torch.log_softmax(logits_base[:, c : c + step, :vocab].float(), dim=-1)
        lt = torch.log_softmax(logits_tuned[:, c : c + step, :vocab].float(), dim=-1)
        tgt = targets[:, c : c + step]
        for bucket, value in zip(parts, (token_logprobs(lb, tgt), token_logprobs(lt, tgt), token_ranks(lb, tgt), token_ranks(lt, tgt), exact_kl(lt, lb))):
            bucket.append(value.cpu())
        del lb, lt
    del logits_base, logits_tuned
    lp_b, lp_t, rk_b, rk_t, kl = (torch.cat(p, dim=1).numpy() for p in parts)
    tgt_np = targets.cpu().numpy()
    out = []
    for i, n in enumerate(n_answer):
        s = slice(keep - n, keep)
        out.append(
            TokenSummary(
                tgt_np[i, s].astype(np.int64),
                lp_b[i, s].astype(np.float32),
                lp_t[i, s].astype(np.float32),
                rk_b[i, s].astype(np.int64),
                rk_t[i, s].astype(np.int64),
                kl[i, s].astype(np.float32),
            )
        )
    return out


def empty_summary() -> TokenSummary:
    """The summary of an answer without tokens."""
    f, i = np.zeros(0, np.float32), np.zeros(0, np.int64)
    return TokenSummary(i, f, f, i, i, f)


def auto_batch_size(model: Any) -> int:
    """Samples per forward pass when none is asked for: 1 on a CPU, 8 on an accelerator (see the module doc)."""
    return 1 if next(model.parameters()).device.type == "cpu" else 8


def score_rows(
    base: Any, tuned: Any, rows: Sequence[Row], *, pad_id: int, batch_size: int | None = None, max_positions: int = 4096
) -> Iterator[tuple[int, TokenSummary]]:
    """``(row index, summary)`` for every row, batch by batch (rows without answer tokens come last, empty).

    ``batch_size=None`` picks :func:`auto_batch_size`.
    """
    batch_size = batch_size or auto_batch_size(base)
    seen: set[int] = set()
    for batch in plan_batches(rows, batch_size=batch_size, max_positions=max_positions):
        for i, summary in zip(batch, score_batch(base, tuned, [rows[i] for i in batch], pad_id=pad_id)):
            seen.add(i)
            yield i, summary
    for i in range(len(rows)):
        if i not in seen:
            yield i, empty_summary()


def score_answers(
    base: Any,
    tuned: Any,
    tokenizer: Any,
    answers: Sequence[Answer | tuple[str, str]],
    *,
    add_special_tokens: bool,
    pad_id: int,
    batch_size: int | None = None,
    max_positions: int = 4096,
) -> list[TokenSummary]:
    """Summaries of every answer (an :class:`Answer` or a ``(prompt, answer text)`` pair), in input
    order (see :func:`score_rows`)."""
    rows = [answer_row(tokenizer, a, add_special_tokens=add_special_tokens) for a in answers]
    out: list[TokenSummary | None] = [None] * len(rows)
    for i, summary in score_rows(base, tuned, rows, pad_id=pad_id, batch_size=batch_size, max_positions=max_positions):
        out[i] = summary
    return [s if s is not None else empty_summary() for s in out]


# -- vLLM ----------------------------------------------------------------------------------------
def vllm_token_pass(backend: Any, rows: Sequence[Row]) -> list[tuple[np.ndarray, np.ndarray]]:
    """One model's ``(logprobs, ranks)`` of every row's answer tokens from the prompt log-probabilities
    of a :class:`~transferlab.backends.vllm.VLLMBackend` (position ``j`` is entry ``j - 1``)."""
    passes = backend.prompt_logprobs([ids for ids, _ in rows])
    return [(np.asarray(lps[start - 1 :], np.float32), np.asarray(ranks[start - 1 :], np.int64)) for (_, start), (lps, ranks) in zip(rows, passes)]


def combine_passes(rows: Sequence[Row], base: Sequence[tuple[np.ndarray, np.ndarray]], tuned: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[TokenSummary]:
    """Summaries from two separate passes (vLLM); the exact KL is unknown there (NaN)."""
    out = []
    for (ids, start), (lb, rb), (lt, rt) in zip(rows, base, tuned):
        out.append(TokenSummary(np.asarray(ids[start:], np.int64), lb, lt, rb, rt, np.full(len(lb), np.nan, np.float32)))
    return out
