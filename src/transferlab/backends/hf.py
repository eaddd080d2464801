"""The Hugging Face transformers backend (CPU or GPU).

Generation is a batched decode loop over the model's own KV cache:

- prompts are sorted by token length and batched, left-padded;
- the k samples of a prompt share one prefill (the cache rows are repeated after it);
- each row samples from its own seeded stream (see :mod:`transferlab.backends.sampling`);
- rows that end (end-of-sequence, stop string, token budget) are yielded at once and removed from
  the batch, so short answers never wait for long ones and never cost more forward passes.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from transferlab.backends.base import Completion, Loglikelihood, PromptJob, SampleSlot, completion_from_ids, render_chat
from transferlab.backends.head import DEFAULT_HEAD_BLOCK_ROWS, vocab_blocked_head
from transferlab.backends.sampling import select_tokens
from transferlab.errors import ModelError
from transferlab.models import load_tokenizer, model_fingerprint, resolve_model
from transferlab.spec import GenerationConfig
from transferlab.store import ModelInfo


class HFBackend:
    """A causal LM from transformers: generation and continuation scoring.

    Args:
        model: a local folder, a ``.gguf`` file or a hub id.
        revision: hub revision (branch, tag or commit); recorded in the store key.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; default: CUDA when available.
        dtype: ``"auto"`` (bfloat16 on GPU, float32 on CPU), ``"float32"``, ``"bfloat16"``, ``"float16"``.
        batch_size: rows (prompt x sample) decoded together.
        continuous: refill finished rows with waiting prompts (continuous batching, see
            :mod:`transferlab.backends.continuous`); default: wherever the model supports it
            (full attention, SDPA or eager). False: fixed batches that only shrink.
        lookup_tokens: greedy continuous decoding drafts up to this many tokens per row by prompt
            lookup and verifies them in one step (same tokens, fewer steps); 0: off.
        head_block_rows: on a CPU, generation computes the output projection in blocks of
            this many vocabulary rows (a multiple of 64; the same logits, faster at decoding batch sizes; see
            :mod:`transferlab.backends.head`); 0: the model's own projection.
    """

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int = 16,
        continuous: bool | None = None,
        lookup_tokens: int = 4,
        head_block_rows: int = DEFAULT_HEAD_BLOCK_ROWS,
    ) -> None:
        from transformers import AutoModelForCausalLM

        name, folder = resolve_model(model)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        torch_dtype = {
            "auto": torch.bfloat16 if self.device.type == "cuda" else torch.float32,
            "float32": torch.float32,
            "bfloat16": torch.bfloat16,
            "float16": torch.float16,
        }[dtype]
        source = str(folder) if folder is not None else model
        try:
            self.tokenizer = load_tokenizer(source, revision=revision)
            loaded: Any = AutoModelForCausalLM.from_pretrained(source, revision=revision, dtype=torch_dtype)
            self.hf_model = loaded.to(self.device)
        except (OSError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelError(f"could not load model {model!r}: {first}", "check the path or hub id (and network access or HF_HUB_OFFLINE for the hub)") from err
        self.hf_model.eval()
        self.batch_size = max(1, batch_size)
        commit = getattr(self.hf_model.config, "_commit_hash", None)
        fingerprint = model_fingerprint(folder) if folder is not None else None
        self.model = ModelInfo(
            name=name,
            revision=revision or (commit if folder is None else None),
            fingerprint=fingerprint,
            info={"source": source, "dtype": str(torch_dtype), "class": type(self.hf_model).__name__},
        )
        self.pad_id = self._pad_id()
        self.eos_ids = self._eos_ids()
        # transformers 5.x renamed the cache argument of forward from past_key_values to cache.
        params = inspect.signature(self.hf_model.forward).parameters
        self.cache_arg = "cache" if "cache" in params else "past_key_values"
        from transferlab.backends.ragged import supports_ragged

        self.continuous = supports_ragged(self.hf_model) if continuous is None else continuous
        self.lookup_tokens = max(0, lookup_tokens)
        self.head_block_rows = max(0, head_block_rows)
        self.decode_stats: dict[str, int] = {}  # the last continuous run's step and draft counts

    # -- setup --------------------------------------------------------------------------------
    def _pad_id(self) -> int:
        tok = self.tokenizer
        for candidate in (tok.pad_token_id, getattr(self.hf_model.generation_config, "pad_token_id", None), tok.eos_token_id):
            if isinstance(candidate, int):
                return candidate
        return 0

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (getattr(self.hf_model.generation_config, "eos_token_id", None), self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, (list, tuple)):
                ids.update(int(i) for i in source)
        return ids

    def render(self, messages: Sequence[dict[str, str]], config: GenerationConfig) -> str:
        """The prompt text after the model's chat template (see :func:`render_chat`)."""
        return render_chat(self.tokenizer, messages, config)

    def _encode(self, texts: Sequence[str], add_special_tokens: bool) -> list[list[int]]:
        return [list(ids) for ids in self.tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]]

    def left_pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            if r:
                ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
                mask[i, width - len(r) :] = 1
        return ids.to(self.device), mask.to(self.device)

    # -- generation ---------------------------------------------------------------------------
    def generate(self, jobs: Sequence[PromptJob], config: GenerationConfig) -> Iterator[list[tuple[SampleSlot, Completion]]]:
        """Generate every slot of every job, yielding each decoding step's finished completions."""
        if not jobs:
            return
        encoded = self._encode([j.prompt for j in jobs], add_special_tokens=not config.chat_template)
        with vocab_blocked_head(self.hf_model, self.head_block_rows):  # CPU only; the same logits
            if self.continuous:
                yield from self._generate_continuous(jobs, encoded, config)
            else:
                yield from self._generate_fixed(jobs, encoded, config)

    def _generate_fixed(
        self, jobs: Sequence[PromptJob], encoded: Sequence[list[int]], config: GenerationConfig
    ) -> Iterator[list[tuple[SampleSlot, Completion]]]:
        """Fixed batches of prompts grouped by length (rows only leave as they finish)."""
        order = sorted(range(len(jobs)), key=lambda i: -len(encoded[i]))
        batch: list[int] = []
        rows = 0
        for i in order:
            if batch and rows + len(jobs[i].slots) > self.batch_size:
                yield from self._generate_batch([jobs[j] for j in batch], [encoded[j] for j in batch], config)
                batch, rows = [], 0
            batch.append(i)
            rows += len(jobs[i].slots)
        if batch:
            yield from self._generate_batch([jobs[j] for j in batch], [encoded[j] for j in batch], config)

    @torch.inference_mode()
    def _generate_batch(
        self, jobs: Sequence[PromptJob], prompts: Sequence[list[int]], config: GenerationConfig
    ) -> Iterator[list[tuple[SampleSlot, Completion]]]:
        from transformers import DynamicCache

        ids, mask = self.left_pad(prompts)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache(config=self.hf_model.config)
        out = self.hf_model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1, **{self.cache_arg: cache})
        # Share the prefill: repeat each prompt's cache row once per sample slot.
        counts = torch.tensor([len(j.slots) for j in jobs], device=self.device)
        expand = torch.repeat_interleave(torch.arange(len(jobs), device=self.device), counts)
        cache.batch_select_indices(expand)
        logits = out.logits[:, -1, :][expand]
        mask = mask[expand]
        next_pos = positions[expand, -1] + 1
        slots = [s for j in jobs for s in j.slots]
        prompt_lens = [len(prompts[i]) for i, j in enumerate(jobs) for _ in j.slots]
        alive = list(range(len(slots)))  # row r of the live batch holds slot alive[r]
        generated: list[list[int]] = [[] for _ in slots]
        stops = tuple(config.stop)
        stop_window = max((len(s) for s in stops), default=0) + 8
        for step in range(config.max_new_tokens):
            tokens = select_tokens(logits, temperature=config.temperature, top_p=config.top_p, seeds=[slots[s].seed for s in alive], step=step)
            finished: list[tuple[int, str]] = []  # (row, reason)
            for row, token in enumerate(tokens.tolist()):
                slot = alive[row]
                if token in self.eos_ids:
                    finished.append((row, "stop"))
                    continue
                generated[slot].append(token)
                if stops and self._hit_stop(generated[slot], stops, stop_window):
                    finished.append((row, "stop"))
                elif step + 1 == config.max_new_tokens:
                    finished.append((row, "length"))
            if finished:
                yield [(slots[alive[r]], self._completion(generated[alive[r]], reason, prompt_lens[alive[r]], stops)) for r, reason in finished]
                done = {r for r, _ in finished}
                keep = [r for r in range(len(alive)) if r not in done]
                if not keep:
                    return
                alive = [alive[r] for r in keep]
                index = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(index)
                tokens, mask, next_pos = tokens[index], mask[index], next_pos[index]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
            out = self.hf_model(
                input_ids=tokens.unsqueeze(-1), attention_mask=mask, position_ids=next_pos.unsqueeze(-1), use_cache=True, **{self.cache_arg: cache}
            )
            logits = out.logits[:, -1, :]
            next_pos = next_pos + 1

    @torch.inference_mode()
    def _generate_continuous(
        self, jobs: Sequence[PromptJob], encoded: Sequence[list[int]], config: GenerationConfig
    ) -> Iterator[list[tuple[SampleSlot, Completion]]]:
        from transferlab.backends.continuous import ContinuousDecoder, Row

        stops = tuple(config.stop)
        window = max((len(s) for s in stops), default=0) + 8

        def finish(row: Row, token: int, step: int) -> str | None:
            if token in self.eos_ids:
                return "stop"
            row.tokens.append(token)
            if stops and self._hit_stop(row.tokens, stops, window):
                return "stop"
            return "length" if step + 1 >= config.max_new_tokens else None

        def complete(row: Row, reason: str) -> Completion:
            return self._completion(row.tokens, reason, row.prompt_len, stops)

        decoder = ContinuousDecoder(self, config, finish, complete)
        self.decode_stats = decoder.stats
        yield from decoder.run(jobs, encoded)

    def _hit_stop(self, tokens: list[int], stops: tuple[str, ...], window: int) -> bool:
        tail = self.tokenizer.decode(tokens[-window:], skip_special_tokens=False)
        return any(s in tail for s in stops)

    def _completion(self, tokens: list[int], reason: str, prompt_len: int, stops: tuple[str, ...]) -> Completion:
        return completion_from_ids(self.tokenizer, tokens, reason, prompt_len, stops)

    # -- scoring ------------------------------------------------------------------------------
    @torch.inference_mode()
    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]:
        """Sum of log-probabilities of each continuation given its context, batched by length.

        The continuation's tokens are those of ``context + continuation`` beyond the tokens of
        ``context`` alone (so merges across the boundary are handled as lm-evaluation-harness does).
        """
        add_special = self.tokenizer.bos_token is not None and not getattr(self.tokenizer, "chat_template", None)
        whole = self._encode([c + x for c, x in requests], add_special_tokens=add_special)
        context = self._encode([c for c, _ in requests], add_special_tokens=add_special)
        n_cont = [max(1, len(w) - len(c)) for w, c in zip(whole, context)]
        results: list[Loglikelihood | None] = [None] * len(requests)
        order = sorted(range(len(requests)), key=lambda i: -len(whole[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            rows = [whole[i][:-1] for i in chunk]  # inputs predict whole[1:]
            ids, mask = self.left_pad(rows)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            keep = max(n_cont[i] for i in chunk)
            logits = self.hf_model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep).logits.float()
            logprobs = torch.log_softmax(logits, dim=-1)
            for row, i in enumerate(chunk):
                n = n_cont[i]
                target = torch.tensor(whole[i][-n:], device=self.device)
                lp = logprobs[row, keep - n :, :]
                token_lp = lp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
                greedy = bool((lp.argmax(-1) == target).all())
                results[i] = Loglikelihood(float(token_lp.sum()), greedy, n)
        return [r for r in results if r is not None]
